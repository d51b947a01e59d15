#include "segpipe_topology/sorting.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace segpipe::topology {
namespace {

constexpr int kDigitBits = 11;
constexpr int kBuckets = 1 << kDigitBits;

// Order-preserving map from doubles to unsigned integers (0.0 and -0.0 map to the same integer).
inline uint64_t sortable_bits(double value) {
    if (value == 0.0) value = 0.0;
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return (bits & (uint64_t(1) << 63)) ? ~bits : (bits | (uint64_t(1) << 63));
}

inline unsigned digit(uint64_t key, int pass) {
    return unsigned(key >> (pass * kDigitBits)) & (kBuckets - 1);
}

struct ValueAndVertex {
    uint64_t value;
    uint32_t vertex;
};

// LSD radix sort of 64-bit keys `key_of(item)`; passes over constant digits are skipped.
template <class Item, class KeyOf>
void radix_sort(std::vector<Item> &items, KeyOf key_of) {
    constexpr int passes = (64 + kDigitBits - 1) / kDigitBits;
    const size_t n = items.size();
    if (n < 2) return;
    std::vector<std::array<size_t, kBuckets>> counts(passes);
    for (auto &c : counts) c.fill(0);
    for (const auto &item : items)
        for (int p = 0; p < passes; ++p) ++counts[p][digit(key_of(item), p)];
    std::vector<Item> scratch(n);
    for (int p = 0; p < passes; ++p) {
        auto &count = counts[p];
        if (count[digit(key_of(items[0]), p)] == n) continue;  // constant digit
        size_t sum = 0;
        for (auto &c : count) {
            const size_t here = c;
            c = sum;
            sum += here;
        }
        for (const auto &item : items) scratch[count[digit(key_of(item), p)]++] = item;
        items.swap(scratch);
    }
}

}  // namespace

VertexRanks dense_ranks(const double *values, size_t count, bool negate, const double *values2) {
    std::vector<ValueAndVertex> order(count);
    for (size_t i = 0; i < count; ++i) {
        double v = values[i];
        if (values2) v = negate ? std::max(v, values2[i]) : std::min(v, values2[i]);
        if (!std::isfinite(v))
            throw std::invalid_argument("the array contains NaN or infinite values");
        order[i] = {sortable_bits(negate ? -v : v), uint32_t(i)};
    }
    radix_sort(order, [](const ValueAndVertex &x) { return x.value; });
    VertexRanks out;
    out.rank.resize(count);
    Rank current = 0;
    for (size_t i = 0; i < count; ++i) {
        if (i > 0 && order[i].value != order[i - 1].value) ++current;
        out.rank[order[i].vertex] = current;
    }
    out.count = count ? current + 1 : 0;
    return out;
}

}  // namespace segpipe::topology

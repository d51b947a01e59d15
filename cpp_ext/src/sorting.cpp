#include "segpipe_topology/sorting.h"

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

// LSD radix sort of `items` by the bits [low_bit, 64) of their keys (given by `key_of`); stable,
// so items already ordered by the lower bits end up ordered by the whole key.
template <class Item, class KeyOf>
void radix_sort(std::vector<Item> &items, std::vector<Item> &scratch, int low_bit, KeyOf key_of) {
    const size_t n = items.size();
    if (n < 2) return;
    const int passes = (64 - low_bit + kDigitBits - 1) / kDigitBits;
    auto digit = [low_bit](uint64_t key, int pass) {
        return unsigned(key >> (low_bit + pass * kDigitBits)) & (kBuckets - 1);
    };
    std::vector<std::array<size_t, kBuckets>> counts(passes);
    for (auto &c : counts) c.fill(0);
    for (const Item &item : items) {
        const uint64_t key = key_of(item);
        for (int p = 0; p < passes; ++p) ++counts[p][digit(key, p)];
    }
    scratch.resize(n);
    for (int p = 0; p < passes; ++p) {
        auto &count = counts[p];
        if (count[digit(key_of(items[0]), p)] == n) continue;  // constant digit
        size_t sum = 0;
        for (auto &c : count) {
            const size_t here = c;
            c = sum;
            sum += here;
        }
        for (const Item &item : items) scratch[count[digit(key_of(item), p)]++] = item;
        items.swap(scratch);
    }
}

struct ValueAndVertex {
    uint64_t value;
    uint32_t vertex;
};

}  // namespace

std::vector<Rank> dense_ranks(const double *values, size_t count) {
    std::vector<ValueAndVertex> order(count);
    for (size_t i = 0; i < count; ++i) {
        if (!std::isfinite(values[i]))
            throw std::invalid_argument("the array contains NaN or infinite values");
        order[i] = {sortable_bits(values[i]), uint32_t(i)};
    }
    {
        std::vector<ValueAndVertex> scratch;
        radix_sort(order, scratch, 0, [](const ValueAndVertex &x) { return x.value; });
    }
    std::vector<Rank> rank(count);
    Rank current = 0;
    for (size_t i = 0; i < count; ++i) {
        if (i > 0 && order[i].value != order[i - 1].value) ++current;
        rank[order[i].vertex] = current;
    }
    return rank;
}

void sort_keys_by_rank(std::vector<Key> &keys, std::vector<Key> &scratch) {
    radix_sort(keys, scratch, 32, [](Key k) { return k; });
}

}  // namespace segpipe::topology

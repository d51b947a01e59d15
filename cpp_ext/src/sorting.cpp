#include "segpipe_topology/sorting.h"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace segpipe::topology {
namespace {

constexpr int kDigitBits = 11;
constexpr int kBuckets = 1 << kDigitBits;

struct ValueAndVertex {
    uint64_t value;
    uint32_t vertex;
};

// LSD radix sort by the bits [low_bit, 64) of the 64-bit keys `key_of(item)` (stable); passes
// over constant digits are skipped.
template <class Item, class KeyOf>
void radix_sort(std::vector<Item> &items, int low_bit, KeyOf key_of) {
    const int passes = (64 - low_bit + kDigitBits - 1) / kDigitBits;
    const size_t n = items.size();
    if (n < 2) return;
    auto digit = [low_bit](uint64_t key, int pass) {
        return unsigned(key >> (low_bit + pass * kDigitBits)) & (kBuckets - 1);
    };
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

// Dense ranks from items sorted by value, given the value and vertex of an item.
template <class Item, class ValueOf, class VertexOf>
VertexRanks ranks_of_sorted(const std::vector<Item> &sorted, ValueOf value_of, VertexOf vertex_of) {
    VertexRanks out;
    out.rank.resize(sorted.size());
    Rank current = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
        if (i > 0 && value_of(sorted[i]) != value_of(sorted[i - 1])) ++current;
        out.rank[vertex_of(sorted[i])] = current;
    }
    out.count = sorted.empty() ? 0 : current + 1;
    return out;
}

}  // namespace

VertexRanks dense_ranks(const double *values, size_t count, bool negate, const double *values2) {
    std::vector<double> filtration(count);
    bool single_precision = true;  // every value exactly a float (network outputs, masks)
    for (size_t i = 0; i < count; ++i) {
        if (!is_finite(values[i]) || (values2 && !is_finite(values2[i])))
            throw std::invalid_argument(kNonFiniteMessage);
        const double v = values2 ? comparison_value(values[i], values2[i], negate)
                                 : filtration_value(values[i], negate);
        filtration[i] = v;
        single_precision = single_precision && double(float(v)) == v;
    }
    if (single_precision) {  // 8-byte items: the float's bits above the vertex number
        std::vector<uint64_t> order(count);
        for (size_t i = 0; i < count; ++i)
            order[i] = (uint64_t(sortable_bits(float(filtration[i]))) << 32) | uint32_t(i);
        filtration = std::vector<double>();
        radix_sort(order, 32, [](uint64_t x) { return x; });
        return ranks_of_sorted(order, [](uint64_t x) { return x >> 32; },
                               [](uint64_t x) { return uint32_t(x); });
    }
    std::vector<ValueAndVertex> order(count);
    for (size_t i = 0; i < count; ++i) order[i] = {sortable_bits(filtration[i]), uint32_t(i)};
    filtration = std::vector<double>();
    radix_sort(order, 0, [](const ValueAndVertex &x) { return x.value; });
    return ranks_of_sorted(order, [](const ValueAndVertex &x) { return x.value; },
                           [](const ValueAndVertex &x) { return x.vertex; });
}

}  // namespace segpipe::topology

// Sorting stages: dense ranks of vertex values and ascending sorts of cell keys.
#pragma once

#include "core.h"

#include <cstddef>
#include <vector>

namespace segpipe::topology {

// Dense ranks of the values of a filtration: equal values share a rank, ranks are 0, 1, 2, ...
// in increasing order of value (-0.0 equals 0.0). Throws std::invalid_argument on NaN or inf.
std::vector<Rank> dense_ranks(const double *values, size_t count);

// Sorts cell keys that are in increasing order of cell number into increasing key order: a stable
// LSD radix sort on the rank bits only (passes over constant digits are skipped). `scratch` is
// resized as needed and may be reused between calls.
void sort_keys_by_rank(std::vector<Key> &keys, std::vector<Key> &scratch);

}  // namespace segpipe::topology

// Filtration values: dense ranks of the vertex values.
#pragma once

#include "core.h"

#include <cstddef>
#include <vector>

namespace segpipe::topology {

// The vertex ranks of a filtration: equal values share a rank; ranks are 0, 1, ..., count - 1 in
// increasing order of value.
struct VertexRanks {
    std::vector<Rank> rank;
    Rank count = 0;
};

// Dense ranks of `values` (of `-values` when `negate`, for superlevel filtrations); -0.0 equals
// 0.0. `values2`, when given, is a second array of the same size and the ranks are those of the
// elementwise minimum of both (after negation): the comparison image of a Betti matching.
// Throws std::invalid_argument on NaN or inf.
VertexRanks dense_ranks(const double *values, size_t count, bool negate,
                        const double *values2 = nullptr);

}  // namespace segpipe::topology

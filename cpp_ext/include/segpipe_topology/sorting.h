// Filtration values: dense ranks of the vertex values.
#pragma once

#include "core.h"

#include <cstddef>
#include <vector>

namespace segpipe::topology {

// Per-element stages, kept as small functions for a later GPU port.
// The value a voxel enters the (sublevel) filtration with: negated for superlevel filtrations.
inline double filtration_value(double value, bool negate) { return negate ? -value : value; }
// The comparison image of a Betti matching: each voxel enters with the earlier of both inputs.
inline double comparison_value(double a, double b, bool negate) {
    const double fa = filtration_value(a, negate), fb = filtration_value(b, negate);
    return fa < fb ? fa : fb;
}

// The vertex ranks of a filtration: equal values share a rank; ranks are 0, 1, ..., count - 1 in
// increasing order of value.
struct VertexRanks {
    std::vector<Rank> rank;
    Rank count = 0;
};

// Dense ranks of the filtration values of `values`; -0.0 equals 0.0. `values2`, when given, is a
// second array of the same size and the ranks are those of the comparison image of both.
// Throws std::invalid_argument on NaN or inf.
VertexRanks dense_ranks(const double *values, size_t count, bool negate,
                        const double *values2 = nullptr);

}  // namespace segpipe::topology

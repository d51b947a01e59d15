// Filtration values: dense ranks of the vertex values.
#pragma once

#include "core.h"

#include <cstddef>
#include <vector>

namespace segpipe::topology {

// Per-element stages, shared with the CUDA kernels.
// The value a voxel enters the (sublevel) filtration with: negated for superlevel filtrations.
SEGPIPE_HD inline double filtration_value(double value, bool negate) { return negate ? -value : value; }
// The comparison image of a Betti matching: each voxel enters with the earlier of both inputs.
SEGPIPE_HD inline double comparison_value(double a, double b, bool negate) {
    const double fa = filtration_value(a, negate), fb = filtration_value(b, negate);
    return fa < fb ? fa : fb;
}
// Neither NaN nor infinite (the exponent is not all ones).
SEGPIPE_HD inline bool is_finite(double value) {
    return (bits_of(value) & 0x7FF0000000000000ull) != 0x7FF0000000000000ull;
}
// Order-preserving maps from doubles and floats to unsigned integers (0.0 and -0.0 map to the
// same integer): the sort keys of filtration values.
SEGPIPE_HD inline uint64_t sortable_bits(double value) {
    const uint64_t bits = bits_of(value == 0.0 ? 0.0 : value);
    return (bits & (uint64_t(1) << 63)) ? ~bits : (bits | (uint64_t(1) << 63));
}
SEGPIPE_HD inline uint32_t sortable_bits(float value) {
    const uint32_t bits = bits_of(value == 0.0f ? 0.0f : value);
    return (bits & (uint32_t(1) << 31)) ? ~bits : (bits | (uint32_t(1) << 31));
}

// What dense_ranks and the kernels report for NaN or infinite values.
inline constexpr const char *kNonFiniteMessage = "the array contains NaN or infinite values";

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

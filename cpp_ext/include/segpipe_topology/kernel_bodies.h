// The bodies of the parallel stages: what one thread does for element i. Each is a small struct of
// pointers with a SEGPIPE_HD operator()(i) built from the per-element functions the CPU engine
// uses (sorting.h, grid.h, apparent.h), so that a CUDA kernel (cpp_ext/cuda/) and a host loop
// (KernelStages with HostExec) run the same code.
#pragma once

#include "apparent.h"
#include "core.h"
#include "grid.h"
#include "sorting.h"

#include <cstddef>
#include <cstdint>

namespace segpipe::topology {

// Sort key of vertex i: the sortable bits of its filtration value (of the comparison value of
// both inputs when `second` is set); sets *non_finite for NaN or infinite values.
template <class A, class B>
struct VertexKeys {
    const A *first;
    const B *second;  // null for a single input
    bool negate;
    uint64_t *keys;
    Index *vertices;
    int *non_finite;
    SEGPIPE_HD void operator()(size_t i) const {
        const double a = double(first[i]);
        const double b = second ? double(second[i]) : a;
        if (!is_finite(a) || !is_finite(b)) *non_finite = 1;
        keys[i] = sortable_bits(second ? comparison_value(a, b, negate) : filtration_value(a, negate));
        vertices[i] = Index(i);
    }
};

// 1 where sorted key i differs from key i - 1: after an inclusive sum, the dense rank of the
// vertex at position i.
struct NewValueFlags {
    const uint64_t *sorted_keys;
    Rank *flags;
    SEGPIPE_HD void operator()(size_t i) const {
        flags[i] = (i > 0 && sorted_keys[i] != sorted_keys[i - 1]) ? 1u : 0u;
    }
};

// rank[vertex at sorted position i] = its dense rank.
struct ScatterRanks {
    const Rank *sorted_ranks;
    const Index *sorted_vertices;
    Rank *rank;
    SEGPIPE_HD void operator()(size_t i) const { rank[sorted_vertices[i]] = sorted_ranks[i]; }
};

// Filtration key (rank, then cell number) of cell slot i of dimension D; kNoKey for a slot
// without a cell, so that sorting the keys puts the cells first, in filtration order.
template <int K, int D>
struct CellKeys {
    Grid<K> grid;
    const Rank *rank;
    Key *keys;
    SEGPIPE_HD void operator()(size_t i) const {
        keys[i] = cell_exists<K, D>(grid, Index(i)) ? cell_key<K, D>(grid, rank, Index(i)) : kNoKey;
    }
};

// The cell number of sorted key i.
struct CellsOfKeys {
    const Key *keys;
    Index *cells;
    SEGPIPE_HD void operator()(size_t i) const { cells[i] = Index(keys[i]); }
};

// Rank of the top cell based at vertex i (0 where there is none).
template <int K>
struct TopRanks {
    Grid<K> grid;
    const Rank *rank;
    Rank *out;
    SEGPIPE_HD void operator()(size_t i) const {
        out[i] = cell_exists<K, K>(grid, Index(i)) ? top_rank<K>(grid, rank, Index(i)) : 0u;
    }
};

// The apparent pivot of square i of a list (apparent.h).
struct ApparentPivots {
    Grid<3> grid;
    const Rank *row_rank;
    const Rank *column_rank;
    const Index *squares;
    Index *pivots;
    SEGPIPE_HD void operator()(size_t i) const {
        pivots[i] = apparent_pivot(grid, row_rank, column_rank, squares[i]);
    }
};

// The value at a linear index, or `missing` for an index outside [0, size) (the -1 of a death
// that does not exist).
template <class T>
SEGPIPE_HD inline double gather_value(const T *values, int64_t size, int64_t index, double missing) {
    return (index >= 0 && index < size) ? double(values[index]) : missing;
}

template <class T>
struct GatherValues {
    const T *values;
    int64_t size;
    const int64_t *indices;
    double missing;
    double *out;
    SEGPIPE_HD void operator()(size_t i) const { out[i] = gather_value(values, size, indices[i], missing); }
};

}  // namespace segpipe::topology

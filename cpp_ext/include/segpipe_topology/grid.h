// Geometry of a K-dimensional grid of vertices and the cubical cells spanned by them.
//
// Cell types per dimension D (T_D of them), chosen so that L = v * T_D + t orders the cells of one
// dimension lexicographically by (base coordinates, type):
//   D = 0        one type, the vertex itself;
//   D = 1        K types, t = the axis the edge extends along;
//   D = 2, K = 3 three types, t = the axis the square is perpendicular to;
//   D = K        one type, the top cell (square in 2D, cube in 3D).
// Every function on a single element is small, branch-light and SEGPIPE_HD: the CUDA kernels
// (cpp_ext/cuda/) run the same functions as the CPU engine.
#pragma once

#include "core.h"

#include <array>
#include <cstdint>
#include <type_traits>
#include <utility>

namespace segpipe::topology {

template <int K>
struct Grid {
    static_assert(K >= 1 && K <= 3, "grids have 1, 2 or 3 axes");
    static constexpr int kAxes = K;

    // Plain arrays (not std::array) so that a Grid can be passed by value to CUDA kernels.
    uint32_t extent[K] = {};  // number of vertices along each axis, all >= 2
    uint32_t stride[K] = {};  // C-order strides, stride[K - 1] == 1
    FastDivisor by_stride[K] = {};
    FastDivisor by_extent[K] = {};
    uint32_t offset[1 << K] = {};  // vertex offset of each corner mask
    uint32_t num_vertices = 0;

    explicit Grid(const std::array<uint32_t, K> &shape) {
        uint32_t s = 1;
        for (int a = K - 1; a >= 0; --a) {
            extent[a] = shape[a];
            stride[a] = s;
            s *= extent[a];
        }
        num_vertices = s;
        for (int a = 0; a < K; ++a) {
            by_stride[a] = FastDivisor(stride[a]);
            by_extent[a] = FastDivisor(extent[a]);
        }
        for (unsigned mask = 0; mask < (1u << K); ++mask) {
            uint32_t o = 0;
            for (int a = 0; a < K; ++a)
                if (mask & (1u << a)) o += stride[a];
            offset[mask] = o;
        }
    }

    static constexpr unsigned kFullMask = (1u << K) - 1;

    SEGPIPE_HD static constexpr int num_types(int dim) {
        return (dim == 0 || dim == K) ? 1 : (dim == 1 ? K : 3);
    }
    // Axis mask of cells of dimension `dim` and type `t`.
    SEGPIPE_HD static constexpr unsigned mask_of(int dim, int t) {
        return dim == 0   ? 0u
               : dim == K ? kFullMask
               : dim == 1 ? (1u << t)
                          : (kFullMask & ~(1u << t));
    }
    // Type of the cell of dimension `dim` with axis mask `mask`.
    SEGPIPE_HD static constexpr int type_of(int dim, unsigned mask) {
        if (dim == 0 || dim == K) return 0;
        if (dim == 1) return mask == 1u ? 0 : (mask == 2u ? 1 : 2);
        const unsigned missing = kFullMask & ~mask;
        return missing == 1u ? 0 : (missing == 2u ? 1 : 2);
    }

    SEGPIPE_HD uint32_t coordinate(uint32_t v, int axis) const {
        return by_extent[axis].remainder(by_stride[axis].divide(v));
    }
    // Number of cell slots of a dimension (cells are numbered 0 .. slots - 1; slots on the
    // far border along an axis the cell extends along do not exist).
    uint64_t num_slots(int dim) const { return uint64_t(num_vertices) * num_types(dim); }
    // Number of cells of a dimension that exist.
    uint64_t num_cells(int dim) const {
        uint64_t count = 0;
        for (int t = 0; t < num_types(dim); ++t) {
            uint64_t cells = 1;
            for (int a = 0; a < K; ++a) cells *= extent[a] - ((mask_of(dim, t) >> a) & 1u);
            count += cells;
        }
        return count;
    }
};

// Calls f(std::integral_constant<int, dim>{}) for a run-time dimension 1 <= dim <= K.
template <int K, int D = 1, class F>
decltype(auto) with_dimension(int dim, F &&f) {
    if constexpr (D < K) {
        if (dim != D) return with_dimension<K, D + 1>(dim, std::forward<F>(f));
    }
    return f(std::integral_constant<int, D>{});
}

// Whether the cell slot `cell` of dimension D holds a cell: its base vertex is not on the far
// border along an axis the cell extends along.
template <int K, int D>
SEGPIPE_HD inline bool cell_exists(const Grid<K> &grid, Index cell) {
    constexpr int T = Grid<K>::num_types(D);
    const Index v = cell / T;
    const unsigned mask = Grid<K>::mask_of(D, int(cell % T));
    for (int a = 0; a < K; ++a)
        if (((mask >> a) & 1u) && grid.coordinate(v, a) + 1 == grid.extent[a]) return false;
    return true;
}

// Rank of a cell (max over its vertices) in the filtration given by vertex ranks.
template <int K, int D>
SEGPIPE_HD inline Rank cell_rank(const Grid<K> &grid, const Rank *rank, Index cell) {
    constexpr int T = Grid<K>::num_types(D);
    const Index v = cell / T;
    const unsigned mask = Grid<K>::mask_of(D, int(cell % T));
    Rank r = rank[v];
    for (unsigned s = mask; s != 0; s = (s - 1) & mask) {
        const Rank q = rank[v + grid.offset[s]];
        r = q > r ? q : r;
    }
    return r;
}

template <int K, int D>
SEGPIPE_HD inline Key cell_key(const Grid<K> &grid, const Rank *rank, Index cell) {
    return make_key(cell_rank<K, D>(grid, rank, cell), cell);
}

// The vertex that gives a cell its value: the last of its vertices in the filtration order
// (highest rank, then highest index). Birth and death values are read at this vertex.
template <int K, int D>
SEGPIPE_HD inline Index value_vertex(const Grid<K> &grid, const Rank *rank, Index cell) {
    constexpr int T = Grid<K>::num_types(D);
    const Index v = cell / T;
    const unsigned mask = Grid<K>::mask_of(D, int(cell % T));
    Index best = v;
    for (unsigned s = mask; s != 0; s = (s - 1) & mask) {
        const Index w = v + grid.offset[s];
        if (make_key(rank[w], w) > make_key(rank[best], best)) best = w;
    }
    return best;
}

// Rank of a top cell given by its base vertex.
template <int K>
SEGPIPE_HD inline Rank top_rank(const Grid<K> &grid, const Rank *rank, Index base) {
    return cell_rank<K, K>(grid, rank, base);
}

}  // namespace segpipe::topology

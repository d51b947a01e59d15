// Filtration order of the cells of one dimension ("sorting of cells") and top cell values.
#pragma once

#include "core.h"
#include "grid.h"
#include "sorting.h"

#include <array>
#include <vector>

namespace segpipe::topology {

// Bit mask of the axes along which vertex coordinates `c` lie on the far border: a cell with axis
// mask m based there exists iff (m & far_border) == 0.
template <int K>
inline unsigned far_border(const Grid<K> &grid, const std::array<uint32_t, K> &c) {
    unsigned border = 0;
    for (int a = 0; a < K; ++a)
        if (c[a] + 1 == grid.extent[a]) border |= 1u << a;
    return border;
}

// Calls visit(cell) for every existing cell of dimension D in increasing cell number.
template <int K, int D, class Visit>
void for_each_cell(const Grid<K> &grid, Visit &&visit) {
    constexpr int T = Grid<K>::num_types(D);
    std::array<uint32_t, K> c{};
    for (Index v = 0; v < grid.num_vertices; ++v) {
        const unsigned border = far_border<K>(grid, c);
        for (int t = 0; t < T; ++t)
            if ((Grid<K>::mask_of(D, t) & border) == 0) visit(Index(v * T + t));
        for (int a = K - 1; a >= 0; --a) {
            if (++c[a] < grid.extent[a]) break;
            c[a] = 0;
        }
    }
}

// The cells of dimension D in filtration order: by rank, then by cell number. A counting sort on
// the rank, stable in cell number.
template <int K, int D>
std::vector<Index> sorted_cells(const Grid<K> &grid, const VertexRanks &vertices) {
    const Rank *rank = vertices.rank.data();
    std::vector<Index> start(size_t(vertices.count) + 1, 0);
    std::vector<Rank> cell_ranks;
    cell_ranks.reserve(grid.num_slots(D));
    for_each_cell<K, D>(grid, [&](Index cell) {
        const Rank r = cell_rank<K, D>(grid, rank, cell);
        cell_ranks.push_back(r);
        ++start[r + 1];
    });
    for (size_t r = 1; r < start.size(); ++r) start[r] += start[r - 1];
    std::vector<Index> order(cell_ranks.size());
    size_t i = 0;
    for_each_cell<K, D>(grid, [&](Index cell) { order[start[cell_ranks[i++]]++] = cell; });
    return order;
}

// Ranks of the top cells, indexed by base vertex (0 where there is no top cell).
template <int K>
std::vector<Rank> top_cell_ranks(const Grid<K> &grid, const Rank *rank) {
    std::vector<Rank> out(grid.num_vertices, 0);
    for_each_cell<K, K>(grid, [&](Index cell) { out[cell] = cell_rank<K, K>(grid, rank, cell); });
    return out;
}

}  // namespace segpipe::topology

// Filtration order of the cells of one dimension.
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

// Keys of all cells of dimension D in increasing filtration order, leaving out the cells in
// `excluded` (if given).
template <int K, int D>
std::vector<Key> sorted_cells(const Grid<K> &grid, const Rank *rank, std::vector<Key> &scratch,
                              const Bitmap *excluded = nullptr) {
    constexpr int T = Grid<K>::num_types(D);
    std::vector<Key> keys;
    keys.reserve(grid.num_slots(D));
    std::array<uint32_t, K> c{};
    for (Index v = 0; v < grid.num_vertices; ++v) {
        const unsigned border = far_border<K>(grid, c);
        for (int t = 0; t < T; ++t) {
            const Index cell = v * T + t;
            if ((Grid<K>::mask_of(D, t) & border) == 0 && !(excluded && excluded->test(cell)))
                keys.push_back(cell_key<K, D>(grid, rank, cell));
        }
        for (int a = K - 1; a >= 0; --a) {
            if (++c[a] < grid.extent[a]) break;
            c[a] = 0;
        }
    }
    sort_keys_by_rank(keys, scratch);
    return keys;
}

}  // namespace segpipe::topology

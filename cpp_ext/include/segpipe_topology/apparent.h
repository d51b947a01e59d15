// Apparent pairs of dimension 1 of a 3D grid (edges and squares).
//
// In the reduction of the squares' boundary matrix (reduction.h) with rows in a row filtration and
// columns in a column filtration, an edge e and a square s form an apparent pair when e is the
// last edge of s in the row filtration and s is the first square containing e in the column
// filtration. The column of s is then an emergent pair with pivot e: before any addition its pivot
// is its last edge e, and no earlier column can have pivot e, since a reduced column is a sum of
// boundaries of columns no later than it, one of which would then contain e and come before s.
// e is also a row after compression (reduction.h): the last edge of a nonzero cycle is positive.
//
// The test reads only the ranks of the cells around one square, so it runs on all squares in
// parallel (the CUDA kernels); the CPU engine finds the same columns as emergent pairs while it
// reduces (a superset: a column can be emergent without being apparent).
#pragma once

#include "core.h"
#include "grid.h"
#include "reduction.h"

namespace segpipe::topology {

// The edge that `square` forms an apparent pair with, or kNoIndex.
SEGPIPE_HD inline Index apparent_pivot(const Grid<3> &grid, const Rank *row_rank, const Rank *column_rank,
                                       Index square) {
    const SquareEdges edges = square_edges(grid, square);
    Index last = edges.edge[0];
    Key last_key = cell_key<3, 1>(grid, row_rank, last);
    for (int i = 1; i < 4; ++i) {
        const Key key = cell_key<3, 1>(grid, row_rank, edges.edge[i]);
        if (key > last_key) {
            last_key = key;
            last = edges.edge[i];
        }
    }
    // The squares containing the edge: for each other axis, the ones on both sides along it.
    const Key own = cell_key<3, 2>(grid, column_rank, square);
    const Index v = last / 3;
    const int axis = int(last % 3);
    for (int other = 0; other < 3; ++other) {
        if (other == axis) continue;
        const Index normal = Index(3 - axis - other);
        const uint32_t c = grid.coordinate(v, other);
        if (c + 1 < grid.extent[other]) {
            const Index coface = v * 3 + normal;
            if (coface != square && cell_key<3, 2>(grid, column_rank, coface) < own) return kNoIndex;
        }
        if (c > 0) {
            const Index coface = (v - grid.stride[other]) * 3 + normal;
            if (coface != square && cell_key<3, 2>(grid, column_rank, coface) < own) return kNoIndex;
        }
    }
    return last;
}

}  // namespace segpipe::topology

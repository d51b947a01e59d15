// Persistence barcode of one image (sublevel filtration, V-construction) in terms of cells.
#pragma once

#include "cells.h"
#include "core.h"
#include "grid.h"
#include "pairs.h"
#include "reduction.h"
#include "union_find.h"

#include <vector>

namespace segpipe::topology {

struct CellBarcode {
    std::vector<PairList> pairs;  // per dimension 0 .. K-1: pairs of nonzero persistence
    Index essential = 0;          // the vertex that starts the one essential class (dimension 0)
};

// The first vertex of the filtration.
inline Index first_vertex(const Rank *rank, Index count) {
    Index best = 0;
    for (Index v = 1; v < count; ++v)
        if (rank[v] < rank[best]) best = v;
    return best;
}

// Drops the cells in `cleared` from a sorted key list, keeping the order.
inline void remove_cleared(std::vector<Key> &keys, const Bitmap &cleared) {
    keys.erase(std::remove_if(keys.begin(), keys.end(),
                              [&](Key k) { return cleared.test(key_cell(k)); }),
               keys.end());
}

// Bars of the top dimension from the sorted (K-1)-cells; marks the faces that create a class (they
// reduce to zero in the next dimension down and can be cleared there).
template <int K>
PairList top_bars(const Grid<K> &grid, const Rank *rank, const std::vector<Key> &faces,
                  Bitmap &positive) {
    PairList bars;
    top_pairs<K>(grid, rank, faces, [&](Index face, Index top) {
        positive.set(face);
        if (cell_rank<K, K - 1>(grid, rank, face) != top_rank<K>(grid, rank, top))
            bars.add(face, top);
    });
    return bars;
}

// Bars of dimension 1 of a 3D grid from the sorted squares that remain after clearing.
inline PairList middle_bars(const Grid<3> &grid, const Rank *rank, const std::vector<Key> &squares) {
    PairList bars;
    ColumnReduction(grid, rank).run(squares, [&](Index edge, Index square) {
        if (cell_rank<3, 1>(grid, rank, edge) != cell_rank<3, 2>(grid, rank, square))
            bars.add(edge, square);
    });
    return bars;
}

// Bars of dimension 0 from the sorted edges.
template <int K>
PairList vertex_bars(const Grid<K> &grid, const Rank *rank, const std::vector<Key> &edges) {
    PairList bars;
    vertex_pairs<K>(grid, rank, edges, [&](Index vertex, Index edge) {
        if (rank[vertex] != cell_rank<K, 1>(grid, rank, edge)) bars.add(vertex, edge);
    });
    return bars;
}

template <int K>
CellBarcode compute_cell_barcode(const Grid<K> &grid, const Rank *rank) {
    CellBarcode out;
    out.pairs.resize(K);
    std::vector<Key> scratch;
    if constexpr (K >= 2) {
        std::vector<Key> faces = sorted_cells<K, K - 1>(grid, rank, scratch);
        Bitmap positive(grid.num_slots(K - 1));
        out.pairs[K - 1] = top_bars<K>(grid, rank, faces, positive);
        if constexpr (K == 3) {
            remove_cleared(faces, positive);
            out.pairs[1] = middle_bars(grid, rank, faces);
        }
    }
    out.pairs[0] = vertex_bars<K>(grid, rank, sorted_cells<K, 1>(grid, rank, scratch));
    out.essential = first_vertex(rank, grid.num_vertices);
    return out;
}

}  // namespace segpipe::topology

// Persistence barcode of one image (sublevel filtration, V-construction) in terms of cells, and the
// per-dimension steps it is made of (shared with the Betti matching).
#pragma once

#include "cells.h"
#include "core.h"
#include "grid.h"
#include "pairs.h"
#include "reduction.h"
#include "sorting.h"
#include "stages.h"
#include "union_find.h"

#include <algorithm>
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

// Drops the cells in `cleared` from an ordered cell list, keeping the order.
inline void remove_cleared(std::vector<Index> &cells, const Bitmap &cleared) {
    cells.erase(std::remove_if(cells.begin(), cells.end(), [&](Index c) { return cleared.test(c); }),
                cells.end());
}

// Collects the bars of the top dimension emitted by top_pairs for a filtration (`top_rank`: the
// ranks of its top cells) and marks the faces that create a class (in 3D they reduce to zero in
// dimension 1 and are cleared there; in 2D they close cycles in dimension 0).
template <int K>
struct TopBarCollector {
    const Grid<K> &grid;
    const Rank *rank;
    const Rank *top_rank;
    Bitmap &positive;
    PairList &bars;
    void operator()(Index face, Index top) {
        positive.set(face);
        if (cell_rank<K, K - 1>(grid, rank, face) != top_rank[top]) bars.add(face, top);
    }
};

// Collects the bars of dimension 0 emitted by vertex_pairs for a filtration and marks the negative
// edges (those that merge two components).
template <int K>
struct VertexBarCollector {
    const Grid<K> &grid;
    const Rank *rank;
    Bitmap &negative;
    PairList &bars;
    void operator()(Index vertex, Index edge) {
        negative.set(edge);
        if (rank[vertex] != cell_rank<K, 1>(grid, rank, edge)) bars.add(vertex, edge);
    }
};

// Bars of the top dimension from the (K-1)-cells in filtration order, passing over `skip`.
template <int K>
PairList top_bars(const Grid<K> &grid, const Rank *rank, const Rank *top_rank,
                  const std::vector<Index> &faces, const Bitmap *skip, Bitmap &positive) {
    PairList bars;
    TopBarCollector<K> collect{grid, rank, top_rank, positive, bars};
    top_pairs<K, 1>(grid, {top_rank}, faces, skip, [&](size_t, Index face, Index top) { collect(face, top); });
    return bars;
}

// Bars of dimension 0 from the edges in filtration order, passing over `skip`.
template <int K>
PairList vertex_bars(const Grid<K> &grid, const Rank *rank, const std::vector<Index> &edges,
                     const Bitmap *skip, Bitmap &negative) {
    PairList bars;
    VertexBarCollector<K> collect{grid, rank, negative, bars};
    vertex_pairs<K, 1>(grid, {rank}, edges, skip, [&](size_t, Index vertex, Index edge) { collect(vertex, edge); });
    return bars;
}

// The rows of the dimension 1 reduction: the positive edges in order and their positions.
inline RowOrder positive_rows(const std::vector<Index> &edges, const Bitmap &negative,
                              size_t num_slots) {
    RowOrder rows;
    rows.position.assign(num_slots, kNoIndex);
    for (const Index edge : edges) {
        if (negative.test(edge)) continue;
        rows.position[edge] = Index(rows.edges.size());
        rows.edges.push_back(edge);
    }
    return rows;
}

// Bars of dimension 1 of a 3D grid from the squares that remain after clearing, in filtration
// order, and the positive edges of the same filtration as rows; `apparent` as for
// ColumnReduction::run.
inline PairList middle_bars(const Grid<3> &grid, const Rank *rank, const std::vector<Index> &squares,
                            const std::vector<Index> &apparent, const RowOrder &rows) {
    PairList bars;
    ColumnReduction(grid, rows).run(squares, apparent, [&](Index edge, Index square) {
        if (cell_rank<3, 1>(grid, rank, edge) != cell_rank<3, 2>(grid, rank, square))
            bars.add(edge, square);
    });
    return bars;
}

// The barcode of filtration 0 of `stages`.
template <int K>
CellBarcode compute_cell_barcode(const Grid<K> &grid, ParallelStages &stages) {
    const Rank *rank = stages.vertices(0).rank.data();
    CellBarcode out;
    out.pairs.resize(K);
    out.essential = first_vertex(rank, grid.num_vertices);
    Bitmap negative(grid.num_slots(1));
    if constexpr (K == 1) {
        out.pairs[0] = vertex_bars<1>(grid, rank, stages.sorted_cells(0, 1), nullptr, negative);
    } else if constexpr (K == 2) {
        // The edges serve both union-finds; an edge that merges components cannot merge dual
        // components, so the dual pass skips them (clearing).
        const std::vector<Index> edges = stages.sorted_cells(0, 1);
        out.pairs[0] = vertex_bars<2>(grid, rank, edges, nullptr, negative);
        Bitmap positive(grid.num_slots(1));
        out.pairs[1] = top_bars<2>(grid, rank, stages.top_ranks(0).data(), edges, &negative, positive);
    } else {
        std::vector<Index> squares = stages.sorted_cells(0, 2);
        Bitmap positive(grid.num_slots(2));
        out.pairs[2] = top_bars<3>(grid, rank, stages.top_ranks(0).data(), squares, nullptr, positive);
        remove_cleared(squares, positive);
        const std::vector<Index> edges = stages.sorted_cells(0, 1);
        out.pairs[0] = vertex_bars<3>(grid, rank, edges, nullptr, negative);
        out.pairs[1] = middle_bars(grid, rank, squares, stages.apparent_pivots(0, 0, squares),
                                   positive_rows(edges, negative, grid.num_slots(1)));
    }
    return out;
}

}  // namespace segpipe::topology

// Persistence barcode of one image (sublevel filtration, V-construction) in terms of cells.
#pragma once

#include "cells.h"
#include "core.h"
#include "grid.h"
#include "pairs.h"
#include "reduction.h"
#include "sorting.h"
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

// Drops the cells in `cleared` from an ordered cell list, keeping the order.
inline void remove_cleared(std::vector<Index> &cells, const Bitmap &cleared) {
    cells.erase(std::remove_if(cells.begin(), cells.end(), [&](Index c) { return cleared.test(c); }),
                cells.end());
}

// Collects the bars of the top dimension emitted by top_pairs for a filtration (`top_rank`: the
// ranks of its top cells) and marks the faces that create a class (they reduce to zero in the
// next dimension down and can be cleared there).
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

// Bars of dimension 1 of a 3D grid from the squares that remain after clearing, in filtration
// order, and the positive edges of the same filtration as rows.
inline PairList middle_bars(const Grid<3> &grid, const Rank *rank, const std::vector<Index> &squares,
                            const RowOrder &rows) {
    PairList bars;
    ColumnReduction(grid, rows).run(squares, [&](Index edge, Index square) {
        if (cell_rank<3, 1>(grid, rank, edge) != cell_rank<3, 2>(grid, rank, square))
            bars.add(edge, square);
    });
    return bars;
}

// Collects the bars of dimension 0 emitted by vertex_pairs for a filtration and marks the
// negative edges (those that merge two components).
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

// Bars of dimension 0 from the edges in filtration order; marks the negative edges.
template <int K>
PairList vertex_bars(const Grid<K> &grid, const Rank *rank, const std::vector<Index> &edges,
                     Bitmap &negative) {
    PairList bars;
    VertexBarCollector<K> collect{grid, rank, negative, bars};
    vertex_pairs<K, 1>(grid, {rank}, edges, [&](size_t, Index vertex, Index edge) { collect(vertex, edge); });
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

// The (K-1)-cells of a filtration in order with the bars of the top dimension they give. With the
// top cell ranks of the comparison image, the pairs of image persistence of the inclusion are
// computed in the same pass: `image` then maps the death cell of every image pair whose birth
// face starts a bar to that bar (both union-finds merge at the same faces, since they differ only
// in their representatives).
template <int K>
struct TopDimension {
    std::vector<Index> faces;
    PairList bars;
    Bitmap positive;  // faces that create a (K-1)-class

    TopDimension(const Grid<K> &grid, const VertexRanks &ranks, const std::vector<Rank> &top_rank)
        : faces(sorted_cells<K, K - 1>(grid, ranks)),
          positive(grid.num_slots(K - 1)) {
        TopBarCollector<K> collect{grid, ranks.rank.data(), top_rank.data(), positive, bars};
        top_pairs<K, 1>(grid, {top_rank.data()}, faces,
                        [&](size_t, Index face, Index top) { collect(face, top); });
    }

    TopDimension(const Grid<K> &grid, const VertexRanks &ranks, const std::vector<Rank> &top_rank,
                 const std::vector<Rank> &image_top_rank, CellMap &image)
        : faces(sorted_cells<K, K - 1>(grid, ranks)),
          positive(grid.num_slots(K - 1)) {
        TopBarCollector<K> collect{grid, ranks.rank.data(), top_rank.data(), positive, bars};
        Index face_of_last_bar = kNoIndex;
        top_pairs<K, 2>(grid, {top_rank.data(), image_top_rank.data()}, faces,
                        [&](size_t i, Index face, Index top) {
                            if (i == 0) {
                                const size_t count = bars.size();
                                collect(face, top);
                                if (bars.size() > count) face_of_last_bar = face;
                            } else if (face == face_of_last_bar) {
                                image.add(top, Index(bars.size() - 1));
                            }
                        });
        image.finish();
    }

    // In 3D: leaves out the faces that create 2-cycles; what remains are the columns of the
    // reduction of dimension 1 (clearing).
    void clear() {
        if constexpr (K == 3) remove_cleared(faces, positive);
    }
};

// The edges of a filtration in order (in 2D: the faces list of the top dimension, reused).
template <int K>
std::vector<Index> ordered_edges(const Grid<K> &grid, const VertexRanks &ranks,
                                 std::vector<Index> *faces_2d) {
    if constexpr (K == 2) return std::move(*faces_2d);
    return sorted_cells<K, 1>(grid, ranks);
}

template <int K>
CellBarcode compute_cell_barcode(const Grid<K> &grid, const VertexRanks &ranks) {
    const Rank *rank = ranks.rank.data();
    CellBarcode out;
    out.pairs.resize(K);
    std::vector<Index> faces;
    if constexpr (K >= 2) {
        TopDimension<K> top(grid, ranks, top_cell_ranks<K>(grid, rank));
        top.clear();
        out.pairs[K - 1] = std::move(top.bars);
        faces = std::move(top.faces);
    }
    const std::vector<Index> edges = ordered_edges<K>(grid, ranks, &faces);
    Bitmap negative(grid.num_slots(1));
    out.pairs[0] = vertex_bars<K>(grid, rank, edges, negative);
    if constexpr (K == 3)
        out.pairs[1] = middle_bars(grid, rank, faces, positive_rows(edges, negative, grid.num_slots(1)));
    out.essential = first_vertex(rank, grid.num_vertices);
    return out;
}

}  // namespace segpipe::topology

// Betti matching of two images (Stucki et al. 2023, "Topologically faithful image segmentation via
// induced matching of persistence barcodes") in terms of cells.
//
// With f and g the two inputs and h = min(f, g) the comparison image, every sublevel set of f (and
// of g) is contained in the sublevel set of h at the same value. A bar of f is matched to a bar of
// g when both reach the same bar of h through the induced matchings (Bauer & Lesnick 2015) of the
// maps f -> h and g -> h, which factor through the image persistence modules:
//   * a bar of f and a bar of image(f -> h) correspond when they have the same birth cell;
//   * a bar of image(f -> h) and a bar of h correspond when they have the same death cell.
// So for every bar (b, c) of h the image pairs with death cell c give birth cells in f and in g;
// the bars of f and g born there (if any) are matched. Bars of zero persistence are not bars and
// take no part; the essential class of dimension 0 is reported separately.
#pragma once

#include "barcode.h"
#include "cells.h"
#include "core.h"
#include "grid.h"
#include "pairs.h"
#include "reduction.h"
#include "union_find.h"

#include <utility>
#include <vector>

namespace segpipe::topology {

struct CellMatching {
    CellBarcode input[2];  // bars of the prediction (0) and of the target (1)
    // Per dimension: matched bars as positions in input[0].pairs[d] and input[1].pairs[d].
    std::vector<std::vector<std::pair<Index, Index>>> matches;
};

namespace detail {

// Builds the map from the death cells of image pairs to the bars of the domain born at their
// birth cell.
class ImageToBars {
  public:
    ImageToBars(const PairList &domain_bars, CellMap &map) : births_(births_of(domain_bars)), map_(map) {}
    void add(Index birth, Index death) {
        const Index bar = births_.find(birth);
        if (bar != kNoIndex) map_.add(death, bar);
    }

  private:
    CellMap births_;
    CellMap &map_;
};

// Matches the bars of both inputs that reach the same bar of the comparison image; `image[k]`
// maps death cells of image pairs to bars of input k.
inline void match_bars(const PairList &comparison_bars, const CellMap (&image)[2],
                       std::vector<std::pair<Index, Index>> &matches) {
    for (size_t i = 0; i < comparison_bars.size(); ++i) {
        const Index a = image[0].find(comparison_bars.death[i]);
        const Index b = image[1].find(comparison_bars.death[i]);
        if (a != kNoIndex && b != kNoIndex) matches.emplace_back(a, b);
    }
}

}  // namespace detail

template <int K>
CellMatching compute_cell_matching(const Grid<K> &grid, const VertexRanks &ranks0,
                                   const VertexRanks &ranks1, const VertexRanks &comparison) {
    using detail::ImageToBars;
    const Rank *h = comparison.rank.data();
    CellMatching out;
    out.matches.resize(K);

    // Bars of the comparison image, keeping what the image computations reuse: its top cell
    // ranks, its cleared squares (the columns) and its edges in order.
    std::vector<Rank> h_top_rank;
    std::vector<Index> h_faces;
    PairList h_bars[3];
    if constexpr (K >= 2) {
        h_top_rank = top_cell_ranks<K>(grid, h);
        TopDimension<K> top(grid, comparison, h_top_rank);
        top.clear();
        h_bars[K - 1] = std::move(top.bars);
        h_faces = std::move(top.faces);
    }
    std::vector<Index> h_edges = ordered_edges<K>(grid, comparison, &h_faces);
    Bitmap h_negative(grid.num_slots(1));
    h_bars[0] = vertex_bars<K>(grid, h, h_edges, h_negative);
    if constexpr (K == 3)
        h_bars[1] = middle_bars(grid, h, h_faces, positive_rows(h_edges, h_negative, grid.num_slots(1)));
    h_negative = Bitmap();

    // Bars of each input and the image pairs of its inclusion into the comparison image (the top
    // dimension in the pass over the input's faces, dimension 1 by reduction of the comparison
    // image's columns, dimension 0 in one pass over the comparison image's edges below).
    CellMap image[3][2];  // per dimension and input: death cell of an image pair -> bar
    const VertexRanks *inputs[2] = {&ranks0, &ranks1};
    for (int k = 0; k < 2; ++k) {
        const Rank *rank = inputs[k]->rank.data();
        out.input[k].pairs.resize(K);
        std::vector<Index> faces;
        if constexpr (K >= 2) {
            TopDimension<K> top(grid, *inputs[k], top_cell_ranks<K>(grid, rank), h_top_rank,
                                image[K - 1][k]);
            out.input[k].pairs[K - 1] = std::move(top.bars);
            top.clear();
            faces = std::move(top.faces);
        }
        std::vector<Index> edges = ordered_edges<K>(grid, *inputs[k], &faces);
        Bitmap negative(grid.num_slots(1));
        out.input[k].pairs[0] = vertex_bars<K>(grid, rank, edges, negative);
        out.input[k].essential = first_vertex(rank, grid.num_vertices);
        if constexpr (K == 3) {
            const RowOrder rows = positive_rows(edges, negative, grid.num_slots(1));
            edges = std::vector<Index>();
            out.input[k].pairs[1] = middle_bars(grid, rank, faces, rows);
            faces = std::vector<Index>();
            ImageToBars to_bars(out.input[k].pairs[1], image[1][k]);
            ColumnReduction(grid, rows).run(h_faces, [&](Index edge, Index square) { to_bars.add(edge, square); });
            image[1][k].finish();
        }
    }
    {
        ImageToBars to_bars[2] = {ImageToBars(out.input[0].pairs[0], image[0][0]),
                                  ImageToBars(out.input[1].pairs[0], image[0][1])};
        vertex_pairs<K, 2>(grid, {ranks0.rank.data(), ranks1.rank.data()}, h_edges,
                           [&](size_t k, Index vertex, Index edge) { to_bars[k].add(vertex, edge); });
        image[0][0].finish();
        image[0][1].finish();
    }
    for (int d = 0; d < K; ++d) detail::match_bars(h_bars[d], image[d], out.matches[d]);
    return out;
}

}  // namespace segpipe::topology

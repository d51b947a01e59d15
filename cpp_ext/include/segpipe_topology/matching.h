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
#include "stages.h"
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

// Bar of each birth cell (kNoIndex where no bar starts), as a dense array over `num_slots` cells.
inline std::vector<Index> bars_by_birth(const PairList &bars, size_t num_slots) {
    std::vector<Index> out(num_slots, kNoIndex);
    for (size_t i = 0; i < bars.size(); ++i) out[bars.birth[i]] = Index(i);
    return out;
}

// The bars of the top dimension of an input and, in the same pass (both union-finds merge at the
// same faces, since they differ only in their representatives), the image pairs of its inclusion
// into the comparison image: image[top cell] = the bar born at the face of the image pair that
// dies at that top cell of the comparison image.
template <int K>
PairList top_bars_and_image(const Grid<K> &grid, const Rank *rank, const Rank *top_rank,
                            const Rank *comparison_top_rank, const std::vector<Index> &faces,
                            const Bitmap *skip, Bitmap &positive, std::vector<Index> &image) {
    PairList bars;
    TopBarCollector<K> collect{grid, rank, top_rank, positive, bars};
    image.assign(grid.num_vertices, kNoIndex);
    Index face_of_last_bar = kNoIndex;
    top_pairs<K, 2>(grid, {top_rank, comparison_top_rank}, faces, skip, [&](size_t i, Index face, Index top) {
        if (i == 0) {
            const size_t count = bars.size();
            collect(face, top);
            if (bars.size() > count) face_of_last_bar = face;
        } else if (face == face_of_last_bar) {
            image[top] = Index(bars.size() - 1);
        }
    });
    return bars;
}

// How many of `columns` (squares in filtration order) lead up to the last death of `bars`.
inline size_t columns_to_last_death(const std::vector<Index> &columns, const PairList &bars, size_t num_slots) {
    Bitmap death(num_slots);
    for (size_t i = 0; i < bars.size(); ++i) death.set(bars.death[i]);
    size_t count = columns.size();
    while (count > 0 && !death.test(columns[count - 1])) --count;
    return count;
}

}  // namespace detail

// The matching of filtrations 0 and 1 of `stages` through their comparison image (filtration 2).
template <int K>
CellMatching compute_cell_matching(const Grid<K> &grid, ParallelStages &stages) {
    const Rank *h = stages.vertices(kComparison).rank.data();
    CellMatching out;
    out.matches.resize(K);
    for (auto &barcode : out.input) barcode.pairs.resize(K);

    // 1. The comparison image: its top dimension, and what the image computations reuse: its top
    //    cell ranks, its squares after clearing (the columns of dimension 1) and its edges.
    std::vector<Rank> h_top_rank;
    PairList h_top_bars;
    Bitmap h_positive(K >= 2 ? grid.num_slots(K - 1) : 0);
    std::vector<Index> h_squares, h_edges;
    if constexpr (K == 1) {
        h_edges = stages.sorted_cells(kComparison, 1);
    } else {
        h_top_rank = stages.top_ranks(kComparison);
        std::vector<Index> faces = stages.sorted_cells(kComparison, K - 1);
        h_top_bars = top_bars<K>(grid, h, h_top_rank.data(), faces, nullptr, h_positive);
        if constexpr (K == 2) {
            h_edges = std::move(faces);
        } else {
            remove_cleared(faces, h_positive);
            h_squares = std::move(faces);
            h_edges = stages.sorted_cells(kComparison, 1);
        }
    }

    // 2. Each input: its bars, the image pairs of its inclusion into the comparison image in the
    //    top dimension (in the input's dual union-find pass) and, in 3D, what the image pairs of
    //    dimension 1 need (step 4): the input's rows and the bar born at each row.
    std::vector<Index> top_image[2];
    RowOrder middle_rows[2];
    std::vector<Index> bar_of_row[2];
    for (int k = 0; k < 2; ++k) {
        const Rank *rank = stages.vertices(k).rank.data();
        CellBarcode &bars = out.input[k];
        bars.essential = first_vertex(rank, grid.num_vertices);
        Bitmap negative(grid.num_slots(1));
        if constexpr (K == 1) {
            bars.pairs[0] = vertex_bars<1>(grid, rank, stages.sorted_cells(k, 1), nullptr, negative);
        } else if constexpr (K == 2) {
            const std::vector<Index> edges = stages.sorted_cells(k, 1);
            bars.pairs[0] = vertex_bars<2>(grid, rank, edges, nullptr, negative);
            Bitmap positive(grid.num_slots(1));
            bars.pairs[1] = detail::top_bars_and_image<2>(grid, rank, stages.top_ranks(k).data(),
                                                          h_top_rank.data(), edges, &negative, positive,
                                                          top_image[k]);
        } else {
            std::vector<Index> squares = stages.sorted_cells(k, 2);
            Bitmap positive(grid.num_slots(2));
            bars.pairs[2] = detail::top_bars_and_image<3>(grid, rank, stages.top_ranks(k).data(),
                                                          h_top_rank.data(), squares, nullptr, positive,
                                                          top_image[k]);
            remove_cleared(squares, positive);
            RowOrder &rows = middle_rows[k];
            {
                const std::vector<Index> edges = stages.sorted_cells(k, 1);
                bars.pairs[0] = vertex_bars<3>(grid, rank, edges, nullptr, negative);
                rows = positive_rows(edges, negative, grid.num_slots(1));
            }
            bars.pairs[1] = middle_bars(grid, rank, squares, stages.apparent_pivots(k, k, squares), rows);
            // Bars of dimension 1 start at positive edges: look them up by row.
            bar_of_row[k].assign(rows.edges.size(), kNoIndex);
            for (size_t i = 0; i < bars.pairs[1].size(); ++i)
                bar_of_row[k][rows.position[bars.pairs[1].birth[i]]] = Index(i);
        }
    }

    // 3. Dimension 0 of the comparison image and the image pairs of both inputs in one pass over
    //    its edges: the three union-finds merge at the same edges, so bars are matched on the spot.
    //    In 2D the edges that create cycles in the comparison image are skipped (clearing).
    Bitmap h_negative(grid.num_slots(1));
    {
        const std::vector<Index> born0 = detail::bars_by_birth(out.input[0].pairs[0], grid.num_vertices);
        const std::vector<Index> born1 = detail::bars_by_birth(out.input[1].pairs[0], grid.num_vertices);
        bool comparison_bar = false;
        Index bar0 = kNoIndex;
        vertex_pairs<K, 3>(grid, {h, stages.vertices(0).rank.data(), stages.vertices(1).rank.data()}, h_edges,
                           K == 2 ? &h_positive : nullptr, [&](size_t i, Index vertex, Index edge) {
                               if (i == 0) {
                                   h_negative.set(edge);
                                   comparison_bar = h[vertex] != cell_rank<K, 1>(grid, h, edge);
                               } else if (i == 1) {
                                   bar0 = born0[vertex];
                               } else if (comparison_bar && bar0 != kNoIndex && born1[vertex] != kNoIndex) {
                                   out.matches[0].emplace_back(bar0, born1[vertex]);
                               }
                           });
    }

    // 4. Dimension 1 (3D) and the top dimension of the comparison image, matched through the
    //    image pairs. The image pairs of dimension 1 come from reducing the comparison image's
    //    columns with each input's rows; only the columns up to the last death of a bar of the
    //    comparison image are reduced, since a column never changes the earlier ones. When the
    //    two orders differ much (a structured comparison image swept against a random input's
    //    rows) the columns fill in heavily; those after the last death were reduced in vain.
    if constexpr (K == 3) {
        const PairList h_middle_bars =
            middle_bars(grid, h, h_squares, stages.apparent_pivots(kComparison, kComparison, h_squares),
                        positive_rows(h_edges, h_negative, grid.num_slots(1)));
        h_squares.resize(detail::columns_to_last_death(h_squares, h_middle_bars, grid.num_slots(2)));
        CellMap middle_image[2];
        for (int k = 0; k < 2; ++k) {
            ColumnReduction(grid, middle_rows[k]).run(h_squares, stages.apparent_pivots(k, kComparison, h_squares),
                                                      [&](Index edge, Index square) {
                const Index bar = bar_of_row[k][middle_rows[k].position[edge]];
                if (bar != kNoIndex) middle_image[k].add(square, bar);
            });
            middle_image[k].finish();
        }
        for (size_t i = 0; i < h_middle_bars.size(); ++i) {
            const Index a = middle_image[0].find(h_middle_bars.death[i]);
            const Index b = middle_image[1].find(h_middle_bars.death[i]);
            if (a != kNoIndex && b != kNoIndex) out.matches[1].emplace_back(a, b);
        }
    }
    if constexpr (K >= 2) {
        for (size_t i = 0; i < h_top_bars.size(); ++i) {
            const Index a = top_image[0][h_top_bars.death[i]], b = top_image[1][h_top_bars.death[i]];
            if (a != kNoIndex && b != kNoIndex) out.matches[K - 1].emplace_back(a, b);
        }
    }
    return out;
}

}  // namespace segpipe::topology

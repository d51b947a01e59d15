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

// Map from the death cells of image pairs to the bars of the domain born at their birth cell.
class ImageToBars {
  public:
    explicit ImageToBars(const PairList &domain_bars) : births_(births_of(domain_bars)) {}
    void add(Index birth, Index death) {
        const Index bar = births_.find(birth);
        if (bar != kNoIndex) map_.add(death, bar);
    }
    void finish() { map_.finish(); }
    Index bar_dying_with(Index death) const { return map_.find(death); }

  private:
    CellMap births_;
    CellMap map_;
};

inline void match_bars(const PairList &comparison_bars, const ImageToBars &image0,
                       const ImageToBars &image1, std::vector<std::pair<Index, Index>> &matches) {
    for (size_t i = 0; i < comparison_bars.size(); ++i) {
        const Index a = image0.bar_dying_with(comparison_bars.death[i]);
        const Index b = image1.bar_dying_with(comparison_bars.death[i]);
        if (a != kNoIndex && b != kNoIndex) matches.emplace_back(a, b);
    }
}

}  // namespace detail

template <int K>
CellMatching compute_cell_matching(const Grid<K> &grid, const Rank *rank0, const Rank *rank1,
                                   const Rank *comparison) {
    using detail::ImageToBars;
    CellMatching out;
    out.matches.resize(K);
    const Rank *ranks[2] = {rank0, rank1};
    std::vector<Key> scratch;
    for (auto &barcode : out.input) barcode.pairs.resize(K);

    if constexpr (K >= 2) {
        constexpr int top = K - 1;  // homology dimension computed by the dual union-find
        std::vector<ImageToBars> image;
        for (int k = 0; k < 2; ++k) {
            std::vector<Key> faces = sorted_cells<K, K - 1>(grid, ranks[k], scratch);
            Bitmap positive(grid.num_slots(K - 1));
            out.input[k].pairs[top] = top_bars<K>(grid, ranks[k], faces, positive);
            image.emplace_back(out.input[k].pairs[top]);
            top_pairs<K>(grid, comparison, faces,
                         [&](Index face, Index cell) { image[k].add(face, cell); });
            image[k].finish();
            if constexpr (K == 3) {
                remove_cleared(faces, positive);
                out.input[k].pairs[1] = middle_bars(grid, ranks[k], faces);
            }
        }
        std::vector<Key> faces = sorted_cells<K, K - 1>(grid, comparison, scratch);
        Bitmap positive(grid.num_slots(K - 1));
        detail::match_bars(top_bars<K>(grid, comparison, faces, positive), image[0], image[1],
                           out.matches[top]);
        if constexpr (K == 3) {
            remove_cleared(faces, positive);
            const PairList comparison_bars = middle_bars(grid, comparison, faces);
            image.clear();
            for (int k = 0; k < 2; ++k) {
                image.emplace_back(out.input[k].pairs[1]);
                ColumnReduction(grid, ranks[k]).run(faces, [&](Index edge, Index square) {
                    image[k].add(edge, square);
                });
                image[k].finish();
            }
            detail::match_bars(comparison_bars, image[0], image[1], out.matches[1]);
        }
    }

    for (int k = 0; k < 2; ++k) {
        out.input[k].pairs[0] =
            vertex_bars<K>(grid, ranks[k], sorted_cells<K, 1>(grid, ranks[k], scratch));
        out.input[k].essential = first_vertex(ranks[k], grid.num_vertices);
    }
    const std::vector<Key> edges = sorted_cells<K, 1>(grid, comparison, scratch);
    ImageToBars image[2] = {ImageToBars(out.input[0].pairs[0]), ImageToBars(out.input[1].pairs[0])};
    for (int k = 0; k < 2; ++k) {
        vertex_pairs<K>(grid, ranks[k], edges,
                        [&](Index vertex, Index edge) { image[k].add(vertex, edge); });
        image[k].finish();
    }
    detail::match_bars(vertex_bars<K>(grid, comparison, edges), image[0], image[1], out.matches[0]);
    return out;
}

}  // namespace segpipe::topology

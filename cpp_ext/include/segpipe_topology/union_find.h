// Persistence pairs in dimension 0 and in the top dimension by union-find.
//
// Both passes take two filtrations: the cells are visited in the order of one of them and the
// elder rule compares the representatives in the other. With the same filtration for both this is
// ordinary persistence; with the domain filtration for the vertices (dimension 0) or for the
// visiting order (top dimension) and the comparison image for the other, it computes the pairs of
// image persistence of the inclusion of sublevel sets (Bauer & Schmahl 2022): a pair is a pivot of
// the boundary matrix whose rows follow one filtration and columns the other, and these pivots do
// not depend on whether rows or columns are reduced.
#pragma once

#include "core.h"
#include "grid.h"

#include <array>
#include <numeric>
#include <vector>

namespace segpipe::topology {

// Disjoint sets whose representative is chosen by the caller (the elder of two merged sets).
class UnionFind {
  public:
    explicit UnionFind(size_t size) : parent_(size) {
        std::iota(parent_.begin(), parent_.end(), Index(0));
    }
    Index find(Index x) {
        while (parent_[x] != x) {
            parent_[x] = parent_[parent_[x]];  // path halving
            x = parent_[x];
        }
        return x;
    }
    void attach(Index child_root, Index parent_root) { parent_[child_root] = parent_root; }

  private:
    std::vector<Index> parent_;
};

// Dimension 0: visits `edges` (1-cells in the order of the column filtration) and merges their
// end points in N union-find structures at once, one per row filtration `row_ranks[i]`; the
// representative of a component is its oldest vertex in that filtration. Calls
// emit(i, younger_vertex, edge) for every edge that merges two components of structure i (all N
// structures have the same components, so they merge at the same edges, in the order i = 0..N-1).
// Edges in `skip` (known to close cycles: clearing) are passed over.
template <int K, size_t N, class Emit>
void vertex_pairs(const Grid<K> &grid, const std::array<const Rank *, N> &row_ranks,
                  const std::vector<Index> &edges, const Bitmap *skip, Emit &&emit) {
    constexpr int T = Grid<K>::num_types(1);
    std::vector<UnionFind> sets(N, UnionFind(grid.num_vertices));
    for (const Index edge : edges) {
        if (skip && skip->test(edge)) continue;
        const Index v = edge / T;
        const Index w = v + grid.stride[edge % T];
        for (size_t i = 0; i < N; ++i) {
            const Index a = sets[i].find(v), b = sets[i].find(w);
            if (a == b) continue;
            const Rank *rank = row_ranks[i];
            const bool a_younger = make_key(rank[a], a) > make_key(rank[b], b);
            const Index younger = a_younger ? a : b;
            sets[i].attach(younger, a_younger ? b : a);
            emit(i, younger, edge);
        }
    }
}

// Top dimension K by union-find on the dual graph: its nodes are the top cells plus one node for
// the outside (which never dies), its edges the (K-1)-cells. Visits `faces` ((K-1)-cells in the
// order of the row filtration) from last to first, in N structures at once: in structure i the
// representative of a dual component is its latest top cell in the column filtration whose top
// cell ranks are `column_top_ranks[i]` (see top_cell_ranks). Calls emit(i, face, younger_top_cell)
// for every face that merges two dual components of structure i (the face is then a birth, the
// top cell its death; all structures merge at the same faces, in the order i = 0..N-1). Faces in
// `skip` (known to merge components in dimension K-2: clearing) are passed over.
template <int K, size_t N, class Emit>
void top_pairs(const Grid<K> &grid, const std::array<const Rank *, N> &column_top_ranks,
               const std::vector<Index> &faces, const Bitmap *skip, Emit &&emit) {
    static_assert(K >= 2, "the dual union-find is for grids of 2 or 3 axes");
    constexpr int T = Grid<K>::num_types(K - 1);
    const Index outside = grid.num_vertices;
    std::vector<UnionFind> sets(N, UnionFind(size_t(grid.num_vertices) + 1));
    for (auto it = faces.rbegin(); it != faces.rend(); ++it) {
        const Index face = *it;
        if (skip && skip->test(face)) continue;
        const Index v = face / T;
        // The axis the face is perpendicular to: its two cofaces lie on both sides along it.
        const int axis = K == 3 ? int(face % T) : 1 - int(face % T);
        const uint32_t c = grid.coordinate(v, axis);
        const Index above = c + 1 < grid.extent[axis] ? v : outside;
        const Index below = c > 0 ? v - grid.stride[axis] : outside;
        for (size_t i = 0; i < N; ++i) {
            const Index a = sets[i].find(above), b = sets[i].find(below);
            if (a == b) continue;
            const Rank *top_rank = column_top_ranks[i];
            auto key = [&](Index cell) { return cell == outside ? kNoKey : make_key(top_rank[cell], cell); };
            const bool a_younger = key(a) < key(b);
            const Index younger = a_younger ? a : b;
            sets[i].attach(younger, a_younger ? b : a);
            emit(i, face, younger);
        }
    }
}

}  // namespace segpipe::topology

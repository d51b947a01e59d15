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

// Dimension 0: visits `edges` (sorted keys of 1-cells in the column filtration) and merges their
// end points; the representative of a component is its oldest vertex in the row filtration
// `row_rank`. Calls emit(younger_vertex, edge) for every edge that merges two components.
template <int K, class Emit>
void vertex_pairs(const Grid<K> &grid, const Rank *row_rank, const std::vector<Key> &edges,
                  Emit &&emit) {
    constexpr int T = Grid<K>::num_types(1);
    UnionFind sets(grid.num_vertices);
    for (const Key key : edges) {
        const Index edge = key_cell(key);
        const Index v = edge / T;
        const Index a = sets.find(v);
        const Index b = sets.find(v + grid.stride[edge % T]);
        if (a == b) continue;
        const bool a_younger = make_key(row_rank[a], a) > make_key(row_rank[b], b);
        const Index younger = a_younger ? a : b;
        sets.attach(younger, a_younger ? b : a);
        emit(younger, edge);
    }
}

// Top dimension K by union-find on the dual graph: its nodes are the top cells plus one node for
// the outside (which never dies), its edges the (K-1)-cells. Visits `faces` (sorted keys of
// (K-1)-cells in the row filtration) from last to first; the representative of a dual component
// is its latest top cell in the column filtration `column_rank`. Calls emit(face, younger_top_cell)
// for every face that merges two dual components (the face is then a birth, the top cell its
// death).
template <int K, class Emit>
void top_pairs(const Grid<K> &grid, const Rank *column_rank, const std::vector<Key> &faces,
               Emit &&emit) {
    static_assert(K >= 2, "the dual union-find is for grids of 2 or 3 axes");
    constexpr int T = Grid<K>::num_types(K - 1);
    const Index outside = grid.num_vertices;
    auto top_key = [&](Index cell) {
        return cell == outside ? kNoKey : make_key(top_rank<K>(grid, column_rank, cell), cell);
    };
    UnionFind sets(size_t(grid.num_vertices) + 1);
    for (auto it = faces.rbegin(); it != faces.rend(); ++it) {
        const Index face = key_cell(*it);
        const Index v = face / T;
        // The axis the face is perpendicular to: its two cofaces lie on both sides along it.
        const int axis = K == 3 ? int(face % T) : 1 - int(face % T);
        const uint32_t c = grid.coordinate(v, axis);
        const Index a = sets.find(c + 1 < grid.extent[axis] ? v : outside);
        const Index b = sets.find(c > 0 ? v - grid.stride[axis] : outside);
        if (a == b) continue;
        const bool a_younger = top_key(a) < top_key(b);
        const Index younger = a_younger ? a : b;
        sets.attach(younger, a_younger ? b : a);
        emit(face, younger);
    }
}

}  // namespace segpipe::topology

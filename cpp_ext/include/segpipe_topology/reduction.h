// Dimension 1 of a 3D grid by column reduction of the boundary matrix of the squares.
//
// Columns (squares) are visited in the column filtration, rows (edges) are numbered by their
// position in the row filtration; the pivot of a column is its last row. With the same filtration
// for both this gives ordinary persistence pairs; with the domain filtration for the rows and the
// comparison image for the columns it gives image persistence pairs.
//
// Two classical savings (Bauer, Kerber & Reininghaus 2014, "Clear and compress"):
// * clearing: squares that create 2-cycles (found by the union-find of dimension 2) reduce to zero
//   and are left out beforehand;
// * compression: only positive edges of the row filtration (those that do not merge components in
//   dimension 0) are rows. The last edge of a nonzero 1-cycle is always positive, and the negative
//   edges form a spanning forest, so a cycle is determined by its positive edges: dropping the
//   negative rows changes no pivot.
//
// Most columns are already reduced when they are visited: their last edge is nobody's pivot yet
// (an emergent pair) and nothing is stored for them. The other columns are reduced in a bit tree
// and their reduced form is kept for later columns that meet the same pivot.
#pragma once

#include "bit_tree.h"
#include "core.h"
#include "grid.h"

#include <algorithm>
#include <array>
#include <vector>

namespace segpipe::topology {

// The four edges of a square.
struct SquareEdges {
    Index edge[4];
};
SEGPIPE_HD inline SquareEdges square_edges(const Grid<3> &grid, Index square) {
    const Index v = square / 3;
    const int normal = int(square % 3);
    const int a = normal == 0 ? 1 : 0;  // the two axes the square extends along, a < b
    const int b = normal == 2 ? 1 : 2;
    return {{v * 3 + a, v * 3 + b, (v + grid.stride[b]) * 3 + a, (v + grid.stride[a]) * 3 + b}};
}

// The rows of a reduction: the positive edges of the row filtration in order, and the position of
// every edge among them (kNoIndex for negative edges, which are left out).
struct RowOrder {
    std::vector<Index> edges;
    std::vector<Index> position;
};

class ColumnReduction {
  public:
    ColumnReduction(const Grid<3> &grid, const RowOrder &rows)
        : grid_(grid), order_(rows.edges), position_(rows.position),
          owner_(rows.edges.size(), kNoIndex), column_(rows.edges.size()) {
        offsets_.push_back(0);
    }

    // Reduces the columns `squares` (in the column filtration) and calls emit(pivot_edge, square)
    // for every column that does not reduce to zero. `apparent` is empty or holds, for each
    // column, the edge it forms an apparent pair with (kNoIndex if none; see apparent.h): those
    // columns are emergent pairs with that pivot and are not looked at again.
    template <class Emit>
    void run(const std::vector<Index> &squares, const std::vector<Index> &apparent, Emit &&emit) {
        if (apparent.empty())
            reduce<false>(squares, nullptr, emit);
        else
            reduce<true>(squares, apparent.data(), emit);
    }

  private:
    static constexpr Index kStored = 0x80000000u;

    // run(), compiled with and without the apparent pivots (the CPU engine's loop pays nothing).
    template <bool kApparent, class Emit>
    void reduce(const std::vector<Index> &squares, const Index *apparent, Emit &emit) {
        for (size_t i = 0; i < squares.size(); ++i) {
            const Index square = squares[i];
            if constexpr (kApparent) {
                if (apparent[i] != kNoIndex) {
                    owner_[position_[apparent[i]]] = square;
                    emit(apparent[i], square);
                    continue;
                }
            }
            const auto rows = boundary(square);
            const Index last = last_row(rows);
            if (owner_[last] == kNoIndex) {  // emergent pair
                owner_[last] = square;
                emit(order_[last], square);
                continue;
            }
            toggle(rows);
            for (Index pivot = column_.max(); pivot != kNoIndex; pivot = column_.max()) {
                const Index owner = owner_[pivot];
                if (owner == kNoIndex) {
                    owner_[pivot] = kStored | store_column();
                    emit(order_[pivot], square);
                    break;
                }
                if (owner & kStored) {
                    const size_t slot = owner & ~kStored;
                    for (size_t k = offsets_[slot]; k < offsets_[slot + 1]; ++k) column_.toggle(stored_[k]);
                } else {
                    toggle(boundary(owner));
                }
            }
        }
    }

    // The rows of the boundary of a square (kNoIndex for left-out negative edges).
    std::array<Index, 4> boundary(Index square) const {
        const SquareEdges e = square_edges(grid_, square);
        return {position_[e.edge[0]], position_[e.edge[1]], position_[e.edge[2]], position_[e.edge[3]]};
    }
    // The last row of a boundary (a nonzero cycle has at least one positive edge).
    static Index last_row(const std::array<Index, 4> &rows) {
        Index last = 0;
        for (const Index row : rows)
            if (row != kNoIndex && row >= last) last = row;
        return last;
    }
    void toggle(const std::array<Index, 4> &rows) {
        for (const Index row : rows)
            if (row != kNoIndex) column_.toggle(row);
    }

    // Moves the working column to the store (largest row first) and returns its slot.
    Index store_column() {
        for (Index row = column_.max(); row != kNoIndex; row = column_.max()) {
            stored_.push_back(row);
            column_.toggle(row);
        }
        offsets_.push_back(stored_.size());
        return Index(offsets_.size() - 2);
    }

    const Grid<3> &grid_;
    const std::vector<Index> &order_;
    const std::vector<Index> &position_;
    std::vector<Index> owner_;  // row -> square whose column has it as pivot (| kStored: slot)
    BitTree column_;            // the working column
    std::vector<Index> stored_; // reduced columns that needed additions, as rows
    std::vector<size_t> offsets_;
};

}  // namespace segpipe::topology

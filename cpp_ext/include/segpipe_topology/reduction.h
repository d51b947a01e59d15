// Dimension 1 of a 3D grid by column reduction of the boundary matrix of the squares.
//
// Columns (squares) are visited in the column filtration, rows (edges) are ordered by the row
// filtration; the pivot of a column is its last row. With the same filtration for both this gives
// ordinary persistence pairs; with the domain filtration for the rows and the comparison image for
// the columns it gives image persistence pairs. Squares that create 2-cycles (found by the
// union-find of dimension 2) reduce to zero and are left out beforehand (clearing).
//
// Most columns are already reduced when they are visited: their last edge is nobody's pivot yet
// (an emergent pair) and nothing is stored for them. The other columns are reduced with a binary
// heap and their reduced form is kept for later columns that meet the same pivot.
#pragma once

#include "core.h"
#include "grid.h"

#include <algorithm>
#include <array>
#include <vector>

namespace segpipe::topology {

// Keys of the four edges of a square in the filtration given by `rank`.
inline std::array<Key, 4> square_boundary(const Grid<3> &grid, const Rank *rank, Index square) {
    const Index v = square / 3;
    const int normal = int(square % 3);
    const int a = normal == 0 ? 1 : 0;  // the two axes the square extends along, a < b
    const int b = normal == 2 ? 1 : 2;
    const Index e0 = v * 3 + a, e1 = v * 3 + b;
    const Index e2 = (v + grid.stride[b]) * 3 + a, e3 = (v + grid.stride[a]) * 3 + b;
    return {cell_key<3, 1>(grid, rank, e0), cell_key<3, 1>(grid, rank, e1),
            cell_key<3, 1>(grid, rank, e2), cell_key<3, 1>(grid, rank, e3)};
}

class ColumnReduction {
  public:
    ColumnReduction(const Grid<3> &grid, const Rank *row_rank)
        : grid_(grid), row_rank_(row_rank), owner_(grid.num_slots(1), kNoIndex) {
        offsets_.push_back(0);
    }

    // Reduces the columns `squares` (sorted keys in the column filtration) and calls
    // emit(pivot_edge, square) for every column that does not reduce to zero.
    template <class Emit>
    void run(const std::vector<Key> &squares, Emit &&emit) {
        for (const Key column : squares) {
            const Index square = key_cell(column);
            const auto boundary = square_boundary(grid_, row_rank_, square);
            const Key last = *std::max_element(boundary.begin(), boundary.end());
            if (owner_[key_cell(last)] == kNoIndex) {  // emergent pair
                owner_[key_cell(last)] = square;
                emit(key_cell(last), square);
                continue;
            }
            heap_.assign(boundary.begin(), boundary.end());
            std::make_heap(heap_.begin(), heap_.end());
            while (true) {
                const Key pivot = pop_pivot();
                if (pivot == kNoKey) break;  // zero column: not expected after clearing
                const Index owner = owner_[key_cell(pivot)];
                if (owner == kNoIndex) {
                    push(pivot);
                    owner_[key_cell(pivot)] = kStored | store_heap();
                    emit(key_cell(pivot), square);
                    break;
                }
                if (owner & kStored) {
                    // The stored column starts with its pivot, which cancels `pivot`.
                    const size_t begin = offsets_[owner & ~kStored] + 1;
                    const size_t end = offsets_[(owner & ~kStored) + 1];
                    for (size_t i = begin; i < end; ++i) push(stored_[i]);
                } else {
                    for (const Key k : square_boundary(grid_, row_rank_, owner))
                        if (k != pivot) push(k);
                }
            }
        }
    }

  private:
    static constexpr Index kStored = 0x80000000u;

    void push(Key k) {
        heap_.push_back(k);
        std::push_heap(heap_.begin(), heap_.end());
    }
    Key pop() {
        std::pop_heap(heap_.begin(), heap_.end());
        const Key k = heap_.back();
        heap_.pop_back();
        return k;
    }
    // Removes and returns the largest entry that survives mod-2 cancellation, or kNoKey.
    Key pop_pivot() {
        while (!heap_.empty()) {
            const Key top = pop();
            if (heap_.empty() || heap_.front() != top) return top;
            pop();
        }
        return kNoKey;
    }
    // Moves the reduced column in the heap to the store (largest entry first); returns its slot.
    Index store_heap() {
        for (Key k = pop_pivot(); k != kNoKey; k = pop_pivot()) stored_.push_back(k);
        offsets_.push_back(stored_.size());
        return Index(offsets_.size() - 2);
    }

    const Grid<3> &grid_;
    const Rank *row_rank_;
    std::vector<Index> owner_;  // edge -> square whose column has it as pivot (| kStored: slot)
    std::vector<Key> stored_;   // reduced columns that needed additions
    std::vector<size_t> offsets_;
    std::vector<Key> heap_;
};

}  // namespace segpipe::topology

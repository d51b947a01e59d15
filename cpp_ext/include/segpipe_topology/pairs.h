// Persistence pairs of cells and lookups between them.
#pragma once

#include "core.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace segpipe::topology {

// Pairs (birth cell of dimension d, death cell of dimension d + 1).
struct PairList {
    std::vector<Index> birth;
    std::vector<Index> death;
    void add(Index b, Index d) {
        birth.push_back(b);
        death.push_back(d);
    }
    size_t size() const { return birth.size(); }
};

// Sorted map from cell numbers to values, built once and then queried.
class CellMap {
  public:
    void add(Index cell, Index value) { entries_.emplace_back(cell, value); }
    void finish() { std::sort(entries_.begin(), entries_.end()); }
    // The value stored for `cell`, or kNoIndex.
    Index find(Index cell) const {
        auto it = std::lower_bound(entries_.begin(), entries_.end(), std::make_pair(cell, Index(0)));
        return (it != entries_.end() && it->first == cell) ? it->second : kNoIndex;
    }

  private:
    std::vector<std::pair<Index, Index>> entries_;
};

}  // namespace segpipe::topology

// A set of integers in [0, n) stored as a tree of 64-bit words: toggling an element and finding
// the largest one take O(log_64 n) word operations (the "bit tree" pivot column of PHAT, Bauer et
// al. 2017). Used as the working column of the reduction: adding an entry twice cancels it.
#pragma once

#include "core.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace segpipe::topology {

class BitTree {
  public:
    explicit BitTree(size_t size) {
        size_t words = (size + 63) / 64;
        for (;;) {
            words = words == 0 ? 1 : words;
            start_[depth_++] = words_.size();
            words_.resize(words_.size() + words, 0);
            if (words == 1) break;
            words = (words + 63) / 64;
        }
    }

    // Adds i if absent, removes it if present.
    void toggle(Index i) {
        size_t position = i;
        for (int level = 0; level < depth_; ++level) {
            uint64_t &word = words_[start_[level] + (position >> 6)];
            const uint64_t before = word;
            word ^= uint64_t(1) << (position & 63);
            if ((before == 0) == (word == 0)) return;  // emptiness unchanged: nothing to update above
            position >>= 6;
        }
    }

    // The largest element, or kNoIndex if the set is empty.
    Index max() const {
        size_t position = 0;
        for (int level = depth_ - 1; level >= 0; --level) {
            const uint64_t word = words_[start_[level] + position];
            if (word == 0) return kNoIndex;  // only possible at the root
            position = position * 64 + 63 - size_t(__builtin_clzll(word));
        }
        return Index(position);
    }

  private:
    static constexpr int kMaxDepth = 6;  // 64^6 > 2^32 elements
    std::vector<uint64_t> words_;         // all levels; level 0 holds the elements
    size_t start_[kMaxDepth] = {};
    int depth_ = 0;
};

}  // namespace segpipe::topology

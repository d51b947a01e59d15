// Basic types of the topology engine: cell indices, filtration keys, fast division, bitmaps.
//
// Conventions used throughout the engine
// --------------------------------------
// * An image is a grid of K = 1, 2 or 3 axes (singleton axes removed), every extent >= 2.
//   Vertices are the pixels/voxels; their linear index is the C-order index of the array.
// * A cell of dimension D is a base vertex v plus a set of axes (a bit mask) it extends along.
//   Cells of one dimension are numbered L = v * T_D + t, where t enumerates the masks of that
//   dimension (see grid.h). This numbering is lexicographic in (base coordinates, type).
// * A filtration gives every vertex a dense rank (equal values share a rank). A cell's rank is the
//   maximum rank of its vertices (V-construction). Cells of one dimension are totally ordered by
//   their Key = (rank << 32) | L, i.e. by value first and by index on ties. Every stage (the two
//   inputs, the comparison image and the image persistence) uses this same rule, which makes the
//   induced matchings well defined and deterministic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

// Functions on single elements are shared by the CPU engine and the CUDA kernels (cpp_ext/cuda/):
// compiled by nvcc they are callable from both host and device code.
#ifdef __CUDACC__
#define SEGPIPE_HD __host__ __device__
#else
#define SEGPIPE_HD
#endif

namespace segpipe::topology {

using Index = uint32_t;  // vertex or cell number L
using Rank = uint32_t;   // dense rank of a value
using Key = uint64_t;    // (rank << 32) | L: position of a cell in its filtration

inline constexpr Index kNoIndex = 0xFFFFFFFFu;
inline constexpr Key kNoKey = ~Key(0);
// Largest number of voxels accepted: cell numbers of every dimension (up to 3 per voxel) must fit
// in 31 bits, the top bit being used as a flag by the column reduction.
inline constexpr uint64_t kMaxVoxels = uint64_t(1) << 29;

SEGPIPE_HD inline constexpr Key make_key(Rank rank, Index cell) { return (Key(rank) << 32) | cell; }

// The high 64 bits of the 128-bit product a * b.
SEGPIPE_HD inline uint64_t multiply_high(uint64_t a, uint64_t b) {
#ifdef __CUDA_ARCH__
    return __umul64hi(a, b);
#else
    return uint64_t((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
}

// The bits of a double / float as an unsigned integer.
SEGPIPE_HD inline uint64_t bits_of(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}
SEGPIPE_HD inline uint32_t bits_of(float value) {
    uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return bits;
}

// Division and remainder by a run-time constant with multiplications only (Lemire et al. 2019,
// "Faster remainder by direct computation"); exact for every 32-bit dividend and divisor >= 2.
class FastDivisor {
  public:
    FastDivisor() = default;
    explicit FastDivisor(uint32_t divisor)
        : magic_(divisor > 1 ? ~uint64_t(0) / divisor + 1 : 0), divisor_(divisor) {}
    SEGPIPE_HD uint32_t divide(uint32_t a) const {
        return divisor_ == 1 ? a : uint32_t(multiply_high(magic_, a));
    }
    SEGPIPE_HD uint32_t remainder(uint32_t a) const {
        if (divisor_ == 1) return 0;
        return uint32_t(multiply_high(magic_ * a, divisor_));
    }

  private:
    uint64_t magic_ = 0;
    uint32_t divisor_ = 1;
};

// A fixed-size set of cell numbers.
class Bitmap {
  public:
    explicit Bitmap(size_t size = 0) : words_((size + 63) / 64, 0) {}
    void set(size_t i) { words_[i >> 6] |= uint64_t(1) << (i & 63); }
    bool test(size_t i) const { return (words_[i >> 6] >> (i & 63)) & 1; }

  private:
    std::vector<uint64_t> words_;
};

}  // namespace segpipe::topology

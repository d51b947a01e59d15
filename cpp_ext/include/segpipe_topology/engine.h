// Entry points of the topology engine on whole arrays: barcodes and Betti matchings in terms of
// voxels, and a small thread pool for batches. Everything here is a sublevel filtration of the
// values given, or of the negated values when `negate` is set (superlevel filtrations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace segpipe::topology {

// A C-contiguous array of doubles with 1 to 3 axes.
struct ImageView {
    const double *values = nullptr;
    std::vector<int64_t> shape;
};

// Bars given by the linear (C-order) indices of the voxels holding their birth and death values.
struct VoxelBars {
    std::vector<int64_t> birth;
    std::vector<int64_t> death;
};

struct Barcode {
    std::vector<VoxelBars> bars;  // per dimension 0 .. ndim-1: finite bars of nonzero persistence
    int64_t essential_birth = 0;  // voxel of the one essential bar (dimension 0)
};

struct Matching {
    // Per dimension 0 .. ndim-1 and per input (0: prediction, 1: target). Row i of matched[0][d]
    // is matched with row i of matched[1][d].
    std::vector<VoxelBars> matched[2];
    std::vector<VoxelBars> unmatched[2];
    int64_t essential_birth[2] = {0, 0};
};

// Throws std::invalid_argument for shapes the engine cannot handle (no axes or more than 3, an
// empty axis, too many voxels) and for NaN or infinite values.
Barcode compute_barcode(const ImageView &image, bool negate);
// Throws as above, and when the shapes differ. The comparison image is min(prediction, target)
// (max when negated).
Matching compute_matching(const ImageView &prediction, const ImageView &target, bool negate);

// Runs task(0) .. task(count - 1) on up to `threads` threads and rethrows the first exception (in
// task order) after all tasks have finished.
void run_parallel(size_t count, int threads, const std::function<void(size_t)> &task);

}  // namespace segpipe::topology

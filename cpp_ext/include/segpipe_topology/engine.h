// Entry points of the topology engine on whole arrays: barcodes and Betti matchings in terms of
// voxels, gathering values at voxels, and a small thread pool for batches. Everything here is a
// sublevel filtration of the values given, or of the negated values when `negate` is set
// (superlevel filtrations).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace segpipe::topology {

// Where the parallel stages run (the sequential ones always run on the CPU): `cpu`: the CPU
// engine; `cuda`: CUDA kernels; `host_kernels`: the kernels' code as loops on the host (for
// testing the kernel pipeline where no GPU is present; slower than `cpu`).
enum class Backend { cpu, cuda, host_kernels };

enum class ValueType { float64, float32 };

// A C-contiguous array of float64 or float32 values with 1 to 3 axes, in host memory or on a CUDA
// device. The cpu backend takes float64 host arrays only.
struct ImageView {
    const void *values = nullptr;
    ValueType type = ValueType::float64;
    int device = -1;  // -1: host memory; else the CUDA device holding the values
    std::vector<int64_t> shape;
};

// A CUDA call failed; the message names the call and the CUDA error.
class CudaError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The system refused a worker thread (a process, thread or memory limit); the message names the
// thread, the number asked for and the system's reason.
class ThreadStartError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Whether the engine was built with its CUDA kernels.
bool cuda_compiled();
// Empty if the cuda backend can run on the current CUDA device, else why not (built without CUDA,
// no driver, no device, no kernel image for the device).
std::string cuda_unavailable_reason();
// Waits until all work queued on a CUDA device is done (by any stream, e.g. the one of the
// framework that produced device arrays given to the engine).
void synchronize_device(int device);

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
// empty axis, too many voxels), for NaN or infinite values and for arrays the backend cannot
// read; CudaError when a CUDA call fails. All backends give identical results.
Barcode compute_barcode(const ImageView &image, bool negate, Backend backend = Backend::cpu);
// Throws as above, and when the shapes differ or the arrays lie on different devices. The
// comparison image is min(prediction, target) (max when negated).
Matching compute_matching(const ImageView &prediction, const ImageView &target, bool negate,
                          Backend backend = Backend::cpu);

// What the parallel stages give for one image (filtration 0) or a pair (filtrations 0, 1 and
// their comparison image 2), to test that the backends agree stage by stage.
struct StageOutputs {
    std::vector<std::vector<uint32_t>> ranks;               // per filtration: the vertex ranks
    std::vector<std::vector<std::vector<uint32_t>>> cells;  // per filtration, dimension 1..K: cells in order
    std::vector<std::vector<uint32_t>> top_ranks;           // per filtration (grids with 2 or 3 axes)
    // 3D grids: per reduction the engine runs, the filtrations of its rows and of its columns and the
    // apparent pivot of every square in the columns' order (empty for the cpu backend).
    struct Apparent {
        int rows, columns;
        std::vector<uint32_t> pivots;
    };
    std::vector<Apparent> apparent;
};
// Throws as compute_barcode / compute_matching, and for an array of a single voxel.
StageOutputs compute_stage_outputs(const std::vector<ImageView> &images, bool negate, Backend backend);

// out[i] = the value of `values` at C-order index indices[i], or `missing` for an index outside
// the array. `indices` and `out` (count elements each) lie where `values` lies: on the host (run
// on the CPU) or on its CUDA device (a kernel).
void gather(const ImageView &values, const int64_t *indices, size_t count, double *out, double missing);

// Runs task(0) .. task(count - 1) on up to `threads` threads and rethrows the first exception (in
// task order) after all tasks have finished. If a thread cannot be started, the threads already
// running finish their current task and ThreadStartError is thrown.
void run_parallel(size_t count, int threads, const std::function<void(size_t)> &task);

}  // namespace segpipe::topology

// Factories of the parallel stages that run the kernels (kernel_stages.h): on a CUDA device
// (cpp_ext/cuda/, or a stub that throws CudaError when the engine is built without CUDA) and on
// the host (src/host_kernels.cpp).
#pragma once

#include "engine.h"
#include "grid.h"
#include "stages.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace segpipe::topology {

// The stages of one image (barcode: filtration 0) or of two (matching: filtrations 0, 1 and their
// comparison image 2). The images are host arrays or arrays on one CUDA device.
template <int K>
std::unique_ptr<ParallelStages> make_cuda_stages(const Grid<K> &grid, const std::vector<const ImageView *> &images,
                                                 bool negate);
template <int K>
std::unique_ptr<ParallelStages> make_host_kernel_stages(const Grid<K> &grid,
                                                        const std::vector<const ImageView *> &images, bool negate);

// gather() for arrays on a CUDA device.
void gather_on_device(const ImageView &values, const int64_t *indices, size_t count, double *out, double missing);
// Value i of an array on a CUDA device.
double read_device_value(const ImageView &values, size_t i);

}  // namespace segpipe::topology

// Checking CUDA calls: a failure throws CudaError naming the call and the error.
#pragma once

#include "segpipe_topology/engine.h"

#include <cuda_runtime.h>

#include <string>

namespace segpipe::topology::cuda {

// Throws CudaError for a failed call (`what`: the call, for the message).
inline void check(cudaError_t status, const char *what) {
    if (status == cudaSuccess) return;
    cudaGetLastError();  // clear a non-sticky error so that later calls can go on
    throw CudaError(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
}

// The device the calling thread uses, set to `device`.
inline void use_device(int device) { check(cudaSetDevice(device), "cudaSetDevice"); }

}  // namespace segpipe::topology::cuda

// What the engine knows about CUDA at run time. Nothing here runs when the module is imported:
// the CUDA runtime (linked statically) loads the driver library on the first call, so a machine
// without a GPU or driver imports the engine and uses the cpu backend.
#include "cuda_check.cuh"

#include "segpipe_topology/engine.h"

#include <string>

namespace segpipe::topology {
namespace {

// A kernel whose attributes tell whether the module holds code the device can run.
__global__ void probe_kernel() {}

std::string describe(cudaError_t status) {
    return std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status);
}

}  // namespace

bool cuda_compiled() { return true; }

std::string cuda_unavailable_reason() {
    int count = 0;
    cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        cudaGetLastError();
        return "no CUDA device can be used (" + describe(status) + ")";
    }
    if (count == 0) return "no CUDA device";
    int device = 0;
    cudaDeviceProp properties{};
    status = cudaGetDevice(&device);
    if (status == cudaSuccess) status = cudaGetDeviceProperties(&properties, device);
    cudaFuncAttributes attributes{};
    if (status == cudaSuccess) status = cudaFuncGetAttributes(&attributes, probe_kernel);
    if (status != cudaSuccess) {
        cudaGetLastError();
        return "CUDA device " + std::to_string(device) + " (" + properties.name + ", compute capability " +
               std::to_string(properties.major) + "." + std::to_string(properties.minor) +
               ") cannot run the compiled kernels (" + describe(status) +
               "); rebuild with -Ccmake.define.CMAKE_CUDA_ARCHITECTURES=native";
    }
    return "";
}

void synchronize_device(int device) {
    int previous = 0;
    cuda::check(cudaGetDevice(&previous), "cudaGetDevice");
    cuda::use_device(device);
    const cudaError_t status = cudaDeviceSynchronize();
    cudaSetDevice(previous);
    cuda::check(status, "cudaDeviceSynchronize");
}

}  // namespace segpipe::topology

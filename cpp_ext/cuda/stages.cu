// The parallel stages and the gathering of values on a CUDA device: KernelStages and the bodies
// of kernel_bodies.h run by CudaExec.
#include "cuda_exec.cuh"

#include "segpipe_topology/backends.h"
#include "segpipe_topology/kernel_bodies.h"
#include "segpipe_topology/kernel_stages.h"

namespace segpipe::topology {

template <int K>
std::unique_ptr<ParallelStages> make_cuda_stages(const Grid<K> &grid, const std::vector<const ImageView *> &images,
                                                 bool negate) {
    // Host arrays are copied to device 0 (the first device CUDA_VISIBLE_DEVICES leaves visible).
    const int device = images[0]->device >= 0 ? images[0]->device : 0;
    return std::make_unique<KernelStages<cuda::CudaExec, K>>(device, grid, images, negate);
}

template std::unique_ptr<ParallelStages> make_cuda_stages<1>(const Grid<1> &, const std::vector<const ImageView *> &, bool);
template std::unique_ptr<ParallelStages> make_cuda_stages<2>(const Grid<2> &, const std::vector<const ImageView *> &, bool);
template std::unique_ptr<ParallelStages> make_cuda_stages<3>(const Grid<3> &, const std::vector<const ImageView *> &, bool);

void gather_on_device(const ImageView &values, const int64_t *indices, size_t count, double *out, double missing) {
    int64_t size = 1;
    for (const int64_t n : values.shape) size *= n;
    cuda::CudaExec exec(values.device);
    with_value_type(values.type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        exec.for_each(count, GatherValues<T>{static_cast<const T *>(values.values), size, indices, missing, out});
    });
    exec.synchronize();
}

double read_device_value(const ImageView &values, size_t i) {
    cuda::CudaExec exec(values.device);
    double value = 0.0;
    with_value_type(values.type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T element{};
        cuda::check(cudaMemcpy(&element, static_cast<const T *>(values.values) + i, sizeof(T), cudaMemcpyDeviceToHost),
                    "cudaMemcpy (to the host)");
        value = double(element);
    });
    return value;
}

}  // namespace segpipe::topology

// The CUDA entry points of an engine built without CUDA (SEGPIPE_CUDA=OFF, or no nvcc found).
#include "segpipe_topology/backends.h"

namespace segpipe::topology {
namespace {

[[noreturn]] void not_compiled() { throw CudaError(cuda_unavailable_reason()); }

}  // namespace

bool cuda_compiled() { return false; }

std::string cuda_unavailable_reason() {
    return "segpipe's topology engine was built without CUDA (no nvcc found, or SEGPIPE_CUDA=OFF)";
}

void synchronize_device(int) { not_compiled(); }

template <int K>
std::unique_ptr<ParallelStages> make_cuda_stages(const Grid<K> &, const std::vector<const ImageView *> &, bool) {
    not_compiled();
}

template std::unique_ptr<ParallelStages> make_cuda_stages<1>(const Grid<1> &, const std::vector<const ImageView *> &, bool);
template std::unique_ptr<ParallelStages> make_cuda_stages<2>(const Grid<2> &, const std::vector<const ImageView *> &, bool);
template std::unique_ptr<ParallelStages> make_cuda_stages<3>(const Grid<3> &, const std::vector<const ImageView *> &, bool);

void gather_on_device(const ImageView &, const int64_t *, size_t, double *, double) { not_compiled(); }

double read_device_value(const ImageView &, size_t) { not_compiled(); }

}  // namespace segpipe::topology

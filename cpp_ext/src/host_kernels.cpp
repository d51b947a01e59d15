// The kernels' pipeline run on the host (Backend::host_kernels), for testing it without a GPU.
#include "segpipe_topology/backends.h"
#include "segpipe_topology/host_exec.h"
#include "segpipe_topology/kernel_stages.h"

namespace segpipe::topology {

template <int K>
std::unique_ptr<ParallelStages> make_host_kernel_stages(const Grid<K> &grid,
                                                        const std::vector<const ImageView *> &images, bool negate) {
    return std::make_unique<KernelStages<HostExec, K>>(-1, grid, images, negate);
}

template std::unique_ptr<ParallelStages> make_host_kernel_stages<1>(const Grid<1> &, const std::vector<const ImageView *> &, bool);
template std::unique_ptr<ParallelStages> make_host_kernel_stages<2>(const Grid<2> &, const std::vector<const ImageView *> &, bool);
template std::unique_ptr<ParallelStages> make_host_kernel_stages<3>(const Grid<3> &, const std::vector<const ImageView *> &, bool);

}  // namespace segpipe::topology

#include "segpipe_topology/engine.h"

#include "segpipe_topology/backends.h"
#include "segpipe_topology/barcode.h"
#include "segpipe_topology/grid.h"
#include "segpipe_topology/host_exec.h"
#include "segpipe_topology/kernel_bodies.h"
#include "segpipe_topology/kernel_stages.h"
#include "segpipe_topology/matching.h"
#include "segpipe_topology/sorting.h"
#include "segpipe_topology/stages.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

namespace segpipe::topology {
namespace {

std::string shape_text(const std::vector<int64_t> &shape) {
    std::string text = "(";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + (shape.size() == 1 ? ",)" : ")");
}

// Validates a shape and returns its extents without the singleton axes (the grid the engine works
// on: removing size-1 axes changes neither the complex nor the C-order voxel indices).
std::vector<uint32_t> grid_extents(const std::vector<int64_t> &shape) {
    if (shape.empty() || shape.size() > 3)
        throw std::invalid_argument("expected an array with 1 to 3 axes, got shape " +
                                    shape_text(shape));
    uint64_t count = 1;
    std::vector<uint32_t> extents;
    for (int64_t n : shape) {
        if (n <= 0) throw std::invalid_argument("the array is empty: shape " + shape_text(shape));
        count *= uint64_t(n);
        if (count > kMaxVoxels)
            throw std::invalid_argument("the array has more than 2^29 voxels: shape " +
                                        shape_text(shape));
        if (n > 1) extents.push_back(uint32_t(n));
    }
    return extents;
}

template <int K>
Grid<K> make_grid(const std::vector<uint32_t> &extents) {
    std::array<uint32_t, K> e{};
    std::copy(extents.begin(), extents.end(), e.begin());
    return Grid<K>(e);
}

template <int K, int D = 0>
void add_voxel_bars(const Grid<K> &grid, const Rank *rank, const PairList &pairs, int dim,
                    const std::vector<Index> &rows, VoxelBars &out) {
    if constexpr (D < K) {
        if (dim != D) return add_voxel_bars<K, D + 1>(grid, rank, pairs, dim, rows, out);
        out.birth.reserve(out.birth.size() + rows.size());
        out.death.reserve(out.death.size() + rows.size());
        for (Index i : rows) {
            out.birth.push_back(value_vertex<K, D>(grid, rank, pairs.birth[i]));
            out.death.push_back(value_vertex<K, D + 1>(grid, rank, pairs.death[i]));
        }
    }
}

std::vector<Index> all_rows(size_t n) {
    std::vector<Index> rows(n);
    for (size_t i = 0; i < n; ++i) rows[i] = Index(i);
    return rows;
}

// The values of a host float64 array (what the cpu backend computes with).
const double *host_doubles(const ImageView &image) {
    if (image.device >= 0 || image.type != ValueType::float64)
        throw std::invalid_argument("the cpu backend takes float64 arrays in host memory");
    return static_cast<const double *>(image.values);
}

// The parallel stages of a barcode (one image) or a matching (two images) on `backend`.
template <int K>
std::unique_ptr<ParallelStages> make_stages(Backend backend, const Grid<K> &grid,
                                            const std::vector<const ImageView *> &images, bool negate) {
    if (backend == Backend::cuda) return make_cuda_stages<K>(grid, images, negate);
    if (backend == Backend::host_kernels) return make_host_kernel_stages<K>(grid, images, negate);
    const size_t n = grid.num_vertices;
    const double *first = host_doubles(*images[0]);
    std::vector<VertexRanks> ranks;
    ranks.push_back(dense_ranks(first, n, negate));
    if (images.size() == 2) {
        const double *second = host_doubles(*images[1]);
        ranks.push_back(dense_ranks(second, n, negate));
        ranks.push_back(dense_ranks(first, n, negate, second));
    }
    return std::make_unique<CpuStages<K>>(grid, std::move(ranks));
}

// Value i of an array wherever it lies (for the checks on a single voxel).
double value_at(const ImageView &image, size_t i) {
    if (image.device >= 0) return read_device_value(image, i);
    return image.type == ValueType::float32 ? double(static_cast<const float *>(image.values)[i])
                                            : static_cast<const double *>(image.values)[i];
}

template <int K>
Barcode barcode_on_grid(const Grid<K> &grid, ParallelStages &stages, size_t ndim) {
    const Rank *rank = stages.vertices(0).rank.data();
    const CellBarcode cells = compute_cell_barcode<K>(grid, stages);
    Barcode out;
    out.bars.resize(ndim);
    for (int d = 0; d < K; ++d)
        add_voxel_bars<K>(grid, rank, cells.pairs[d], d, all_rows(cells.pairs[d].size()),
                          out.bars[d]);
    out.essential_birth = cells.essential;
    return out;
}

template <int K>
Matching matching_on_grid(const Grid<K> &grid, ParallelStages &stages, size_t ndim) {
    const CellMatching cells = compute_cell_matching<K>(grid, stages);
    const Rank *ranks[2] = {stages.vertices(0).rank.data(), stages.vertices(1).rank.data()};
    Matching out;
    for (int k = 0; k < 2; ++k) {
        out.matched[k].resize(ndim);
        out.unmatched[k].resize(ndim);
        out.essential_birth[k] = cells.input[k].essential;
    }
    for (int d = 0; d < K; ++d) {
        for (int k = 0; k < 2; ++k) {
            const PairList &pairs = cells.input[k].pairs[d];
            std::vector<Index> matched_rows;
            std::vector<char> is_matched(pairs.size(), 0);
            for (const auto &match : cells.matches[d]) {
                const Index row = k == 0 ? match.first : match.second;
                matched_rows.push_back(row);
                is_matched[row] = 1;
            }
            std::vector<Index> unmatched_rows;
            for (size_t i = 0; i < pairs.size(); ++i)
                if (!is_matched[i]) unmatched_rows.push_back(Index(i));
            add_voxel_bars<K>(grid, ranks[k], pairs, d, matched_rows, out.matched[k][d]);
            add_voxel_bars<K>(grid, ranks[k], pairs, d, unmatched_rows, out.unmatched[k][d]);
        }
    }
    return out;
}

template <int K>
StageOutputs stage_outputs_on_grid(ParallelStages &stages, int count) {
    StageOutputs out;
    for (int f = 0; f < count; ++f) {
        out.ranks.push_back(stages.vertices(f).rank);
        out.cells.emplace_back();
        for (int dim = 1; dim <= K; ++dim) out.cells[f].push_back(stages.sorted_cells(f, dim));
        if (K >= 2) out.top_ranks.push_back(stages.top_ranks(f));
    }
    if (K == 3) {
        const std::vector<std::pair<int, int>> reductions =
            count == 1 ? std::vector<std::pair<int, int>>{{0, 0}}
                       : std::vector<std::pair<int, int>>{{0, 0}, {1, 1}, {2, 2}, {0, 2}, {1, 2}};
        for (const auto &[rows, columns] : reductions)
            out.apparent.push_back({rows, columns, stages.apparent_pivots(rows, columns, out.cells[columns][1])});
    }
    return out;
}

size_t voxel_count(const std::vector<int64_t> &shape) {
    size_t n = 1;
    for (int64_t s : shape) n *= size_t(s);
    return n;
}

}  // namespace

Barcode compute_barcode(const ImageView &image, bool negate, Backend backend) {
    const std::vector<uint32_t> extents = grid_extents(image.shape);
    const std::vector<const ImageView *> images = {&image};
    const size_t ndim = image.shape.size();
    auto barcode = [&](auto grid) {
        constexpr int K = decltype(grid)::kAxes;
        return barcode_on_grid<K>(grid, *make_stages<K>(backend, grid, images, negate), ndim);
    };
    switch (extents.size()) {
    case 1: return barcode(make_grid<1>(extents));
    case 2: return barcode(make_grid<2>(extents));
    case 3: return barcode(make_grid<3>(extents));
    default: {  // a single voxel: only the essential bar
        if (!is_finite(value_at(image, 0))) throw std::invalid_argument(kNonFiniteMessage);
        Barcode out;
        out.bars.resize(ndim);
        return out;
    }
    }
}

Matching compute_matching(const ImageView &prediction, const ImageView &target, bool negate, Backend backend) {
    if (prediction.shape != target.shape)
        throw std::invalid_argument("the shapes differ: " + shape_text(prediction.shape) + " and " +
                                    shape_text(target.shape));
    if (prediction.device != target.device)
        throw std::invalid_argument("the prediction and the target lie on different devices");
    const std::vector<uint32_t> extents = grid_extents(prediction.shape);
    const std::vector<const ImageView *> images = {&prediction, &target};
    const size_t ndim = prediction.shape.size();
    auto matching = [&](auto grid) {
        constexpr int K = decltype(grid)::kAxes;
        return matching_on_grid<K>(grid, *make_stages<K>(backend, grid, images, negate), ndim);
    };
    switch (extents.size()) {
    case 1: return matching(make_grid<1>(extents));
    case 2: return matching(make_grid<2>(extents));
    case 3: return matching(make_grid<3>(extents));
    default: {  // a single voxel: no finite bars, the essential bars always match
        if (!is_finite(value_at(prediction, 0)) || !is_finite(value_at(target, 0)))
            throw std::invalid_argument(kNonFiniteMessage);
        Matching out;
        for (int k = 0; k < 2; ++k) {
            out.matched[k].resize(ndim);
            out.unmatched[k].resize(ndim);
        }
        return out;
    }
    }
}

StageOutputs compute_stage_outputs(const std::vector<ImageView> &images, bool negate, Backend backend) {
    if (images.empty() || images.size() > 2) throw std::invalid_argument("expected one or two arrays");
    if (images.size() == 2 && images[0].shape != images[1].shape)
        throw std::invalid_argument("the shapes differ: " + shape_text(images[0].shape) + " and " +
                                    shape_text(images[1].shape));
    const std::vector<uint32_t> extents = grid_extents(images[0].shape);
    std::vector<const ImageView *> pointers;
    for (const auto &image : images) pointers.push_back(&image);
    const int count = images.size() == 1 ? 1 : 3;
    auto outputs = [&](auto grid) {
        constexpr int K = decltype(grid)::kAxes;
        return stage_outputs_on_grid<K>(*make_stages<K>(backend, grid, pointers, negate), count);
    };
    switch (extents.size()) {
    case 1: return outputs(make_grid<1>(extents));
    case 2: return outputs(make_grid<2>(extents));
    case 3: return outputs(make_grid<3>(extents));
    default: throw std::invalid_argument("an array of a single voxel has no cells");
    }
}

void gather(const ImageView &values, const int64_t *indices, size_t count, double *out, double missing) {
    if (values.device >= 0) return gather_on_device(values, indices, count, out, missing);
    const int64_t size = int64_t(voxel_count(values.shape));
    with_value_type(values.type, [&](auto tag) {
        using T = typename decltype(tag)::type;
        HostExec().for_each(count, GatherValues<T>{static_cast<const T *>(values.values), size, indices, missing, out});
    });
}

void run_parallel(size_t count, int threads, const std::function<void(size_t)> &task) {
    std::vector<std::exception_ptr> errors(count);
    std::atomic<size_t> next{0};
    auto worker = [&]() {
        for (size_t i = next++; i < count; i = next++) {
            try {
                task(i);
            } catch (...) {
                errors[i] = std::current_exception();
            }
        }
    };
    const size_t workers = std::min<size_t>(count, size_t(std::max(threads, 1)));
    std::vector<std::thread> pool;
    pool.reserve(workers);
    std::string refused;  // why the system refused a thread (a joinable thread must never be destroyed)
    for (size_t w = 1; w < workers && refused.empty(); ++w) {
        try {
            pool.emplace_back(worker);
        } catch (const std::system_error &error) {
            refused = "could not start worker thread " + std::to_string(w + 1) + " of " +
                      std::to_string(workers) + ": " + error.what();
            next = count;  // the running threads stop after their current task
        }
    }
    if (refused.empty()) worker();
    for (auto &thread : pool) thread.join();
    if (!refused.empty()) throw ThreadStartError(refused);
    for (auto &error : errors)
        if (error) std::rethrow_exception(error);
}

}  // namespace segpipe::topology

#include "segpipe_topology/engine.h"

#include "segpipe_topology/barcode.h"
#include "segpipe_topology/grid.h"
#include "segpipe_topology/matching.h"
#include "segpipe_topology/sorting.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <stdexcept>
#include <string>
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

template <int K>
Barcode barcode_on_grid(const Grid<K> &grid, const VertexRanks &ranks, size_t ndim) {
    const Rank *rank = ranks.rank.data();
    const CellBarcode cells = compute_cell_barcode<K>(grid, ranks);
    Barcode out;
    out.bars.resize(ndim);
    for (int d = 0; d < K; ++d)
        add_voxel_bars<K>(grid, rank, cells.pairs[d], d, all_rows(cells.pairs[d].size()),
                          out.bars[d]);
    out.essential_birth = cells.essential;
    return out;
}

template <int K>
Matching matching_on_grid(const Grid<K> &grid, const VertexRanks &ranks0, const VertexRanks &ranks1,
                          const VertexRanks &comparison, size_t ndim) {
    const CellMatching cells = compute_cell_matching<K>(grid, ranks0, ranks1, comparison);
    const Rank *ranks[2] = {ranks0.rank.data(), ranks1.rank.data()};
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

size_t voxel_count(const std::vector<int64_t> &shape) {
    size_t n = 1;
    for (int64_t s : shape) n *= size_t(s);
    return n;
}

}  // namespace

Barcode compute_barcode(const ImageView &image, bool negate) {
    const std::vector<uint32_t> extents = grid_extents(image.shape);
    const VertexRanks ranks = dense_ranks(image.values, voxel_count(image.shape), negate);
    const size_t ndim = image.shape.size();
    switch (extents.size()) {
    case 1: return barcode_on_grid<1>(make_grid<1>(extents), ranks, ndim);
    case 2: return barcode_on_grid<2>(make_grid<2>(extents), ranks, ndim);
    case 3: return barcode_on_grid<3>(make_grid<3>(extents), ranks, ndim);
    default: {  // a single voxel: only the essential bar
        Barcode out;
        out.bars.resize(ndim);
        return out;
    }
    }
}

Matching compute_matching(const ImageView &prediction, const ImageView &target, bool negate) {
    if (prediction.shape != target.shape)
        throw std::invalid_argument("the shapes differ: " + shape_text(prediction.shape) + " and " +
                                    shape_text(target.shape));
    const std::vector<uint32_t> extents = grid_extents(prediction.shape);
    const size_t n = voxel_count(prediction.shape);
    const VertexRanks rank0 = dense_ranks(prediction.values, n, negate);
    const VertexRanks rank1 = dense_ranks(target.values, n, negate);
    const VertexRanks comparison = dense_ranks(prediction.values, n, negate, target.values);
    const size_t ndim = prediction.shape.size();
    switch (extents.size()) {
    case 1: return matching_on_grid<1>(make_grid<1>(extents), rank0, rank1, comparison, ndim);
    case 2: return matching_on_grid<2>(make_grid<2>(extents), rank0, rank1, comparison, ndim);
    case 3: return matching_on_grid<3>(make_grid<3>(extents), rank0, rank1, comparison, ndim);
    default: {  // a single voxel: no finite bars, the essential bars always match
        Matching out;
        for (int k = 0; k < 2; ++k) {
            out.matched[k].resize(ndim);
            out.unmatched[k].resize(ndim);
        }
        return out;
    }
    }
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
    for (size_t w = 1; w < workers; ++w) pool.emplace_back(worker);
    worker();
    for (auto &thread : pool) thread.join();
    for (auto &error : errors)
        if (error) std::rethrow_exception(error);
}

}  // namespace segpipe::topology

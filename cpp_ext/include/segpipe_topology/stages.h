// The parallel stages of the engine and where they run.
//
// The sequential stages (union-finds, column reductions, matching) ask a ParallelStages for what
// the parallel ones produce, as they go, so that only what is in use is held in memory: the vertex
// ranks of each filtration, its cells in filtration order, its top cell ranks and (3D) the
// apparent pairs of dimension 1. CpuStages computes them on the CPU; KernelStages
// (kernel_stages.h) runs the same per-element functions as CUDA kernels, or as loops on the host
// to test them without a GPU. Both give identical results.
#pragma once

#include "cells.h"
#include "core.h"
#include "grid.h"
#include "sorting.h"

#include <utility>
#include <vector>

namespace segpipe::topology {

class ParallelStages {
  public:
    virtual ~ParallelStages() = default;
    // Vertex ranks of filtration f (a barcode has filtration 0; a matching 0: prediction,
    // 1: target, 2: comparison image).
    virtual const VertexRanks &vertices(int f) const = 0;
    // The cells of dimension `dim` (1 .. K) in the order of filtration f: by rank, then number.
    virtual std::vector<Index> sorted_cells(int f, int dim) = 0;
    // Ranks of the top cells of filtration f, indexed by base vertex (0 where there is none).
    virtual std::vector<Rank> top_ranks(int f) = 0;
    // 3D grids: for each square of `squares`, the edge it forms an apparent pair with in the
    // reduction with rows in filtration `rows` and columns in filtration `columns` (kNoIndex if
    // none; apparent.h). Empty if the reduction is left to find them as emergent pairs.
    virtual std::vector<Index> apparent_pivots(int rows, int columns, const std::vector<Index> &squares) = 0;
};

// The filtrations of a matching, as numbered by ParallelStages.
inline constexpr int kComparison = 2;

template <int K>
class CpuStages final : public ParallelStages {
  public:
    CpuStages(const Grid<K> &grid, std::vector<VertexRanks> ranks) : grid_(grid), ranks_(std::move(ranks)) {}

    const VertexRanks &vertices(int f) const override { return ranks_[f]; }
    std::vector<Index> sorted_cells(int f, int dim) override {
        return with_dimension<K>(dim, [&](auto d) { return topology::sorted_cells<K, decltype(d)::value>(grid_, ranks_[f]); });
    }
    std::vector<Rank> top_ranks(int f) override { return top_cell_ranks<K>(grid_, ranks_[f].rank.data()); }
    std::vector<Index> apparent_pivots(int, int, const std::vector<Index> &) override { return {}; }

  private:
    Grid<K> grid_;
    std::vector<VertexRanks> ranks_;
};

}  // namespace segpipe::topology

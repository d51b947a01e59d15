// The parallel stages as data-parallel passes over arrays (the bodies of kernel_bodies.h), written
// once for an executor `Exec` that provides memory, a parallel loop and sorting:
//
//   Exec(int device)                       works on arrays on `device` (-1: host memory)
//   template <class T> using Buffer        an owning array with data() and swap()
//   allocate<T>(n), upload<T>(host, n)     new arrays (uninitialised / copied from the host)
//   to_host(buffer, n), read(buffer, i)    copies back to the host
//   holds(device)                          whether arrays on `device` can be read directly
//   for_each(n, body)                      body(i) for every i < n, in parallel
//   sort_keys(keys, n, begin, end)         stable LSD radix sort on the key bits [begin, end)
//   sort_pairs(keys, values, n, begin, end)   the same, moving values with their keys
//   inclusive_scan(values, n)              in-place inclusive prefix sum
//
// CudaExec (cpp_ext/cuda/cuda_exec.cuh) runs them on a GPU with CUB; HostExec (host_exec.h) runs
// them as loops and std::stable_sort on the host, which lets the tests check this pipeline, and
// the bodies, against the CPU engine where no GPU is present.
//
// The results are those of CpuStages exactly: dense ranks depend only on the values; cells are
// sorted by their unique keys (rank << 32 | cell number), the order of the CPU's counting sort.
#pragma once

#include "core.h"
#include "engine.h"
#include "grid.h"
#include "kernel_bodies.h"
#include "sorting.h"
#include "stages.h"

#include <stdexcept>
#include <vector>

namespace segpipe::topology {

template <class T>
struct TypeTag {
    using type = T;
};

// Calls f(TypeTag<float>) or f(TypeTag<double>) for the value type of an array.
template <class F>
void with_value_type(ValueType type, F &&f) {
    if (type == ValueType::float32)
        f(TypeTag<float>{});
    else
        f(TypeTag<double>{});
}

// Number of bits needed for x (0 for 0).
inline int bit_width(uint32_t x) {
    int bits = 0;
    for (; x != 0; x >>= 1) ++bits;
    return bits;
}

template <class Exec, int K>
class KernelStages final : public ParallelStages {
  public:
    template <class T>
    using Buffer = typename Exec::template Buffer<T>;

    // The stages of one image (filtration 0) or two (filtrations 0, 1 and the comparison image
    // 2); the arrays lie in host memory or on `device`.
    KernelStages(int device, const Grid<K> &grid, const std::vector<const ImageView *> &images, bool negate)
        : exec_(device), grid_(grid), negate_(negate), host_(images.size() == 1 ? 1 : 3), rank_(host_.size()) {
        const size_t n = grid.num_vertices;
        with_value_type(images[0]->type, [&](auto a) {
            using A = typename decltype(a)::type;
            Buffer<A> staged_a;
            const A *first = readable<A>(*images[0], n, staged_a);
            rank_filtration<A, A>(0, first, nullptr);
            if (images.size() == 1) return;
            with_value_type(images[1]->type, [&](auto b) {
                using B = typename decltype(b)::type;
                Buffer<B> staged_b;
                const B *second = readable<B>(*images[1], n, staged_b);
                rank_filtration<B, B>(1, second, nullptr);
                rank_filtration<A, B>(kComparison, first, second);
            });
        });
    }

    const VertexRanks &vertices(int f) const override { return host_[f]; }

    std::vector<Index> sorted_cells(int f, int dim) override {
        return with_dimension<K>(dim, [&](auto d) { return sort_cells<decltype(d)::value>(f); });
    }

    std::vector<Rank> top_ranks(int f) override {
        const size_t n = grid_.num_vertices;
        Buffer<Rank> out = exec_.template allocate<Rank>(n);
        exec_.for_each(n, TopRanks<K>{grid_, rank_[f].data(), out.data()});
        return exec_.to_host(out, n);
    }

    std::vector<Index> apparent_pivots(int rows, int columns, const std::vector<Index> &squares) override {
        if constexpr (K != 3) {
            return {};
        } else {
            const size_t m = squares.size();
            if (m == 0) return {};
            const Buffer<Index> columns_in_order = exec_.upload(squares.data(), m);
            Buffer<Index> pivots = exec_.template allocate<Index>(m);
            exec_.for_each(m, ApparentPivots{grid_, rank_[rows].data(), rank_[columns].data(),
                                             columns_in_order.data(), pivots.data()});
            return exec_.to_host(pivots, m);
        }
    }

  private:
    // The values of an image where the executor can read them (copied there if needed).
    template <class T>
    const T *readable(const ImageView &image, size_t n, Buffer<T> &staging) {
        if (exec_.holds(image.device)) return static_cast<const T *>(image.values);
        if (image.device >= 0)
            throw std::invalid_argument("this backend cannot read arrays on CUDA device " +
                                        std::to_string(image.device));
        staging = exec_.upload(static_cast<const T *>(image.values), n);
        return staging.data();
    }

    // Dense ranks of filtration f: sort the vertices by value, number the distinct values.
    template <class A, class B>
    void rank_filtration(int f, const A *first, const B *second) {
        const size_t n = grid_.num_vertices;
        Buffer<uint64_t> keys = exec_.template allocate<uint64_t>(n);
        Buffer<Index> vertices = exec_.template allocate<Index>(n);
        const int zero = 0;
        Buffer<int> non_finite = exec_.upload(&zero, 1);
        exec_.for_each(n, VertexKeys<A, B>{first, second, negate_, keys.data(), vertices.data(), non_finite.data()});
        if (exec_.read(non_finite, 0)) throw std::invalid_argument(kNonFiniteMessage);
        exec_.sort_pairs(keys, vertices, n, 0, 64);
        Buffer<Rank> sorted_ranks = exec_.template allocate<Rank>(n);
        exec_.for_each(n, NewValueFlags{keys.data(), sorted_ranks.data()});
        exec_.inclusive_scan(sorted_ranks, n);
        rank_[f] = exec_.template allocate<Rank>(n);
        exec_.for_each(n, ScatterRanks{sorted_ranks.data(), vertices.data(), rank_[f].data()});
        host_[f].rank = exec_.to_host(rank_[f], n);
        host_[f].count = exec_.read(sorted_ranks, n - 1) + 1;
    }

    // The cells of dimension D in the order of filtration f: sort the keys of all slots (slots
    // without a cell have the largest key) on the bits that can differ, keep the first keys.
    template <int D>
    std::vector<Index> sort_cells(int f) {
        const size_t slots = grid_.num_slots(D), cells = grid_.num_cells(D);
        Buffer<Key> keys = exec_.template allocate<Key>(slots);
        exec_.for_each(slots, CellKeys<K, D>{grid_, rank_[f].data(), keys.data()});
        exec_.sort_keys(keys, slots, 0, 32 + bit_width(host_[f].count - 1));
        Buffer<Index> out = exec_.template allocate<Index>(cells);
        exec_.for_each(cells, CellsOfKeys{keys.data(), out.data()});
        return exec_.to_host(out, cells);
    }

    Exec exec_;  // first: its memory is released last
    Grid<K> grid_;
    bool negate_;
    std::vector<VertexRanks> host_;   // per filtration: the ranks, in host memory
    std::vector<Buffer<Rank>> rank_;  // per filtration: the ranks, where the executor works
};

}  // namespace segpipe::topology

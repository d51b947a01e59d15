// The executor of KernelStages (kernel_stages.h) on the host: plain loops and std::stable_sort on
// the same key bits as the GPU's radix sort. It runs the kernels' code where no GPU is present
// (the `host_kernels` backend, used by the tests) and gathers values from host arrays.
#pragma once

#include "core.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace segpipe::topology {

class HostExec {
  public:
    template <class T>
    using Buffer = std::vector<T>;

    explicit HostExec(int /*device*/ = -1) {}

    static bool holds(int device) { return device < 0; }

    template <class T>
    Buffer<T> allocate(size_t n) const {
        return Buffer<T>(n);
    }
    template <class T>
    Buffer<T> upload(const T *values, size_t n) const {
        return Buffer<T>(values, values + n);
    }
    template <class T>
    std::vector<T> to_host(const Buffer<T> &buffer, size_t n) const {
        return std::vector<T>(buffer.begin(), buffer.begin() + std::ptrdiff_t(n));
    }
    template <class T>
    T read(const Buffer<T> &buffer, size_t i) const {
        return buffer[i];
    }

    template <class Body>
    void for_each(size_t n, const Body &body) const {
        for (size_t i = 0; i < n; ++i) body(i);
    }

    void sort_keys(Buffer<uint64_t> &keys, size_t n, int begin_bit, int end_bit) const {
        std::stable_sort(keys.begin(), keys.begin() + std::ptrdiff_t(n), [&](uint64_t a, uint64_t b) {
            return digits(a, begin_bit, end_bit) < digits(b, begin_bit, end_bit);
        });
    }
    void sort_pairs(Buffer<uint64_t> &keys, Buffer<Index> &values, size_t n, int begin_bit, int end_bit) const {
        std::vector<size_t> order(n);
        std::iota(order.begin(), order.end(), size_t(0));
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
            return digits(keys[a], begin_bit, end_bit) < digits(keys[b], begin_bit, end_bit);
        });
        Buffer<uint64_t> sorted_keys(n);
        Buffer<Index> sorted_values(n);
        for (size_t i = 0; i < n; ++i) {
            sorted_keys[i] = keys[order[i]];
            sorted_values[i] = values[order[i]];
        }
        keys.swap(sorted_keys);
        values.swap(sorted_values);
    }
    template <class T>
    void inclusive_scan(Buffer<T> &values, size_t n) const {
        std::partial_sum(values.begin(), values.begin() + std::ptrdiff_t(n), values.begin());
    }

  private:
    // The bits [begin_bit, end_bit) of a key, as a radix sort sees them.
    static uint64_t digits(uint64_t key, int begin_bit, int end_bit) {
        const int width = end_bit - begin_bit;
        const uint64_t shifted = key >> begin_bit;
        return width >= 64 ? shifted : shifted & ((uint64_t(1) << width) - 1);
    }
};

}  // namespace segpipe::topology

// The executor of KernelStages (kernel_stages.h) on a CUDA device: device memory (RAII), a
// grid-stride kernel around the per-element bodies, and CUB's radix sort and scan. Everything runs
// on one non-blocking stream per executor (one per image or pair being computed, so that the
// engine's worker threads do not wait for each other); every CUDA call is checked and a failure
// throws CudaError naming the call.
#pragma once

#include "cuda_check.cuh"

#include "segpipe_topology/core.h"

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <utility>
#include <vector>

namespace segpipe::topology::cuda {

// An array of n T in device memory, allocated and freed in stream order.
template <class T>
class DeviceBuffer {
  public:
    DeviceBuffer() = default;
    DeviceBuffer(size_t n, cudaStream_t stream) : stream_(stream) {
        if (n == 0) return;
        check(cudaMallocAsync(reinterpret_cast<void **>(&data_), n * sizeof(T), stream), "cudaMallocAsync");
    }
    DeviceBuffer(const DeviceBuffer &) = delete;
    DeviceBuffer &operator=(const DeviceBuffer &) = delete;
    DeviceBuffer(DeviceBuffer &&other) noexcept { swap(other); }
    DeviceBuffer &operator=(DeviceBuffer &&other) noexcept {
        DeviceBuffer(std::move(other)).swap(*this);
        return *this;
    }
    ~DeviceBuffer() {
        // A failure here (only after an earlier error made the context unusable) is reported by
        // the next checked call; a destructor must not throw.
        if (data_) cudaFreeAsync(data_, stream_);
    }

    T *data() const { return data_; }
    void swap(DeviceBuffer &other) noexcept {
        std::swap(data_, other.data_);
        std::swap(stream_, other.stream_);
    }

  private:
    T *data_ = nullptr;
    cudaStream_t stream_ = nullptr;
};

template <class Body>
__global__ void for_each_kernel(Body body, size_t n) {
    const size_t step = size_t(gridDim.x) * blockDim.x;
    for (size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) body(i);
}

class CudaExec {
  public:
    template <class T>
    using Buffer = DeviceBuffer<T>;

    explicit CudaExec(int device) : device_(device) {
        check(cudaGetDevice(&previous_device_), "cudaGetDevice");
        use_device(device);
        try {
            check(cudaDeviceGetAttribute(&multiprocessors_, cudaDevAttrMultiProcessorCount, device),
                  "cudaDeviceGetAttribute");
            check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        } catch (...) {
            cudaSetDevice(previous_device_);
            throw;
        }
    }
    CudaExec(const CudaExec &) = delete;
    CudaExec &operator=(const CudaExec &) = delete;
    ~CudaExec() {
        cudaStreamSynchronize(stream_);  // let pending frees finish; errors surface in later calls
        cudaStreamDestroy(stream_);
        cudaSetDevice(previous_device_);  // the calling thread may be Python's (torch keeps its own)
    }

    bool holds(int device) const { return device == device_; }

    template <class T>
    Buffer<T> allocate(size_t n) {
        return Buffer<T>(n, stream_);
    }
    template <class T>
    Buffer<T> upload(const T *values, size_t n) {
        Buffer<T> out(n, stream_);
        check(cudaMemcpyAsync(out.data(), values, n * sizeof(T), cudaMemcpyHostToDevice, stream_),
              "cudaMemcpyAsync (to the device)");
        return out;
    }
    template <class T>
    std::vector<T> to_host(const Buffer<T> &buffer, size_t n) {
        std::vector<T> out(n);
        copy_to_host(out.data(), buffer.data(), n);
        return out;
    }
    template <class T>
    T read(const Buffer<T> &buffer, size_t i) {
        T value{};
        copy_to_host(&value, buffer.data() + i, 1);
        return value;
    }

    template <class Body>
    void for_each(size_t n, const Body &body) {
        if (n == 0) return;
        constexpr unsigned kThreads = 256;
        const size_t wanted = (n + kThreads - 1) / kThreads;
        const unsigned blocks = unsigned(std::min<size_t>(wanted, size_t(multiprocessors_) * 16));
        for_each_kernel<<<blocks, kThreads, 0, stream_>>>(body, n);
        check(cudaGetLastError(), "kernel launch");
    }

    void sort_keys(Buffer<uint64_t> &keys, size_t n, int begin_bit, int end_bit) {
        Buffer<uint64_t> other(n, stream_);
        cub::DoubleBuffer<uint64_t> k(keys.data(), other.data());
        size_t bytes = 0;
        check(cub::DeviceRadixSort::SortKeys(nullptr, bytes, k, items(n), begin_bit, end_bit, stream_),
              "cub::DeviceRadixSort::SortKeys");
        Buffer<char> temporary = scratch(bytes);
        check(cub::DeviceRadixSort::SortKeys(temporary.data(), bytes, k, items(n), begin_bit, end_bit, stream_),
              "cub::DeviceRadixSort::SortKeys");
        if (k.Current() != keys.data()) keys.swap(other);
    }
    void sort_pairs(Buffer<uint64_t> &keys, Buffer<Index> &values, size_t n, int begin_bit, int end_bit) {
        Buffer<uint64_t> other_keys(n, stream_);
        Buffer<Index> other_values(n, stream_);
        cub::DoubleBuffer<uint64_t> k(keys.data(), other_keys.data());
        cub::DoubleBuffer<Index> v(values.data(), other_values.data());
        size_t bytes = 0;
        check(cub::DeviceRadixSort::SortPairs(nullptr, bytes, k, v, items(n), begin_bit, end_bit, stream_),
              "cub::DeviceRadixSort::SortPairs");
        Buffer<char> temporary = scratch(bytes);
        check(cub::DeviceRadixSort::SortPairs(temporary.data(), bytes, k, v, items(n), begin_bit, end_bit, stream_),
              "cub::DeviceRadixSort::SortPairs");
        if (k.Current() != keys.data()) keys.swap(other_keys);
        if (v.Current() != values.data()) values.swap(other_values);
    }
    template <class T>
    void inclusive_scan(Buffer<T> &values, size_t n) {
        Buffer<T> out(n, stream_);
        size_t bytes = 0;
        check(cub::DeviceScan::InclusiveSum(nullptr, bytes, values.data(), out.data(), items(n), stream_),
              "cub::DeviceScan::InclusiveSum");
        Buffer<char> temporary = scratch(bytes);
        check(cub::DeviceScan::InclusiveSum(temporary.data(), bytes, values.data(), out.data(), items(n), stream_),
              "cub::DeviceScan::InclusiveSum");
        values.swap(out);
    }

    // Waits for everything queued on this executor's stream.
    void synchronize() { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

  private:
    // CUB's temporary storage: never a null pointer, which would make CUB only report the size.
    Buffer<char> scratch(size_t bytes) { return Buffer<char>(bytes > 0 ? bytes : 1, stream_); }
    template <class T>
    void copy_to_host(T *host, const T *device, size_t n) {
        check(cudaMemcpyAsync(host, device, n * sizeof(T), cudaMemcpyDeviceToHost, stream_),
              "cudaMemcpyAsync (to the host)");
        synchronize();
    }
    // CUB's item count (the engine's arrays have fewer than 2^31 elements: 3 * 2^29 at most).
    static int items(size_t n) {
        if (n > size_t(INT_MAX)) throw CudaError("more than 2^31 - 1 items for a CUB call");
        return int(n);
    }

    int device_ = 0;
    int previous_device_ = 0;
    int multiprocessors_ = 1;
    cudaStream_t stream_ = nullptr;
};

}  // namespace segpipe::topology::cuda

// Python bindings of the segpipe topology engine (module segpipe.topology._engine).
//
// The Python package segpipe.topology validates and converts user input (dtype, NaN, filtration
// direction, padding, backend) and calls these functions with C-contiguous float64 host arrays,
// or for the cuda backend float32/float64 arrays on a CUDA device (DLPack: torch, CuPy, ...); the
// engine checks shapes, devices and values again and raises ValueError rather than crashing.
// Failed CUDA calls raise CudaError, a worker thread the system refuses ThreadStartError (both
// RuntimeError).
#include "segpipe_topology/engine.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;
namespace topo = segpipe::topology;

namespace {

// A C-contiguous array of any dtype in host memory or on a device (checked by view_of).
using InputArray = nb::ndarray<nb::ro, nb::c_contig>;

// -1 for an array in host memory, else the CUDA device holding it.
template <class Array>
int device_of(const Array &array) {
    switch (array.device_type()) {
    case nb::device::cpu::value:
    case nb::device::cuda_host::value: return -1;
    case nb::device::cuda::value:
    case nb::device::cuda_managed::value: return array.device_id();
    default: throw std::invalid_argument("expected an array in host memory or on a CUDA device");
    }
}

topo::ImageView view_of(const InputArray &array) {
    topo::ImageView view;
    view.values = array.data();
    if (array.dtype() == nb::dtype<double>())
        view.type = topo::ValueType::float64;
    else if (array.dtype() == nb::dtype<float>())
        view.type = topo::ValueType::float32;
    else
        throw nb::type_error("expected float32 or float64 values");
    view.device = device_of(array);
    for (size_t a = 0; a < array.ndim(); ++a) view.shape.push_back(array.shape(a));
    return view;
}

topo::Backend backend_of(const std::string &name) {
    if (name == "cpu") return topo::Backend::cpu;
    if (name == "cuda") return topo::Backend::cuda;
    if (name == "host_kernels") return topo::Backend::host_kernels;
    throw std::invalid_argument("unknown backend '" + name + "': expected 'cpu', 'cuda' or 'host_kernels'");
}

// Waits for the work that produces device arrays (queued by their framework on its own streams).
void synchronize_devices(const std::vector<topo::ImageView> &views) {
    std::set<int> devices;
    for (const auto &view : views)
        if (view.device >= 0) devices.insert(view.device);
    for (const int device : devices) topo::synchronize_device(device);
}

// Runs task(i) for every item on up to `threads` threads without the GIL; an invalid_argument
// names the item.
void run_items(size_t count, int threads, const std::function<void(size_t)> &task) {
    nb::gil_scoped_release release;
    topo::run_parallel(count, threads, [&](size_t i) {
        try {
            task(i);
        } catch (const std::invalid_argument &error) {
            throw std::invalid_argument("item " + std::to_string(i) + ": " + error.what());
        }
    });
}

template <class T>
nb::object to_numpy(std::vector<T> &&values) {
    auto *owned = new std::vector<T>(std::move(values));
    owned->reserve(1);  // a valid data pointer even when empty
    nb::capsule owner(owned, [](void *p) noexcept { delete static_cast<std::vector<T> *>(p); });
    return nb::cast(nb::ndarray<nb::numpy, T, nb::ndim<1>>(owned->data(), {owned->size()}, owner));
}

// [births per dimension], [deaths per dimension] as lists of int64 arrays of voxel indices.
nb::list birth_arrays(std::vector<topo::VoxelBars> &bars) {
    nb::list out;
    for (auto &b : bars) out.append(to_numpy(std::move(b.birth)));
    return out;
}
nb::list death_arrays(std::vector<topo::VoxelBars> &bars) {
    nb::list out;
    for (auto &b : bars) out.append(to_numpy(std::move(b.death)));
    return out;
}

nb::list barcodes(const std::vector<InputArray> &arrays, int threads, bool negate, const std::string &backend) {
    const topo::Backend where = backend_of(backend);
    std::vector<topo::ImageView> views;
    for (const auto &array : arrays) views.push_back(view_of(array));
    synchronize_devices(views);
    std::vector<topo::Barcode> results(views.size());
    run_items(views.size(), threads, [&](size_t i) { results[i] = topo::compute_barcode(views[i], negate, where); });
    nb::list out;
    for (auto &result : results) {
        nb::dict entry;
        entry["birth"] = birth_arrays(result.bars);
        entry["death"] = death_arrays(result.bars);
        entry["essential"] = result.essential_birth;
        out.append(entry);
    }
    return out;
}

nb::list matchings(const std::vector<InputArray> &predictions, const std::vector<InputArray> &targets,
                   int threads, bool negate, const std::string &backend) {
    const topo::Backend where = backend_of(backend);
    if (predictions.size() != targets.size())
        throw std::invalid_argument("got " + std::to_string(predictions.size()) + " predictions and " +
                                    std::to_string(targets.size()) + " targets");
    std::vector<topo::ImageView> views0, views1;
    for (const auto &array : predictions) views0.push_back(view_of(array));
    for (const auto &array : targets) views1.push_back(view_of(array));
    synchronize_devices(views0);
    synchronize_devices(views1);
    std::vector<topo::Matching> results(views0.size());
    run_items(views0.size(), threads,
              [&](size_t i) { results[i] = topo::compute_matching(views0[i], views1[i], negate, where); });
    const char *names[2] = {"prediction", "target"};
    nb::list out;
    for (auto &result : results) {
        nb::dict entry;
        for (int k = 0; k < 2; ++k) {
            const std::string name = names[k];
            entry[(name + "_matched_birth").c_str()] = birth_arrays(result.matched[k]);
            entry[(name + "_matched_death").c_str()] = death_arrays(result.matched[k]);
            entry[(name + "_unmatched_birth").c_str()] = birth_arrays(result.unmatched[k]);
            entry[(name + "_unmatched_death").c_str()] = death_arrays(result.unmatched[k]);
            entry[(name + "_essential").c_str()] = result.essential_birth[k];
        }
        out.append(entry);
    }
    return out;
}

// The outputs of the parallel stages of one array or a pair (for tests).
nb::dict stage_outputs(const std::vector<InputArray> &arrays, bool negate, const std::string &backend) {
    const topo::Backend where = backend_of(backend);
    std::vector<topo::ImageView> views;
    for (const auto &array : arrays) views.push_back(view_of(array));
    synchronize_devices(views);
    topo::StageOutputs outputs;
    {
        nb::gil_scoped_release release;
        outputs = topo::compute_stage_outputs(views, negate, where);
    }
    nb::list ranks, cells, top_ranks;
    for (auto &r : outputs.ranks) ranks.append(to_numpy(std::move(r)));
    for (auto &per_dimension : outputs.cells) {
        nb::list lists;
        for (auto &c : per_dimension) lists.append(to_numpy(std::move(c)));
        cells.append(lists);
    }
    for (auto &t : outputs.top_ranks) top_ranks.append(to_numpy(std::move(t)));
    nb::dict apparent;
    for (auto &a : outputs.apparent) apparent[nb::make_tuple(a.rows, a.columns)] = to_numpy(std::move(a.pivots));
    nb::dict out;
    out["ranks"] = ranks;
    out["cells"] = cells;
    out["top_ranks"] = top_ranks;
    out["apparent"] = apparent;
    return out;
}

using IndexArray = nb::ndarray<nb::ro, const int64_t, nb::ndim<1>, nb::c_contig>;
using OutputArray = nb::ndarray<double, nb::ndim<1>, nb::c_contig>;

void gather(const InputArray &values, const IndexArray &indices, OutputArray out, double missing) {
    const topo::ImageView view = view_of(values);
    if (indices.shape(0) != out.shape(0))
        throw std::invalid_argument("got " + std::to_string(indices.shape(0)) + " indices but room for " +
                                    std::to_string(out.shape(0)) + " values");
    for (const int device : {device_of(indices), device_of(out)})
        if (device != view.device) throw std::invalid_argument("the values, indices and output lie on different devices");
    if (view.device >= 0) topo::synchronize_device(view.device);
    nb::gil_scoped_release release;
    topo::gather(view, indices.data(), indices.shape(0), out.data(), missing);
}

}  // namespace

NB_MODULE(_engine, m) {
    m.doc() = "segpipe topology engine: cubical persistence and Betti matching in C++";
    nb::exception<topo::CudaError>(m, "CudaError", PyExc_RuntimeError);
    nb::exception<topo::ThreadStartError>(m, "ThreadStartError", PyExc_RuntimeError);
    m.def("engine_version", []() { return "0.3.0"; }, "Version string of the compiled engine.");
    m.def("cuda_compiled", &topo::cuda_compiled, "Whether the engine was built with its CUDA kernels.");
    m.def(
        "build_options",
        []() {
            nb::dict options;
            options["cuda"] = SEGPIPE_CUDA_OPTION;
            options["cuda_architectures"] = SEGPIPE_CUDA_ARCHITECTURES;
            return options;
        },
        "How the engine was configured: 'cuda' (the SEGPIPE_CUDA option: AUTO, ON or OFF) and\n"
        "'cuda_architectures' (CMAKE_CUDA_ARCHITECTURES of the kernels, '' without them).");
    m.def("cuda_unavailable_reason", &topo::cuda_unavailable_reason,
          "'' if the cuda backend can run on the current CUDA device, else why not. Initialises the\n"
          "CUDA runtime (loads the driver library) on first use.");
    m.def("gather", &gather, nb::arg("values"), nb::arg("indices"), nb::arg("out"), nb::arg("missing"),
          "out[i] = values.flat[indices[i]] (C order), or `missing` for an index outside the array.\n"
          "`values`: C-contiguous float32/float64; `indices` (int64) and `out` (float64): 1D and\n"
          "C-contiguous, all three in host memory (a loop on the CPU) or on one CUDA device (a\n"
          "kernel; work queued on the device is waited for first).");
    m.def("stage_outputs", &stage_outputs, nb::arg("arrays"), nb::arg("negate") = false, nb::arg("backend") = "cpu",
          "What the parallel stages give for one array (filtration 0) or two (0, 1 and their\n"
          "comparison image 2), for tests: 'ranks' (per filtration, uint32 vertex ranks), 'cells'\n"
          "(per filtration, per dimension 1..K: uint32 cell numbers in filtration order),\n"
          "'top_ranks' (per filtration, 2D/3D) and 'apparent' (3D: {(rows, columns): the apparent\n"
          "pivot edge of each square of filtration `columns` in order, 2^32 - 1 for none}; empty\n"
          "arrays for the cpu backend, which finds them while reducing).");
    m.def("barcodes", &barcodes, nb::arg("arrays"), nb::arg("threads") = 1, nb::arg("negate") = false,
          nb::arg("backend") = "cpu",
          "Barcodes of the sublevel filtrations (V-construction) of C-contiguous float64 arrays\n"
          "with 1 to 3 axes (of the negated arrays if `negate`: superlevel filtrations), computed\n"
          "on up to `threads` threads without the GIL. `backend`: where the parallel stages run,\n"
          "'cpu', 'cuda' (also takes float32 and arrays on a CUDA device) or 'host_kernels' (the\n"
          "kernels' code on the host, for tests). Returns one\n"
          "dict per array: 'birth' and 'death' (per dimension, int64 arrays of C-order voxel\n"
          "indices of the finite bars of nonzero persistence) and 'essential' (voxel index of\n"
          "the birth of the one essential bar, dimension 0).");
    m.def("matchings", &matchings, nb::arg("predictions"), nb::arg("targets"), nb::arg("threads") = 1,
          nb::arg("negate") = false, nb::arg("backend") = "cpu",
          "Betti matchings of pairs of equally shaped C-contiguous float64 arrays (sublevel\n"
          "filtrations, V-construction, comparison image min(prediction, target); with `negate`\n"
          "those of the negated arrays) on up to `threads` threads without the GIL; `backend` as\n"
          "for barcodes(). Returns one dict per pair with, for 'prediction' and 'target', '<input>_matched_birth', '<input>_matched_death' (row i of the\n"
          "prediction's lists is matched with row i of the target's), '<input>_unmatched_birth',\n"
          "'<input>_unmatched_death' (per dimension, int64 arrays of voxel indices) and\n"
          "'<input>_essential' (voxel index of the essential bar's birth).");
}

// Python bindings of the segpipe topology engine (module segpipe.topology._engine).
//
// The Python package segpipe.topology validates and converts user input (dtype, NaN, filtration
// direction, padding) and calls these functions with C-contiguous float64 arrays; the engine
// checks shapes and values again and raises ValueError rather than crashing.
#include "segpipe_topology/engine.h"

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <utility>
#include <vector>

namespace nb = nanobind;
namespace topo = segpipe::topology;

namespace {

using InputArray = nb::ndarray<const double, nb::c_contig, nb::device::cpu>;

topo::ImageView view_of(const InputArray &array) {
    topo::ImageView view;
    view.values = array.data();
    for (size_t a = 0; a < array.ndim(); ++a) view.shape.push_back(array.shape(a));
    return view;
}

nb::object to_numpy(std::vector<int64_t> &&values) {
    auto *owned = new std::vector<int64_t>(std::move(values));
    owned->reserve(1);  // a valid data pointer even when empty
    nb::capsule owner(owned, [](void *p) noexcept { delete static_cast<std::vector<int64_t> *>(p); });
    return nb::cast(nb::ndarray<nb::numpy, int64_t, nb::ndim<1>>(owned->data(), {owned->size()}, owner));
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

nb::list barcodes(const std::vector<InputArray> &arrays, int threads, bool negate) {
    std::vector<topo::ImageView> views;
    for (const auto &array : arrays) views.push_back(view_of(array));
    std::vector<topo::Barcode> results(views.size());
    {
        nb::gil_scoped_release release;
        topo::run_parallel(views.size(), threads,
                           [&](size_t i) { results[i] = topo::compute_barcode(views[i], negate); });
    }
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
                   int threads, bool negate) {
    if (predictions.size() != targets.size())
        throw std::invalid_argument("got " + std::to_string(predictions.size()) + " predictions and " +
                                    std::to_string(targets.size()) + " targets");
    std::vector<topo::ImageView> views0, views1;
    for (const auto &array : predictions) views0.push_back(view_of(array));
    for (const auto &array : targets) views1.push_back(view_of(array));
    std::vector<topo::Matching> results(views0.size());
    {
        nb::gil_scoped_release release;
        topo::run_parallel(views0.size(), threads, [&](size_t i) {
            results[i] = topo::compute_matching(views0[i], views1[i], negate);
        });
    }
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

}  // namespace

NB_MODULE(_engine, m) {
    m.doc() = "segpipe topology engine: cubical persistence and Betti matching in C++";
    m.def("engine_version", []() { return "0.2.0"; }, "Version string of the compiled engine.");
    m.def("barcodes", &barcodes, nb::arg("arrays"), nb::arg("threads") = 1, nb::arg("negate") = false,
          "Barcodes of the sublevel filtrations (V-construction) of C-contiguous float64 arrays\n"
          "with 1 to 3 axes (of the negated arrays if `negate`: superlevel filtrations), computed\n"
          "on up to `threads` threads without the GIL. Returns one\n"
          "dict per array: 'birth' and 'death' (per dimension, int64 arrays of C-order voxel\n"
          "indices of the finite bars of nonzero persistence) and 'essential' (voxel index of\n"
          "the birth of the one essential bar, dimension 0).");
    m.def("matchings", &matchings, nb::arg("predictions"), nb::arg("targets"), nb::arg("threads") = 1,
          nb::arg("negate") = false,
          "Betti matchings of pairs of equally shaped C-contiguous float64 arrays (sublevel\n"
          "filtrations, V-construction, comparison image min(prediction, target); with `negate`\n"
          "those of the negated arrays) on up to\n"
          "`threads` threads without the GIL. Returns one dict per pair with, for 'prediction'\n"
          "and 'target', '<input>_matched_birth', '<input>_matched_death' (row i of the\n"
          "prediction's lists is matched with row i of the target's), '<input>_unmatched_birth',\n"
          "'<input>_unmatched_death' (per dimension, int64 arrays of voxel indices) and\n"
          "'<input>_essential' (voxel index of the essential bar's birth).");
}

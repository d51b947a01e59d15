// Python bindings of the segpipe topology engine.
#include <nanobind/nanobind.h>

namespace nb = nanobind;

NB_MODULE(_engine, m) {
    m.doc() = "segpipe topology engine: cubical persistence and Betti matching in C++";
    m.def("engine_version", []() { return "0.1.0"; }, "Version string of the compiled engine.");
}

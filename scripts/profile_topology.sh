#!/usr/bin/env bash
# Profile the topology engine on one benchmark case with perf (time) or callgrind (instruction
# counts, stable on a busy machine). Builds an optimised extension with debug info into
# build/profile, loads it in place of the installed one and prints the cost per engine stage
# (scripts/profile_stages.py); full reports stay in build/profile/.
#
#   bash scripts/profile_topology.sh perf|callgrind CASE [SIZE]
#
# CASE and SIZE are those of benchmarks/bench_topology.py --profile (e.g. `matching-random 96`);
# reports go to build/profile/.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL="${1:?perf or callgrind}"; shift
PYTHON="${PYTHON:-.venv/bin/python}"
BUILD=build/profile

# RelWithDebInfo with the Release optimisation level: nanobind strips Release builds. The CPU
# path is profiled: no CUDA kernels (GPU profiles: nsys/ncu on benchmarks/bench_topology_gpu.py).
cmake -S cpp_ext -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGPIPE_CUDA=OFF \
  -DPython_EXECUTABLE="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O3 -g -DNDEBUG -fno-omit-frame-pointer" >/dev/null
cmake --build "$BUILD" --target _engine -j "$(nproc)" >/dev/null
export PROFILED_ENGINE="$(ls "$BUILD"/_engine*.so)"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
RUN=("$PYTHON" benchmarks/bench_topology.py --engine "$PROFILED_ENGINE" --profile "$@")
case "$TOOL" in
  perf)
    perf record -o "$BUILD/perf.data" -F 999 -g "${RUN[@]}"
    perf report -i "$BUILD/perf.data" --no-children --stdio -g none | grep -v '^#' | grep -v '^$' \
      > "$BUILD/perf.txt"
    "$PYTHON" scripts/profile_stages.py "$BUILD/perf.txt" ;;
  callgrind)
    valgrind --tool=callgrind --callgrind-out-file="$BUILD/callgrind.out" \
      --toggle-collect='segpipe::topology::compute_*' "${RUN[@]}"
    callgrind_annotate --auto=no --threshold=100 "$BUILD/callgrind.out" > "$BUILD/callgrind.txt"
    "$PYTHON" scripts/profile_stages.py "$BUILD/callgrind.txt"
    ;;
  *) echo "unknown tool $TOOL (perf or callgrind)" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Build the topology engine with AddressSanitizer + UndefinedBehaviorSanitizer into build/sanitize
# and run the topology test suite (random inputs, batches on several threads, bad input) against
# it. Any memory error or undefined behaviour aborts the run with a report. The CUDA kernels are
# left out (SEGPIPE_CUDA=OFF: the sanitizers do not see device code); their pipeline still runs
# on the host (the host_kernels backend of tests/topology/test_topology_gpu.py).
#
#   bash scripts/sanitize_topology.sh [extra pytest arguments]
#
# The sanitized module is loaded in place of the installed segpipe.topology._engine (the rest of
# segpipe comes from the working tree); libasan is preloaded because Python itself is not
# instrumented.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
BUILD=build/sanitize
FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

cmake -S cpp_ext -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGPIPE_CUDA=OFF \
  -DPython_EXECUTABLE="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_SHARED_LINKER_FLAGS="$FLAGS" >/dev/null
cmake --build "$BUILD" --target _engine -j "$(nproc)"
MODULE="$(ls "$BUILD"/_engine*.so)"

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export SANITIZED_ENGINE="$MODULE"
export PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" - "$@" <<'PY'
import os
import sys

import pytest
from engine_override import load_engine

engine = load_engine(os.environ["SANITIZED_ENGINE"])
print(f"testing the sanitized engine {engine.__file__}", flush=True)
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--capture=sys", "tests/topology/test_topology_inputs.py",
                      "tests/topology/test_topology_barcode.py", "tests/topology/test_topology_matching.py",
                      "tests/topology/test_topology_reference.py", "tests/topology/test_topology_batch.py",
                      "tests/topology/test_topology_metrics.py", "tests/topology/test_topology_gpu.py", *sys.argv[1:]]))
PY

#!/usr/bin/env bash
# Build the topology engine with AddressSanitizer + UndefinedBehaviorSanitizer into build/sanitize
# and run the topology test suite (random inputs, batches on several threads, bad input) against
# it, or with `fuzz` a timed fuzz of random engine calls (scripts/fuzz_topology.py; the test suite
# runs it: tests/topology/test_sanitizers.py). Any memory error or undefined behaviour
# aborts the run with a report. The CUDA kernels are left out (SEGPIPE_CUDA=OFF: the sanitizers do
# not see device code); their pipeline still runs on the host (the host_kernels backend).
#
#   bash scripts/sanitize_topology.sh [extra pytest arguments]
#   bash scripts/sanitize_topology.sh fuzz [--seconds S] [--seed N]
#
# The sanitized module is loaded in place of the installed segpipe.topology._engine (the rest of
# segpipe comes from the working tree); libasan is preloaded because Python itself is not
# instrumented. -O1 keeps the build short (about a minute on two cores) and the reports exact.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
BUILD=build/sanitize
FLAGS="-O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

# The extension's build requirements (pyproject.toml [build-system]): pip installs them only into
# its isolated build environments, so a fresh .venv lacks them.
if ! "$PYTHON" -c "import nanobind" 2>/dev/null; then
  "$PYTHON" -m pip install --quiet $("$PYTHON" -c \
    'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')
fi

cmake -S cpp_ext -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=None -DSEGPIPE_CUDA=OFF \
  -DPython_EXECUTABLE="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")" \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_SHARED_LINKER_FLAGS="$FLAGS" >/dev/null
cmake --build "$BUILD" --target _engine -j "$(nproc)" >/dev/null
MODULE="$(ls "$BUILD"/_engine*.so)"

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export SANITIZED_ENGINE="$MODULE"
export PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" - "$@" <<'PY'
import glob
import os
import sys

from engine_override import load_engine

engine = load_engine(os.environ["SANITIZED_ENGINE"])
print(f"testing the sanitized engine {engine.__file__}", flush=True)
if sys.argv[1:2] == ["fuzz"]:
    import fuzz_topology

    sys.argv = ["fuzz_topology.py", *sys.argv[2:]]
    fuzz_topology.main()
else:
    import pytest

    tests = sorted(glob.glob("tests/topology/test_topology_*.py"))
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--capture=sys", *tests, *sys.argv[1:]]))
PY

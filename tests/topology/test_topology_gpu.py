"""The CUDA backend of the topology engine.

Three layers:

* tests that need a CUDA device (marked ``gpu``): the GPU and CPU give identical barcodes,
  matchings, stage outputs and gathered values, also from torch tensors on the device; skipped
  with the reason elsewhere;
* the kernels' pipeline on the host (backend ``host_kernels``: the same per-element functions and
  the same key encoding, with loops and a stable sort in place of kernels and CUB): identical to
  the CPU engine stage by stage and in the end results, and its apparent pairs equal to a brute
  force oracle;
* the build and the backend selection: CUDA compiled in when nvcc exists, the module imports
  without loading the CUDA driver, forcing CUDA without a device fails clearly, the environment
  variable and ``backend=`` choose the path.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import zlib

import numpy as np
import pytest

from segpipe.topology import (
    TopologyBackendError,
    TopologyTypeError,
    TopologyValueError,
    _engine,
    barcode,
    betti_matching,
    betti_matching_batch,
    betti_matching_loss,
    cuda_available,
    cuda_compiled,
    gather,
    select_backend,
)
from segpipe.topology.backend import ENVIRONMENT_VARIABLE, cuda_unavailable_reason

NO_INDEX = 2**32 - 1
requires_cuda = pytest.mark.skipif(not cuda_available(), reason=f"no CUDA device: {cuda_unavailable_reason()}")


def seed(*parts):
    """A seed that is the same in every run (str hashes are not)."""
    return zlib.crc32(repr(parts).encode())


def random_inputs(shape, kind, rng):
    """A pair of arrays: noise, quantised noise (many ties) or binary masks."""
    a, b = rng.random(shape), rng.random(shape)
    if kind == "ties":
        return np.round(a * 6) / 6, np.round(b * 6) / 6
    if kind == "binary":
        return (a > 0.5).astype(np.float64), (b > 0.5).astype(np.float64)
    return a, b


CASES = [
    (shape, kind)
    for shape in [(9,), (1, 12), (7, 9), (16, 13), (5, 6, 7), (8, 7, 9), (2, 2, 2), (1, 4, 5)]
    for kind in ("noise", "ties", "binary")
]


def assert_same_result(first, second):
    """Engine results (dicts of lists of arrays and ints) are identical."""
    assert first.keys() == second.keys()
    for key, value in first.items():
        if isinstance(value, list):
            assert len(value) == len(second[key]), key
            for x, y in zip(value, second[key]):
                np.testing.assert_array_equal(x, y, err_msg=key)
        else:
            assert value == second[key], key


def assert_same_stages(first, second, apparent=True):
    for f, (x, y) in enumerate(zip(first["ranks"], second["ranks"])):
        np.testing.assert_array_equal(x, y, err_msg=f"ranks of filtration {f}")
    for f, (x, y) in enumerate(zip(first["cells"], second["cells"])):
        for dim, (cx, cy) in enumerate(zip(x, y), start=1):
            np.testing.assert_array_equal(cx, cy, err_msg=f"cells of dimension {dim}, filtration {f}")
    for f, (x, y) in enumerate(zip(first["top_ranks"], second["top_ranks"])):
        np.testing.assert_array_equal(x, y, err_msg=f"top ranks of filtration {f}")
    if apparent:
        assert first["apparent"].keys() == second["apparent"].keys()
        for key, pivots in first["apparent"].items():
            np.testing.assert_array_equal(pivots, second["apparent"][key], err_msg=f"apparent pairs {key}")


def assert_same_matching(a, b):
    assert a.shape == b.shape and len(a) == len(b)
    for x, y in zip(a, b):
        for field in x.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field), err_msg=field)


# ----------------------------------------------------------------------------- the kernels on the host
@pytest.mark.parametrize("shape, kind", CASES)
@pytest.mark.parametrize("negate", [False, True])
def test_kernel_stages_on_the_host_equal_the_cpu_engine(shape, kind, negate):
    rng = np.random.default_rng(seed(shape, kind, negate))
    a, b = random_inputs(shape, kind, rng)
    cpu = _engine.stage_outputs([a, b], negate, "cpu")
    kernels = _engine.stage_outputs([a, b], negate, "host_kernels")
    assert_same_stages(cpu, kernels, apparent=False)
    assert all(len(p) == 0 for p in cpu["apparent"].values())  # the CPU finds them while reducing
    assert_same_result(
        _engine.matchings([a], [b], 1, negate, "cpu")[0], _engine.matchings([a], [b], 1, negate, "host_kernels")[0]
    )
    assert_same_result(_engine.barcodes([a], 1, negate, "cpu")[0], _engine.barcodes([a], 1, negate, "host_kernels")[0])


def test_kernel_stages_read_float32_as_the_cpu_reads_float64():
    rng = np.random.default_rng(3)
    a = rng.random((11, 9, 6)).astype(np.float32)
    b = (rng.random((11, 9, 6)) > 0.4).astype(np.float32)
    expected = _engine.matchings([a.astype(np.float64)], [b.astype(np.float64)], 1, True, "cpu")[0]
    assert_same_result(expected, _engine.matchings([a], [b], 1, True, "host_kernels")[0])
    assert_same_result(expected, _engine.matchings([a], [b.astype(np.float64)], 1, True, "host_kernels")[0])


def test_kernel_stages_of_a_batch_on_threads():
    rng = np.random.default_rng(4)
    shapes = [(12, 10), (6, 5, 7), (30, 2), (4, 4, 4)]
    pairs = [random_inputs(s, "ties", rng) for s in shapes]
    predictions, targets = [p for p, _ in pairs], [t for _, t in pairs]
    cpu = _engine.matchings(predictions, targets, 1, True, "cpu")
    for result, expected in zip(_engine.matchings(predictions, targets, 3, True, "host_kernels"), cpu):
        assert_same_result(expected, result)


def oracle_apparent_pivots(shape, row_rank, column_rank, squares):
    """Apparent pairs of dimension 1 by brute force: every square's last edge in the row
    filtration, every edge's first square in the column filtration, cells numbered as the engine
    (base vertex * 3 + type; an edge's type is its axis, a square's the axis it is normal to)."""
    stride = [shape[1] * shape[2], shape[2], 1]
    row_rank, column_rank = row_rank.reshape(-1), column_rank.reshape(-1)

    def corners(base, axes):
        return [base + sum(stride[a] for a in subset) for r in range(len(axes) + 1) for subset in itertools.combinations(axes, r)]

    def key(rank, cell, axes):
        return (max(rank[v] for v in corners(cell // 3, axes)), cell)

    last_edge, first_square = {}, {}
    for base, normal in itertools.product(range(int(np.prod(shape))), range(3)):
        coordinate = np.unravel_index(base, shape)
        axes = [a for a in range(3) if a != normal]
        if any(coordinate[a] + 1 >= shape[a] for a in axes):
            continue
        square = base * 3 + normal
        edges = [base * 3 + axes[0], base * 3 + axes[1], (base + stride[axes[1]]) * 3 + axes[0], (base + stride[axes[0]]) * 3 + axes[1]]
        last_edge[square] = max(edges, key=lambda e: key(row_rank, e, [e % 3]))
        square_key = key(column_rank, square, axes)
        for edge in edges:
            first_square[edge] = min(first_square.get(edge, square_key), square_key)
    return np.array(
        [last_edge[s] if first_square[last_edge[s]][1] == s else NO_INDEX for s in squares], dtype=np.uint32
    )


@pytest.mark.parametrize("kind", ["noise", "ties", "binary"])
def test_apparent_pairs_on_the_host_equal_a_brute_force_oracle(kind):
    rng = np.random.default_rng({"noise": 5, "ties": 6, "binary": 7}[kind])
    shape = (5, 6, 4)
    a, b = random_inputs(shape, kind, rng)
    stages = _engine.stage_outputs([a, b], True, "host_kernels")
    assert set(stages["apparent"]) == {(0, 0), (1, 1), (2, 2), (0, 2), (1, 2)}
    for (rows, columns), pivots in stages["apparent"].items():
        squares = stages["cells"][columns][1]
        expected = oracle_apparent_pivots(shape, stages["ranks"][rows], stages["ranks"][columns], squares)
        np.testing.assert_array_equal(pivots, expected, err_msg=f"rows {rows}, columns {columns}")
        if kind == "noise":  # most columns of a noise image are apparent pairs
            assert np.mean(pivots != NO_INDEX) > 0.3


def test_gather_reads_what_numpy_indexing_reads():
    rng = np.random.default_rng(8)
    for array in (rng.random((6, 7)), rng.random((4, 5, 6)).astype(np.float32), rng.random((5, 5)) > 0.5,
                  rng.integers(0, 9, (3, 4, 5))):
        coordinates = np.stack([rng.integers(0, n, 20) for n in array.shape], axis=1)
        coordinates[::4] = -1
        values = gather(array, coordinates, missing=-7.5)
        present = coordinates[:, 0] >= 0
        np.testing.assert_array_equal(values[present], array[tuple(coordinates[present].T)].astype(np.float64))
        assert np.all(values[~present] == -7.5) and values.dtype == np.float64
    out = np.empty(3)
    _engine.gather(np.arange(4.0), np.array([3, 4, -2]), out, np.nan)
    np.testing.assert_array_equal(out, [3.0, np.nan, np.nan])


# ------------------------------------------------------------------------------- build and selection
def nvcc_found():
    """Whether CMake's check_language(CUDA) finds a compiler: $CUDACXX or nvcc on the PATH."""
    candidates = [os.environ.get("CUDACXX"), shutil.which("nvcc")]
    return any(c and os.path.exists(c) for c in candidates)


def test_cuda_is_compiled_in_where_nvcc_exists():
    option = _engine.build_options()["cuda"]
    assert option in ("AUTO", "ON", "OFF")
    if option == "OFF":
        pytest.skip("this engine was built with SEGPIPE_CUDA=OFF")
    if not nvcc_found():
        pytest.skip("no nvcc on this machine")
    assert cuda_compiled()
    assert "80" in _engine.build_options()["cuda_architectures"]


def test_import_does_not_load_the_cuda_driver():
    # Everything CUDA is initialised on first use: a machine without a GPU or driver imports the
    # engine and computes on the CPU.
    code = (
        "import segpipe.topology as t, numpy as np\n"
        "maps = open('/proc/self/maps').read()\n"
        "print('libcuda.so' in maps)\n"
        "print(t.betti_matching(np.eye(5), np.eye(5), backend='cpu').num_matched.tolist())\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split("\n")[0] == "False", output


def test_auto_and_the_environment_variable_choose_the_backend(monkeypatch):
    monkeypatch.delenv(ENVIRONMENT_VARIABLE, raising=False)
    expected_auto = "cuda" if cuda_available() else "cpu"
    assert select_backend() == expected_auto
    assert select_backend("auto") == expected_auto
    assert select_backend("cpu") == "cpu"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "cpu")
    assert select_backend() == "cpu"
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "")
    assert select_backend() == expected_auto
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "gpu")
    with pytest.raises(TopologyValueError, match=ENVIRONMENT_VARIABLE):
        select_backend()
    assert select_backend("cpu") == "cpu"  # the argument wins over the environment
    with pytest.raises(TopologyValueError, match="backend"):
        select_backend("gpu")


class RecordingEngine:
    """Stands in for the engine module and records the backend each call asks for."""

    def __init__(self):
        self.backends = []

    def __getattr__(self, name):
        function = getattr(_engine, name)

        def call(*args):
            self.backends.append(args[-1])
            return function(*args)

        return call


def test_the_chosen_backend_reaches_the_engine(monkeypatch):
    from segpipe.topology import matching, persistence

    recorder = RecordingEngine()
    monkeypatch.setattr(matching, "_engine", recorder)
    monkeypatch.setattr(persistence, "_engine", recorder)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "cpu")
    a, b = random_inputs((6, 7), "noise", np.random.default_rng(9))
    betti_matching(a, b)
    betti_matching_batch([a], [b], threads=1, backend="auto")
    barcode(a, backend="cpu")
    assert recorder.backends == ["cpu", "cuda" if cuda_available() else "cpu", "cpu"]


@pytest.mark.skipif(cuda_available(), reason="a CUDA device is present")
def test_forcing_cuda_without_a_device_fails_clearly(monkeypatch):
    a = np.random.default_rng(10).random((5, 6))
    with pytest.raises(TopologyBackendError, match="CUDA backend was requested but cannot run here") as error:
        betti_matching(a, a, backend="cuda")
    assert cuda_unavailable_reason() in str(error.value) and "fix:" in str(error.value)
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "cuda")
    with pytest.raises(TopologyBackendError, match=ENVIRONMENT_VARIABLE):
        betti_matching_batch([a], [a])
    with pytest.raises(TopologyBackendError):
        barcode(a)
    # Below the Python checks, the engine itself raises CudaError (a RuntimeError), no crash.
    with pytest.raises(_engine.CudaError, match="CUDA|cuda"):
        _engine.matchings([a], [a], 1, False, "cuda")


class FakeCudaArray:
    """Says (through DLPack) that it lies on CUDA device 0; it has no data."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, np.dtype(dtype)

    def __dlpack_device__(self):
        return (2, 0)


def test_device_arrays_are_checked_before_the_engine():
    from segpipe.topology._device import device_image, engine_arrays, is_device_array

    torch = pytest.importorskip("torch")
    assert is_device_array(FakeCudaArray((4, 5), "float32"))
    assert not is_device_array(np.zeros((4, 5))) and not is_device_array(torch.zeros(4, 5))
    with pytest.raises(TopologyTypeError, match="float16"):
        device_image(FakeCudaArray((4, 5), "float16"), "prediction")
    with pytest.raises(TopologyValueError, match="2D or 3D"):
        device_image(FakeCudaArray((2, 4, 5, 6), "float32"), "prediction")
    with pytest.raises(TopologyTypeError, match="one array lies on a CUDA device and the other in host memory"):
        engine_arrays([FakeCudaArray((4, 5), "float32"), np.zeros((4, 5))], ["p", "t"], "cuda", direct=True)
    with pytest.raises(TopologyTypeError, match="cannot be copied to the host"):
        engine_arrays([FakeCudaArray((4, 5), "float32")], ["array"], "cuda", direct=False)
    with pytest.raises(TopologyTypeError):  # the CPU backend takes host arrays only, as before
        engine_arrays([FakeCudaArray((4, 5), "float32")], ["array"], "cpu", direct=True)


# ------------------------------------------------------------------------------------- on a GPU
@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("shape, kind", CASES + [((64, 80), "noise"), ((24, 20, 28), "ties")])
@pytest.mark.parametrize("negate", [False, True])
def test_gpu_equals_cpu(shape, kind, negate):
    rng = np.random.default_rng(seed(shape, kind, negate, "gpu"))
    a, b = random_inputs(shape, kind, rng)
    assert_same_result(_engine.matchings([a], [b], 1, negate, "cpu")[0], _engine.matchings([a], [b], 1, negate, "cuda")[0])
    assert_same_result(_engine.barcodes([a], 1, negate, "cpu")[0], _engine.barcodes([a], 1, negate, "cuda")[0])
    assert_same_stages(_engine.stage_outputs([a, b], negate, "cpu"), _engine.stage_outputs([a, b], negate, "cuda"), apparent=False)
    assert_same_stages(_engine.stage_outputs([a, b], negate, "host_kernels"), _engine.stage_outputs([a, b], negate, "cuda"))


@pytest.mark.gpu
@requires_cuda
@pytest.mark.parametrize("connectivity, relative", [("face", False), ("full", True)])
def test_gpu_batches_equal_cpu_batches(connectivity, relative):
    rng = np.random.default_rng(11)
    shapes = [(40, 50), (12, 14, 10), (3, 64), (16, 16, 16)]
    pairs = [random_inputs(s, kind, rng) for s, kind in zip(shapes, ["noise", "ties", "binary", "noise"])]
    options = dict(connectivity=connectivity, relative=relative, threads=3)
    cpu = betti_matching_batch([p for p, _ in pairs], [t for _, t in pairs], backend="cpu", **options)
    gpu = betti_matching_batch([p for p, _ in pairs], [t for _, t in pairs], backend="cuda", **options)
    for x, y in zip(cpu, gpu):
        assert_same_matching(x, y)


def torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device")
    return torch


@pytest.mark.gpu
@requires_cuda
def test_torch_device_tensors_are_read_on_the_device():
    torch = torch_cuda()
    rng = np.random.default_rng(12)
    for shape in [(48, 40), (10, 12, 14)]:
        p = torch.tensor(rng.random(shape), dtype=torch.float32, device="cuda", requires_grad=True)
        t = torch.tensor(rng.random(shape) > 0.5, dtype=torch.float32, device="cuda")
        host_p, host_t = p.detach().cpu().numpy(), t.cpu().numpy()
        for options in (dict(connectivity="face"), dict(connectivity="full", relative=True)):
            expected = betti_matching(host_p, host_t, backend="cpu", **options)
            result = betti_matching(p, t, backend="cuda", **options)
            assert_same_matching(expected, result)
            assert betti_matching_loss(result, p, t) == pytest.approx(betti_matching_loss(expected, host_p, host_t))
        # a host target with a device prediction goes to the prediction's device
        assert_same_matching(betti_matching(host_p, host_t, backend="cpu", connectivity="face"),
                             betti_matching(p, host_t, backend="cuda", connectivity="face"))
        bars = barcode(p, backend="cuda", connectivity="face")
        for x, y in zip(barcode(host_p, backend="cpu", connectivity="face"), bars):
            np.testing.assert_array_equal(x.births, y.births)
            np.testing.assert_array_equal(x.death_coordinates, y.death_coordinates)
        coordinates = np.stack([rng.integers(0, n, 30) for n in shape], axis=1)
        np.testing.assert_array_equal(gather(p, coordinates), gather(host_p, coordinates))


@pytest.mark.gpu
@requires_cuda
def test_bad_device_tensors_raise_input_errors():
    torch = torch_cuda()
    good = torch.rand((8, 9), device="cuda")
    bad = good.clone()
    bad[3, 4] = float("nan")
    with pytest.raises(TopologyValueError, match="NaN"):
        betti_matching(bad, good, backend="cuda")
    with pytest.raises(TopologyValueError, match="shape"):
        betti_matching(good, good[:, :5], backend="cuda")
    with pytest.raises(TopologyTypeError, match="float16"):
        betti_matching(good.half(), good, backend="cuda")

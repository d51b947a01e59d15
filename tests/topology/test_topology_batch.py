"""The batch API gives the single-pair results, on any number of threads, without the GIL."""

import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from segpipe.topology import (
    TopologyValueError,
    barcode,
    barcode_batch,
    betti_matching,
    betti_matching_batch,
    betti_matching_loss,
)


def assert_same(a, b):
    assert a.shape == b.shape and len(a) == len(b)
    for x, y in zip(a, b):
        for field in x.__dataclass_fields__:
            np.testing.assert_array_equal(getattr(x, field), getattr(y, field))


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("filtration", ["sublevel", "superlevel"])
def test_barcode_batch_equals_single_barcodes(filtration, connectivity):
    rng = np.random.default_rng(3)
    arrays = [rng.random(s) for s in [(9, 11), (5, 6, 7), (1, 13), (8, 8)]] + [(rng.random((6, 7)) > 0.5).astype(np.uint8)]
    results = barcode_batch(arrays, filtration=filtration, connectivity=connectivity, threads=2)
    assert barcode_batch([], filtration=filtration) == []
    for array, result in zip(arrays, results):
        single = barcode(array, filtration=filtration, connectivity=connectivity)
        assert (result.filtration, result.connectivity) == (single.filtration, single.connectivity)
        for bars, expected in zip(result, single, strict=True):
            for field in bars.__dataclass_fields__:
                np.testing.assert_array_equal(getattr(bars, field), getattr(expected, field))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_batch_of_lists_equals_single_pairs(threads):
    rng = np.random.default_rng(threads)
    shapes = [(9, 11), (5, 6, 7), (1, 13), (8, 8), (4, 4, 4)]
    predictions = [rng.random(s) for s in shapes]
    targets = [(rng.random(s) > 0.5).astype(np.uint8) for s in shapes]
    results = betti_matching_batch(predictions, targets, threads=threads, connectivity="full", relative=True)
    assert len(results) == len(shapes)
    for p, t, result in zip(predictions, targets, results):
        assert_same(result, betti_matching(p, t, connectivity="full", relative=True))
        assert betti_matching_loss(result, p, t) == betti_matching_loss(
            betti_matching(p, t, connectivity="full", relative=True), p, t
        )


def test_stacked_batches_are_split_along_the_first_axis():
    rng = np.random.default_rng(0)
    predictions = rng.random((4, 6, 7, 5)).astype(np.float32)
    targets = rng.random((4, 6, 7, 5)) > 0.5
    for i, result in enumerate(betti_matching_batch(predictions, targets, threads=2)):
        assert_same(result, betti_matching(predictions[i], targets[i]))


def test_batch_errors_name_the_item():
    good = [np.zeros((3, 3))] * 2
    bad = [np.zeros((3, 3)), np.full((3, 3), np.nan)]
    with pytest.raises(TopologyValueError, match=r"targets\[1\]"):
        betti_matching_batch(good, bad)
    with pytest.raises(TopologyValueError, match="2 predictions and 1 targets"):
        betti_matching_batch(good, good[:1])
    with pytest.raises(TopologyValueError, match="batch first"):
        betti_matching_batch(np.zeros((3, 3)), np.zeros((3, 3)))
    for threads in (0, -2, 1.5, True):
        with pytest.raises(TopologyValueError, match="threads"):
            betti_matching_batch(good, good, threads=threads)
    assert betti_matching_batch([], [], threads=2) == []


def test_batch_releases_the_gil():
    rng = np.random.default_rng(1)
    predictions = [rng.random((40, 40, 40)) for _ in range(2)]
    targets = [rng.random((40, 40, 40)) for _ in range(2)]
    done = threading.Event()
    worker = threading.Thread(target=lambda: (betti_matching_batch(predictions, targets, threads=2), done.set()))
    ticks = 0
    start = time.perf_counter()
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    worker.join()
    elapsed = time.perf_counter() - start
    # While C++ computes, this thread keeps running Python code.
    assert ticks > 200 * elapsed, (ticks, elapsed)


def test_refused_worker_threads_raise_instead_of_aborting():
    # Issue 18.4: under an address-space limit that leaves no room for 400 thread stacks the engine
    # aborted the process (std::terminate, rc 134). It must raise, and the process must go on.
    script = textwrap.dedent(
        """
        import resource
        import numpy as np
        from segpipe.topology import TopologyThreadError, betti_matching_batch

        size = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmSize"))
        limit = size * 1024 + 256 * 2**20  # 256 MiB more: room for a few 8 MiB thread stacks only
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        pairs = [np.zeros((4, 4))] * 400
        try:
            betti_matching_batch(pairs, pairs, threads=400)
        except TopologyThreadError as error:
            print("raised:", error)
        print("alive")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "raised: threads: could not start worker thread" in run.stdout, run.stdout
    assert "of 400" in run.stdout and "fix: pass fewer threads" in run.stdout and "alive" in run.stdout

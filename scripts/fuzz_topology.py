"""Random calls of the topology engine, for the sanitizer run (``sanitize_topology.sh fuzz``).

Each round draws a small 1D-3D array pair (random values, few distinct values with many ties,
constants, binary masks, huge magnitudes, ramps) and runs barcodes, matchings (every option),
batches on several threads, the loss, ``gather``, the Betti numbers and unusable input through
:mod:`segpipe.topology`, and the engine's ``cpu`` and ``host_kernels`` backends side by side. A
memory error or undefined behaviour aborts the process with the sanitizer's report; a wrong
answer between equivalent calls raises ``AssertionError``.

    python scripts/fuzz_topology.py [--seconds S] [--seed N]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np


def random_array(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A float64 array of one of the value patterns that stress the engine."""
    kind = rng.integers(6)
    if kind == 0:
        return rng.random(shape)
    if kind == 1:  # ties
        return rng.integers(0, 3, shape).astype(np.float64)
    if kind == 2:
        return np.full(shape, float(rng.normal()))
    if kind == 3:  # a binary mask
        return (rng.random(shape) > 0.5).astype(np.float64)
    if kind == 4:  # huge magnitudes
        return rng.uniform(-1e300, 1e300, shape)
    return np.arange(float(np.prod(shape))).reshape(shape) * rng.choice([-1.0, 1.0])


def random_shape(rng: np.random.Generator) -> tuple[int, ...]:
    """2 or 3 axes of 1 to 7 voxels (singleton axes included)."""
    return tuple(int(n) for n in rng.integers(1, 8, int(rng.integers(2, 4))))


def check_round(rng: np.random.Generator) -> int:
    """One round of calls on a random pair; returns the number of engine calls made."""
    from segpipe import topology
    from segpipe.topology import _engine

    shape = random_shape(rng)
    prediction, target = random_array(rng, shape), random_array(rng, shape)
    calls = 0
    for negate in (False, True):  # the two backends of the engine give identical results
        cpu = _engine.matchings([prediction], [target], 1, negate, "cpu")[0]
        kernels = _engine.matchings([prediction], [target], 1, negate, "host_kernels")[0]
        assert cpu.keys() == kernels.keys()
        for key, value in cpu.items():  # per dimension arrays of voxel indices, or one index
            assert all(map(np.array_equal, value, kernels[key])) if isinstance(value, list) else value == kernels[key]
        _engine.barcodes([prediction], 1, negate, "host_kernels")
        calls += 3
    for filtration, connectivity, relative, essential in itertools.product(
        ("sublevel", "superlevel"), topology.CONNECTIVITIES, (False, True), (False, True)
    ):
        matching = topology.betti_matching(prediction, target, filtration=filtration, connectivity=connectivity,
                                           relative=relative, include_essential=essential)
        try:
            assert np.isfinite(topology.betti_matching_loss(matching, prediction, target))
        except topology.TopologyValueError:  # the loss of huge values exceeds float64
            assert np.abs(np.concatenate([prediction, target])).max() > 1e150
        calls += 1
    for connectivity in topology.CONNECTIVITIES:
        result = topology.barcode(prediction, connectivity=connectivity)
        assert np.array_equal(topology.gather(prediction, result[0].birth_coordinates), result[0].births)
        topology.betti_numbers(prediction, connectivity=connectivity, threshold=float(np.median(prediction)))
        topology.betti_matching_error(prediction, target, connectivity=connectivity)
        calls += 2
    pairs = [(random_array(rng, s), random_array(rng, s)) for s in (random_shape(rng) for _ in range(int(rng.integers(1, 6))))]
    batch = topology.betti_matching_batch([p for p, _ in pairs], [t for _, t in pairs], threads=int(rng.integers(1, 4)))
    for (p, t), result in zip(pairs, batch):
        assert np.array_equal(result.num_matched, topology.betti_matching(p, t).num_matched)
    calls += 2 * len(pairs)
    bad = prediction.copy()
    bad.flat[int(rng.integers(bad.size))] = rng.choice([np.nan, np.inf, -np.inf])
    for call in (lambda: topology.barcode(bad), lambda: topology.betti_matching(prediction, bad),
                 lambda: topology.betti_matching(prediction, np.zeros(shape + (2,))),
                 lambda: topology.gather(prediction, np.array([shape]))):
        try:
            call()
        except topology.TopologyValueError:
            continue
        raise AssertionError("unusable input was accepted")
    return calls


def main() -> None:
    """Fuzz for ``--seconds`` and print how many engine calls were made."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to fuzz")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start, rounds, calls = time.monotonic(), 0, 0
    while time.monotonic() - start < args.seconds:
        calls += check_round(rng)
        rounds += 1
    print(f"fuzz: {rounds} rounds, {calls} engine calls in {time.monotonic() - start:.1f} s, no sanitizer report")


if __name__ == "__main__":
    main()

"""Random test arrays for the topology tests: continuous values, ties, binary, constant, thin shapes."""

from __future__ import annotations

import numpy as np

KINDS = ("continuous", "ties", "binary", "constant", "thin")


def random_shape(rng: np.random.Generator, ndim: int, kind: str) -> tuple[int, ...]:
    """A small shape; ``thin`` shapes have singleton axes (1 x n, 1 x 1 x n, 1 x n x m, ...)."""
    high = 9 if ndim == 2 else 6
    shape = [int(n) for n in rng.integers(2, high, size=ndim)]
    if kind == "thin":
        for axis in rng.choice(ndim, size=int(rng.integers(1, ndim + 1)), replace=False):
            shape[axis] = 1
    return tuple(shape)


def random_array(rng: np.random.Generator, ndim: int, kind: str) -> np.ndarray:
    """A random float64 array of the given kind and a random shape."""
    return random_values(rng, random_shape(rng, ndim, kind), kind)


def random_values(rng: np.random.Generator, shape: tuple[int, ...], kind: str) -> np.ndarray:
    """A random float64 array of the given kind and shape."""
    if kind == "ties":
        return rng.integers(0, 4, size=shape).astype(np.float64)
    if kind == "binary":
        return (rng.random(shape) < rng.uniform(0.2, 0.8)).astype(np.float64)
    if kind == "constant":
        return np.full(shape, rng.normal())
    return rng.normal(size=shape)


def cases(seed: int, count: int, ndim: int) -> list[np.ndarray]:
    """``count`` arrays cycling through :data:`KINDS` (continuous values twice as often)."""
    rng = np.random.default_rng(seed)
    kinds = KINDS + ("continuous",)
    return [random_array(rng, ndim, kinds[i % len(kinds)]) for i in range(count)]


def random_masks(seed: int, ndim: int, count: int) -> list[np.ndarray]:
    """``count`` random binary masks of random small shapes (2D up to 11 per axis, 3D up to 6)."""
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(count):
        shape = tuple(int(n) for n in rng.integers(1, 12 if ndim == 2 else 7, size=ndim))
        masks.append(rng.random(shape) < rng.uniform(0.1, 0.9))
    return masks

"""Persistence barcodes of 2D and 3D arrays (cubical complexes, computed by the C++ engine)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segpipe.topology import _engine
from segpipe.topology._device import engine_arrays, engine_errors
from segpipe.topology._inputs import FILTRATIONS, choice, thread_count
from segpipe.topology.backend import select_backend
from segpipe.topology.connectivity import DEFAULT_CONNECTIVITY, check_connectivity
from segpipe.topology.filtration import EngineInput
from segpipe.topology.gather import gather


@dataclass(frozen=True)
class Bars:
    """The bars of one homology dimension.

    Attributes
    ----------
    births, deaths
        ``(n,)`` float64 values in the units of the input array. For a superlevel filtration a
        bar is born at the larger value. Essential bars die at ``inf`` (sublevel) or ``-inf``
        (superlevel).
    birth_coordinates, death_coordinates
        ``(n, ndim)`` int64 coordinates (array-index order) of the voxels whose values are the
        birth and the death: gathering the input at them gives ``births`` and ``deaths``, which is
        what makes losses built on them differentiable. Essential bars have a death row of ``-1``.
    """

    births: np.ndarray
    deaths: np.ndarray
    birth_coordinates: np.ndarray
    death_coordinates: np.ndarray

    def __len__(self) -> int:
        return len(self.births)

    @property
    def essential(self) -> np.ndarray:
        """Boolean mask of the essential (never dying) bars."""
        return np.isinf(self.deaths)

    def finite(self) -> np.ndarray:
        """``(m, 2)`` array of the (birth, death) pairs of the finite bars."""
        keep = ~self.essential
        return np.stack([self.births[keep], self.deaths[keep]], axis=1)


@dataclass(frozen=True)
class Barcode:
    """Barcode of an array in every homology dimension (0, 1 in 2D; 0, 1, 2 in 3D).

    Index it by dimension: ``barcode[1].finite()``. Bars of zero persistence are not listed; the
    one essential bar (dimension 0, the component that never dies) is listed after the finite
    bars of dimension 0.

    Attributes
    ----------
    dimensions
        One :class:`Bars` per homology dimension.
    filtration
        ``"sublevel"`` or ``"superlevel"``.
    connectivity
        ``"full"`` or ``"face"`` (:mod:`segpipe.topology.connectivity`).
    """

    dimensions: tuple[Bars, ...]
    filtration: str
    connectivity: str

    def __getitem__(self, dim: int) -> Bars:
        return self.dimensions[dim]

    def __len__(self) -> int:
        return len(self.dimensions)

    def __iter__(self) -> Iterator[Bars]:
        return iter(self.dimensions)

    def betti_numbers_at(self, threshold: float) -> np.ndarray:
        """Betti numbers of the sublevel (or superlevel) set at ``threshold``.

        A bar counts when its feature exists in the set of voxels with value ``<= threshold``
        (superlevel: ``>= threshold``).

        Returns
        -------
        numpy.ndarray
            int64 array with one Betti number per homology dimension.
        """
        sign = 1.0 if self.filtration == "sublevel" else -1.0
        return np.array(
            [int(np.sum((sign * bars.births <= sign * threshold) & (sign * threshold < sign * bars.deaths)))
             for bars in self.dimensions],
            dtype=np.int64,
        )


def barcode(
    array: Any, *, filtration: str = "sublevel", connectivity: str = DEFAULT_CONNECTIVITY, backend: str | None = None
) -> Barcode:
    """Persistence barcode of a 2D or 3D array.

    Parameters
    ----------
    array
        2D or 3D array of any numeric dtype (converted to float64); must be finite.
    filtration
        ``"sublevel"`` (features appear as the values increase, default) or ``"superlevel"``
        (as they decrease; the sublevel filtration of ``-array``).
    connectivity
        How the voxels that enter first touch (:mod:`segpipe.topology.connectivity`):
        ``"full"`` (default): voxels are top cells, as in gudhi's
        ``CubicalComplex(top_dimensional_cells=...)``; the sublevel sets (superlevel sets for
        ``filtration="superlevel"``) are 8- (2D) or 26-connected (3D). ``"face"``: voxels are
        vertices and higher cells take the last of their vertices, as in gudhi's
        ``CubicalComplex(vertices=...)`` and CubicalRipser; those sets are 4- or 6-connected.
    backend
        Where the parallel stages run: ``"cpu"``, ``"cuda"`` or ``"auto"``; None: the environment
        variable ``SEGPIPE_TOPOLOGY_BACKEND``, else ``"auto"`` (see
        :func:`segpipe.topology.select_backend`). The result does not depend on it. With
        ``"cuda"`` a float32/float64 array on a CUDA device (e.g. a torch tensor) is read there
        for ``connectivity="face"``.

    Returns
    -------
    Barcode

    Raises
    ------
    segpipe.topology.errors.TopologyValueError
        For NaN or inf values, an empty array, or not 2 or 3 axes.
    segpipe.topology.errors.TopologyTypeError
        For non-numeric input.
    segpipe.topology.errors.TopologyBackendError
        If the CUDA backend is requested but cannot run here.
    """
    choice(filtration, FILTRATIONS, "filtration")
    check_connectivity(connectivity)
    chosen = select_backend(backend)
    (values,) = engine_arrays([array], ["array"], chosen, direct=connectivity == "face")
    prepared = EngineInput.prepare(values, connectivity, filtration)
    with engine_errors("array"):
        result = _engine.barcodes([prepared.engine_values], 1, prepared.negate, chosen)[0]
    return Barcode(_bars_from_engine(result, prepared, values, filtration), filtration, connectivity)


def barcode_batch(
    arrays: Sequence[Any],
    *,
    filtration: str = "sublevel",
    connectivity: str = DEFAULT_CONNECTIVITY,
    threads: int | None = None,
    backend: str | None = None,
) -> list[Barcode]:
    """Barcodes of many arrays, computed in parallel in C++ without holding the GIL.

    Parameters
    ----------
    arrays
        2D or 3D arrays (shapes may differ), each as for :func:`barcode`.
    filtration, connectivity, backend
        As for :func:`barcode`, the same for every array.
    threads
        Number of threads; default: the CPUs available to this process.

    Returns
    -------
    list of Barcode
        One per array, in order; each equal to ``barcode(array, ...)``.
    """
    choice(filtration, FILTRATIONS, "filtration")
    check_connectivity(connectivity)
    chosen = select_backend(backend)
    values = [engine_arrays([a], [f"arrays[{i}]"], chosen, direct=connectivity == "face")[0] for i, a in enumerate(arrays)]
    prepared = [EngineInput.prepare(v, connectivity, filtration) for v in values]
    if not prepared:
        return []
    with engine_errors("arrays"):
        results = _engine.barcodes([p.engine_values for p in prepared], thread_count(threads), prepared[0].negate, chosen)
    return [
        Barcode(_bars_from_engine(result, p, v, filtration), filtration, connectivity)
        for result, p, v in zip(results, prepared, values)
    ]


def _bars_from_engine(
    result: dict, prepared: EngineInput, values: Any, filtration: str
) -> tuple[Bars, ...]:
    infinity = np.inf if filtration == "sublevel" else -np.inf
    dimensions = []
    for dim, (births, deaths) in enumerate(zip(result["birth"], result["death"])):
        birth_coordinates = prepared.coordinates(births)
        death_coordinates = prepared.coordinates(deaths)
        if dim == 0:
            essential = prepared.coordinates(np.array([result["essential"]]))
            birth_coordinates = np.concatenate([birth_coordinates, essential])
            death_coordinates = np.concatenate([death_coordinates, np.full_like(essential, -1)])
        dimensions.append(
            Bars(
                births=gather(values, birth_coordinates),
                deaths=gather(values, death_coordinates, missing=infinity),
                birth_coordinates=birth_coordinates,
                death_coordinates=death_coordinates,
            )
        )
    return tuple(dimensions)

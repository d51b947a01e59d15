"""Betti matching of a prediction and a target (Stucki et al. 2023), computed by the C++ engine.

A bar of the prediction is matched with a bar of the target when both correspond, through the
induced matchings of the inclusions into the comparison image ``min`` of both (sublevel values:
the union of the two foregrounds for probability maps in a superlevel filtration), to the same bar
of the comparison image. The result lists the voxel coordinates of the births and deaths of the
matched and unmatched bars per homology dimension, so that values can be gathered from a tensor
and a differentiable loss built from them (:func:`segpipe.topology.metrics.betti_matching_loss`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from segpipe.topology import _engine
from segpipe.topology._device import engine_arrays, engine_errors, is_torch_tensor
from segpipe.topology._inputs import FILTRATIONS, choice, thread_count
from segpipe.topology.backend import select_backend
from segpipe.topology.connectivity import DEFAULT_CONNECTIVITY, check_connectivity
from segpipe.topology.errors import TopologyValueError
from segpipe.topology.filtration import EngineInput, add_frame, first_value


@dataclass(frozen=True)
class DimensionMatching:
    """Matched and unmatched bars of one homology dimension.

    All attributes are ``(n, ndim)`` int64 voxel coordinates (array-index order) into the arrays
    described by :attr:`BettiMatching.coordinate_shape`. Row ``i`` of the four ``*_matched_*``
    arrays describes the ``i``-th matched pair. An essential bar (only with
    ``include_essential=True``) has a death row of ``-1``.
    """

    prediction_matched_birth: np.ndarray
    prediction_matched_death: np.ndarray
    target_matched_birth: np.ndarray
    target_matched_death: np.ndarray
    prediction_unmatched_birth: np.ndarray
    prediction_unmatched_death: np.ndarray
    target_unmatched_birth: np.ndarray
    target_unmatched_death: np.ndarray

    @property
    def num_matched(self) -> int:
        """Number of matched pairs of bars."""
        return len(self.prediction_matched_birth)

    @property
    def num_unmatched_prediction(self) -> int:
        """Number of bars of the prediction without a partner."""
        return len(self.prediction_unmatched_birth)

    @property
    def num_unmatched_target(self) -> int:
        """Number of bars of the target without a partner."""
        return len(self.target_unmatched_birth)


@dataclass(frozen=True)
class BettiMatching:
    """Betti matching of a prediction and a target, per homology dimension.

    Index it by dimension (``matching[1].prediction_unmatched_birth``).

    Attributes
    ----------
    dimensions
        One :class:`DimensionMatching` per homology dimension (0, 1 in 2D; 0, 1, 2 in 3D).
    shape
        Shape of the inputs.
    filtration, connectivity, relative, include_essential
        The options it was computed with.
    frame_value
        With ``relative=True``: the value of the frame added around both inputs (the largest value
        of both for a superlevel filtration, the smallest for a sublevel one); else None.
    """

    dimensions: tuple[DimensionMatching, ...]
    shape: tuple[int, ...]
    filtration: str
    connectivity: str
    relative: bool
    include_essential: bool
    frame_value: float | None

    def __getitem__(self, dim: int) -> DimensionMatching:
        return self.dimensions[dim]

    def __len__(self) -> int:
        return len(self.dimensions)

    def __iter__(self) -> Iterator[DimensionMatching]:
        return iter(self.dimensions)

    @property
    def coordinate_shape(self) -> tuple[int, ...]:
        """Shape of the arrays the coordinates index: :attr:`shape`, plus 2 per axis if relative."""
        return tuple(n + 2 for n in self.shape) if self.relative else self.shape

    @property
    def num_matched(self) -> np.ndarray:
        """Matched pairs per dimension."""
        return np.array([d.num_matched for d in self.dimensions], dtype=np.int64)

    @property
    def num_unmatched_prediction(self) -> np.ndarray:
        """Unmatched bars of the prediction per dimension."""
        return np.array([d.num_unmatched_prediction for d in self.dimensions], dtype=np.int64)

    @property
    def num_unmatched_target(self) -> np.ndarray:
        """Unmatched bars of the target per dimension."""
        return np.array([d.num_unmatched_target for d in self.dimensions], dtype=np.int64)

    def framed(self, array: Any) -> Any:
        """``array`` as the coordinates see it: with the frame added when relative.

        Works for anything :func:`numpy.pad` accepts (giving a float64 NumPy array) and for torch
        tensors (padded with :func:`torch.nn.functional.pad` on their device, keeping gradients).
        """
        shape = tuple(array.shape) if is_torch_tensor(array) else tuple(np.shape(array))
        if shape != self.shape:
            raise TopologyValueError(
                f"array has shape {shape}, the matching was computed for shape {self.shape}",
                where="array",
            )
        if not self.relative:
            return array
        if is_torch_tensor(array):
            from torch.nn.functional import pad

            return pad(array, (1, 1) * array.ndim, value=self.frame_value)
        return add_frame(np.asarray(array, dtype=np.float64), self.frame_value)


@dataclass(frozen=True)
class _Options:
    filtration: str
    connectivity: str
    relative: bool
    include_essential: bool
    backend: str  # "cpu" or "cuda"


def betti_matching(
    prediction: Any,
    target: Any,
    *,
    filtration: str = "superlevel",
    connectivity: str = DEFAULT_CONNECTIVITY,
    relative: bool = False,
    include_essential: bool = False,
    backend: str | None = None,
) -> BettiMatching:
    """Betti matching between a prediction and a target of the same shape.

    Parameters
    ----------
    prediction, target
        2D or 3D arrays of the same shape, any numeric dtype, finite values (e.g. a probability
        map and a binary mask).
    filtration
        ``"superlevel"`` (default): features appear as values decrease, so foreground (high
        values) comes first; the Betti matching loss of Stucki et al. for probability maps and
        masks with 1 = foreground, equal to the sublevel filtration of ``1 - x``.
        ``"sublevel"``: the filtration of the values as given (what the reference implementation
        Betti-Matching-3D computes).
    connectivity
        ``"full"`` (default; :mod:`segpipe.topology.connectivity`): voxels are top cells; the
        voxels that enter first (the foreground, superlevel) are 8-connected in 2D and
        26-connected in 3D, the others 4/6, as the metrics count them. ``"face"``: voxels are
        vertices; foreground 4-/6-connected (the reference implementation's construction).
    relative
        Homology relative to the border, with the border treated as foreground: both inputs are
        framed by one voxel of the value that enters the filtration first; coordinates then refer
        to the framed arrays (see :meth:`BettiMatching.framed`).
    include_essential
        Also report the essential bar of dimension 0 (the component that never dies) of each
        input as a matched pair, with a death row of ``-1``. The reference leaves it out.
    backend
        Where the parallel stages run: ``"cpu"``, ``"cuda"`` or ``"auto"``; None: the environment
        variable ``SEGPIPE_TOPOLOGY_BACKEND``, else ``"auto"`` (see
        :func:`segpipe.topology.select_backend`). The result does not depend on it. With
        ``"cuda"``, float32/float64 arrays on a CUDA device (e.g. torch tensors) are read there
        without a copy to the host when ``connectivity="face"`` and ``relative=False``
        (otherwise they are copied to the host for the NumPy preparation).

    Returns
    -------
    BettiMatching

    Raises
    ------
    segpipe.topology.errors.TopologyValueError
        For NaN or inf, empty arrays, not 2 or 3 axes, or different shapes.
    segpipe.topology.errors.TopologyTypeError
        For non-numeric input.
    segpipe.topology.errors.TopologyBackendError
        If the CUDA backend is requested but cannot run here.
    """
    options = _options(filtration, connectivity, relative, include_essential, backend)
    return _match_pairs([(prediction, target)], options, threads=1, names=("prediction", "target"))[0]


def betti_matching_batch(
    predictions: Sequence[Any] | np.ndarray,
    targets: Sequence[Any] | np.ndarray,
    *,
    threads: int | None = None,
    filtration: str = "superlevel",
    connectivity: str = DEFAULT_CONNECTIVITY,
    relative: bool = False,
    include_essential: bool = False,
    backend: str | None = None,
) -> list[BettiMatching]:
    """Betti matchings of many pairs, computed in parallel in C++ without holding the GIL.

    Parameters
    ----------
    predictions, targets
        Lists of 2D/3D arrays (pairwise of equal shape; shapes may differ between pairs), or
        arrays whose first axis is the batch axis (``(B, H, W)`` or ``(B, D, H, W)``).
    threads
        Number of threads; default: the CPUs available to this process. With the CUDA backend
        each thread computes one pair: its per-voxel stages on the GPU (its own CUDA stream), its
        union-finds and reductions on the CPU.
    filtration, connectivity, relative, include_essential, backend
        As for :func:`betti_matching`.

    Returns
    -------
    list of BettiMatching
        One per pair, in order.
    """
    options = _options(filtration, connectivity, relative, include_essential, backend)
    predictions, targets = _batch_items(predictions, "predictions"), _batch_items(targets, "targets")
    if len(predictions) != len(targets):
        raise TopologyValueError(
            f"got {len(predictions)} predictions and {len(targets)} targets", where="predictions/targets"
        )
    return _match_pairs(list(zip(predictions, targets)), options, thread_count(threads), names=None)


def _options(
    filtration: str, connectivity: str, relative: bool, include_essential: bool, backend: str | None
) -> _Options:
    return _Options(
        choice(filtration, FILTRATIONS, "filtration"),
        check_connectivity(connectivity),
        bool(relative),
        bool(include_essential),
        select_backend(backend),
    )


def _batch_items(batch: Sequence[Any] | np.ndarray, name: str) -> list[Any]:
    if isinstance(batch, (list, tuple)):
        return list(batch)
    array = np.asarray(batch) if not hasattr(batch, "ndim") else batch
    if array.ndim not in (3, 4):
        raise TopologyValueError(
            f"a stacked batch needs 3 or 4 axes (batch first), got shape {tuple(array.shape)}",
            where=name,
            fix="pass a list of arrays or an array of shape (B, H, W) or (B, D, H, W)",
        )
    return [array[i] for i in range(array.shape[0])]


def _match_pairs(
    pairs: list[tuple[Any, Any]], options: _Options, threads: int, names: tuple[str, str] | None
) -> list[BettiMatching]:
    direct = options.connectivity == "face" and not options.relative  # no NumPy preparation
    prepared = []
    for i, pair in enumerate(pairs):
        pair_names = names or (f"predictions[{i}]", f"targets[{i}]")
        p, t = engine_arrays(pair, pair_names, options.backend, direct)
        prepared.append(_prepare_pair(p, t, options))
    with engine_errors("prediction/target" if names else "predictions/targets"):
        results = _engine.matchings(
            [p.engine_values for p, _, _ in prepared],
            [t.engine_values for _, t, _ in prepared],
            threads,
            options.filtration == "superlevel",
            options.backend,
        )
    return [
        _from_engine(result, p, t, frame, options, shape=tuple(np.shape(prediction)))
        for result, (p, t, frame), (prediction, _) in zip(results, prepared, pairs)
    ]


def _prepare_pair(
    prediction: Any, target: Any, options: _Options
) -> tuple[EngineInput, EngineInput, float | None]:
    frame_value = None
    if options.relative:
        frame_value = first_value([prediction, target], options.filtration)
        prediction, target = add_frame(prediction, frame_value), add_frame(target, frame_value)
    return (
        EngineInput.prepare(prediction, options.connectivity, options.filtration),
        EngineInput.prepare(target, options.connectivity, options.filtration),
        frame_value,
    )


def _from_engine(
    result: dict,
    prediction: EngineInput,
    target: EngineInput,
    frame_value: float | None,
    options: _Options,
    shape: tuple[int, ...],
) -> BettiMatching:
    inputs = {"prediction": prediction, "target": target}
    dimensions = []
    for dim in range(len(result["prediction_matched_birth"])):
        fields = {}
        for name, prepared in inputs.items():
            for status in ("matched", "unmatched"):
                for end in ("birth", "death"):
                    key = f"{name}_{status}_{end}"
                    fields[key] = prepared.coordinates(result[key][dim])
            if dim == 0 and options.include_essential:
                essential = prepared.coordinates(np.array([result[f"{name}_essential"]]))
                fields[f"{name}_matched_birth"] = np.concatenate([fields[f"{name}_matched_birth"], essential])
                fields[f"{name}_matched_death"] = np.concatenate(
                    [fields[f"{name}_matched_death"], np.full_like(essential, -1)]
                )
        dimensions.append(DimensionMatching(**fields))
    return BettiMatching(
        dimensions=tuple(dimensions),
        shape=tuple(shape),
        filtration=options.filtration,
        connectivity=options.connectivity,
        relative=options.relative,
        include_essential=options.include_essential,
        frame_value=frame_value,
    )

"""Distances between the persistence diagrams of the probability map and of the reference label.

Diagrams
    The probability map's diagram is the barcode of its superlevel filtration (features appear as
    the threshold falls from 1 to 0) computed by our engine (:func:`segpipe.topology.barcode`) with
    the cubical construction of ``evaluate.connectivity``; a bar is the point (birth, death) with
    birth >= death in probability units. The label is binary, so its superlevel filtration has two
    levels only: every feature of its foreground is born at 1 and dies at 0, where the whole image
    (which has no homology besides one component) has entered. Its diagram is therefore
    ``b_d(label)`` copies of the point (1, 0), read off its Betti numbers (the tests check this
    against the engine's barcode of the label and against gudhi).
Essential bars
    The one component that never dies (dimension 0; a whole image has no other essential class) is
    closed at 0, the end of the filtration of values in [0, 1]: it becomes the ordinary point
    (max p, 0) for the probability map and (1, 0) for a non-empty label, and is matched like every
    other point. An empty label's essential bar is born and dies at 0 and vanishes, so the
    probability map's essential bar is then matched to the diagonal. This keeps both distances
    finite (gudhi's convention of matching essential parts separately gives infinity whenever their
    counts differ).
Distances
    Per homology dimension, with the L-infinity ground metric on the plane: the bottleneck distance
    (``gudhi.bottleneck_distance``, exact) and the Wasserstein distance of order
    ``evaluate.wasserstein_order`` (``gudhi.hera.wasserstein_distance``, relative error at most
    :data:`HERA_DELTA`; exact POT-based ``gudhi.wasserstein`` needs a dense cost matrix, gigabytes
    for the ~10^4 points of a 3D probability map). Diagrams are passed to gudhi as the sublevel
    diagrams of ``1 - x`` (points ``(1 - birth, 1 - death)``), a reflection that preserves both
    distances.
"""

from __future__ import annotations

import numpy as np

from segpipe.evaluation.metrics.betti import DIMENSIONS, mask_betti_numbers
from segpipe.evaluation.metrics.registry import CaseInputs, register_metric
from segpipe.topology import barcode

#: Relative error bound of hera's Wasserstein distance.
HERA_DELTA = 1e-4
#: Value at which essential bars are closed (the end of a superlevel filtration of values in [0, 1]).
FILTRATION_END = 0.0


def probability_diagrams(probability: np.ndarray, connectivity: str) -> list[np.ndarray]:
    """Superlevel persistence diagram of a probability map, per dimension in :data:`DIMENSIONS`.

    Parameters
    ----------
    probability
        2D or 3D array of values in [0, 1].
    connectivity
        ``"full"`` or ``"face"`` (:mod:`segpipe.topology.connectivity`).

    Returns
    -------
    list of numpy.ndarray
        ``(n, 2)`` arrays of (birth, death), birth >= death, essential bars closed at
        :data:`FILTRATION_END`; empty for dimensions the image does not have.
    """
    bars = barcode(probability, filtration="superlevel", connectivity=connectivity)
    diagrams = [np.stack([b.births, np.where(b.essential, FILTRATION_END, b.deaths)], axis=1) for b in bars]
    return diagrams + [np.zeros((0, 2))] * (len(DIMENSIONS) - len(diagrams))


def label_diagrams(betti: np.ndarray) -> list[np.ndarray]:
    """Superlevel persistence diagram of a binary label from its Betti numbers: ``b_d`` points (1, 0).

    One ``(b_d, 2)`` array per dimension in :data:`DIMENSIONS` (missing Betti numbers count as 0).
    """
    counts = [*(int(count) for count in betti), 0, 0, 0][: len(DIMENSIONS)]
    return [np.tile([[1.0, FILTRATION_END]], (count, 1)) for count in counts]


def diagram_distances(first: np.ndarray, second: np.ndarray, order: float) -> tuple[float, float]:
    """Bottleneck and order-``order`` Wasserstein distance of two superlevel diagrams (L-infinity ground metric).

    Points on the diagonal (zero persistence, e.g. the essential bar of an all-zero map closed at 0)
    are dropped first: they change neither distance, and hera's Wasserstein distance (gudhi 3.13)
    never returns when given one together with two or more other points.
    """
    import gudhi
    import gudhi.hera

    a, b = (1.0 - np.asarray(diagram, dtype=np.float64).reshape(-1, 2) for diagram in (first, second))
    a, b = (points[points[:, 0] != points[:, 1]] for points in (a, b))
    bottleneck = gudhi.bottleneck_distance(a, b)
    wasserstein = gudhi.hera.wasserstein_distance(a, b, order=order, internal_p=np.inf, delta=HERA_DELTA)
    return float(bottleneck), float(wasserstein)


@register_metric(
    "diagram_distances",
    columns=(*(f"bottleneck{d}" for d in DIMENSIONS), *(f"wasserstein{d}" for d in DIMENSIONS)),
    needs_probability=True,
    higher_is_better=False,
    empty_rule=(
        "an empty label has an empty diagram, so every bar of the probability map (its essential component "
        "included) is matched to the diagonal; always finite"
    ),
)
def persistence_diagram_distances(inputs: CaseInputs) -> dict[str, float]:
    """Bottleneck and Wasserstein distances between the diagrams of the probability map and the label, per dimension.

    See the module documentation for the diagrams, essential bars and the distances.
    """
    predicted = probability_diagrams(inputs.probability, inputs.settings.connectivity)
    reference = label_diagrams(mask_betti_numbers(inputs, "reference"))
    values = {}
    for d, (p, r) in enumerate(zip(predicted, reference)):
        values[f"bottleneck{d}"], values[f"wasserstein{d}"] = diagram_distances(p, r, inputs.settings.wasserstein_order)
    return values

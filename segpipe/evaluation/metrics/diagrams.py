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
    and the Wasserstein distance of order ``evaluate.wasserstein_order``, both exact and in closed
    form (:func:`distances_to_label`): the label's diagram is ``k`` copies of one point, so an
    optimal matching only chooses which points of the probability map go to those copies (the
    others go to the diagonal). This takes ``O(n log n)`` for ``n`` points, where general solvers
    (gudhi's bottleneck distance, hera's Wasserstein distance) took 1.1 s at 512^2 and 16-24 s and
    3.2 GB at 128^3; the tests check the values against gudhi's exact solvers.
"""

from __future__ import annotations

import numpy as np

from segpipe.evaluation.metrics.betti import DIMENSIONS, mask_betti_numbers
from segpipe.evaluation.metrics.registry import CaseInputs, register_metric
from segpipe.topology import barcode

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


def distances_to_label(diagram: np.ndarray, count: int, order: float) -> tuple[float, float]:
    """Bottleneck and order-``order`` Wasserstein distance between a superlevel diagram and ``count``
    copies of the point (1, 0) (a label's diagram), with the L-infinity ground metric, exactly.

    Parameters
    ----------
    diagram
        ``(n, 2)`` points (birth, death) with birth >= death.
    count
        Number of copies of (1, 0): the label's Betti number.
    order
        Order of the Wasserstein distance (>= 1).

    Returns
    -------
    tuple of float
        The bottleneck and the Wasserstein distance.

    Notes
    -----
    A point ``a`` costs ``c(a) = max(1 - birth, death)`` when matched to (1, 0) and
    ``e(a) = (birth - death) / 2`` when matched to the diagonal; an unmatched copy of (1, 0) costs
    ``1/2``. A matching is the set ``S`` of at most ``count`` points matched to the copies, so the
    Wasserstein cost ``sum_S c^q + sum_rest e^q + (count - |S|) / 2^q`` is least when ``S`` holds the
    points with the most negative gains ``c^q - e^q - 2^-q``, at most ``count`` of them. The
    bottleneck distance is the least candidate value ``t`` (a ``c``, an ``e``, 1/2 or 0) for which a
    matching of costs at most ``t`` exists: every point with ``e > t`` has ``c <= t``, there are at
    most ``count`` of them, and unless ``t >= 1/2`` at least ``count`` points have ``c <= t``.
    """
    points = np.asarray(diagram, dtype=np.float64).reshape(-1, 2)
    to_label = np.maximum(1.0 - points[:, 0], points[:, 1])
    to_diagonal = (points[:, 0] - points[:, 1]) / 2.0
    label_to_diagonal = 0.5

    gain = to_label**order - to_diagonal**order - label_to_diagonal**order
    matched = np.zeros(len(points), dtype=bool)
    if count and len(points):
        best = np.argsort(gain, kind="stable")[:count]
        matched[best[gain[best] < 0]] = True
    cost = (np.sum(to_label[matched] ** order) + np.sum(to_diagonal[~matched] ** order)
            + (count - int(matched.sum())) * label_to_diagonal**order)

    def feasible(t: float) -> bool:
        forced = to_diagonal > t
        if int(forced.sum()) > count or bool(np.any(to_label[forced] > t)):
            return False
        return t >= label_to_diagonal or int(np.sum(to_label <= t)) >= count

    candidates = np.unique(np.concatenate([to_label, to_diagonal, [label_to_diagonal, 0.0]]))
    low, high = 0, len(candidates) - 1  # feasible(1/2 or more, with every point's e <= 1/2) holds at the top
    while low < high:
        middle = (low + high) // 2
        if feasible(float(candidates[middle])):
            high = middle
        else:
            low = middle + 1
    return float(candidates[low]), float(cost ** (1.0 / order))


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
    counts = [len(points) for points in label_diagrams(mask_betti_numbers(inputs, "reference"))]
    values = {}
    for d, (points, count) in enumerate(zip(predicted, counts)):
        values[f"bottleneck{d}"], values[f"wasserstein{d}"] = distances_to_label(
            points, count, inputs.settings.wasserstein_order
        )
    return values

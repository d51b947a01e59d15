"""Topology metrics."""

from __future__ import annotations

from segpipe.metrics.registry import CaseInputs, register_metric


@register_metric("betti", columns=("betti0_error", "betti1_error"), higher_is_better=False)
def betti_errors(inputs: CaseInputs) -> dict[str, float]:
    """Betti number errors ``|b_k(prediction) - b_k(reference)|`` in dimensions 0 and 1.

    Betti numbers of :func:`segpipe.topology.betti_numbers` with its default connectivity
    (TopoMortar's convention): foreground 8-connected (26 in 3D), background 4-connected (6); in
    3D, dimension 1 counts tunnels (cavities are not scored). Empty masks need no special rule: an
    empty mask has no components and no holes.
    """
    from segpipe.topology import betti_numbers

    predicted, referenced = betti_numbers(inputs.prediction), betti_numbers(inputs.reference)
    return {f"betti{k}_error": float(abs(int(predicted[k]) - int(referenced[k]))) for k in (0, 1)}

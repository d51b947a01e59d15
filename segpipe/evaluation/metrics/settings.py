"""Parameters of the metrics (the ``evaluate`` section and ``connectivity`` of the configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from segpipe.topology.connectivity import DEFAULT_CONNECTIVITY


@dataclass(frozen=True)
class MetricSettings:
    """Metric parameters.

    Attributes
    ----------
    surface_tolerance
        Tolerance of the normalised surface Dice, in physical units (mm).
    connectivity
        ``"full"``: foreground 8-connected in 2D, 26 in 3D, background 4/6 (TopoMortar's Betti
        errors, gudhi ``CubicalComplex(top_dimensional_cells=1 - mask)``); ``"face"``: foreground
        4/6, background 8/26 (:mod:`segpipe.topology.connectivity`). Used by every topological
        metric; the configuration's top-level ``connectivity``, which the topology losses use too.
    local_window
        Side of the windows of the local Betti errors, in voxels (clipped to the image).
    local_stride
        Step between windows, in voxels; ``None`` for half the window.
    wasserstein_order
        Order ``q`` of the Wasserstein distance between persistence diagrams.
    """

    surface_tolerance: float = 1.0
    connectivity: str = DEFAULT_CONNECTIVITY
    local_window: int = 64
    local_stride: int | None = None
    wasserstein_order: float = 1.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MetricSettings:
        """Settings from a validated configuration (its ``evaluate`` section and ``connectivity``; missing keys: defaults)."""
        evaluate = config.get("evaluate", {})
        names = ("surface_tolerance", "local_window", "local_stride", "wasserstein_order")
        values = {name: evaluate[name] for name in names if name in evaluate}
        return cls(connectivity=config.get("connectivity", DEFAULT_CONNECTIVITY), **values)

    @property
    def stride(self) -> int:
        """Step between local windows, in voxels."""
        return self.local_stride if self.local_stride is not None else max(1, self.local_window // 2)

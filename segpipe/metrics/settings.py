"""Parameters of the metrics (the ``evaluate`` section of the configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Foreground connectivity per setting and number of axes; the background has the complementary one.
CONNECTIVITY = {"full": {2: 8, 3: 26}, "face": {2: 4, 3: 6}}


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
        4/6, background 8/26. Used by every topological metric.
    local_window
        Side of the windows of the local Betti errors, in voxels (clipped to the image).
    local_stride
        Step between windows, in voxels; ``None`` for half the window.
    wasserstein_order
        Order ``q`` of the Wasserstein distance between persistence diagrams.
    """

    surface_tolerance: float = 1.0
    connectivity: str = "full"
    local_window: int = 64
    local_stride: int | None = None
    wasserstein_order: float = 1.0

    @classmethod
    def from_config(cls, evaluate: Mapping[str, Any]) -> MetricSettings:
        """Settings from a validated ``evaluate`` configuration section (missing keys: defaults)."""
        names = ("surface_tolerance", "connectivity", "local_window", "local_stride", "wasserstein_order")
        return cls(**{name: evaluate[name] for name in names if name in evaluate})

    def foreground_connectivity(self, ndim: int) -> int:
        """Foreground connectivity in ``ndim`` dimensions (8/4 in 2D, 26/6 in 3D)."""
        return CONNECTIVITY[self.connectivity][ndim]

    @property
    def stride(self) -> int:
        """Step between local windows, in voxels."""
        return self.local_stride if self.local_stride is not None else max(1, self.local_window // 2)

"""Figures of topology: persistence barcodes and diagrams, and overlays with topological errors marked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np

from segpipe.reporting.plots import agreement_overlay, display_image, figure_png
from segpipe.topology import BettiMatching

#: Colour per homology dimension; marker per dimension.
_DIMENSION_COLOURS = ("#1f77b4", "#d62728", "#2ca02c")
_DIMENSION_MARKERS = ("o", "s", "^")
_DIMENSION_NAMES = ("H0 components", "H1 holes/tunnels", "H2 cavities")
#: Bars drawn per dimension in a barcode (the most persistent ones).
BARS_SHOWN = 30


def persistence_panels(probability: Sequence[np.ndarray], label: Sequence[np.ndarray], title: str) -> bytes:
    """Barcode and persistence diagram of a probability map, with the label's diagram.

    Parameters
    ----------
    probability
        Superlevel diagram per dimension: ``(n, 2)`` arrays of (birth, death) probability values,
        birth >= death, essential bars closed at 0 (:func:`segpipe.evaluation.metrics.diagrams.probability_diagrams`).
    label
        The label's diagram per dimension (points (1, 0), :func:`segpipe.evaluation.metrics.diagrams.label_diagrams`).
    title
        Figure title.
    """
    figure, (bars_axes, diagram_axes) = plt.subplots(1, 2, figsize=(10, 3.8))
    row = 0
    for dim, points in enumerate(probability):
        if len(points) == 0 and len(label[dim]) == 0:
            continue
        order = np.argsort(points[:, 1] - points[:, 0])[:BARS_SHOWN]  # most persistent first
        for birth, death in points[order]:
            bars_axes.plot([birth, death], [row, row], color=_DIMENSION_COLOURS[dim], linewidth=1.6)
            row += 1
        bars_axes.text(1.0, row - 0.5, f"H{dim}: {len(points)} bars, label b{dim} = {len(label[dim])}", fontsize=7,
                       va="bottom")
        row += 2
    bars_axes.set(xlim=(1.02, -0.02), xlabel="probability threshold (falling)", yticks=[],
                  title=f"barcode of the probability map (top {BARS_SHOWN} per dimension)")
    diagram_axes.plot([0, 1], [0, 1], color="0.6", linewidth=0.8)
    for dim, (points, reference) in enumerate(zip(probability, label)):
        if len(points):
            diagram_axes.scatter(points[:, 0], points[:, 1], s=10, marker=_DIMENSION_MARKERS[dim],
                                 color=_DIMENSION_COLOURS[dim], alpha=0.6, label=f"{_DIMENSION_NAMES[dim]}")
        if len(reference):
            diagram_axes.scatter([1.0], [0.0], s=60 + 4 * len(reference), marker=_DIMENSION_MARKERS[dim],
                                 facecolors="none", edgecolors=_DIMENSION_COLOURS[dim], linewidths=1.5,
                                 label=f"label {_DIMENSION_NAMES[dim].split()[0]} x{len(reference)} at (1, 0)")
    diagram_axes.set(xlim=(-0.02, 1.05), ylim=(-0.05, 1.02), xlabel="birth (probability)", ylabel="death (probability)",
                     title="persistence diagram (superlevel)")
    diagram_axes.legend(fontsize=6, loc="upper left")
    figure.suptitle(title, fontsize=9)
    return figure_png(figure)


@dataclass(frozen=True)
class ErrorMarks:
    """Unmatched bars of a Betti matching of a prediction (first input) and a reference, as 2D points.

    Attributes
    ----------
    spurious, missed
        Per homology dimension, ``(births, deaths)`` ``(n, 2)`` arrays of (row, column) positions:
        features of the prediction without a partner in the reference (spurious), and of the
        reference without a partner in the prediction (missed).
    """

    spurious: tuple[tuple[np.ndarray, np.ndarray], ...]
    missed: tuple[tuple[np.ndarray, np.ndarray], ...]

    @classmethod
    def from_matching(cls, matching: BettiMatching) -> ErrorMarks:
        """Marks of a matching; coordinates of volumes are projected along axis 0 (dropped)."""

        def plane(coordinates: np.ndarray) -> np.ndarray:
            return np.asarray(coordinates, dtype=np.int64)[:, -2:]

        spurious = tuple((plane(d.prediction_unmatched_birth), plane(d.prediction_unmatched_death)) for d in matching)
        missed = tuple((plane(d.target_unmatched_birth), plane(d.target_unmatched_death)) for d in matching)
        return cls(spurious, missed)

    def counts(self) -> tuple[list[int], list[int]]:
        """Spurious and missed feature counts per dimension."""
        return [len(b) for b, _ in self.spurious], [len(b) for b, _ in self.missed]


def topology_error_panels(image: np.ndarray, reference: np.ndarray, prediction: np.ndarray, marks: ErrorMarks,
                          title: str) -> bytes:
    """The image, and the prediction against the reference with its topological errors marked.

    Agreement green, false positives magenta, false negatives blue (as the example overlays);
    each unmatched bar of the Betti matching is marked at the voxel where its feature is born
    (marker per dimension: circle H0, square H1, triangle H2) and joined by a thin line to the
    voxel where it dies (a cross): yellow for spurious features of the prediction, cyan for features
    of the reference the prediction misses.

    Parameters
    ----------
    image
        ``(C, H, W)`` image (for volumes: a projection along axis 0).
    reference, prediction
        ``(H, W)`` boolean masks (for volumes: maximum projections).
    marks
        Positions of the unmatched bars.
    title
        Figure title.
    """
    shown = display_image(image)
    grey = shown.mean(axis=-1) if shown.ndim == 3 else shown
    figure, (image_axes, error_axes) = plt.subplots(1, 2, figsize=(9, 4.4))
    image_axes.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
    image_axes.set_title("image", fontsize=8)
    error_axes.imshow(grey, cmap="gray")
    error_axes.imshow(agreement_overlay(prediction, reference))
    for side, colour, bars in (("spurious", "yellow", marks.spurious), ("missed", "cyan", marks.missed)):
        for dim, (births, deaths) in enumerate(bars):
            if len(births) == 0:
                continue
            for (br, bc), (dr, dc) in zip(births, deaths):
                if dr >= 0:
                    error_axes.plot([bc, dc], [br, dr], color=colour, linewidth=0.6, alpha=0.8)
            error_axes.scatter(births[:, 1], births[:, 0], s=34, marker=_DIMENSION_MARKERS[dim], facecolors="none",
                               edgecolors=colour, linewidths=1.4, label=f"{side} H{dim} ({len(births)})")
            alive = deaths[:, 0] >= 0
            error_axes.scatter(deaths[alive, 1], deaths[alive, 0], s=16, marker="x", color=colour, linewidths=1.0)
    spurious, missed = marks.counts()
    error_axes.set_title(f"spurious (yellow) per dim {spurious}, missed (cyan) {missed}; o/□/△ birth, x death",
                         fontsize=8)
    if any(spurious) or any(missed):
        error_axes.legend(fontsize=6, loc="lower right", framealpha=0.7)
    for axes in (image_axes, error_axes):
        axes.axis("off")
    figure.suptitle(title, fontsize=9)
    return figure_png(figure)

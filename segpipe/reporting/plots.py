"""Report figures, rendered with matplotlib's Agg backend and returned as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from segpipe.reporting.aggregation import group_order  # noqa: E402

_COLOURS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def figure_png(figure: matplotlib.figure.Figure) -> bytes:
    """Render ``figure`` as PNG and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


#: Most boxes per group (or lines with a legend) that a plot shows legibly.
MAX_SERIES = 12


def metric_plot(frame: pd.DataFrame, metric: str, series: str = "run_id") -> bytes:
    """Box plot with the individual cases of ``metric`` per test group, one box per series.

    Parameters
    ----------
    frame
        Per-case metrics with ``group``, the ``series`` and the ``metric`` column.
    metric
        Column to plot.
    series
        Column whose values get one box each per group (default: one per run).
    """
    groups = group_order(frame["group"])
    runs = sorted(frame[series].unique())
    width = 0.8 / len(runs)
    figure, axes = plt.subplots(figsize=(max(4.0, 0.9 * len(groups) * max(1, len(runs)) + 1.5), 3.2))
    jitter = np.random.default_rng(0)
    labelled: set[str] = set()
    for index, run in enumerate(runs):
        colour = _COLOURS[index % len(_COLOURS)]
        for position, group in enumerate(groups):
            values = frame[(frame[series] == run) & (frame["group"] == group)][metric].astype(float).to_numpy()
            if values.size == 0:
                continue
            x = position + (index - (len(runs) - 1) / 2) * width
            axes.boxplot([values], positions=[x], widths=width * 0.8, showfliers=False, patch_artist=True,
                         boxprops={"facecolor": colour, "alpha": 0.35}, medianprops={"color": colour})
            axes.scatter(x + jitter.uniform(-width / 5, width / 5, values.size), values, s=7, color=colour, alpha=0.8,
                         label=None if run in labelled else run)
            labelled.add(run)
    axes.set_xticks(range(len(groups)), groups, rotation=30 if len(groups) > 4 else 0)
    axes.set_xlim(-0.6, len(groups) - 0.4)
    axes.set_ylabel(metric)
    axes.grid(axis="y", alpha=0.3)
    if len(runs) > 1:
        axes.legend(fontsize=7, loc="best")
    return figure_png(figure)


def training_curves(logs: Mapping[str, pd.DataFrame]) -> bytes:
    """Training loss (smoothed) and validation Dice against iterations, one line per run.

    Parameters
    ----------
    logs
        Run identifier to its ``train_log.csv`` as a frame.
    """
    figure, (loss_axes, dice_axes) = plt.subplots(1, 2, figsize=(9, 3.2))
    for index, (run, log) in enumerate(sorted(logs.items())):
        colour = _COLOURS[index % len(_COLOURS)]
        window = max(1, len(log) // 50)
        loss_axes.plot(log["iteration"], log["loss"].rolling(window, min_periods=1).mean(), color=colour, label=run)
        if "val_dice" in log:
            validated = log.dropna(subset=["val_dice"])
            dice_axes.plot(validated["iteration"], validated["val_dice"], marker="o", color=colour, label=run)
    loss_axes.set(xlabel="iteration", ylabel="training loss", title="loss (running mean)")
    dice_axes.set(xlabel="iteration", ylabel="Dice", title="validation Dice", ylim=(0, 1))
    for axes in (loss_axes, dice_axes):
        axes.grid(alpha=0.3)
    if len(logs) <= MAX_SERIES:
        loss_axes.legend(fontsize=7)
    return figure_png(figure)


def display_image(image: np.ndarray) -> np.ndarray:
    """Channel-first image to something ``imshow`` shows: (H, W) grey or (H, W, 3) in [0, 1]."""
    image = np.moveaxis(image[:3], 0, -1).astype(float) if image.shape[0] >= 3 else image[0].astype(float)
    low, high = np.percentile(image, (0.5, 99.5))
    return np.clip((image - low) / (high - low if high > low else 1.0), 0.0, 1.0)


#: Overlay colours (RGBA): agreement, false positive, false negative.
_TRUE, _FALSE_POSITIVE, _FALSE_NEGATIVE = (0.1, 0.85, 0.2, 0.55), (0.95, 0.1, 0.85, 0.6), (0.1, 0.45, 1.0, 0.6)


def agreement_overlay(mask: np.ndarray, reference: np.ndarray | None) -> np.ndarray:
    """RGBA layer: the reference in green, or a prediction's agreement (green), false positives
    (magenta) and false negatives (blue) against the reference."""
    rgba = np.zeros((*mask.shape, 4))
    if reference is None:
        rgba[mask] = _TRUE
        return rgba
    rgba[mask & reference] = _TRUE
    rgba[mask & ~reference] = _FALSE_POSITIVE
    rgba[~mask & reference] = _FALSE_NEGATIVE
    return rgba


def overlay_panels(image: np.ndarray, reference: np.ndarray, predictions: Sequence[tuple[str, np.ndarray]], title: str) -> bytes:
    """One row of panels: the image, the reference label, and each prediction against the reference.

    Overlays are drawn on a grey version of the image: the reference in green; for predictions,
    agreement in green, false positives in magenta and false negatives in blue.

    Parameters
    ----------
    image
        ``(C, H, W)`` image (a 2D slice of volumes).
    reference
        ``(H, W)`` boolean reference mask.
    predictions
        ``(name, boolean mask)`` pairs.
    title
        Row title.
    """
    shown = display_image(image)
    grey = shown.mean(axis=-1) if shown.ndim == 3 else shown
    panels = [("image", None, None), ("reference", reference, None), *((n, m, reference) for n, m in predictions)]
    figure, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.8))
    for axis, (name, mask, against) in zip(np.atleast_1d(axes), panels):
        if mask is None:
            axis.imshow(shown, cmap="gray" if shown.ndim == 2 else None)
        else:
            axis.imshow(grey, cmap="gray")
            axis.imshow(agreement_overlay(mask, against))
        axis.set_title(name, fontsize=7)
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    return figure_png(figure)

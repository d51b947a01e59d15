"""Report section: the best model on a real photograph (output of ``segpipe photo``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segpipe.errors import InputError
from segpipe.reporting import html, plots
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section


def photo_figure(photo: np.ndarray, mask: np.ndarray, title: str) -> bytes:
    """The photo and the predicted mask drawn over it (mortar in green)."""
    import matplotlib.pyplot as plt

    grey = photo.astype(float).mean(axis=0) if photo.ndim == 3 else photo.astype(float)
    figure, axes = plt.subplots(1, 2, figsize=(9, 4.6))
    axes[0].imshow(grey, cmap="gray")
    axes[0].set_title("photo (as segmented)", fontsize=8)
    overlay = np.zeros((*mask.shape, 4))
    overlay[mask] = (0.1, 0.9, 0.2, 0.55)
    axes[1].imshow(grey, cmap="gray")
    axes[1].imshow(overlay)
    axes[1].set_title("predicted mortar", fontsize=8)
    for axis in axes:
        axis.axis("off")
    figure.suptitle(title, fontsize=9)
    return plots.figure_png(figure)


@register_section("Real photo", order=55)
def real_photo(context: ReportContext) -> str | None:
    """The photo, the best model's mask and its Betti numbers (``--input photo=DIR``)."""
    from segpipe.io.images import read_image, read_mask

    directories = context.inputs.get("photo", [])
    if not directories:
        return None
    directory = Path(directories[0])
    try:
        summary = json.loads((directory / "photo.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read photo.json ({exc})", where=directory,
                         fix="pass the output directory of `segpipe photo` as --input photo=DIR") from exc
    photo = read_image(directory / "photo.png").array
    mask = read_mask(directory / "mask.png")[0] > 0
    b0, b1 = summary["betti"]
    title = f"{summary['source']} with {summary['run_id']}: b0 = {b0}, b1 = {b1}"
    return html.paragraph(
        f"The run with the fewest Betti errors over its test cases ({html.escape(summary['run_id'])}) segments "
        f"{html.escape(summary['source'])}, a photo that none of our code made, scaled by {summary['scale']} and "
        f"turned by {summary['rot90']} quarter turn(s) so that its bricks look like the training walls' "
        f"({summary['shape'][0]} x {summary['shape'][1]} px). Its mask has {b0} component(s) (8-connected) and "
        f"{b1} hole(s) (4-connected): a perfect mortar network is one component with one hole per whole brick. "
        "There is no reference label, so this is a qualitative check."
    ) + html.image(photo_figure(photo, mask, title), "prediction on a real photo")

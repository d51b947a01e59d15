"""Report section: the data set as preprocessing saw it (grid, label policy, its classes, labels it binarised)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from segpipe.datasets.classes import FINGERPRINT_KEY
from segpipe.reporting import html
from segpipe.reporting.context import ReportContext
from segpipe.reporting.registry import register_section


def _policy_text(policy: dict[str, Any], fingerprint: dict[str, Any]) -> str:
    """What the label policy did, in words."""
    if policy["mode"] == "binarise":
        return f" (foreground is a label value above {policy['threshold']:g})."
    if policy["mode"] == "classes":
        named = ", ".join(f"{value} {name}" for value, name in enumerate(fingerprint.get(FINGERPRINT_KEY, []), start=1))
        return (f" (label values are classes: {named}; networks have one output per class, every metric is computed "
                "per class against the rest, in the columns <metric>_<class>, and <metric> is their mean).")
    return " (labels must be binary)."


@register_section("Data", order=12)
def data(context: ReportContext) -> str | None:
    """Cases per split and group, the training grid, and every label file the label policy changed."""
    if context.manifest_path is None:
        return None
    path = context.manifest_path.parent / "fingerprint.json"
    if not path.is_file():
        return html.paragraph(f"No dataset fingerprint beside the manifest ({path}).", note=True)
    fingerprint = json.loads(path.read_text())
    counts = ", ".join(
        f"{split}: " + ", ".join(f"{number} {group}" for group, number in groups.items())
        for split, groups in fingerprint.get("counts", {}).items()
    )
    spacing = fingerprint.get("target_spacing")
    policy = fingerprint.get("label_policy", {"mode": "strict", "threshold": 0})
    parts = [html.paragraph(
        f"Cases: {counts}. "
        + (f"Networks trained on a grid resampled to spacing {spacing} (mm per array axis); predictions are resampled "
           "back and scored on each case's own grid. " if spacing else "Networks trained on each case's own grid. ")
        + f"Label policy: {policy['mode']}"
        + _policy_text(policy, fingerprint)
    )]
    binarised = fingerprint.get("binarised_labels", [])
    if binarised:
        parts.append(html.paragraph(f"{len(binarised)} label file(s) were not binary and were binarised:"))
        parts.append(html.table(pd.DataFrame(binarised).rename(columns={
            "file": "file", "values": "values found", "voxels_not_binary": "voxels not 0/1 or 0/255",
            "to_foreground": "made foreground"})))
    elif policy["mode"] == "binarise":
        parts.append(html.paragraph("Every label file was binary: the policy changed nothing.", note=True))
    return "\n".join(parts)

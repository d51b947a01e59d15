"""Dataset layouts on disk: TopoMortar's, and a generic ``dataset.json`` layout.

TopoMortar layout (the real data set drops in unchanged)
--------------------------------------------------------
::

    DIR/splits.yaml              {1: {train: [...], val: [...], test: [...]}}; entries are image
                                 paths relative to DIR's parent, e.g. ``dataset/train/images/036.png``
    DIR/splits_small.yaml        the same with the small training set
    DIR/dataset_types.txt        CSV ``ID,group``; groups indistr, angles, colors, graffiti,
                                 objects, shadows, occlusion
    DIR/{train,val,test}/{images,accurate,noisy,pseudo}/NNN.png
    DIR/betti_numbers.csv        optional ground truth ``ID,Betti0,Betti1,Betti2``

Images are RGB PNG; labels are PNG with 0 and 255 (255 = mortar). The real data set has noisy and
pseudo labels for the training and validation images only, and accurate labels for all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

from segpipe.data.manifest import Case
from segpipe.fsutil import atomic_open

SPLITS_FILE = "splits.yaml"
SMALL_SPLITS_FILE = "splits_small.yaml"
TYPES_FILE = "dataset_types.txt"
#: TopoMortar's fold key in the splits files (it has one fold).
FOLD = 1
SPLITS = ("train", "val", "test")
#: Groups allowed in ``dataset_types.txt``, in TopoMortar's order.
TOPOMORTAR_GROUPS = ("indistr", "angles", "colors", "graffiti", "objects", "shadows", "occlusion")
TOPOMORTAR_LABEL_TYPES = ("accurate", "noisy", "pseudo")


def _splits_document(cases: Sequence[Case], prefix: str, *, small_only: bool) -> dict[int, dict[str, list[str]]]:
    splits: dict[str, list[str]] = {split: [] for split in SPLITS}
    for case in cases:
        if case.split == "train" and small_only and not case.small:
            continue
        splits[case.split].append(f"{prefix}/{case.image}")
    return {FOLD: splits}


def write_topomortar_index(directory: Path, cases: Sequence[Case], *, prefix: str) -> None:
    """Write ``splits.yaml``, ``splits_small.yaml`` and ``dataset_types.txt`` for ``cases``.

    Parameters
    ----------
    directory
        The dataset directory (may be a temporary directory that is renamed later).
    cases
        Cases in the order they are listed; ``Case.image`` is relative to the dataset directory
        (``train/images/001.png``) and ``Case.small`` marks the small training set.
    prefix
        Final name of the dataset directory: the splits list ``{prefix}/{image}`` as TopoMortar
        lists ``dataset/train/images/036.png`` relative to the directory's parent.
    """
    for name, small_only in ((SPLITS_FILE, False), (SMALL_SPLITS_FILE, True)):
        with atomic_open(directory / name) as handle:
            yaml.safe_dump(_splits_document(cases, prefix, small_only=small_only), handle, default_flow_style=False)
    with atomic_open(directory / TYPES_FILE, newline="") as handle:
        handle.write("ID,group\n")
        handle.writelines(f"{case.case_id},{case.group}\n" for case in sorted(cases, key=lambda c: c.case_id))

"""Train/val/test splits for layouts that do not state them (nnU-Net / MSD, a plain folder).

nnU-Net trains on every labelled case of ``imagesTr`` with five-fold cross-validation; segpipe
trains one model per run and scores it on a held-out test split, so such layouts are split here,
deterministically (a seeded shuffle of the sorted identifiers, independent of the file system's
order):

- labelled cases whose layout marks them as test (``labelsTs``) stay test cases; the other
  labelled cases are split 80/20 into train and val (nnU-Net's fold 0 proportions);
- without labelled test cases, the labelled cases are split 60/20/20 into train, val and test
  (at least one case each), so that evaluation and the report have cases to score;
- unlabelled images are test cases without labels: predicted, never scored.

To choose the splits yourself, describe the data set in segpipe's own ``dataset.json`` (with
``cases``, :mod:`segpipe.datasets.layout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segpipe.errors import InputError

#: Seed of the shuffle (nnU-Net's ``KFold`` seed).
SPLIT_SEED = 12345


def _shuffled(ids: Sequence[str]) -> list[str]:
    order = np.random.default_rng(SPLIT_SEED).permutation(len(ids))
    ordered = sorted(ids)
    return [ordered[i] for i in order]


def assign_splits(labelled: Sequence[str], labelled_test: Sequence[str], root: Path) -> dict[str, str]:
    """The split of every labelled case.

    Parameters
    ----------
    labelled
        Identifiers of the labelled cases that are not test cases by layout.
    labelled_test
        Identifiers of labelled cases the layout marks as test cases.
    root
        Dataset directory (for error messages).

    Returns
    -------
    dict
        ``{case_id: "train" | "val" | "test"}``.

    Raises
    ------
    InputError
        If there are too few labelled cases to train, validate (and test).
    """
    splits = {case_id: "test" for case_id in labelled_test}
    shuffled = _shuffled(labelled)
    count = len(shuffled)
    needed = 2 if labelled_test else 3
    if count < needed:
        raise InputError(
            f"{count} labelled case(s); segpipe needs at least {needed} (train, val" + ("" if labelled_test else ", test") + ")",
            where=root, fix="add labelled cases",
        )
    n_test = 0 if labelled_test else max(1, round(0.2 * count))
    n_val = max(1, round(0.2 * count))
    for position, case_id in enumerate(shuffled):
        splits[case_id] = "test" if position < n_test else "val" if position < n_test + n_val else "train"
    return splits

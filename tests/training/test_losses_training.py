"""A short training run with each loss on synthetic mortar walls reduces that loss; the newer terms train in 2D and 3D.

The data are made by the real generator and preprocessing (fingerprint for clDice's iterations,
signed distance maps for the boundary loss); each run is a tiny UNet trained for a few tens of
iterations on 32 x 32 patches of 48 x 48 walls, with the term under test next to Dice + CE as in
the example losses of ``config.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import tiny_config
from loss_cases import FINGERPRINT, PROGRESS, SHAPES, batch_for, tubes

from segpipe.datasets.synthetic.mortar import MortarSpec, generate_mortar_dataset
from segpipe.preprocessing.preprocess import preprocess_dataset
from segpipe.training.losses import TermContext, build_loss
from segpipe.training.segmentation import train

ITERATIONS = 40
#: Loss definitions trained here, and the log column that must fall.
LOSSES = {
    "dice_ce": ([{"name": "dice_ce"}], "dice_ce"),
    "cldice": ([{"name": "dice_ce"}, {"name": "cldice", "weight": 0.5}], "cldice"),
    "skeleton_recall": ([{"name": "dice_ce"}, {"name": "skeleton_recall"}], "skeleton_recall"),
    "betti_matching": ([{"name": "dice_ce"}, {"name": "betti_matching", "weight": 40.0}], "betti_matching"),
    "mip": ([{"name": "dice_ce", "weight": 0.7}, {"name": "mip", "weight": 0.3}], "mip"),
    "boundary": ([{"name": "dice_ce", "weight": {"start": 1.0, "end": 0.5}},
                  {"name": "boundary", "weight": {"start": 0.0, "end": 0.5}}], "boundary"),
    "topo": ([{"name": "topo", "window": 16, "separation": 1}], "topo"),  # alone, as TopoMortar ran it
}


@pytest.fixture(scope="module")
def mortar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Manifest of a preprocessed synthetic mortar dataset with distance maps."""
    root = tmp_path_factory.mktemp("mortar")
    spec = MortarSpec(image_size=48, seed=1, n_train=6, n_train_small=2, n_val=1, n_test_id=1, n_test_ood=0)
    generate_mortar_dataset(spec, root / "dataset")
    preprocess_dataset(root / "dataset", root / "preprocessed", distance_maps=True)
    return root / "preprocessed" / "manifest.json"


@pytest.mark.parametrize("name", list(LOSSES))
def test_training_reduces_the_loss(name, mortar, tmp_path):
    terms, column = LOSSES[name]
    config = tiny_config({
        "losses": {name: {"terms": terms}}, "experiments": {"losses": [name]},
        "preprocess": {"distance_maps": True},
        "train": {"iterations": ITERATIONS, "batch_size": 4, "patch_size": [32, 32], "validate_every": None,
                  "learning_rate": 0.01, "checkpoint_every": ITERATIONS, "network": {"channels": [8, 16, 32]}},
    })
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(config, mortar, f"unet.{name}.accurate.large.plain.s0", tmp_path, show_progress=False)
    finally:
        torch.set_num_threads(before)
    log = pd.read_csv(tmp_path / "train_log.csv")
    values = log[f"loss_{column}"].to_numpy()
    assert np.isfinite(log["loss"]).all()
    assert values[-8:].mean() < values[:8].mean() - 0.1 * abs(values[:8].mean())  # at least 10% lower


#: The terms added for TopoMortar's comparison, each on top of Dice + CE (region_wise and topo alone, as TopoMortar ran them).
NEW_TERMS = {"topo_loss": {"tile_size": 8}, "warping": {}, "cbdice": {}, "region_wise": {}, "topo": {"window": 8, "separation": 0}}


@pytest.mark.parametrize("dimensions", [2, 3])
@pytest.mark.parametrize("name", list(NEW_TERMS))
def test_new_terms_train_a_network(name, dimensions):
    """A few optimiser steps of a small network through build_loss: finite losses and gradients."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d if dimensions == 2 else torch.nn.Conv3d
    network = torch.nn.Sequential(conv(1, 4, 3, padding=1), torch.nn.ReLU(), conv(4, 1, 3, padding=1))
    optimizer = torch.optim.Adam(network.parameters(), lr=0.01)
    labels = tubes(np.random.default_rng(dimensions), 2, SHAPES[dimensions])
    terms = [{"name": name, **NEW_TERMS[name]}] if name in ("region_wise", "topo") else [{"name": "dice_ce"}, {"name": name, **NEW_TERMS[name]}]
    loss = build_loss(name, {name: {"terms": terms}}, TermContext("sigmoid", dimensions, "accurate", FINGERPRINT))
    batch = batch_for(loss, labels)
    images = labels + 0.3 * torch.randn_like(labels)
    values = []
    for _ in range(5):
        optimizer.zero_grad()
        result = loss(network(images), batch, PROGRESS)
        result.total.backward()
        gradients = [parameter.grad for parameter in network.parameters()]
        assert torch.isfinite(result.total) and all(torch.isfinite(g).all() for g in gradients)
        assert sum(float(g.abs().sum()) for g in gradients) > 0
        optimizer.step()
        values.append(float(result.total))
    assert np.isfinite(values).all()

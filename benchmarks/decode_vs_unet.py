"""HybridGNet vs a pixel-wise MONAI UNet on the chest landmark data (clean and occluded test sets).

Provisional baseline until the segmentation trainer (``segpipe train``) is merged and can train on
the chest dataset's per-organ label types: this script trains a MONAI ``UNet`` with one sigmoid
output per organ (the architecture of the default ``train.network``: channels 16-32-64-128,
strides 2-2-2, one residual unit, instance norm) with Dice + cross-entropy, the same affine and
intensity augmentation as HybridGNet (:mod:`segpipe.landmarks.augment`, masks warped with the
images) and the same number of iterations, then scores its thresholded masks with
:func:`segpipe.landmarks.evaluate.score_masks` next to the HybridGNet scores written by
``segpipe evaluate-decode``.

Usage::

    python benchmarks/decode_vs_unet.py --config CFG --dataset results/data/chest \\
        --hybridgnet results/decode/scores --out results/decode/unet --threads 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from segpipe.checkpoint import seed_everything
from segpipe.config import load_config
from segpipe.data.landmarks import read_landmark_dataset
from segpipe.fsutil import write_json
from segpipe.io import read_mask
from segpipe.landmarks.augment import apply_affine, random_affine, random_intensity
from segpipe.landmarks.evaluate import score_masks
from segpipe.landmarks.images import prepare_image
from segpipe.models.graph import load_template


def _load(dataset, cases, organs, size):
    images = np.stack([prepare_image(case.image, size).array for case in cases])
    masks = np.stack([[read_mask(case.labels[organ])[0] > 0 for organ in organs] for case in cases])
    return torch.as_tensor(images), torch.as_tensor(masks, dtype=torch.float32)


def main() -> None:
    """Train the UNet, score it per test group and print a comparison table."""
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--hybridgnet", type=Path, help="segpipe evaluate-decode output directory")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    decode = load_config(args.config)["decode"]
    settings, augment, size = decode["train"], decode["train"]["augment"], decode["model"]["image_size"]
    template = load_template(decode["template"])
    dataset = read_landmark_dataset(args.dataset, template)
    organs = template.names
    seed_everything(settings["seed"])
    images, masks = _load(dataset, dataset.cases("train"), organs, size)
    network = UNet(2, 1, len(organs), channels=(16, 32, 64, 128), strides=(2, 2, 2), num_res_units=1, norm="instance")
    loss_function = DiceCELoss(sigmoid=True)
    optimizer = torch.optim.Adam(network.parameters(), lr=settings["learning_rate"], weight_decay=settings["weight_decay"])
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, settings["iterations"], settings["learning_rate"] * 0.05)
    began = time.perf_counter()
    for _ in range(settings["iterations"]):
        index = torch.randperm(len(images))[: settings["batch_size"]]
        forward = random_affine(len(index), rotation_deg=augment["rotation_deg"], scale=augment["scale"], translation=augment["translation"])
        batch, _ = apply_affine(torch.cat([images[index], masks[index]], dim=1), torch.zeros(len(index), 1, 2), forward)
        inputs, targets = random_intensity(batch[:, :1], augment["intensity"]), (batch[:, 1:] > 0.5).float()
        loss = loss_function(network(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    train_seconds = time.perf_counter() - began

    network.eval()
    summary: dict[str, dict] = {}
    for group in dataset.manifest.groups("test"):
        cases = dataset.cases("test", group)
        test_images, test_masks = _load(dataset, cases, organs, size)
        with torch.no_grad():
            predicted = torch.sigmoid(network(test_images)) > 0.5
        rows = []
        for case, prediction, reference in zip(cases, predicted.numpy(), test_masks.numpy().astype(bool), strict=True):
            spacing = read_mask(case.labels[organs[0]])[1].array_spacing
            rows += score_masks(dict(zip(organs, prediction, strict=True)), dict(zip(organs, reference, strict=True)), spacing)
        summary[group] = {
            organ: {k: float(np.mean([r[k] for r in rows if r["organ"] == organ])) for k in ("dice", "hd95", "betti0_error", "betti1_error")}
            for organ in organs
        }
    write_json(args.out / "unet_summary.json", {"groups": summary, "train_seconds": train_seconds, "iterations": settings["iterations"]})
    hybrid = json.loads((args.hybridgnet / "summary.json").read_text())["groups"] if args.hybridgnet else {}
    print("| test set | organ | method | Dice | HD95 (px) | Betti0 error | Betti1 error |")
    print("|---|---|---|---|---|---|---|")
    for group, organ_scores in summary.items():
        for organ in organs:
            methods = {"UNet": organ_scores[organ]}
            for method in ("hybridgnet", "mean_shape"):
                if method in hybrid.get(group, {}):
                    methods[method] = hybrid[group][method]["organs"][organ]
            for method, s in methods.items():
                print(f"| {group} | {organ} | {method} | {s['dice']:.3f} | {s['hd95']:.2f} | {s['betti0_error']:.2f} | {s['betti1_error']:.2f} |")
    print(f"UNet training: {settings['iterations']} iterations in {train_seconds:.0f} s")


if __name__ == "__main__":
    main()

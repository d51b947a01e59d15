"""Time and peak memory of one training step with each loss, against Dice + CE alone.

One step is what ``segpipe train`` does per iteration: network forward, loss, backward and the
optimizer step, here with the default network of ``config.yaml`` (MONAI UNet, channels 16-128,
one residual unit) on CPU. Inputs:

``2d``
    8 synthetic mortar walls of 256 x 256 (3 channels), their accurate labels.
``3d``
    2 synthetic vessel volumes of 64^3 (1 channel), their labels.

Each loss is Dice + CE plus the term under test, as in ``config.yaml``'s examples (the switched-on
weight of a scheduled term; ``region_wise`` and ``topo`` alone); ``scnp`` is Dice + CE on SCNP-penalised logits
(the ``scnp`` framework, neighbourhood 3). Extras are
computed beforehand as the data loader would (their CPU cost per batch is reported separately: it
runs in the data-loader workers, not in the step). Two network states are measured: ``untrained``
(fresh weights: near-constant probabilities, the most persistence pairs) and ``warm`` (after
``--warm-steps`` Dice + CE steps on the same batch: structured predictions as during training).

Every measurement runs in its own subprocess (peak memory is its ``ru_maxrss``, the whole process;
the resident size before the first step is reported too), takes the fastest of ``--repeat`` steps
after one unmeasured step, and the whole set is run ``--rounds`` times, interleaved, keeping the
fastest: the machine may be shared.

Usage::

    python benchmarks/bench_losses.py                        # 2D and 3D, markdown table on stdout
    python benchmarks/bench_losses.py --dims 2 --repeat 3 --rounds 2
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Loss definitions measured: Dice + CE alone, and with each term as in config.yaml's examples.
LOSSES = {
    "dice_ce": [{"name": "dice_ce"}],
    "cldice": [{"name": "dice_ce"}, {"name": "cldice", "weight": 0.5}],
    "skeleton_recall": [{"name": "dice_ce"}, {"name": "skeleton_recall"}],
    "betti_matching": [{"name": "dice_ce"}, {"name": "betti_matching", "weight": 0.1}],
    "betti_matching_relative": [{"name": "dice_ce"}, {"name": "betti_matching", "weight": 0.1, "relative": True}],
    "mip": [{"name": "dice_ce", "weight": 0.7}, {"name": "mip", "weight": 0.3}],
    "boundary": [{"name": "dice_ce", "weight": 0.5}, {"name": "boundary", "weight": 0.5}],
    "topo_loss": [{"name": "dice_ce"}, {"name": "topo_loss", "weight": 100.0}],
    "warping": [{"name": "dice_ce"}, {"name": "warping", "weight": 0.1}],
    "cbdice": [{"name": "dice_ce"}, {"name": "cbdice", "weight": 0.5}],
    "region_wise": [{"name": "region_wise"}],
    "topo": [{"name": "topo"}],
    "scnp": [{"name": "dice_ce"}],
}
#: Measurements whose loss sees SCNP-penalised logits (the ``scnp`` framework), with the neighbourhood side.
SCNP = {"scnp": 3}
DEFINITIONS = {name: {"terms": terms} for name, terms in LOSSES.items()}
CASES = {2: (8, 256), 3: (2, 64)}  # batch size, side


# --------------------------------------------------------------------------------------- inputs
def make_inputs(dims: int, path: Path) -> None:
    """Write the images, labels and spacing of the benchmark batch to ``path`` (npz)."""
    from segpipe.preprocessing.preprocess import normalise

    batch, side = CASES[dims]
    rng = np.random.default_rng(0)
    if dims == 2:
        from segpipe.datasets.synthetic.mortar import render_wall

        walls = [render_wall(side, "indistr", rng) for _ in range(batch)]
        images = np.stack([normalise(w.image, "zscore") for w in walls])
        labels = np.stack([w.accurate for w in walls]).astype(np.uint8)
        spacing = (1.0, 1.0)
    else:
        from segpipe.datasets.synthetic.vessels import VesselSpec, render_vessels

        spec = VesselSpec(shape=(side, side, side))
        volumes = [render_vessels(spec, rng) for _ in range(batch)]
        images = np.stack([normalise(v.image[np.newaxis], "zscore") for v in volumes])
        labels = np.stack([v.label for v in volumes]).astype(np.uint8)
        spacing = spec.spacing
    np.savez(path, images=images, labels=labels, spacing=np.asarray(spacing))


def network_and_optimizer(dims: int, channels: int):
    """The default network of config.yaml and its optimizer."""
    import torch

    from segpipe.config import load_config
    from segpipe.networks.factory import NetworkSpec, build_network

    config = load_config(ROOT / "config.yaml")
    spec = NetworkSpec.from_config(config["train"]["network"], dimensions=dims, in_channels=channels, output="sigmoid")
    torch.manual_seed(0)
    network = build_network(spec)
    return network, torch.optim.AdamW(network.parameters(), lr=1e-3)


def loaded_batch(inputs: Path, loss) -> tuple[dict, float]:
    """The batch with the loss's extras, and the seconds the per-sample extras took."""
    import torch

    from segpipe.datasets.cases import PreprocessedCase
    from segpipe.io.images import Geometry
    from segpipe.preprocessing.preprocess import distance_map_key, signed_distance_map

    data = np.load(inputs)
    spacing = tuple(float(s) for s in data["spacing"])
    samples, seconds = [], 0.0
    for image, label in zip(data["images"], data["labels"]):
        case = PreprocessedCase(image, {"accurate": label}, Geometry.identity(label.ndim),
                                {distance_map_key("accurate"): signed_distance_map(label, spacing)})
        sample = {"image": image, "label": label[np.newaxis]}
        for key, extra in loss.case_extras(case, label).items():
            sample[key] = extra if extra.ndim == label.ndim + 1 else extra[np.newaxis]
        start = time.perf_counter()
        sample.update(loss.sample_extras(sample))
        seconds += time.perf_counter() - start
        samples.append(sample)
    batch = {key: torch.from_numpy(np.stack([s[key] for s in samples])) for key in samples[0]}
    batch["label"] = batch["label"].float()
    return batch, seconds


def fingerprint(inputs: Path) -> dict:
    """The fingerprint part clDice reads: the largest structure radius of the labels."""
    from segpipe.preprocessing.preprocess import largest_radius

    labels = np.load(inputs)["labels"]
    return {"labels": {"accurate": {"largest_radius_voxels": max(largest_radius(label) for label in labels)}}}


# --------------------------------------------------------------------------------- measurements
def rss_mb() -> float:
    """Current resident set size in MB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def warm_up(dims: int, inputs: Path, steps: int, out: Path) -> None:
    """Train the network with Dice + CE on the batch for ``steps`` steps and save its weights."""
    import torch

    from segpipe.training.losses import Progress, TermContext, build_loss

    loss = build_loss("dice_ce", DEFINITIONS, TermContext("sigmoid", dims, "accurate"))
    batch, _ = loaded_batch(inputs, loss)
    network, optimizer = network_and_optimizer(dims, batch["image"].shape[1])
    for step in range(steps):
        optimizer.zero_grad()
        loss(network(batch["image"]), batch, Progress(step + 1, steps)).total.backward()
        optimizer.step()
    torch.save(network.state_dict(), out)


def measure(dims: int, name: str, inputs: Path, weights: Path | None, repeat: int) -> dict:
    """Time the steps of loss ``name``; runs in its own process."""
    import torch

    from segpipe.training.losses import Progress, TermContext, build_loss
    from segpipe.training.scnp import penalise

    loss = build_loss(name, DEFINITIONS, TermContext("sigmoid", dims, "accurate", fingerprint(inputs)))
    batch, extras_seconds = loaded_batch(inputs, loss)
    network, optimizer = network_and_optimizer(dims, batch["image"].shape[1])
    if weights is not None:
        network.load_state_dict(torch.load(weights))
    before = rss_mb()
    best = None
    for step in range(repeat + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        logits = network(batch["image"])
        if name in SCNP:
            logits = penalise(logits, batch["label"], SCNP[name])
        forward = time.perf_counter()
        result = loss(logits, batch, Progress(step + 1, repeat + 1))
        computed = time.perf_counter()
        result.total.backward()
        optimizer.step()
        end = time.perf_counter()
        timing = {"step": end - start, "network": forward - start, "loss": computed - forward, "backward": end - computed}
        if step and (best is None or timing["step"] < best["step"]):
            best = timing
    return {**best, "extras": extras_seconds, "rss_before_mb": before,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "terms": {key: round(v, 4) for key, v in result.terms.items()}}


def run_child(arguments: list[str]) -> dict:
    """Run this script with ``arguments`` in a fresh process and return its JSON answer."""
    environment = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    output = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True, env=environment)
    if output.returncode:
        raise RuntimeError(output.stderr[-2000:])
    return json.loads(output.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    parser.add_argument("--losses", nargs="+", default=list(LOSSES), choices=list(LOSSES))
    parser.add_argument("--repeat", type=int, default=3, help="measured steps per process (fastest kept)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions of every measurement")
    parser.add_argument("--warm-steps", type=int, default=40, help="Dice + CE steps before the 'warm' state")
    parser.add_argument("--child", nargs=5, metavar=("WHAT", "DIMS", "NAME", "INPUTS", "WEIGHTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        what, dims, name, inputs, weights = args.child
        if what == "warm":
            warm_up(int(dims), Path(inputs), int(name), Path(weights))
            print(json.dumps({}))
        else:
            print(json.dumps(measure(int(dims), name, Path(inputs), None if weights == "-" else Path(weights), args.repeat)))
        return

    import torch

    with open("/proc/loadavg") as handle:
        load = handle.read().split()[:3]
    print(f"# Training losses: {datetime.date.today()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), load {' '.join(load)}\n")
    with tempfile.TemporaryDirectory() as directory:
        results: dict[tuple, dict] = {}
        for dims in args.dims:
            inputs = Path(directory) / f"inputs{dims}.npz"
            make_inputs(dims, inputs)
            weights = Path(directory) / f"warm{dims}.pt"
            start = time.perf_counter()
            run_child(["--child", "warm", str(dims), str(args.warm_steps), str(inputs), str(weights)])
            print(f"<!-- {dims}D warm-up: {args.warm_steps} steps in {time.perf_counter() - start:.0f} s -->")
            for _ in range(args.rounds):
                for state, path in (("untrained", "-"), ("warm", str(weights))):
                    for name in args.losses:
                        answer = run_child(["--child", "measure", str(dims), name, str(inputs), path, "--repeat", str(args.repeat)])
                        key = (dims, state, name)
                        if key not in results or answer["step"] < results[key]["step"]:
                            results[key] = answer
        print("\n| input | state | loss | step s | x Dice+CE | network s | loss s | backward+opt s | extras s/batch | peak MB | before MB |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for (dims, state, name), r in results.items():
            base = results[(dims, state, "dice_ce")]["step"]
            batch, side = CASES[dims]
            print(f"| {dims}D {side}^{dims} x{batch} | {state} | {name} | {r['step']:.3f} | {r['step'] / base:.2f}x | "
                  f"{r['network']:.3f} | {r['loss']:.3f} | {r['backward']:.3f} | {r['extras']:.3f} | "
                  f"{r['peak_mb']:.0f} | {r['rss_before_mb']:.0f} |")


if __name__ == "__main__":
    main()

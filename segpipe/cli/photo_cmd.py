"""``segpipe photo``: the best trained model on a real photograph, with the Betti numbers of its mask."""

from __future__ import annotations

import argparse
from pathlib import Path

from segpipe.cli.common import add_config_option, add_threads_option, config_from_args, set_torch_threads


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``segpipe photo``."""
    parser = subparsers.add_parser(
        "photo", help="segment a real photo (photo.source, e.g. skimage:brick) with the best trained model",
        description=(
            "Pick the run with the fewest Betti errors (b0 + b1, mean over its test cases; ties: higher Dice) from "
            "the metrics, segment `photo.source` with its model after scaling it by `photo.scale` and turning it "
            "by `photo.rot90` quarter turns, and write DIR/photo.png, DIR/mask.png, DIR/probability.tif and "
            "DIR/photo.json (run, settings, Betti numbers)."
        ),
    )
    add_config_option(parser)
    parser.add_argument("--metrics", type=Path, nargs="+", required=True, help="per-case metrics CSVs of the runs")
    parser.add_argument("--models", type=Path, nargs="+", required=True, help="model.pt of every run in the metrics")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output directory")
    add_threads_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Segment the configured photo with the best run's model."""
    config = config_from_args(args)
    set_torch_threads(args.threads)
    import numpy as np

    from segpipe.inference.photo import best_run, load_photo, model_of_run, segment_photo
    from segpipe.io.atomic import write_json
    from segpipe.io.images import write_image
    from segpipe.reporting.aggregation import load_metrics
    from segpipe.utilities.devices import resolve_device

    settings = config["photo"]
    if not settings["source"]:
        from segpipe.errors import ConfigError

        raise ConfigError("'photo.source' is not set", fix="set it to e.g. skimage:brick or the path of a photo")
    run_id = best_run(load_metrics(args.metrics))
    device = resolve_device(config["predict"]["device"], key="predict.device")
    result = segment_photo(model_of_run(args.models, run_id), load_photo(settings["source"]), scale=float(settings["scale"]),
                           rot90=int(settings["rot90"]), threshold=float(config["predict"]["threshold"]), device=device)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    write_image(out / "photo.png", np.round(result.image * 255).astype(np.uint8))
    write_image(out / "mask.png", result.mask.astype(np.uint8) * 255)
    write_image(out / "probability.tif", result.probability)
    write_json(out / "photo.json", {
        "run_id": run_id, "source": settings["source"], "scale": settings["scale"], "rot90": settings["rot90"],
        "shape": list(result.mask.shape), "betti": list(result.betti),
        "criterion": "lowest mean betti0_error + betti1_error over the run's test cases; ties: higher Dice",
    })
    print(f"segpipe photo: {run_id} on {settings['source']}: b0 = {result.betti[0]}, b1 = {result.betti[1]}; wrote {out}")
    return 0

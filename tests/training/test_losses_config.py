"""Loss definitions in the configuration: weight schedules, option validation (schema and build), examples."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from loss_cases import FINGERPRINT

from segpipe.config import load_config, validate_config
from segpipe.errors import ConfigError
from segpipe.training.losses import Progress, TermContext, build_loss, term_names
from segpipe.training.losses.schedules import ConstantWeight, ScheduledWeight, weight_schedule

ROOT = Path(__file__).resolve().parents[2]


def at(schedule, iteration: int, iterations: int = 100) -> float:
    return schedule(Progress(iteration, iterations))


def test_schedule_shapes():
    linear = weight_schedule({"start": 0.0, "end": 1.0, "until": 0.5}, where="w")
    assert [at(linear, i) for i in (1, 25, 50, 75, 100)] == pytest.approx([0.02, 0.5, 1.0, 1.0, 1.0])
    falling = weight_schedule({"start": 1.0, "end": 0.0, "begin": 0.5, "shape": "cosine"}, where="w")
    assert [at(falling, i) for i in (10, 50, 75, 100)] == pytest.approx([1.0, 1.0, 0.5, 0.0])
    assert at(falling, 60) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)))
    steps = weight_schedule({"start": 0.0, "end": 1.0, "shape": "step", "steps": 4}, where="w")
    assert [at(steps, i) for i in (1, 24, 25, 49, 50, 99, 100)] == pytest.approx([0, 0, 0.25, 0.25, 0.5, 0.75, 1.0])
    switch = weight_schedule({"start": 0.0, "end": 2.0, "until": 0.3, "shape": "step"}, where="w")
    assert [at(switch, i) for i in (29, 30, 31)] == [0.0, 2.0, 2.0]
    iterations = weight_schedule({"start": 0.0, "end": 1.0, "begin": 200, "until": 400, "unit": "iterations"}, where="w")
    assert [at(iterations, i, 1000) for i in (100, 200, 300, 400, 900)] == pytest.approx([0, 0, 0.5, 1, 1])
    assert weight_schedule(0.5, where="w") == ConstantWeight(0.5)
    assert isinstance(linear, ScheduledWeight)


@pytest.mark.parametrize("weight, message", [
    (-1, r"'w\.weight' is -1; it must be a non-negative number"),
    ("high", r"'w\.weight' is 'high'"),
    ({"end": 1.0}, r"'w\.weight\.start' is missing"),
    ({"start": 0, "end": -2}, r"'w\.weight\.end' is -2"),
    ({"start": 0, "end": 1, "shape": "sigmoid"}, r"'w\.weight\.shape' is 'sigmoid'; allowed values: linear, cosine, step"),
    ({"start": 0, "end": 1, "until": 2}, r"(?s)'w\.weight\.until' is 2.*unit: iterations"),
    ({"start": 0, "end": 1, "begin": 0.6, "until": 0.4}, r"'w\.weight\.until' \(0\.4\) must be greater than 'w\.weight\.begin'"),
    ({"start": 0, "end": 1, "unit": "iterations"}, r"'w\.weight\.until' is missing"),
    ({"start": 0, "end": 1, "steps": 0}, r"'w\.weight\.steps' is 0"),
    ({"start": 0, "end": 1, "epochs": 3}, r"'w\.weight' has unknown key\(s\) 'epochs'"),
])
def test_bad_schedules_name_the_key(weight, message):
    with pytest.raises(ConfigError, match=message):
        weight_schedule(weight, where="w")


def test_scheduled_weights_reach_the_composite_loss():
    losses = {"x": {"terms": [{"name": "dice_ce", "weight": {"start": 1.0, "end": 0.0}}, {"name": "ce", "weight": 2.0}]}}
    loss = build_loss("x", losses, TermContext("sigmoid", 2, "accurate"))
    assert loss._weights["dice_ce"](Progress(50, 100)) == pytest.approx(0.5)
    with pytest.raises(ConfigError, match=r"'losses\.x\.terms\[0\]\.weight\.shape'"):
        build_loss("x", {"x": {"terms": [{"name": "dice", "weight": {"start": 0, "end": 1, "shape": "x"}}]}},
                   TermContext("sigmoid", 2, "accurate"))


#: One bad option per term, and the key the schema reports.
BAD_OPTIONS = [
    ({"name": "dice_ce", "smooth": 0}, "smooth"),
    ({"name": "dice", "batch": "yes"}, "batch"),
    ({"name": "ce", "smooth": 1.0}, None),
    ({"name": "cldice", "iterations": "max"}, "iterations"),
    ({"name": "skeleton_recall", "tube_radius": -1}, "tube_radius"),
    ({"name": "betti_matching", "filtration": "upper"}, "filtration"),
    ({"name": "mip", "axes": 4}, "axes"),
    ({"name": "boundary", "sigma": 1}, None),
    ({"name": "topo_loss", "tile_size": 1}, "tile_size"),
    ({"name": "warping", "connectivity": "diagonal"}, "connectivity"),
    ({"name": "cbdice", "smooth": 0}, "smooth"),
    ({"name": "region_wise", "ratio": 2}, None),
    ({"name": "topo", "window": 1}, "window"),
]


@pytest.mark.parametrize("term, key", BAD_OPTIONS)
def test_schema_rejects_a_bad_option_of_every_term_naming_the_key(term, key):
    options = set(term) - {"name"}
    with pytest.raises(ConfigError) as error:
        validate_config({"losses": {"dice_ce": {"terms": [{"name": "dice_ce"}]}, "bad": {"terms": [term]}}})
    text = str(error.value)
    if key is None:  # an option the term does not have
        (unknown,) = options
        assert f"unknown key '{unknown}' in 'losses.bad.terms.0'" in text
    else:
        assert f"'losses.bad.terms.0.{key}'" in text


def test_every_term_is_in_the_schema_and_bad_options_are_tested():
    assert sorted({term["name"] for term, _ in BAD_OPTIONS}) == term_names()
    config = validate_config({"losses": {"dice_ce": {"terms": [{"name": name} for name in term_names()]}},
                              "preprocess": {"distance_maps": True}})
    filled = {term["name"]: term for term in config["losses"]["dice_ce"]["terms"]}
    assert filled["cldice"]["iterations"] == "auto" and filled["mip"]["axes"] == "all"
    assert filled["betti_matching"]["threads"] is None and filled["skeleton_recall"]["tube_radius"] == 2
    # the defaults the schema fills in are the terms' own
    build_loss("dice_ce", config["losses"], TermContext("sigmoid", 3, "accurate", FINGERPRINT))


def test_schema_checks_weight_schedules():
    def check(weight):
        return validate_config({"losses": {"dice_ce": {"terms": [{"name": "dice_ce", "weight": weight}]}}})

    assert check({"start": 0, "end": 1})["losses"]["dice_ce"]["terms"][0]["weight"]["shape"] == "linear"
    for bad in ({"start": 0}, {"start": 0, "end": 1, "until": 5}, {"start": 0, "end": 1, "unit": "iterations"},
                {"start": 0, "end": 1, "shape": "wave"}, -0.5):
        with pytest.raises(ConfigError, match=r"losses\.dice_ce\.terms\.0\.weight"):
            check(bad)


def test_example_losses_in_config_yaml_build_and_leave_the_default_grid_alone():
    config = load_config(ROOT / "config.yaml")
    assert config["experiments"]["losses"] == ["dice_ce"]
    assert {"cldice", "skeleton_recall", "betti_matching", "mip", "boundary"} <= set(config["losses"])
    for name in config["losses"]:
        build_loss(name, config["losses"], TermContext("sigmoid", 2, "accurate", FINGERPRINT))
    with pytest.raises(ConfigError, match="preprocess.distance_maps"):
        validate_config({**load_config(ROOT / "config.yaml"), "experiments": {"losses": ["boundary"]}})

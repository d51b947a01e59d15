"""Evaluation: metrics against MONAI and a direct oracle, the empty-mask rules, the CSV, errors."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch
from helpers import thick_lines
from scipy import ndimage

from segpipe.cli import main
from segpipe.datasets.manifest import Manifest
from segpipe.errors import ConfigError, InputError
from segpipe.evaluation.evaluate import ID_COLUMNS, evaluate
from segpipe.evaluation.metrics import (
    CaseInputs,
    MetricSettings,
    compute_metrics,
    get_metric,
    metric_names,
    metric_of_column,
    register_metric,
)
from segpipe.evaluation.metrics.registry import METRICS
from segpipe.inference.predictions import PredictedCase, PredictionSet, case_paths, write_index
from segpipe.io.images import Geometry, read_image, read_mask, write_image

RUN = "unet.dice_ce.noisy.small.plain.s3"


def _pair(shape, seed):
    rng = np.random.default_rng(seed)
    return thick_lines(rng, shape, 3, 2), thick_lines(rng, shape, 3, 2)


def _monai(prediction, reference, spacing, tolerance):
    """Dice, HD95, ASSD and NSD from MONAI's public metric functions."""
    from monai.metrics import compute_average_surface_distance, compute_dice, compute_hausdorff_distance, compute_surface_dice

    p, r = (torch.as_tensor(a, dtype=torch.float32)[None, None] for a in (prediction, reference))
    spacing = list(spacing)
    return {
        "dice": float(compute_dice(p, r, include_background=True)),
        "hd95": float(compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=spacing)),
        "assd": float(compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=spacing)),
        "nsd": float(compute_surface_dice(p, r, [tolerance], include_background=True, spacing=spacing)),
    }


def _hd95_oracle(a, b, spacing):
    """95th-percentile symmetric surface distance, straight from the definition (scipy)."""
    def surface(mask):
        return mask & ~ndimage.binary_erosion(mask)

    def directed(x, y):
        distance_to_y = ndimage.distance_transform_edt(~surface(y), sampling=spacing)
        return np.percentile(distance_to_y[surface(x)], 95)

    return max(directed(a, b), directed(b, a))


@pytest.mark.filterwarnings("ignore::FutureWarning")  # raised inside MONAI's distance functions
@pytest.mark.parametrize(("shape", "spacing"), [((48, 40), (1.0, 1.0)), ((48, 40), (0.7, 1.9)), ((12, 20, 16), (2.5, 0.8, 1.1))])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tolerance", [0.5, 2.0])
def test_overlap_and_surface_metrics_agree_with_monai_and_the_definition(shape, spacing, seed, tolerance):
    prediction, reference = _pair(shape, seed)
    names = ["dice", "hd95", "assd", "nsd"]
    values = compute_metrics(names, CaseInputs(prediction, reference, spacing, settings=MetricSettings(surface_tolerance=tolerance)))
    expected = _monai(prediction, reference, spacing, tolerance)
    assert 0 < expected["nsd"] < 1 or tolerance == 2.0
    for name in names:
        assert values[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-6), name
    assert values["dice"] == pytest.approx(2 * (prediction & reference).sum() / (prediction.sum() + reference.sum()))
    assert values["hd95"] == pytest.approx(_hd95_oracle(prediction, reference, spacing), rel=1e-5)


def test_shifted_square_distance_is_the_shift_in_physical_units():
    reference = np.zeros((30, 30), bool)
    reference[10:20, 10:20] = True
    prediction = np.roll(reference, 3, axis=1)
    assert get_metric("hd95")(CaseInputs(prediction, reference, (1.0, 0.5)))["hd95"] == pytest.approx(1.5)
    assert get_metric("hd95")(CaseInputs(prediction, reference, (0.5, 1.0)))["hd95"] == pytest.approx(3.0)


#: Documented values when one or both masks are empty ("diagonal": the image diagonal in physical units).
EMPTY_RULES = {
    "dice": (1.0, 0.0), "cldice": (1.0, 0.0), "nsd": (1.0, 0.0), "hd95": (0.0, "diagonal"), "assd": (0.0, "diagonal"),
}


@pytest.mark.parametrize(("predicted", "referenced"), [(False, False), (False, True), (True, False)])
def test_empty_mask_rules(predicted, referenced):
    full = np.zeros((20, 30), bool)
    full[5:9, 5:25] = True
    full[12:16, 5:25] = True
    empty = np.zeros_like(full)
    prediction, reference = (full if predicted else empty), (full if referenced else empty)
    inputs = CaseInputs(prediction, reference, (2.0, 0.5), prediction * 0.9 + 0.05)
    values = compute_metrics(metric_names(), inputs)
    diagonal = math.hypot(20 * 2.0, 30 * 0.5)
    assert inputs.diagonal == pytest.approx(diagonal)
    for name, (both_empty, one_empty) in EMPTY_RULES.items():
        expected = both_empty if predicted == referenced else one_empty
        assert values[name] == pytest.approx(diagonal if expected == "diagonal" else expected), name
    errors = {d: values[f"betti{d}_error"] for d in range(3)}
    assert errors == ({0: 0, 1: 0, 2: 0} if predicted == referenced else {0: 2, 1: 0, 2: 0})
    assert values["betti_matching0_error"] == errors[0] and values["local_betti0_error"] >= 0
    assert not any(math.isnan(value) for value in values.values())
    assert all(get_metric(name).empty_rule for name in metric_names())


def test_schema_lists_every_metric_and_defaults_to_all():
    from segpipe.config import load_schema

    metrics = load_schema()["properties"]["evaluate"]["properties"]["metrics"]
    assert sorted(metrics["items"]["enum"]) == metric_names() == sorted(metrics["default"])


@pytest.fixture
def temporary_metric():
    names = []

    def register(name, **kwargs):
        names.append(name)
        return register_metric(name, **kwargs)

    yield register
    for name in names:
        METRICS.unregister(name)


def test_metric_registry(temporary_metric):
    @temporary_metric("test_counts", columns=("test_fp", "test_fn"), higher_is_better=False, empty_rule="counts")
    def counts(inputs):
        return {"test_fp": (inputs.prediction & ~inputs.reference).sum(), "test_fn": (~inputs.prediction & inputs.reference).sum()}

    @temporary_metric("test_nan", empty_rule="none")
    def nan(inputs):
        return float("nan")

    a = np.array([[1, 1, 0]], bool)
    b = np.array([[0, 1, 1]], bool)
    assert compute_metrics(["test_counts"], CaseInputs(a, b, (1.0, 1.0))) == {"test_fp": 1.0, "test_fn": 1.0}
    assert not get_metric("test_counts").higher_is_better and get_metric("dice").higher_is_better
    with pytest.raises(ValueError, match="returned NaN"):
        compute_metrics(["test_nan"], CaseInputs(a, b, (1.0, 1.0)))
    with pytest.raises(ConfigError, match="unknown metric .nope.(.|\n)*use one of: .*dice"):
        get_metric("nope")
    with pytest.raises(ValueError, match="registered twice"):
        register_metric("dice", empty_rule="")(counts)
    assert metric_of_column("test_fn").name == "test_counts" and metric_of_column("nope") is None
    assert get_metric("test_counts").description == "" and get_metric("dice").description.startswith("Dice")


def _write_predictions(directory, manifest_path, masks, run_id=RUN, geometry_of=None):
    """A predictions directory holding ``masks[case_id]`` for the test cases (probabilities = masks)."""
    manifest = Manifest.load(manifest_path)
    written = []
    for case in manifest.select(split="test"):
        _, geometry = read_mask(case.labels["accurate"])
        geometry = geometry_of(geometry) if geometry_of else geometry
        mask_path, probability_path = case_paths(directory, case.case_id, case.image)
        write_image(mask_path, masks[case.case_id], geometry)
        write_image(probability_path, masks[case.case_id].astype(np.float32), geometry)
        written.append(PredictedCase(case.case_id, mask_path, probability_path, case.split, case.group))
    write_index(directory, run_id, 0.5, written)
    return manifest.select(split="test")


@pytest.mark.parametrize(("dataset", "threads"), [("dataset_2d", 2), ("dataset_3d", 1)])
def test_evaluate_writes_one_row_per_case(tmp_path, request, dataset, threads, make_config):
    manifest_path = request.getfixturevalue(dataset)
    manifest = Manifest.load(manifest_path)
    tests = manifest.select(split="test")
    masks = {case.case_id: read_mask(case.labels["accurate"])[0] > 0 for case in tests}
    masks[tests[1].case_id] = read_mask(tests[1].labels["noisy"])[0] > 0
    masks[tests[2].case_id] = np.zeros_like(masks[tests[2].case_id])
    _write_predictions(tmp_path / "predictions", manifest_path, masks)
    config = make_config({"evaluate": {"surface_tolerance": 1.5, "local_window": 8}})
    out = evaluate(config, manifest_path, tmp_path / "predictions", tmp_path / "metrics.csv", threads=threads)
    frame = pd.read_csv(out, dtype={"case_id": str})
    names = config["evaluate"]["metrics"]
    assert set(names) == set(metric_names())  # the default is every metric
    assert list(frame.columns) == [*ID_COLUMNS, *(column for name in names for column in get_metric(name).columns)]
    assert frame["case_id"].tolist() == [case.case_id for case in tests]
    assert frame["group"].tolist() == [case.group for case in tests] and set(frame["split"]) == {"test"}
    assert (frame[["run_id", "loss", "label_type", "training_set", "framework", "seed", "reference"]].iloc[0].tolist()
            == [RUN, "dice_ce", "noisy", "small", "plain", 3, "accurate"])
    assert frame.loc[0, "dice"] == 1.0 and frame.loc[0, "hd95"] == 0.0 and frame.loc[0, "betti_matching1_error"] == 0
    reference, geometry = read_mask(tests[1].labels["accurate"])
    prediction = masks[tests[1].case_id]
    settings = MetricSettings(surface_tolerance=1.5, local_window=8)
    expected = compute_metrics(names, CaseInputs(prediction, reference > 0, geometry.array_spacing, prediction * 1.0, settings))
    assert frame.iloc[1][list(expected)].astype(float).to_dict() == pytest.approx(expected)
    assert 0 < frame.loc[1, "dice"] < 1
    diagonal = math.hypot(*(n * s for n, s in zip(reference.shape, geometry.array_spacing)))
    assert frame.loc[2, "dice"] == 0.0 and frame.loc[2, "hd95"] == pytest.approx(diagonal)
    assert not frame.isna().any().any()


def test_metrics_of_a_case_in_parallel_equal_serial():
    prediction, reference = _pair((40, 44), 5)
    inputs = CaseInputs(prediction, reference, (1.0, 0.8), prediction * 0.8 + 0.1)
    serial = compute_metrics(metric_names(), inputs)
    again = CaseInputs(prediction, reference, (1.0, 0.8), prediction * 0.8 + 0.1)
    assert compute_metrics(metric_names(), again, threads=4) == serial
    assert list(compute_metrics(metric_names(), again, threads=4)) == list(serial)


def test_probability_outside_0_1_is_rejected(tmp_path, dataset_2d, make_config):
    tests = Manifest.load(dataset_2d).select(split="test")
    _write_predictions(tmp_path / "p", dataset_2d, {c.case_id: read_mask(c.labels["accurate"])[0] > 0 for c in tests})
    probability = PredictionSet.load(tmp_path / "p").cases[0].probability
    write_image(probability, np.full(read_image(probability).array[0].shape, 3.5, np.float32))
    with pytest.raises(InputError, match=r"values outside \[0, 1\].*; fix: write foreground probabilities"):
        evaluate(make_config(), dataset_2d, tmp_path / "p", tmp_path / "m.csv")
    evaluate(make_config({"evaluate": {"metrics": ["dice"]}}), dataset_2d, tmp_path / "p", tmp_path / "m.csv")  # not read


def test_prediction_on_another_grid_is_rejected(tmp_path, dataset_3d, make_config):
    tests = Manifest.load(dataset_3d).select(split="test")
    masks = {case.case_id: read_mask(case.labels["accurate"])[0] > 0 for case in tests}
    shifted = lambda g: Geometry(g.spacing, tuple(o + 5 for o in g.origin), g.direction)  # noqa: E731
    _write_predictions(tmp_path / "p", dataset_3d, masks, geometry_of=shifted)
    with pytest.raises(InputError, match="placed differently in space"):
        evaluate(make_config(), dataset_3d, tmp_path / "p", tmp_path / "m.csv")
    assert not (tmp_path / "m.csv").exists()


def test_case_missing_from_manifest_is_rejected(tmp_path, dataset_2d, make_config):
    tests = Manifest.load(dataset_2d).select(split="test")
    _write_predictions(tmp_path / "p", dataset_2d, {c.case_id: read_mask(c.labels["accurate"])[0] > 0 for c in tests})
    manifest = Manifest.load(dataset_2d)
    other = manifest.with_cases([c for c in manifest.cases if c.case_id != tests[0].case_id]).save(tmp_path / "other.json")
    with pytest.raises(InputError, match=f"1 predicted case\\(s\\) are not in this manifest: {tests[0].case_id}"):
        evaluate(make_config(), other, tmp_path / "p", tmp_path / "m.csv")
    no_pseudo = manifest.with_cases([dataclasses.replace(c, labels={"accurate": c.labels["accurate"]}) for c in manifest.cases])
    with pytest.raises(InputError, match="have no 'pseudo' label"):
        evaluate(make_config({"evaluate": {"label_type": "pseudo"}}), no_pseudo.save(tmp_path / "np.json"),
                 tmp_path / "p", tmp_path / "m.csv")


def test_incomplete_predictions_give_a_clear_cli_error(tmp_path, dataset_2d, config_file, capsys):
    (tmp_path / "p").mkdir()
    status = main(["evaluate", "--config", str(config_file()), "--manifest", str(dataset_2d),
                   "--predictions", str(tmp_path / "p"), "--out", str(tmp_path / "m.csv"), "--threads", "1"])
    err = capsys.readouterr().err
    assert status == 2 and "not a (complete) predictions directory" in err and "Traceback" not in err


def test_every_bad_prediction_file_is_listed_and_unlabelled_cases_are_skipped(tmp_path, dataset_2d, make_config, capsys):
    manifest = Manifest.load(dataset_2d)
    tests = manifest.select(split="test")
    assert len(tests) >= 3
    _write_predictions(tmp_path / "p", dataset_2d, {c.case_id: read_mask(c.labels["accurate"])[0] > 0 for c in tests})
    predicted = PredictionSet.load(tmp_path / "p").cases
    write_image(predicted[0].probability, np.full(read_image(predicted[0].probability).array[0].shape, 3.5, np.float32))
    predicted[1].mask.write_bytes(predicted[1].mask.read_bytes()[:40])  # truncated
    with pytest.raises(InputError) as caught:
        evaluate(make_config(), dataset_2d, tmp_path / "p", tmp_path / "m.csv")
    message = str(caught.value)
    assert "2 of" in message and str(predicted[0].probability) in message and str(predicted[1].mask) in message

    unlabelled = manifest.with_cases([dataclasses.replace(c, labels={}) if c.case_id in (predicted[0].case_id, predicted[1].case_id)
                                      else c for c in manifest.cases]).save(tmp_path / "unlabelled.json")
    evaluate(make_config(), unlabelled, tmp_path / "p", tmp_path / "m.csv")
    rows = pd.read_csv(tmp_path / "m.csv")
    assert len(rows) == len(tests) - 2 and predicted[0].case_id not in set(rows["case_id"].astype(str).str.zfill(3))
    assert "2 predicted case(s) have no labels and are not scored" in capsys.readouterr().err

"""Prediction: file layout and formats, geometry of the outputs, inference wiring, errors."""

from __future__ import annotations

import dataclasses
import json

import nibabel as nib
import numpy as np
import pytest
import tifffile
import torch
from helpers import tiny_config

from segpipe.cli import main
from segpipe.datasets.manifest import Manifest
from segpipe.errors import ConfigError, InputError
from segpipe.inference.predict import predict
from segpipe.inference.predictions import PredictionSet
from segpipe.inference.sliding_window import predict_probability
from segpipe.networks.factory import NetworkSpec
from segpipe.training.segmentation import train

RUN = "unet.dice_ce.accurate.large.plain.s0"


@pytest.fixture(scope="module")
def models(tmp_path_factory, dataset_2d, dataset_3d):
    """Tiny trained models: 2D patch-trained (sigmoid) and 3D whole-image (softmax)."""
    root = tmp_path_factory.mktemp("models")
    config_2d = tiny_config({"train": {"iterations": 4}})
    config_3d = tiny_config({"train": {"iterations": 2, "patch_size": None, "output": "softmax"}})
    return {
        2: (train(config_2d, dataset_2d, RUN, root / "2d", show_progress=False), dataset_2d),
        3: (train(config_3d, dataset_3d, RUN, root / "3d", show_progress=False), dataset_3d),
    }


def test_2d_png_masks_and_tif_probabilities(tmp_path, models, make_config):
    model, manifest = models[2]
    index = predict(make_config(), manifest, model, tmp_path, show_progress=False)
    predictions = PredictionSet.load(tmp_path)
    tests = Manifest.load(manifest).select(split="test")
    assert index == tmp_path / "index.json" and predictions.run_id == RUN and predictions.threshold == 0.5
    assert [(p.case_id, p.split, p.group) for p in predictions.cases] == [(c.case_id, c.split, c.group) for c in tests]
    for case in predictions.cases:
        assert case.mask.name == f"{case.case_id}_mask.png" and case.probability.name == f"{case.case_id}_prob.tif"
        probability = tifffile.imread(case.probability)
        assert probability.dtype == np.float32 and probability.shape == (40, 48)
        assert probability.min() >= 0 and probability.max() <= 1
        import skimage.io

        raw = skimage.io.imread(case.mask)
        assert raw.dtype == np.uint8 and set(np.unique(raw)) <= {0, 255}
        assert np.array_equal(raw == 255, probability >= 0.5)


def test_3d_nifti_outputs_keep_the_input_affine(tmp_path, models, make_config):
    model, manifest = models[3]
    predict(make_config({"predict": {"splits": ["test", "val"]}}), manifest, model, tmp_path, show_progress=False)
    predictions = PredictionSet.load(tmp_path)
    cases = {case.case_id: case for case in Manifest.load(manifest).cases}
    assert {p.split for p in predictions.cases} == {"test", "val"} and len(predictions.cases) == 6
    for predicted in predictions.cases:
        source = nib.load(cases[predicted.case_id].image)
        mask, probability = nib.load(predicted.mask), nib.load(predicted.probability)
        assert predicted.mask.name.endswith("_mask.nii.gz") and predicted.probability.name.endswith("_prob.nii.gz")
        np.testing.assert_allclose(mask.affine, source.affine, atol=1e-5)
        np.testing.assert_allclose(probability.affine, source.affine, atol=1e-5)
        assert mask.shape == probability.shape == source.shape
        assert probability.get_data_dtype() == np.float32
        assert set(np.unique(np.asarray(mask.dataobj))) <= {0, 1}


class _Pointwise(torch.nn.Module):
    """A 1x1 convolution: its prediction of a voxel does not depend on the voxel's neighbours."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 1, 1)

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("patch_size", [None, (16, 16)])
def test_inference_covers_odd_sizes_exactly(patch_size):
    torch.manual_seed(0)
    network = _Pointwise(3).eval()
    spec = NetworkSpec("unet", 2, 3, "sigmoid", (4, 8, 16), (2, 2))
    image = np.random.default_rng(0).standard_normal((3, 37, 29)).astype(np.float32)
    probability = predict_probability(network, image, spec, patch_size=patch_size)
    expected = torch.sigmoid(network(torch.from_numpy(image)[None]))[0, 0].detach().numpy()
    assert probability.shape == (37, 29) and probability.dtype == np.float32
    np.testing.assert_allclose(probability, expected, atol=1e-5)


def test_interrupted_prediction_leaves_no_index(tmp_path, models, make_config, dataset_2d):
    model, manifest_path = models[2]
    manifest = Manifest.load(manifest_path)
    last = manifest.select(split="test")[-1].case_id
    broken = [dataclasses.replace(c, data="cases/missing.npz") if c.case_id == last else c for c in manifest.cases]
    broken_path = manifest.with_cases(broken).save(manifest_path.parent / "broken_manifest.json")
    out = tmp_path / "predictions"
    predict(make_config(), manifest_path, model, out, show_progress=False)  # a complete earlier prediction
    with pytest.raises(InputError, match="preprocessed case not found"):
        predict(make_config(), broken_path, model, out, show_progress=False)
    assert not (out / "index.json").exists()
    with pytest.raises(InputError, match="not a \\(complete\\) predictions directory"):
        PredictionSet.load(out)


def test_missing_model_is_a_clear_error(tmp_path, dataset_2d, config_file, capsys):
    status = main(["predict", "--config", str(config_file()), "--manifest", str(dataset_2d),
                   "--model", str(tmp_path / "model.pt"), "--out", str(tmp_path / "p"), "--threads", "1"])
    err = capsys.readouterr().err
    assert status == 2 and "model file not found" in err and "segpipe train" in err and "Traceback" not in err


def test_corrupt_model_is_a_clear_error(tmp_path, dataset_2d, config_file, capsys):
    (tmp_path / "model.pt").write_bytes(b"not a model")
    status = main(["predict", "--config", str(config_file()), "--manifest", str(dataset_2d),
                   "--model", str(tmp_path / "model.pt"), "--out", str(tmp_path / "p"), "--threads", "1"])
    assert status == 2 and "cannot read the model file" in capsys.readouterr().err


def test_mismatched_manifest_is_a_clear_error(tmp_path, models, make_config):
    model, _ = models[3]
    _, manifest_2d = models[2]
    with pytest.raises(InputError, match="trained on 3-D images with 1 channel.*manifest .* has 2-D images with 3"):
        predict(make_config(), manifest_2d, model, tmp_path, show_progress=False)


def test_other_normalisation_is_a_clear_error(tmp_path, models, make_config):
    model, manifest = models[2]
    with pytest.raises(ConfigError, match="'preprocess.normalisation' is 'minmax' but the model was trained on 'zscore'"):
        predict(make_config({"preprocess": {"normalisation": "minmax"}}), manifest, model, tmp_path, show_progress=False)


def test_index_lists_files_that_exist(tmp_path, models, make_config):
    model, manifest = models[2]
    predict(make_config(), manifest, model, tmp_path, show_progress=False)
    index = json.loads((tmp_path / "index.json").read_text())
    first = next(iter(index["cases"].values()))
    (tmp_path / first["mask"]).unlink()
    with pytest.raises(InputError, match="file listed in the prediction index is missing"):
        PredictionSet.load(tmp_path)


def test_folder_of_unlabelled_images_in_masks_out(tmp_path, models, make_config, capsys):
    """`segpipe predict --model --input --output`: no manifest, no labels, no config; geometry kept."""
    from own_data import nifti, png

    model, manifest = models[3]
    folder = tmp_path / "new_scans"
    affine = np.array([[0.0, -0.7, 0, 12], [0.9, 0, 0, -3], [0, 0, 2.5, 40], [0, 0, 0, 1]])
    rng = np.random.default_rng(0)
    nifti(folder / "patientA.nii.gz", (100 + rng.normal(0, 10, (17, 21, 9))).astype(np.float32), affine)
    nifti(folder / "patientB_0000.nii.gz", (100 + rng.normal(0, 10, (28, 24, 20))).astype(np.float32))
    (folder / ".DS_Store").write_bytes(b"")
    status = main(["predict", "--model", str(model), "--input", str(folder), "--output", str(tmp_path / "out"),
                   "--no-progress", "--threads", "1"])
    assert status == 0, capsys.readouterr().err
    predictions = PredictionSet.load(tmp_path / "out")
    assert [p.case_id for p in predictions.cases] == ["patientA", "patientB"]
    source, mask = nib.load(folder / "patientA.nii.gz"), nib.load(predictions.cases[0].mask)
    assert mask.shape == source.shape == (17, 21, 9)
    np.testing.assert_allclose(mask.affine, source.affine, atol=1e-5)
    assert set(np.unique(np.asarray(mask.dataobj))) <= {0, 1}

    png(tmp_path / "mixed" / "slice.png", np.zeros((8, 8)))
    nifti(tmp_path / "mixed" / "two_0000.nii.gz", np.zeros((6, 6, 6), np.float32))
    nifti(tmp_path / "mixed" / "two_0002.nii.gz", np.zeros((6, 6, 6), np.float32))
    status = main(["predict", "--model", str(model), "--input", str(tmp_path / "mixed"), "--output", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert status == 2 and "case two: channel files [0, 2]" in err and "Traceback" not in err
    (tmp_path / "mixed" / "two_0002.nii.gz").unlink()
    status = main(["predict", "--model", str(model), "--input", str(tmp_path / "mixed"), "--output", str(tmp_path / "o2")])
    err = capsys.readouterr().err
    assert status == 2 and "slice.png: 2-D image with 1 channel(s); the model takes 3-D images" in err

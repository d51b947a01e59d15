"""Prediction with multi-class models: the model's classes must be the data set's."""

from __future__ import annotations

import pytest
from own_data import vessel_classes_png

from segpipe.errors import InputError
from segpipe.inference.predict import _check_compatible
from segpipe.networks.factory import NetworkSpec
from segpipe.networks.model_file import ModelInfo
from segpipe.preprocessing.preprocess import LabelPolicy, preprocess_dataset

NETWORK = {"name": "unet", "channels": [4, 8], "strides": [2]}


@pytest.mark.parametrize(("model_classes", "policy"), [(("artery", "vein"), "binarise"), ((), "classes")])
def test_a_model_whose_classes_differ_from_the_data_sets_is_refused(tmp_path, make_config, model_classes, policy):
    data = vessel_classes_png(tmp_path / "data", n_train=5)
    manifest = preprocess_dataset(data, tmp_path / "out", label_policy=LabelPolicy(policy))
    spec = NetworkSpec.from_config(NETWORK, dimensions=2, in_channels=1, output="softmax", classes=model_classes)
    info = ModelInfo(spec, "unet.dice_ce.label.large.plain.s0", "label", 10, None, "zscore")
    with pytest.raises(InputError) as error:
        _check_compatible(info, manifest, tmp_path / "out" / "manifest.json", tmp_path / "model.pt", make_config())
    assert "classes" in str(error.value) and "label_policy" in error.value.fix

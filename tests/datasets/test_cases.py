"""Preprocessed case files and the manifest."""

import numpy as np
import pytest

from segpipe.datasets.cases import PreprocessedCase, load_case, save_case
from segpipe.datasets.manifest import Case, Manifest
from segpipe.errors import InputError
from segpipe.io.images import Geometry


def test_case_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    case = PreprocessedCase(
        image=rng.random((3, 8, 9)).astype(np.float32),
        labels={"accurate": (rng.random((8, 9)) > 0.5).astype(np.uint8)},
        geometry=Geometry((0.5, 0.7), (1.0, 2.0), (1.0, 0.0, 0.0, 1.0)),
        extras={"sdm__accurate": rng.random((8, 9)).astype(np.float32)},
    )
    loaded = load_case(save_case(tmp_path / "c.npz", case))
    np.testing.assert_array_equal(loaded.image, case.image)
    np.testing.assert_array_equal(loaded.labels["accurate"], case.labels["accurate"])
    np.testing.assert_array_equal(loaded.extras["sdm__accurate"], case.extras["sdm__accurate"])
    assert loaded.geometry == case.geometry and loaded.spatial_shape == (8, 9)


def test_corrupt_case_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"nope")
    with pytest.raises(InputError, match="not a preprocessed case"):
        load_case(path)


def test_manifest_round_trip_and_selection(tmp_path):
    cases = [
        Case("001", "train", "indistr", "/d/001.png", {"accurate": "/d/a/001.png"}, small=True),
        Case("002", "train", "indistr", "/d/002.png", {"accurate": "/d/a/002.png"}),
        Case("003", "test", "angles", "/d/003.png", {"accurate": "/d/a/003.png"}),
        Case("004", "test", "indistr", "/d/004.png", {"accurate": "/d/a/004.png"}),
    ]
    manifest = Manifest("toy", 2, 3, ["accurate"], cases)
    loaded = Manifest.load(manifest.save(tmp_path / "manifest.json"))
    assert loaded == manifest
    assert [c.case_id for c in loaded.training_cases("small")] == ["001"]
    assert [c.case_id for c in loaded.training_cases("large")] == ["001", "002"]
    assert loaded.groups("test") == ["indistr", "angles"]


def test_missing_manifest_says_to_preprocess(tmp_path):
    with pytest.raises(InputError, match="segpipe preprocess"):
        Manifest.load(tmp_path / "manifest.json")

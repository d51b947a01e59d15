"""Synthetic 3D vessel trees: topology, partial volume, NIfTI affine, layout and determinism."""

import csv
import json
from pathlib import Path

import gudhi
import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
import yaml

from segpipe.cli import main
from segpipe.config import validate_config
from segpipe.datasets.betti import betti_numbers
from segpipe.datasets.layout import read_dataset
from segpipe.datasets.synthetic.vessels import VesselSpec, generate_vessel_dataset, render_centrelines, render_vessels
from segpipe.errors import ConfigError
from segpipe.io.images import read_mask

SMALL = VesselSpec(seed=2, n_train=2, n_train_small=1, n_val=1, n_test=1, shape=(40, 44, 48), spacing=(0.6, 0.4, 0.4))


@pytest.fixture(scope="module")
def volumes() -> list:
    return [render_vessels(SMALL, np.random.default_rng([9, k])) for k in range(6)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate_vessel_dataset(SMALL, tmp_path_factory.mktemp("vessels") / "vessels")


def test_labels_have_the_designed_topology(volumes):
    assert any(v.loops > 0 for v in volumes) and any(v.trees > 1 for v in volumes)
    for volume in volumes:
        assert betti_numbers(volume.label) == (volume.trees, volume.loops, 0)


def test_betti_numbers_agree_with_gudhi(volumes):
    for volume in volumes[:2]:
        complex_ = gudhi.CubicalComplex(top_dimensional_cells=1.0 - volume.label.astype(float))
        complex_.compute_persistence()
        assert tuple(complex_.persistent_betti_numbers(0.0, 0.0)[:3]) == betti_numbers(volume.label)


def test_every_tree_is_a_vessel_not_a_stub(volumes):
    from scipy import ndimage

    # seed 0's third test volume of 64^3 voxels once held a one-voxel "tree": a root that left the
    # volume at its first step
    regression = render_vessels(VesselSpec(shape=(64, 64, 64)), np.random.default_rng([0, 2, 2]))
    for volume in [*volumes, regression]:
        components, count = ndimage.label(volume.label, np.ones((3, 3, 3)))
        assert count == volume.trees and np.bincount(components.ravel())[1:].min() >= 50


def test_radii_range_from_sub_voxel_to_several_voxels(volumes):
    from scipy import ndimage

    thickest = max(ndimage.distance_transform_edt(v.label).max() for v in volumes)
    assert thickest >= 2.5  # voxels
    occupancy = np.concatenate([v.occupancy[v.label > 0] for v in volumes])
    assert np.mean(occupancy < 0.5) > 0.2  # many label voxels are only partly vessel
    assert occupancy.max() == pytest.approx(1.0)


def test_image_is_bright_vessels_on_a_noisy_inhomogeneous_background(volumes):
    for volume in volumes:
        image = volume.image.astype(float)
        assert volume.image.dtype == np.int16 and image.min() >= 0
        core, background = image[volume.occupancy > 0.9], image[volume.occupancy == 0]
        assert core.mean() > 2.0 * background.mean()
        assert background.std() > 0.1 * background.mean()  # noise and bias field
        # partial volume: intensity rises with the vessel fraction of the voxel
        bins = [image[(volume.occupancy > low) & (volume.occupancy <= high)].mean()
                for low, high in ((0.15, 0.4), (0.4, 0.7), (0.9, 1.0))]
        assert background.mean() < bins[0] < bins[1] < bins[2]


@pytest.mark.parametrize("radius", [0.12, 0.2, 0.6])
def test_partial_volume_of_a_straight_tube_matches_its_volume(radius):
    spacing = (0.6, 0.4, 0.4)
    points = np.array([[12.0, 8.0, 2.0], [12.7, 9.1, 17.0]])  # oblique to the grid, in mm
    occupancy, label = render_centrelines([(points, np.full(2, radius))], (40, 40, 48), spacing)
    length = np.linalg.norm(points[1] - points[0])
    expected = np.pi * radius**2 * length + 4 / 3 * np.pi * radius**3
    assert occupancy.sum() * np.prod(spacing) == pytest.approx(expected, rel=0.15)
    assert betti_numbers(label) == (1, 0, 0)  # even the sub-voxel tube is one connected path
    assert label.sum() >= length / max(spacing)


def test_nifti_affine_reads_back_with_nibabel(dataset, volumes):
    image, label = nib.load(dataset / "images" / "001.nii.gz"), nib.load(dataset / "labels" / "001.nii.gz")
    nz, ny, nx = SMALL.shape
    sz, sy, sx = SMALL.spacing
    # LPS index -> mm is diag(spacing) with the volume centred on the origin; RAS flips x and y
    expected = np.array([
        [-sx, 0, 0, (nx - 1) * sx / 2],
        [0, -sy, 0, (ny - 1) * sy / 2],
        [0, 0, sz, -(nz - 1) * sz / 2],
        [0, 0, 0, 1],
    ])
    np.testing.assert_allclose(image.affine, expected, atol=1e-5)
    np.testing.assert_allclose(label.affine, expected, atol=1e-5)
    assert image.shape == (nx, ny, nz) and image.header.get_data_dtype() == np.int16
    reference = sitk.ReadImage(str(dataset / "labels" / "001.nii.gz"))
    np.testing.assert_allclose(reference.GetSpacing(), (sx, sy, sz), rtol=1e-6)
    np.testing.assert_allclose(reference.GetOrigin(), [-(n - 1) * s / 2 for n, s in ((nx, sx), (ny, sy), (nz, sz))], atol=1e-5)


def test_dataset_json_layout_and_betti_csv(dataset):
    manifest = read_dataset(dataset)
    assert (manifest.dimensions, manifest.channels, manifest.label_types) == (3, 1, ["accurate"])
    assert [(c.case_id, c.split, c.small) for c in manifest.cases] == [
        ("001", "train", True), ("002", "train", False), ("003", "val", False), ("004", "test", False)]
    with open(dataset / "betti_numbers.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["ID"] for r in rows] == ["001", "002", "003", "004"]
    for row, case in zip(rows, manifest.cases):
        label, _ = read_mask(case.labels["accurate"])
        assert set(np.unique(label)) <= {0, 1}
        assert betti_numbers(label) == (int(row["Betti0"]), int(row["Betti1"]), int(row["Betti2"]))


def test_same_seed_gives_byte_identical_files(dataset, tmp_path):
    again = generate_vessel_dataset(SMALL, tmp_path / "vessels")
    files = sorted(p.relative_to(dataset) for p in dataset.rglob("*") if p.is_file())
    assert all((dataset / f).read_bytes() == (again / f).read_bytes() for f in files)


def test_cli_dispatches_on_the_configured_kind(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"dataset": {"synthetic": {
        "kind": "vessels", "n_train": 1, "n_train_small": 1, "n_val": 1, "n_test_id": 1,
        "vessels": {"shape": [24, 24, 24], "trees": 1, "loops": 0}}}}))
    assert main(["synth", "--config", str(config), "--out", str(tmp_path / "v")]) == 0
    document = json.loads((tmp_path / "v" / "dataset.json").read_text())
    assert document["dimensions"] == 3 and len(document["cases"]) == 3


def test_vessel_settings_are_validated():
    with pytest.raises(ConfigError, match="radius_mm' is \\[1.0, 0.5\\]"):
        validate_config({"dataset": {"synthetic": {"vessels": {"radius_mm": [1.0, 0.5]}}}})
    with pytest.raises(ConfigError, match="unknown key 'sigma' in 'dataset.synthetic.vessels'"):
        validate_config({"dataset": {"synthetic": {"vessels": {"sigma": 1}}}})
    with pytest.raises(ConfigError, match="'dataset.synthetic.vessels.shape'"):
        validate_config({"dataset": {"synthetic": {"vessels": {"shape": [64, 64]}}}})

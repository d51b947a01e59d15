"""Synthetic chest data: anatomical landmark order, plausible shapes, dataset layout, landmark files."""

import json

import numpy as np
import pytest
import yaml

from segpipe.cli import main
from segpipe.datasets.landmarks import read_landmark_dataset, read_landmarks, write_landmarks
from segpipe.datasets.layout import read_dataset
from segpipe.datasets.manifest import IN_DISTRIBUTION
from segpipe.datasets.synthetic.chest import (
    MEAN_SHAPE_POINTS,
    OCCLUDED,
    ChestSynthConfig,
    generate_chest_dataset,
    mean_shape,
    sample_anatomy,
)
from segpipe.errors import ConfigError, InputError
from segpipe.io.images import read_image, read_mask
from segpipe.networks.graph import GraphTemplate, Organ, default_template, rasterize

COUNTS = {"right_lung": 44, "left_lung": 50, "heart": 26, "right_clavicle": 23, "left_clavicle": 23}


def signed_area(contour):
    """Shoelace area; positive for clockwise-on-screen contours (y grows downwards)."""
    x, y = contour[:, 0], contour[:, 1]
    return 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y)


def self_intersects(contour):
    """Whether any two non-adjacent edges of the closed polygon cross."""
    n = len(contour)
    a, b = contour, np.roll(contour, -1, axis=0)

    def orient(p, q, r):
        return np.sign((q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1]) - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0]))

    for i in range(n):
        others = np.array([j for j in range(n) if j not in (i, (i + 1) % n, (i - 1) % n)])
        c, d = a[others], b[others]
        crossing = (orient(a[i], b[i], c) != orient(a[i], b[i], d)) & (orient(c, d, a[i]) != orient(c, d, b[i]))
        if crossing.any():
            return True
    return False


@pytest.mark.parametrize("organ", sorted(MEAN_SHAPE_POINTS))
def test_mean_shapes_run_clockwise_with_even_spacing(organ):
    contour = mean_shape(organ, COUNTS[organ])
    assert contour.shape == (COUNTS[organ], 2)
    assert signed_area(contour) > 0, "landmarks run clockwise on screen"
    steps = np.linalg.norm(np.diff(np.vstack([contour, contour[:1]]), axis=0), axis=1)
    # equal arc length; chords are a little shorter where the contour turns sharply (clavicle ends)
    assert steps.max() / steps.min() < 1.35, "landmarks are evenly spaced along the contour"
    np.testing.assert_allclose(contour[0], MEAN_SHAPE_POINTS[organ][0], atol=1e-9)
    assert not self_intersects(contour)


def test_lungs_start_at_the_apex_and_sit_on_the_correct_sides():
    for organ in ("right_lung", "left_lung"):
        contour = mean_shape(organ, COUNTS[organ])
        assert contour[0, 1] <= contour[:, 1].min() + 0.01, f"{organ} landmark 0 is its highest point"
    assert mean_shape("right_lung", 44)[:, 0].mean() < 0.5 < mean_shape("left_lung", 50)[:, 0].mean()


def test_sampled_anatomies_are_plausible_and_keep_correspondence():
    for seed in range(25):
        anatomy = sample_anatomy(np.random.default_rng(seed), COUNTS)
        for organ, contour in anatomy.landmarks.items():
            assert np.all((contour > 0.01) & (contour < 0.99)), f"{organ} stays inside the image (seed {seed})"
            assert signed_area(contour) > 0
            assert not self_intersects(contour), f"{organ} contour crosses itself (seed {seed})"
        right, left = anatomy.landmarks["right_lung"], anatomy.landmarks["left_lung"]
        assert right[:, 0].mean() < anatomy.landmarks["heart"][:, 0].mean() < left[:, 0].mean()
        for lung in (right, left):  # landmark 0 stays at the apex despite deformation and rotation
            assert lung[0, 1] < np.quantile(lung[:, 1], 0.1)


def test_shapes_vary_between_images():
    first = sample_anatomy(np.random.default_rng(1), COUNTS).landmarks["heart"]
    second = sample_anatomy(np.random.default_rng(2), COUNTS).landmarks["heart"]
    assert np.abs(first - second).max() > 0.01


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("chest")
    config = ChestSynthConfig(seed=3, image_size=64, n_train=3, n_val=1, n_test=2)
    generate_chest_dataset(out, default_template(), config)
    return out


def test_dataset_layout_and_manifest(dataset):
    raw = json.loads((dataset / "dataset.json").read_text())  # the generic dataset.json layout
    assert set(raw) == {"name", "dimensions", "channels", "label_types", "cases"}
    assert raw["label_types"] == ["accurate", "right_lung", "left_lung", "heart"]
    assert all(set(case) == {"id", "split", "group", "image", "labels", "files"} for case in raw["cases"])
    assert all(set(case["labels"]) == set(raw["label_types"]) for case in raw["cases"])
    assert raw["cases"][0]["files"] == {"landmarks": f"landmarks/{raw['cases'][0]['id']}.csv"}
    assert read_dataset(dataset).case("test_occluded_0001").files["landmarks"] == str(dataset / "landmarks/test_0001.csv")
    loaded = read_landmark_dataset(dataset, default_template())
    cases = loaded.manifest.cases
    assert [c.split for c in cases].count("train") == 3 and [c.split for c in cases].count("val") == 1
    assert [c.case_id for c in loaded.cases("test", IN_DISTRIBUTION)] == ["test_0000", "test_0001"]
    assert [c.case_id for c in loaded.cases("test", OCCLUDED)] == ["test_occluded_0000", "test_occluded_0001"]
    image = read_image(cases[0].image)
    assert image.array.shape == (1, 64, 64) and image.array.dtype == np.uint8


def test_masks_are_the_rasterised_landmarks_and_union(dataset):
    loaded = read_landmark_dataset(dataset)
    case = loaded.manifest.case("train_0001")
    points = loaded.landmarks(case.case_id)
    expected = rasterize(points, loaded.template, (64, 64))
    union = np.zeros((64, 64), bool)
    for organ, mask in expected.items():
        stored, _ = read_mask(case.labels[organ])
        assert set(np.unique(stored)) <= {0, 255}
        np.testing.assert_array_equal(stored > 0, mask > 0)
        union |= mask > 0
    np.testing.assert_array_equal(read_mask(case.labels["accurate"])[0] > 0, union)


def test_occluded_test_images_hide_part_of_the_same_anatomy(dataset):
    loaded = read_landmark_dataset(dataset)
    clean, occluded = loaded.manifest.case("test_0000"), loaded.manifest.case("test_occluded_0000")
    assert clean.labels == occluded.labels
    np.testing.assert_array_equal(loaded.landmarks(clean.case_id), loaded.landmarks(occluded.case_id))
    a, b = read_image(clean.image).array[0].astype(int), read_image(occluded.image).array[0].astype(int)
    changed = np.abs(a - b) > 0
    assert 0.01 < changed.mean() < 0.6
    organs = np.zeros_like(changed)
    for organ in ("right_lung", "left_lung", "heart"):
        organs |= read_mask(clean.labels[organ])[0] > 0
    assert (changed & organs).any(), "occlusions cover parts of the organs"


def test_generation_is_deterministic(tmp_path):
    config = ChestSynthConfig(seed=5, image_size=32, n_train=1, n_val=1, n_test=1)
    for name in ("a", "b"):
        generate_chest_dataset(tmp_path / name, default_template(), config)
    for relative in ("images/train_0000.png", "images/test_occluded_0000.png", "landmarks/val_0000.csv"):
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_custom_template_landmark_counts_and_unknown_organs(tmp_path):
    template = GraphTemplate((Organ("heart", 12), Organ("left_clavicle", 10)))
    generate_chest_dataset(tmp_path / "ok", template, ChestSynthConfig(image_size=32, n_train=1, n_val=1, n_test=1))
    assert read_landmarks(tmp_path / "ok/landmarks/train_0000.csv", template).shape == (22, 2)
    with pytest.raises(ConfigError, match="knows no organ"):
        generate_chest_dataset(tmp_path / "bad", GraphTemplate((Organ("liver", 12),)), ChestSynthConfig())


def test_occlusion_bounds_are_checked():
    with pytest.raises(ConfigError, match="occlusions"):
        ChestSynthConfig(occlusions=(3, 1))


def test_landmark_files_csv_and_npy(tmp_path):
    points = np.array([[1.5, 2.25], [3.0, 4.0], [5.0, 6.0]])
    write_landmarks(tmp_path / "a.csv", points)
    assert (tmp_path / "a.csv").read_text().splitlines()[0] == "x,y"
    np.testing.assert_allclose(read_landmarks(tmp_path / "a.csv"), points)
    (tmp_path / "b.csv").write_text("1.5,2.25\n3,4\n5,6\n")  # no header
    np.testing.assert_allclose(read_landmarks(tmp_path / "b.csv"), points)
    np.save(tmp_path / "c.npy", points)
    np.testing.assert_allclose(read_landmarks(tmp_path / "c.npy"), points)
    (tmp_path / "bad.csv").write_text("x,y\n1,2\nthree,4\n")
    with pytest.raises(InputError, match="cannot read landmarks"):
        read_landmarks(tmp_path / "bad.csv")
    np.save(tmp_path / "flat.npy", np.arange(6.0))
    with pytest.raises(InputError, match="rows of two"):
        read_landmarks(tmp_path / "flat.npy")
    with pytest.raises(InputError, match="3 landmarks, but the template"):
        read_landmarks(tmp_path / "a.csv", default_template())


def test_gaggion_jsrt_layout_drops_in(tmp_path, dataset):
    template = default_template()
    for split, stems in (("Train", ["JPCLN001", "JPCLN002"]), ("Test", ["JPCNN010"])):
        (tmp_path / split / "Images").mkdir(parents=True)
        (tmp_path / split / "landmarks").mkdir()
        for stem in stems:
            (tmp_path / split / "Images" / f"{stem}.png").write_bytes((dataset / "images/train_0000.png").read_bytes())
            np.save(tmp_path / split / "landmarks" / f"{stem}.npy", read_landmarks(dataset / "landmarks/train_0000.csv"))
    loaded = read_landmark_dataset(tmp_path, template)
    assert [c.case_id for c in loaded.cases("train")] == ["train_JPCLN001", "train_JPCLN002"]
    assert loaded.landmarks("test_JPCNN010").shape == (120, 2)
    with pytest.raises(InputError, match="stores no template"):
        read_landmark_dataset(tmp_path)

    # Imported into segpipe's layout: the segmentation pipeline's reader sees organ masks as label types.
    assert main(["import-landmarks", "--config", str(_config(tmp_path)), "--dataset", str(tmp_path),
                 "--out", str(tmp_path / "imported")]) == 0
    manifest = read_dataset(tmp_path / "imported")
    assert manifest.label_types == ["accurate", "right_lung", "left_lung", "heart"]
    imported = read_landmark_dataset(tmp_path / "imported", template)
    case = imported.manifest.case("train_JPCLN002")
    assert case.image == str(tmp_path / "Train" / "Images" / "JPCLN002.png")
    np.testing.assert_array_equal(imported.landmarks(case.case_id), loaded.landmarks(case.case_id))
    original = read_landmark_dataset(dataset).manifest.case("train_0000")
    for label_type in manifest.label_types:  # the same image and landmarks give the generator's masks
        np.testing.assert_array_equal(read_mask(case.labels[label_type])[0], read_mask(original.labels[label_type])[0])


def _config(directory):
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({"decode": {"template": "default"}}))
    return path


def test_template_mismatch_and_unknown_layout(tmp_path, dataset):
    with pytest.raises(InputError, match="differs from the configured"):
        read_landmark_dataset(dataset, default_template(clavicles=True))
    with pytest.raises(InputError, match="not a landmark dataset"):
        read_landmark_dataset(tmp_path)


def test_synth_chest_cli(tmp_path, capsys):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"decode": {"synthetic": {"image_size": 32, "n_train": 1, "n_val": 1, "n_test": 1}}}))
    assert main(["synth", "chest", "--config", str(config), "--out", str(tmp_path / "data")]) == 0
    assert (tmp_path / "data" / "dataset.json").is_file()
    config.write_text(yaml.safe_dump({"decode": {"template": str(tmp_path / "missing.yaml")}}))
    assert main(["synth", "chest", "--config", str(config), "--out", str(tmp_path / "other")]) == 2
    assert "landmark template not found" in capsys.readouterr().err

"""Synthetic TopoMortar-style walls: layout, determinism, labels, Betti numbers and OOD rules."""

import csv
from pathlib import Path

import gudhi
import numpy as np
import pytest
import yaml
from scipy import ndimage, stats

from segpipe.cli import main
from segpipe.config import validate_config
from segpipe.datasets.betti import betti_numbers
from segpipe.datasets.synthetic.mortar import GROUPS, MortarSpec, generate_mortar_dataset, plan_cases, render_wall
from segpipe.errors import ConfigError
from segpipe.io.images import read_image, read_mask

TINY = MortarSpec(image_size=64, seed=3, n_train=3, n_train_small=2, n_val=2, n_test_id=2, n_test_ood=1)


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    return generate_mortar_dataset(TINY, tmp_path_factory.mktemp("synth") / "dataset")


def _walls(group: str, count: int, size: int = 128, seed: int = 11) -> list:
    return [render_wall(size, group, np.random.default_rng([seed, GROUPS.index(group), k])) for k in range(count)]


def _gudhi_betti(mask: np.ndarray) -> tuple[int, int]:
    complex_ = gudhi.CubicalComplex(top_dimensional_cells=1.0 - mask.astype(float))
    complex_.compute_persistence()
    b0, b1 = complex_.persistent_betti_numbers(0.0, 0.0)[:2]
    return b0, b1


def _precision_recall(label: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    hit = np.count_nonzero(label & truth)
    return hit / np.count_nonzero(label), hit / np.count_nonzero(truth)


def test_numbering_follows_topomortar():
    cases = plan_cases(MortarSpec(n_train=50, n_train_small=10, n_val=20, n_test_id=50, n_test_ood=50))
    assert [c.case_id for c in cases[:2]] == ["001", "002"] and len(cases) == 420
    assert {c.split for c in cases[:50]} == {"train"} and {c.split for c in cases[50:70]} == {"val"}
    assert cases[70].case_id == "071" and cases[70].group == "indistr" and cases[119].group == "indistr"
    assert [cases[120 + 50 * k].group for k in range(6)] == list(GROUPS[1:])
    assert cases[120].case_id == "121" and cases[-1].case_id == "420"


def test_layout_files_have_topomortar_formats(tiny_dataset):
    splits = yaml.safe_load((tiny_dataset / "splits.yaml").read_text())
    small = yaml.safe_load((tiny_dataset / "splits_small.yaml").read_text())
    assert list(splits) == [1] and set(splits[1]) == {"train", "val", "test"}
    assert splits[1]["train"] == [f"dataset/train/images/00{i}.png" for i in (1, 2, 3)]
    assert small[1]["train"] == splits[1]["train"][:2]
    assert small[1]["val"] == splits[1]["val"] == ["dataset/val/images/004.png", "dataset/val/images/005.png"]
    n_test = 2 + 6
    assert small[1]["test"] == splits[1]["test"] and len(splits[1]["test"]) == n_test
    for entry in splits[1]["train"] + splits[1]["val"] + splits[1]["test"]:
        assert (tiny_dataset.parent / entry).is_file()
    with open(tiny_dataset / "dataset_types.txt", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["ID", "group"]
    assert [r[1] for r in rows[1:]] == ["indistr"] * 7 + list(GROUPS[1:])
    assert [r[0] for r in rows[1:]] == [f"{i:03d}" for i in range(1, 14)]
    # noisy and pseudo labels exist for training and validation images only, as in TopoMortar
    for split, label_dirs in {"train": 4, "val": 4, "test": 2}.items():
        assert len([d for d in (tiny_dataset / split).iterdir() if d.is_dir()]) == label_dirs
    assert not (tiny_dataset / "test" / "noisy").exists()


def test_images_are_rgb_and_labels_are_0_255(tiny_dataset):
    image = read_image(tiny_dataset / "train" / "images" / "001.png")
    assert image.array.shape == (3, 64, 64) and image.array.dtype == np.uint8
    assert image.array.std() > 10  # not a flat image
    for label_type in ("accurate", "noisy", "pseudo"):
        mask, _ = read_mask(tiny_dataset / "train" / label_type / "001.png")
        assert mask.shape == (64, 64) and set(np.unique(mask)) == {0, 255}


def test_same_seed_gives_byte_identical_files(tmp_path, tiny_dataset):
    again = generate_mortar_dataset(TINY, tmp_path / "dataset")
    files = sorted(p.relative_to(tiny_dataset) for p in tiny_dataset.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((tiny_dataset / f).read_bytes() == (again / f).read_bytes() for f in files)
    other = generate_mortar_dataset(MortarSpec(**{**TINY.__dict__, "seed": 4}), tmp_path / "other")
    assert (other / "train/images/001.png").read_bytes() != (again / "train/images/001.png").read_bytes()


def test_changing_the_training_set_size_keeps_the_test_images(tmp_path, tiny_dataset):
    bigger = generate_mortar_dataset(MortarSpec(**{**TINY.__dict__, "n_train": 4}), tmp_path / "dataset")
    assert (bigger / "test/images/009.png").read_bytes() == (tiny_dataset / "test/images/008.png").read_bytes()


def test_betti_csv_matches_labels_and_gudhi(tiny_dataset):
    with open(tiny_dataset / "betti_numbers.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["ID", "Betti0", "Betti1", "Betti2"] and len(rows) == 13
    for row in rows[:3] + rows[-3:]:
        split = next(s for s in ("train", "val", "test") if (tiny_dataset / s / "accurate" / f"{row['ID']}.png").is_file())
        mask = read_mask(tiny_dataset / split / "accurate" / f"{row['ID']}.png")[0] > 0
        expected = (int(row["Betti0"]), int(row["Betti1"]))
        assert betti_numbers(mask)[:2] == expected == _gudhi_betti(mask)
        assert row["Betti2"] == "0"


@pytest.mark.parametrize("size", [96, 256])
def test_in_distribution_mortar_is_one_network_with_one_hole_per_enclosed_brick(size):
    for wall in _walls("indistr", 6 if size < 200 else 2, size):
        mask = wall.accurate
        bricks_seen = set(np.unique(wall.bricks[~mask]))
        border = np.zeros_like(mask)
        border[[0, -1], :] = border[:, [0, -1]] = True
        bricks_on_border = set(np.unique(wall.bricks[~mask & border]))
        enclosed = len(bricks_seen - bricks_on_border)
        assert enclosed > 5
        assert betti_numbers(mask) == (1, enclosed, 0)
        assert _gudhi_betti(mask) == (1, enclosed)


def _betti_errors(label: np.ndarray, truth: np.ndarray) -> int:
    return sum(abs(a - b) for a, b in zip(betti_numbers(label)[:2], betti_numbers(truth)[:2]))


def test_noisy_and_pseudo_labels_have_topomortar_statistics():
    # TopoMortar's real train/ labels 001-020 (measured): noisy precision 0.95, recall 0.44, Betti errors
    # 0.05 / 0.4; pseudo precision 0.83, recall 0.99, Betti errors 0.45 / 10.9
    walls = _walls("indistr", 10)
    noisy = np.mean([_precision_recall(w.noisy, w.accurate) for w in walls], axis=0)
    pseudo = np.mean([_precision_recall(w.pseudo, w.accurate) for w in walls], axis=0)
    assert 0.93 <= noisy[0] <= 0.99 and 0.38 <= noisy[1] <= 0.62  # 128 px: a connected stroke is >= 1.5 of ~3 px
    assert 0.78 <= pseudo[0] <= 0.88 and pseudo[1] >= 0.98
    # noisy strokes keep the network's topology, nearly; pseudo-labels mostly gain holes (mortar rings on
    # light, textured bricks), as the real ones do (train/ 001-010: 9 of 10 wrong, 7 of them with more holes)
    assert np.mean([_betti_errors(w.noisy, w.accurate) for w in walls]) < 3
    assert np.mean([betti_numbers(w.pseudo)[1] > betti_numbers(w.accurate)[1] for w in walls]) >= 0.5


def _brick_contrast_and_mortar_fraction(wall, labels: list[np.ndarray]) -> tuple[list[float], list[list[float]]]:
    """Per enclosed brick: mortar-minus-brick brightness, and the fraction of it each label calls mortar."""
    grey = wall.image.astype(float).mean(axis=0)
    inside = ~wall.accurate
    border = np.zeros_like(inside)
    border[[0, -1], :] = border[:, [0, -1]] = True
    contrast, fractions = [], [[] for _ in labels]
    for index in np.unique(wall.bricks[inside]):
        brick = inside & (wall.bricks == index)
        if (brick & border).any() or brick.sum() < 10:
            continue
        ring = ndimage.binary_dilation(brick, iterations=2) & wall.accurate
        contrast.append(grey[ring].mean() - grey[brick].mean())
        for fraction, label in zip(fractions, labels):
            fraction.append(np.count_nonzero(label & brick) / np.count_nonzero(brick))
    return contrast, fractions


def test_pseudo_labels_err_systematically_where_the_image_is_ambiguous():
    walls = _walls("indistr", 10)
    # more topology errors than the noisy labels, as on the real data (0.45 vs 11.3 Betti errors)
    pseudo_errors = [_betti_errors(w.pseudo, w.accurate) for w in walls]
    noisy_errors = [_betti_errors(w.noisy, w.accurate) for w in walls]
    assert np.mean(pseudo_errors) > 3 * np.mean(noisy_errors)
    # not independent noise: the errors sit on the bricks that differ least from their mortar, which a
    # network trained on these labels sees, and learns, in every image
    contrast, (pseudo, noisy) = [], ([], [])
    for wall in walls:
        c, (p, n) = _brick_contrast_and_mortar_fraction(wall, [wall.pseudo, wall.noisy])
        contrast += c
        pseudo += p
        noisy += n
    rho_pseudo, p_value = stats.spearmanr(contrast, pseudo)
    rho_noisy, _ = stats.spearmanr(contrast, noisy)
    assert len(contrast) > 300 and rho_pseudo < -0.35 and p_value < 1e-6 and rho_pseudo < rho_noisy - 0.15
    # deterministic: a function of the image (the same wall gives the same pseudo-label)
    again = render_wall(128, "indistr", np.random.default_rng([11, GROUPS.index("indistr"), 0]))
    assert np.array_equal(again.pseudo, walls[0].pseudo)


def test_joint_width_scales_with_image_size():
    fractions = {size: np.mean([w.accurate.mean() for w in _walls("indistr", 4, size, seed=5)]) for size in (64, 256)}
    assert fractions[64] == pytest.approx(fractions[256], rel=0.25)


def test_objects_are_labelled_background():
    for wall in _walls("objects", 4):
        assert wall.in_front.any()
        assert not (wall.accurate & wall.in_front).any()


def test_occlusion_keeps_the_mortar_labelled_under_the_occluder():
    for wall in _walls("occlusion", 4):
        hidden = wall.in_front
        assert hidden.mean() > 0.005
        # the label continues under the occluder as densely as elsewhere, and stays one network
        assert wall.accurate[hidden].mean() == pytest.approx(wall.accurate[~hidden].mean(), abs=0.12)
        assert betti_numbers(wall.accurate)[0] == 1


@pytest.mark.parametrize("group", ["angles", "graffiti", "shadows"])
def test_groups_that_do_not_hide_the_wall_keep_one_mortar_network(group):
    for wall in _walls(group, 3):
        assert betti_numbers(wall.accurate)[0] == 1 and not wall.in_front.any()


def _mortar_minus_brick_luminance(wall) -> float:
    luminance = wall.image.astype(float).mean(axis=0)
    return luminance[wall.accurate].mean() - luminance[~wall.accurate].mean()


def test_colors_group_inverts_the_contrast_on_average():
    assert all(_mortar_minus_brick_luminance(w) > 0 for w in _walls("indistr", 6))
    assert np.mean([_mortar_minus_brick_luminance(w) for w in _walls("colors", 10)]) < 0


def test_angles_group_shows_perspective():
    """Bricks shrink towards the far side: brick sizes vary far more than in frontal walls."""

    def size_spread(wall) -> float:
        counts = np.bincount(wall.bricks[~wall.accurate])
        counts = counts[counts > 0]
        return np.percentile(counts, 90) / np.percentile(counts, 50)

    assert np.mean([size_spread(w) for w in _walls("angles", 4, 256)]) > np.mean(
        [size_spread(w) for w in _walls("indistr", 4, 256)]
    ) + 0.2


def test_invalid_settings_are_config_errors():
    with pytest.raises(ConfigError, match="'dataset.synthetic.n_train_small' \\(6\\) exceeds"):
        validate_config({"dataset": {"synthetic": {"n_train": 5, "n_train_small": 6}}})
    with pytest.raises(ConfigError, match="image_size"):
        MortarSpec(image_size=16)


def _write_config(path: Path, **synthetic) -> Path:
    path.write_text(yaml.safe_dump({"dataset": {"synthetic": synthetic}}))
    return path


def test_cli_writes_the_dataset_and_refuses_foreign_directories(tmp_path, capsys):
    config = _write_config(tmp_path / "c.yaml", image_size=32, n_train=2, n_train_small=1, n_val=1, n_test_id=1, n_test_ood=0)
    out = tmp_path / "data" / "mortar"
    assert main(["synth", "mortar", "--config", str(config), "--out", str(out)]) == 0
    assert (out / "splits.yaml").is_file() and len(list((out / "test" / "images").iterdir())) == 1
    assert yaml.safe_load((out / "splits.yaml").read_text())[1]["val"] == ["mortar/val/images/003.png"]
    # running again replaces the directory as a whole
    (out / "train" / "images" / "stale.png").write_bytes(b"x")
    assert main(["synth", "--config", str(config), "--out", str(out)]) == 0
    assert not (out / "train" / "images" / "stale.png").exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    assert main(["synth", "mortar", "--config", str(config), "--out", str(foreign)]) == 2
    assert "refusing to replace" in capsys.readouterr().err
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_leftovers_of_a_killed_run_are_cleaned_up(tmp_path):
    leftover = tmp_path / ".dataset.tmp-99999"
    (leftover / "train").mkdir(parents=True)
    spec = MortarSpec(image_size=32, n_train=1, n_train_small=1, n_val=1, n_test_id=1, n_test_ood=0)
    out = generate_mortar_dataset(spec, tmp_path / "dataset")
    assert not leftover.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]
    assert (out / "splits.yaml").is_file()

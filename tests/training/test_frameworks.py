"""Training frameworks: TopoMortar's random hue augmentation and self-distillation, SCNP; study grids."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from skimage.color import rgb2hsv
from workflow_helpers import SMOKE, job_counts, snakemake

from segpipe.config import validate_config
from segpipe.errors import ConfigError
from segpipe.experiments.grid import expand_grid, teacher_run, training_settings
from segpipe.inference.sliding_window import predict_probability
from segpipe.networks.model_file import load_model
from segpipe.training.augmentation import RandomHued, recolour
from segpipe.training.batches import BatchSource, SamplingSettings, make_training_case
from segpipe.training.scnp import penalise
from segpipe.training.segmentation import _teacher_labels, train


def _rgb(seed: int, shape=(3, 12, 14)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_recolour_gives_one_hue_and_keeps_the_range():
    image = _rgb(0)
    result = recolour(image, hue=0.3, saturation_gain=0.2, value_gain=0.1)
    assert result.shape == image.shape and result.dtype == np.float32
    assert result.min() >= image.min() - 1e-5 and result.max() <= image.max() + 1e-5
    hsv = rgb2hsv(np.moveaxis((result - image.min()) / np.ptp(image), 0, -1))
    coloured = hsv[..., 1] > 0.05  # hue is undefined for grey pixels
    assert coloured.mean() > 0.5 and np.allclose(hsv[..., 0][coloured], 0.3, atol=2e-3)
    before = rgb2hsv(np.moveaxis((image - image.min()) / np.ptp(image), 0, -1))
    assert (hsv[..., 1] >= np.minimum(before[..., 1] + 0.2, 1.0) - 1e-3).all()  # saturation raised by the gain
    constant = np.ones((3, 4, 4), np.float32)
    assert np.array_equal(recolour(constant, 0.5, 0.5, 0.5), constant)


def test_random_hue_transform_is_seeded_and_obeys_its_probability():
    sample = {"image": _rgb(1), "label": np.zeros((1, 12, 14), np.uint8)}
    never, always = RandomHued("image", prob=0.0), RandomHued("image", prob=1.0)
    assert np.array_equal(never(sample)["image"], sample["image"])
    first = always.set_random_state(seed=7)(sample)
    second = RandomHued("image", prob=1.0).set_random_state(seed=7)(sample)
    assert not np.allclose(first["image"], sample["image"]) and np.array_equal(first["image"], second["image"])
    assert first["label"] is sample["label"]  # only the image is recoloured
    with pytest.raises(ValueError, match="3 channels"):
        always({"image": np.zeros((1, 4, 4), np.float32)})


def test_random_hue_batches_change_colours_only():
    rng = np.random.default_rng(0)
    case = make_training_case("a", rng.normal(size=(3, 16, 16)).astype(np.float32),
                              (rng.random((16, 16)) > 0.5).astype(np.uint8), {}, (16, 16))
    plain = SamplingSettings(batch_size=4, patch_size=None, flips=False, rot90=False)
    hued = SamplingSettings(batch_size=4, patch_size=None, flips=False, rot90=False, random_hue=1.0)
    before, after = BatchSource([case], plain, (16, 16), 0)[1], BatchSource([case], hued, (16, 16), 0)[1]
    assert torch.equal(before["label"], after["label"]) and not torch.allclose(before["image"], after["image"])


def test_settings_replace_the_product_of_label_types_sets_and_frameworks():
    grid = {"losses": ["dice_ce", "cldice"], "label_types": ["accurate"], "training_sets": ["large"],
            "frameworks": ["plain"], "seeds": [0, 1],
            "settings": [{"label_type": "noisy", "training_set": "large", "framework": "self_distillation"},
                         {"label_type": "accurate", "training_set": "small", "framework": "plain"}]}
    runs = [spec.run_id for spec in expand_grid(grid, "unet")]
    assert runs[:4] == ["unet.dice_ce.noisy.large.self_distillation.s0", "unet.dice_ce.noisy.large.self_distillation.s1",
                        "unet.dice_ce.accurate.small.plain.s0", "unet.dice_ce.accurate.small.plain.s1"]
    assert len(runs) == 8
    assert len(expand_grid({**grid, "settings": []}, "unet")) == 4  # losses x product x seeds


def test_a_settings_own_losses_replace_the_grids_losses_for_it_alone():
    grid = {"losses": ["dice_ce"], "seeds": [0],
            "settings": [{"label_type": "accurate", "training_set": "large", "framework": "plain", "losses": ["dice_ce", "cldice"]},
                         {"label_type": "noisy", "training_set": "large", "framework": "plain"}]}
    runs = [spec.run_id for spec in expand_grid(grid, "unet")]
    assert runs == ["unet.dice_ce.accurate.large.plain.s0", "unet.dice_ce.noisy.large.plain.s0",
                    "unet.cldice.accurate.large.plain.s0"]


def test_teacher_is_the_plain_run_and_part_of_the_students_settings(make_config):
    config = make_config()
    assert teacher_run("unet.cldice.noisy.small.self_distillation.s3") == "unet.cldice.noisy.small.plain.s3"
    assert teacher_run("unet.cldice.noisy.small.random_hue.s3") is None
    student = training_settings(config, "unet.dice_ce.accurate.large.self_distillation.s0")
    assert student["teacher"] == training_settings(config, "unet.dice_ce.accurate.large.plain.s0")
    assert "random_hue" not in training_settings(config, "unet.dice_ce.accurate.large.plain.s0")["train"]
    assert "random_hue" in training_settings(config, "unet.dice_ce.accurate.large.random_hue.s0")["train"]


def test_random_hue_needs_rgb_images(tmp_path, dataset_3d, make_config):
    with pytest.raises(ConfigError, match="recolours RGB images"):
        train(make_config(), dataset_3d, "unet.dice_ce.accurate.large.random_hue.s0", tmp_path, show_progress=False)


def test_self_distillation_needs_exactly_its_teacher(tmp_path, dataset_2d, make_config):
    with pytest.raises(ConfigError, match="--teacher RUN_DIR/model.pt of run 'unet.dice_ce.accurate.large.plain.s0'"):
        train(make_config(), dataset_2d, "unet.dice_ce.accurate.large.self_distillation.s0", tmp_path, show_progress=False)
    with pytest.raises(ConfigError, match="drop --teacher"):
        train(make_config(), dataset_2d, "unet.dice_ce.accurate.large.plain.s0", tmp_path, teacher=tmp_path / "t.pt",
              show_progress=False)


def test_student_trains_on_the_teachers_thresholded_predictions(tmp_path, dataset_2d, make_config):
    config = make_config()
    teacher = train(config, dataset_2d, "unet.dice_ce.accurate.large.plain.s0", tmp_path / "teacher", show_progress=False)
    image = np.random.default_rng(0).normal(size=(3, 40, 48)).astype(np.float32)
    network, info = load_model(teacher)
    probability = predict_probability(network, image, info.network, patch_size=info.patch_size, device=torch.device("cpu"))
    (labels,) = _teacher_labels(teacher, [image], 0.5, torch.device("cpu"))
    assert labels.dtype == np.uint8 and np.array_equal(labels, probability >= 0.5)
    student = train(config, dataset_2d, "unet.dice_ce.accurate.large.self_distillation.s0", tmp_path / "student",
                    teacher=teacher, show_progress=False)
    assert load_model(student)[1].run_id == "unet.dice_ce.accurate.large.self_distillation.s0"


def test_workflow_trains_the_teacher_before_its_student(tmp_path):
    config = yaml.safe_load(SMOKE.read_text())
    config["experiments"] = {**config.get("experiments", {}), "losses": ["dice_ce"], "seeds": [0],
                             "settings": [{"label_type": "accurate", "training_set": "large", "framework": "self_distillation"},
                                          {"label_type": "accurate", "training_set": "small", "framework": "random_hue"}]}
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "-n", "-p", "train", configfile=tmp_path / "study.yaml")
    assert result.returncode == 0, result.stderr
    assert job_counts(result.stdout)["train_run"] == 3  # the two runs and the teacher
    student = next(line for line in result.stdout.splitlines() if "--run unet.dice_ce.accurate.large.self_distillation.s0" in line)
    assert "--teacher results/runs/unet.dice_ce.accurate.large.plain.s0/model.pt" in student


def test_scnp_replaces_logits_by_the_worst_same_class_neighbour():
    logits = torch.tensor([[[[1.0, 2, 3], [4, 5, 6], [7, 8, 9]]]], requires_grad=True)
    label = torch.tensor([[[[1.0, 1, 0], [1, 0, 0], [0, 0, 0]]]])
    penalised = penalise(logits, label)
    # foreground voxels: the smallest foreground logit around (1); background: the largest background one
    expected = torch.tensor([[[[1.0, 1, 6], [1, 9, 9], [8, 9, 9]]]])
    assert torch.equal(penalised, expected)
    penalised.sum().backward()  # each output's gradient goes to the voxel its pooling chose
    assert torch.equal(logits.grad, torch.tensor([[[[3.0, 0, 0], [0, 0, 1], [0, 1, 4]]]]))
    assert torch.equal(penalise(logits, label, 1), logits)  # a neighbourhood of one voxel changes nothing
    with pytest.raises(ValueError, match="odd"):
        penalise(logits, label, 4)


@pytest.mark.parametrize("shape", [(9, 10), (5, 6, 7)])
def test_scnp_two_channel_logits_penalise_each_class_and_match_one_channel(shape):
    rng = np.random.default_rng(len(shape))
    x = torch.from_numpy(rng.normal(size=(2, 1, *shape))).float()
    label = torch.from_numpy((rng.random((2, 1, *shape)) < 0.4).astype(np.float32))
    one = penalise(x, label, 3)
    two = penalise(torch.cat([torch.zeros_like(x), x], 1), label, 3)
    assert torch.equal(two[:, 1:], one) and torch.equal(two[:, :1], torch.zeros_like(x))
    assert (one[label > 0] <= x[label > 0]).all() and (one[label == 0] >= x[label == 0]).all()
    five = penalise(x, label, 5)
    assert (five[label > 0] <= one[label > 0]).all()


def test_scnp_neighbourhood_is_a_setting_of_scnp_runs_only(make_config):
    config = make_config()
    assert "scnp_neighbourhood" not in training_settings(config, "unet.dice_ce.accurate.large.plain.s0")["train"]
    assert training_settings(config, "unet.dice_ce.accurate.large.scnp.s0")["train"]["scnp_neighbourhood"] == 3
    with pytest.raises(ConfigError, match="scnp_neighbourhood"):
        validate_config({"train": {"scnp_neighbourhood": 4}})


def test_scnp_run_trains_on_penalised_logits(tmp_path, dataset_2d, make_config, monkeypatch):
    import segpipe.training.segmentation as segmentation

    seen = []

    def spy(logits, label, neighbourhood):
        seen.append(neighbourhood)
        return penalise(logits, label, neighbourhood)

    monkeypatch.setattr(segmentation, "penalise", spy)
    model = train(make_config(), dataset_2d, "unet.dice_ce.accurate.large.scnp.s0", tmp_path, show_progress=False)
    assert seen and set(seen) == {3} and load_model(model)[1].run_id == "unet.dice_ce.accurate.large.scnp.s0"
    seen.clear()
    train(make_config(), dataset_2d, "unet.dice_ce.accurate.large.plain.s0", tmp_path / "plain", show_progress=False)
    assert not seen

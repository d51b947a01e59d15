"""Configuration loading and validation."""

from pathlib import Path

import pytest
import yaml

from segpipe.cli import main
from segpipe.config import load_config, validate_config
from segpipe.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_default_config_is_valid_and_gets_defaults():
    config = load_config(REPO / "config.yaml")
    assert config["train"]["output"] == "sigmoid"  # not in config.yaml: filled from the schema
    assert config["experiments"]["losses"] == ["dice_ce"]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"trian": {}}, "unknown key 'trian'; allowed keys: connectivity, dataset"),
        ({"train": {"netwrk": {}}}, "unknown key 'netwrk' in 'train'; allowed keys: augmentation, batch_size"),
        ({"train": {"network": {"name": "vnet"}}}, "'train.network.name' is 'vnet'; allowed values: 'unet', 'dynunet'"),
        ({"train": {"iterations": "many"}}, "'train.iterations' must be of type integer, got 'many'"),
        ({"experiments": {"losses": ["cldice"]}}, "names 'cldice', which is not defined under 'losses'"),
        ({"experiments": {"settings": [{"label_type": "accurate", "training_set": "large", "framework": "plain",
                                        "losses": ["warpng"]}]}},
         "'experiments.settings[0].losses' names 'warpng', which is not defined under 'losses'"),
        ({"dataset": {"source": "directory", "path": "/no/such/dir"}}, "'/no/such/dir', which is not an existing directory"),
    ],
)
def test_invalid_config_names_key_and_allowed_values(config, expected):
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert expected in str(info.value)


#: Settings that training rejects (issue 18.9: `segpipe config` and `snakemake -n` accepted them).
TRAINING_REJECTS = [
    ({"losses": {"late": {"terms": [{"name": "dice_ce", "weight": {"start": 1, "end": 0, "begin": 0.6, "until": 0.4}}]}}},
     "'losses.late.terms[0].weight.until' (0.4) must be greater than 'losses.late.terms[0].weight.begin' (0.6)"),
    ({"losses": {"late": {"terms": [{"name": "ce", "weight": {"start": 1, "end": 0, "begin": 300, "until": 200,
                                                            "unit": "iterations"}}]}}},
     "'losses.late.terms[0].weight.until' (200) must be greater than"),
    ({"train": {"network": {"channels": [8, 16], "strides": [2, 2, 2]}}},
     "'train.network.strides' has 3 values but 'train.network.channels' has 2"),
    ({"train": {"network": {"channels": [8, 16, 32], "strides": [2, 2]}, "patch_size": [64, 30]}},
     "'train.patch_size' [64, 30] is not divisible by 4"),
]


@pytest.mark.parametrize(("config", "expected"), TRAINING_REJECTS)
def test_config_rejects_what_training_rejects(tmp_path, capsys, config, expected):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["config", str(path)]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as info:
        validate_config({"train": {"iterations": 0, "device": "tpu"}, "bogus": 1})
    message = str(info.value)
    assert "bogus" in message and "train.iterations" in message and "train.device" in message


def test_cli_reports_config_error_without_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"train": {"batch_size": -1}}))
    assert main(["config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "train.batch_size" in err and "Traceback" not in err


def test_cli_reports_yaml_syntax_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    assert main(["config", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err

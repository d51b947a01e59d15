"""The one model-file format: every network round-trips, nothing foreign is unpickled, wrong kinds are clear errors."""

from __future__ import annotations

import pytest
import torch

from segpipe.errors import InputError
from segpipe.networks.factory import NetworkSpec
from segpipe.networks.graph import default_template
from segpipe.networks.hybridgnet import HybridGNetConfig, HybridGNetSpec
from segpipe.networks.model_file import (
    ModelInfo,
    load_landmark_model,
    load_model,
    load_segmentation_model,
    save_model,
)

UNET = NetworkSpec("unet", 2, 3, "sigmoid", (4, 8), (2,))
HYBRIDGNET = HybridGNetSpec(HybridGNetConfig(image_size=32, encoder_channels=(4, 8, 8, 8), graph_channels=8, latent_size=8), default_template())


@pytest.mark.parametrize("spec", [UNET, HYBRIDGNET], ids=["unet", "hybridgnet"])
def test_every_network_round_trips_in_the_same_format(tmp_path, spec):
    network = spec.build()
    info = ModelInfo(spec, "run", "accurate", 7, (16, 16) if spec is UNET else None, "zscore" if spec is UNET else None)
    save_model(tmp_path / "model.pt", network, info)
    loaded, loaded_info = load_model(tmp_path / "model.pt")
    assert loaded_info == info and not loaded.training
    for name, value in network.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], value)
    assert torch.load(tmp_path / "model.pt", weights_only=True)["format"] == "segpipe-model"


class Planted:
    """An object whose unpickling would run code."""

    def __reduce__(self):
        return (exec, ("open('PLANTED_RAN', 'w').write('yes')",))


def test_a_planted_pickle_is_refused_without_running_its_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"format": "segpipe-model", "version": 2, "payload": Planted()}, tmp_path / "model.pt")
    with pytest.raises(InputError, match="cannot read the model file safely"):
        load_model(tmp_path / "model.pt")
    assert not (tmp_path / "PLANTED_RAN").exists()
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(InputError, match="not a segpipe model file"):
        load_model(tmp_path / "list.pt")


def test_the_wrong_kind_of_model_is_a_clear_error(tmp_path):
    save_model(tmp_path / "unet.pt", UNET.build(), ModelInfo(UNET, "r", "accurate", 1, None, "zscore"))
    save_model(tmp_path / "hybridgnet.pt", HYBRIDGNET.build(), ModelInfo(HYBRIDGNET, "h", "landmarks", 1))
    with pytest.raises(InputError, match="(?s)not a HybridGNet.*segpipe predict"):
        load_landmark_model(tmp_path / "unet.pt")
    with pytest.raises(InputError, match="(?s)not a segmentation network.*segpipe decode"):
        load_segmentation_model(tmp_path / "hybridgnet.pt")

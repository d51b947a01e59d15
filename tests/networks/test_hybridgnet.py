"""HybridGNet: shapes per skip variant and K, coordinate range, skip gradients, sampling, loss."""

import subprocess
import sys
import textwrap

import pytest
import torch

from segpipe.errors import ConfigError
from segpipe.networks.graph import default_template
from segpipe.networks.hybridgnet import HybridGNet, HybridGNetConfig, hybridgnet_loss, sample_features

SMALL = dict(image_size=32, encoder_channels=(4, 8, 8, 8), graph_channels=8, latent_size=8)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("skip", ["none", "1-igsc", "2-igsc"])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_forward_shapes_and_range(skip, k):
    template = default_template()
    model = HybridGNet(template, HybridGNetConfig(**SMALL, cheb_k=k, skip=skip, levels=3))
    output = model(torch.rand(2, 1, 32, 32) * 50 - 25)  # far outside the training range
    assert output.positions.shape == (2, 120, 2)
    assert sorted(output.interim) == [1, 2]
    assert output.interim[1].shape == (2, 60, 2) and output.interim[2].shape == (2, 31, 2)
    assert output.mu.shape == output.log_var.shape == (2, 8)
    for positions in (output.positions, *output.interim.values()):
        assert torch.all((positions >= 0) & (positions <= 1))


def test_single_level_model_has_no_interim_output():
    model = HybridGNet(default_template(clavicles=True), HybridGNetConfig(**SMALL, levels=1, skip="none"))
    output = model(torch.rand(1, 1, 32, 32))
    assert output.positions.shape == (1, 166, 2) and output.interim == {}
    terms = hybridgnet_loss(model, output, torch.rand(1, 166, 2))
    assert terms.interim.item() == 0.0


def _encoder_gradients(skip: str) -> list[float]:
    """Gradient norms per encoder stage when the latent path is cut (mu, log_var constant)."""
    model = HybridGNet(default_template(), HybridGNetConfig(**SMALL, skip=skip, levels=3)).eval()
    for layer in (model.encoder.to_mu, model.encoder.to_log_var):
        torch.nn.init.zeros_(layer.weight)
    for head in model.heads:  # heads start at zero (the shape prior); give them weights as training would
        torch.nn.init.normal_(head.lins[0].weight)
    model(torch.rand(2, 1, 32, 32)).positions.sum().backward()
    return [sum(p.grad.abs().sum().item() for p in stage.parameters()) for stage in model.encoder.stages]


def test_gradient_reaches_the_encoder_only_through_skip_connections():
    assert _encoder_gradients("none") == [0.0, 0.0, 0.0, 0.0]
    one = _encoder_gradients("1-igsc")
    assert all(g > 0 for g in one[:3]) and one[3] == 0.0, "1-IGSC samples the second-deepest stage only"
    two = _encoder_gradients("2-igsc")
    assert all(g > 0 for g in two), "2-IGSC also samples the deepest stage"


def test_sample_features_reads_pixel_centres():
    features = torch.arange(12.0).view(1, 1, 3, 4)  # value = 4 * row + col
    rows, cols = torch.tensor([0, 2, 1]), torch.tensor([0, 3, 2])
    positions = torch.stack([(cols + 0.5) / 4, (rows + 0.5) / 3], dim=1).unsqueeze(0)
    sampled = sample_features(features, positions)
    assert sampled.shape == (1, 3, 1)
    torch.testing.assert_close(sampled[0, :, 0], (4 * rows + cols).float())
    between = sample_features(features, torch.tensor([[[1.0 / 4, 0.5 / 3]]]))  # halfway between cols 0 and 1
    assert between.item() == pytest.approx(0.5)


def test_loss_vanishes_for_a_perfect_prediction():
    model = HybridGNet(default_template(), HybridGNetConfig(**SMALL))
    target = torch.rand(2, 120, 2)
    output = model(torch.rand(2, 1, 32, 32))
    perfect = output._replace(positions=target, interim=model.interim_targets(target))
    terms = hybridgnet_loss(model, perfect, target, kl_weight=0.0)
    assert terms.landmark.item() == 0.0 and terms.interim.item() == 0.0 and terms.total.item() == 0.0
    assert model.interim_targets(target)[2].shape == (2, 31, 2)
    torch.testing.assert_close(model.interim_targets(target)[1][:, 1], target[:, 2])


def test_kl_term_is_zero_at_the_prior():
    model = HybridGNet(default_template(), HybridGNetConfig(**SMALL))
    output = model(torch.rand(1, 1, 32, 32))
    prior = output._replace(mu=torch.zeros_like(output.mu), log_var=torch.zeros_like(output.log_var))
    assert hybridgnet_loss(model, prior, torch.rand(1, 120, 2)).kl.item() == 0.0


@pytest.mark.parametrize(
    "changes, key",
    [
        (dict(skip="2-igsc", levels=2), "levels"),
        (dict(skip="1-igsc", levels=1), "levels"),
        (dict(skip="3-igsc"), "skip"),
        (dict(image_size=36), "image_size"),
        (dict(encoder_channels=(4, 8)), "encoder_channels"),
    ],
)
def test_bad_architecture_is_a_config_error(changes, key):
    with pytest.raises(ConfigError, match=key):
        HybridGNetConfig(**{**SMALL, **changes})


def test_model_never_tries_to_import_torchvision():
    script = textwrap.dedent(
        """
        import sys
        attempts = []
        class Spy:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "torchvision":
                    attempts.append(name)
                return None
        sys.meta_path.insert(0, Spy())
        import torch
        from segpipe.networks.graph import default_template
        from segpipe.networks.hybridgnet import HybridGNet, HybridGNetConfig
        model = HybridGNet(default_template(), HybridGNetConfig(image_size=32, encoder_channels=(4, 8, 8)))
        model(torch.rand(1, 1, 32, 32)).positions.sum().backward()
        assert not attempts and "torchvision" not in sys.modules, attempts
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_untrained_model_predicts_its_shape_prior():
    model = HybridGNet(default_template(), HybridGNetConfig(**SMALL)).eval()
    mean = torch.rand(120, 2) * 0.8 + 0.1
    model.set_mean_shape(mean)
    output = model(torch.rand(2, 1, 32, 32))
    torch.testing.assert_close(output.positions, mean.expand(2, -1, -1))
    torch.testing.assert_close(output.interim[2], model.interim_targets(mean.expand(2, -1, -1))[2])
    torch.testing.assert_close(model.mean_shape, mean)
    restored = HybridGNet(default_template(), HybridGNetConfig(**SMALL))
    restored.load_state_dict(model.state_dict())
    torch.testing.assert_close(restored.mean_shape, mean)

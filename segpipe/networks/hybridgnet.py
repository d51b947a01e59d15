"""HybridGNet (Gaggion et al. 2022): image -> landmark graph, plausible shapes by construction.

A residual CNN encoder maps the image to a variational latent code; a linear layer turns the code
into features on the coarsest landmark graph; Chebyshev graph convolutions (torch-geometric
``ChebConv``) refine them, resolution by resolution, with unpooling in between
(:class:`segpipe.networks.graph.GraphPyramid`); a last one-hop convolution gives each node's
displacement, in logit space, from a shape prior (the mean training shape, installed with
:meth:`HybridGNet.set_mean_shape`), and a sigmoid maps the result to ``[0, 1]`` (normalised image
coordinates, see :mod:`segpipe.networks.graph`). The position heads start at zero, so an untrained
model predicts the mean shape and training learns how each image departs from it; Gaggion et al.
regress coordinates directly, which converges far slower on a CPU budget.

Every coarser level ends in a position head whose interim landmark positions are supervised
(deep supervision). Image-to-graph skip connections (IGSC) sample encoder features bilinearly
(``torch.nn.functional.grid_sample``) at the interim positions and concatenate them, with the
positions, to the graph features:

- ``"none"``: no skip connection; the shape comes from the latent code alone.
- ``"1-igsc"``: one skip at level 1 (half resolution), sampling the second-deepest encoder stage.
- ``"2-igsc"``: also a skip at level 2 (quarter resolution), sampling the deepest encoder stage.

The model uses no torchvision: Gaggion's ``roi_align`` of a 1x1 window is bilinear sampling at a
point, which ``grid_sample`` does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from segpipe.errors import ConfigError, SegpipeError
from segpipe.networks.graph import GraphPyramid, GraphTemplate


def cheb_conv(in_channels: int, out_channels: int, k: int) -> nn.Module:
    """torch-geometric's Chebyshev graph convolution (symmetric normalisation).

    torch-geometric is the extra ``segpipe[decode]``: the segmentation stages never need it.

    Raises
    ------
    SegpipeError
        If torch-geometric is not installed.
    """
    try:
        from torch_geometric.nn import ChebConv
    except ImportError as error:
        raise SegpipeError("HybridGNet needs torch-geometric, which is not installed",
                           fix="pip install 'segpipe[decode]'") from error
    return ChebConv(in_channels, out_channels, K=k, normalization="sym")


#: Skip-connection variants and the graph levels that receive a skip.
SKIP_LEVELS: dict[str, tuple[int, ...]] = {"none": (), "1-igsc": (1,), "2-igsc": (2, 1)}


@dataclass(frozen=True)
class HybridGNetConfig:
    """Architecture of a :class:`HybridGNet`.

    Attributes
    ----------
    image_size
        Side of the square input image; must be divisible by ``2 ** (len(encoder_channels) - 1)``.
    in_channels
        Image channels.
    latent_size
        Size of the variational latent code.
    encoder_channels
        Output channels of each residual encoder stage; stages after the first halve the resolution.
    graph_channels
        Feature width of the graph convolutions.
    levels
        Graph resolutions (level 0 full, each further level halves every ring).
    cheb_k
        Order ``K`` of the Chebyshev polynomials (hops reached per convolution).
    skip
        ``"none"``, ``"1-igsc"`` or ``"2-igsc"``.
    """

    image_size: int = 128
    in_channels: int = 1
    latent_size: int = 64
    encoder_channels: tuple[int, ...] = (8, 16, 32, 64, 64)
    graph_channels: int = 32
    levels: int = 3
    cheb_k: int = 6
    skip: str = "2-igsc"

    def __post_init__(self) -> None:
        object.__setattr__(self, "encoder_channels", tuple(int(c) for c in self.encoder_channels))
        key = "decode.model"
        if self.skip not in SKIP_LEVELS:
            raise ConfigError(f"unknown skip variant {self.skip!r}", where=f"{key}.skip", fix=f"use one of {list(SKIP_LEVELS)}")
        if self.skip != "none" and self.levels <= max(SKIP_LEVELS[self.skip]):
            raise ConfigError(
                f"skip variant {self.skip!r} needs at least {max(SKIP_LEVELS[self.skip]) + 1} graph levels, got {self.levels}",
                where=f"{key}.levels",
                fix="raise decode.model.levels or choose fewer skip connections",
            )
        if len(self.encoder_channels) < 3:
            raise ConfigError("the encoder needs at least 3 stages", where=f"{key}.encoder_channels")
        factor = 2 ** (len(self.encoder_channels) - 1)
        if self.image_size % factor:
            raise ConfigError(
                f"image size {self.image_size} is not divisible by {factor} (2 ** (encoder stages - 1))",
                where=f"{key}.image_size",
                fix=f"use a multiple of {factor} or fewer encoder stages",
            )
        if min(self.latent_size, self.graph_channels, self.cheb_k, self.in_channels, *self.encoder_channels) < 1:
            raise ConfigError("sizes, channels and K must be positive", where=key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly representation (stored in model files)."""
        data = asdict(self)
        data["encoder_channels"] = list(self.encoder_channels)
        return data


@dataclass(frozen=True)
class HybridGNetSpec:
    """Everything needed to build a :class:`HybridGNet` again (stored in the model file).

    Attributes
    ----------
    config
        The architecture.
    template
        The landmark graph it decodes.
    """

    config: HybridGNetConfig
    template: GraphTemplate
    name: str = "hybridgnet"

    def build(self) -> HybridGNet:
        """A fresh network of this architecture and template."""
        return HybridGNet(self.template, self.config)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly representation."""
        return {"name": self.name, "config": self.config.to_dict(), "template": self.template.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "model file") -> HybridGNetSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(HybridGNetConfig(**data["config"]), GraphTemplate.from_dict(data["template"], source=source))


class HybridGNetOutput(NamedTuple):
    """What :meth:`HybridGNet.forward` returns.

    Attributes
    ----------
    positions
        ``(B, n_0, 2)`` landmark ``(u, v)`` coordinates in ``[0, 1]``.
    interim
        Level to ``(B, n_level, 2)`` interim positions of levels ``1 .. levels - 1``.
    mu, log_var
        ``(B, latent_size)`` parameters of the latent Gaussian.
    """

    positions: torch.Tensor
    interim: dict[int, torch.Tensor]
    mu: torch.Tensor
    log_var: torch.Tensor


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch normalisation and an identity (or 1x1) shortcut."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        self.shortcut = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.relu(self.body(x) + self.shortcut(x))


class Encoder(nn.Module):
    """Residual CNN with max pooling between stages; returns every stage's features and the latent."""

    def __init__(self, config: HybridGNetConfig):
        super().__init__()
        channels = (config.in_channels, *config.encoder_channels)
        self.stages = nn.ModuleList(ResidualBlock(a, b) for a, b in zip(channels[:-1], channels[1:], strict=True))
        side = config.image_size // 2 ** (len(config.encoder_channels) - 1)
        flat = config.encoder_channels[-1] * side * side
        self.to_mu = nn.Linear(flat, config.latent_size)
        self.to_log_var = nn.Linear(flat, config.latent_size)

    def forward(self, image: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:  # noqa: D102
        features = []
        x = image
        for index, stage in enumerate(self.stages):
            x = stage(F.max_pool2d(x, 2) if index else x)
            features.append(x)
        flat = x.flatten(1)
        return features, self.to_mu(flat), self.to_log_var(flat)


def sample_features(features: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample ``features`` ``(B, C, H, W)`` at ``positions`` ``(B, N, 2)`` in ``[0, 1]``.

    Returns ``(B, N, C)``. ``(0, 0)`` is the top-left corner of the image, not a pixel centre
    (``align_corners=False``); positions outside the image take the border values.
    """
    grid = (positions * 2.0 - 1.0).unsqueeze(2)  # (B, N, 1, 2) in grid_sample's [-1, 1], x first
    sampled = F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return sampled.squeeze(-1).transpose(1, 2)


class GraphBlock(nn.Module):
    """``ChebConv`` followed by layer normalisation over features and ReLU."""

    def __init__(self, in_channels: int, out_channels: int, k: int):
        super().__init__()
        self.conv = cheb_conv(in_channels, out_channels, k)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, lambda_max: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return F.relu(self.norm(self.conv(x, edge_index, lambda_max=lambda_max)))


class HybridGNet(nn.Module):
    """Image encoder + variational latent + multi-resolution Chebyshev graph decoder.

    Parameters
    ----------
    template
        Organs and ring sizes of the output graph.
    config
        Architecture (see :class:`HybridGNetConfig`).

    Notes
    -----
    In training mode the latent code is sampled with the reparameterisation trick; in evaluation
    mode the mean is used, so decoding is deterministic.
    """

    def __init__(self, template: GraphTemplate, config: HybridGNetConfig | None = None):
        super().__init__()
        self.config = config or HybridGNetConfig()
        self.template = template
        self.pyramid = GraphPyramid.build(template, self.config.levels)
        cfg, levels, width = self.config, self.config.levels, self.config.graph_channels
        self.skip_levels = SKIP_LEVELS[cfg.skip]
        for level in range(levels):
            self.register_buffer(f"edge_index_{level}", torch.as_tensor(self.pyramid.edge_index(level)), persistent=False)
            self.register_buffer(f"lambda_max_{level}", torch.tensor(self.pyramid.lambda_max(level)), persistent=False)
            if level + 1 < levels:
                unpool = torch.as_tensor(self.pyramid.upsample(level).toarray(), dtype=torch.float32)
                self.register_buffer(f"unpool_{level}", unpool, persistent=False)

        self.encoder = Encoder(cfg)
        coarsest = self.pyramid.n_nodes(levels - 1)
        self.to_graph = nn.Linear(cfg.latent_size, coarsest * width)
        self.blocks = nn.ModuleList()
        self.fuse = nn.ModuleDict()  # levels >= 1: one more convolution before unpooling
        self.heads = nn.ModuleList()
        for level in range(levels):
            self.blocks.append(nn.ModuleList([GraphBlock(width, width, cfg.cheb_k), GraphBlock(width, width, cfg.cheb_k)]))
            extra = cfg.encoder_channels[self._encoder_stage(level)] + 2 if level in self.skip_levels else 0
            if level:
                self.fuse[str(level)] = GraphBlock(width + extra, width, cfg.cheb_k)
            head = cheb_conv(width, 2, 1)
            nn.init.zeros_(head.lins[0].weight)  # start exactly at the shape prior
            nn.init.zeros_(head.bias)
            self.heads.append(head)
        # Shape prior in logit space: positions are sigmoid(prior + head output). Zero (every node at
        # the image centre) until set_mean_shape() installs the mean training shape.
        self.register_buffer("prior", torch.zeros(self.pyramid.n_nodes(0), 2))
        for level in range(1, levels):
            self.register_buffer(f"kept_{level}", torch.as_tensor(self.pyramid.kept_indices(level)), persistent=False)

    def _encoder_stage(self, level: int) -> int:
        """Encoder stage sampled by the skip at ``level``: deeper stages for coarser graphs."""
        return len(self.config.encoder_channels) - 3 + level

    def _graph(self, level: int) -> tuple[torch.Tensor, torch.Tensor]:
        return getattr(self, f"edge_index_{level}"), getattr(self, f"lambda_max_{level}")

    def forward(self, image: torch.Tensor) -> HybridGNetOutput:
        """Predict landmarks for a batch of images ``(B, in_channels, image_size, image_size)``."""
        features, mu, log_var = self.encoder(image)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var) if self.training else mu
        levels = self.config.levels
        x = F.relu(self.to_graph(z)).view(image.shape[0], self.pyramid.n_nodes(levels - 1), -1)
        interim: dict[int, torch.Tensor] = {}
        for level in reversed(range(levels)):
            edge_index, lambda_max = self._graph(level)
            for block in self.blocks[level]:
                x = block(x, edge_index, lambda_max)
            prior = self.prior[getattr(self, f"kept_{level}")] if level else self.prior
            positions = torch.sigmoid(prior + self.heads[level](x, edge_index, lambda_max=lambda_max))
            if level == 0:
                return HybridGNetOutput(positions, interim, mu, log_var)
            interim[level] = positions
            if level in self.skip_levels:
                sampled = sample_features(features[self._encoder_stage(level)], positions)
                x = torch.cat([x, sampled, positions], dim=-1)
            x = self.fuse[str(level)](x, edge_index, lambda_max)
            x = torch.matmul(getattr(self, f"unpool_{level - 1}"), x)
        raise AssertionError("unreachable: the loop returns at level 0")

    def interim_targets(self, target: torch.Tensor) -> dict[int, torch.Tensor]:
        """The landmarks of ``target`` ``(B, n_0, 2)`` that survive at each coarser level."""
        return {level: target[:, getattr(self, f"kept_{level}")] for level in range(1, self.config.levels)}

    def set_mean_shape(self, mean_shape: torch.Tensor) -> None:
        """Install the shape prior: with zero head outputs the model predicts ``mean_shape`` ``(n_0, 2)``."""
        clamped = torch.as_tensor(mean_shape, dtype=self.prior.dtype).clamp(1e-4, 1 - 1e-4)
        self.prior.copy_(torch.logit(clamped))

    @property
    def mean_shape(self) -> torch.Tensor:
        """The shape prior as ``(n_0, 2)`` normalised coordinates."""
        return torch.sigmoid(self.prior)


@dataclass
class LossTerms:
    """The terms of the HybridGNet training loss (all scalar tensors).

    Attributes
    ----------
    total
        ``landmark + interim_weight * interim + kl_weight * kl``.
    landmark
        Mean squared error of the final landmarks (normalised coordinates).
    interim
        Mean over coarser levels of the interim landmark MSE (0 with a single level).
    kl
        KL divergence of the latent Gaussian from N(0, I), averaged over latent dimensions and batch.
    """

    total: torch.Tensor
    landmark: torch.Tensor
    interim: torch.Tensor
    kl: torch.Tensor


def hybridgnet_loss(
    model: HybridGNet,
    output: HybridGNetOutput,
    target: torch.Tensor,
    *,
    kl_weight: float = 1e-5,
    interim_weight: float = 1.0,
) -> LossTerms:
    """Landmark MSE + interim MSE (deep supervision) + weighted KL, as in Gaggion et al.

    Parameters
    ----------
    model
        The model that produced ``output`` (it knows which landmarks each level keeps).
    output
        The model's prediction.
    target
        ``(B, n_0, 2)`` reference landmarks in normalised coordinates.
    kl_weight, interim_weight
        Weights of the KL and interim terms.
    """
    landmark = F.mse_loss(output.positions, target)
    targets = model.interim_targets(target)
    interim_terms = [F.mse_loss(output.interim[level], targets[level]) for level in output.interim]
    interim = torch.stack(interim_terms).mean() if interim_terms else landmark.new_zeros(())
    kl = -0.5 * torch.mean(1 + output.log_var - output.mu.pow(2) - output.log_var.exp())
    return LossTerms(landmark + interim_weight * interim + kl_weight * kl, landmark, interim, kl)

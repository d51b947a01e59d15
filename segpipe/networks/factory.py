"""Build the segmentation network named in the configuration (MONAI UNet or DynUNet).

The ``train.network`` section chooses the architecture; the dimension and the number of input
channels come from the manifest, the number of output channels from ``train.output`` (one channel
for ``sigmoid``, two for ``softmax``) and the data set's classes (a multi-class softmax network has
the background's channel and one per foreground class: :mod:`segpipe.datasets.classes`). Everything needed to rebuild the same network is a small
JSON-friendly dictionary (:class:`NetworkSpec`), which :mod:`segpipe.networks.model_file` stores in
``model.pt``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from segpipe.config import network_problems
from segpipe.errors import ConfigError

#: Output modes: one foreground logit (sigmoid) or background/foreground logits (softmax).
OUTPUT_CHANNELS = {"sigmoid": 1, "softmax": 2}


@dataclass(frozen=True)
class NetworkSpec:
    """Everything needed to build a network again.

    Attributes
    ----------
    name
        ``"unet"`` (MONAI ``UNet``) or ``"dynunet"`` (MONAI ``DynUNet``, nnU-Net's architecture).
    dimensions
        Number of spatial dimensions (2 or 3).
    in_channels
        Number of image channels.
    output
        ``"sigmoid"`` (one output channel) or ``"softmax"`` (two output channels, or one more than
        there are ``classes``).
    channels
        Feature channels per resolution level, finest first.
    strides
        Down-sampling factor between consecutive levels (``len(channels) - 1`` values).
    num_res_units
        Residual units per level (UNet); DynUNet uses residual blocks when this is positive.
    norm
        ``"instance"`` or ``"batch"`` normalisation.
    classes
        Names of the foreground classes of a multi-class network (softmax only); empty for a binary one.
    """

    name: str
    dimensions: int
    in_channels: int
    output: str
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    num_res_units: int = 1
    norm: str = "instance"
    classes: tuple[str, ...] = ()

    @classmethod
    def from_config(
        cls, network: dict[str, Any], *, dimensions: int, in_channels: int, output: str, classes: tuple[str, ...] = ()
    ) -> NetworkSpec:
        """Combine the ``train.network`` section with facts from the manifest and the data set's classes.

        Raises
        ------
        ConfigError
            If ``channels`` and ``strides`` do not fit together, ``output`` is unknown, or a
            multi-class network is asked for a sigmoid output.
        """
        channels = tuple(int(c) for c in network["channels"])
        strides = tuple(int(s) for s in network["strides"])
        if problems := network_problems(channels, strides):
            raise ConfigError(problems[0])
        if output not in OUTPUT_CHANNELS:
            raise ConfigError(f"'train.output' is {output!r}; allowed values: {', '.join(OUTPUT_CHANNELS)}")
        if dimensions not in (2, 3):
            raise ConfigError(f"networks are 2D or 3D, the manifest says {dimensions}-D")
        if classes and output != "softmax":
            raise ConfigError(
                f"the data set has {len(classes)} classes ({', '.join(classes)}), which need one network output "
                f"each, but 'train.output' is {output!r}", fix="set 'train.output: softmax'",
            )
        return cls(
            name=network["name"], dimensions=int(dimensions), in_channels=int(in_channels), output=output,
            channels=channels, strides=strides, num_res_units=int(network.get("num_res_units", 1)),
            norm=network.get("norm", "instance"), classes=tuple(classes),
        )

    @property
    def out_channels(self) -> int:
        """Number of output channels (1 for sigmoid, 2 for softmax, 1 + the number of classes if any)."""
        return 1 + len(self.classes) if self.classes else OUTPUT_CHANNELS[self.output]

    @property
    def divisor(self) -> int:
        """Every spatial size the network is given must be a multiple of this (product of strides)."""
        return math.prod(self.strides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly representation (lists instead of tuples)."""
        data = asdict(self)
        data["channels"], data["strides"] = list(self.channels), list(self.strides)
        if self.classes:
            data["classes"] = list(self.classes)
        else:  # a binary network's description is as it was before classes existed
            del data["classes"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "channels": tuple(data["channels"]), "strides": tuple(data["strides"]),
                      "classes": tuple(data.get("classes", ()))})

    def build(self) -> torch.nn.Module:
        """A fresh network of this architecture (:func:`build_network`)."""
        return build_network(self)


def build_network(spec: NetworkSpec) -> torch.nn.Module:
    """Instantiate the MONAI network described by ``spec`` (weights freshly initialised).

    Parameters
    ----------
    spec
        Architecture, dimension and channels.

    Returns
    -------
    torch.nn.Module
        Maps ``(B, in_channels, *spatial)`` to logits ``(B, out_channels, *spatial)`` for spatial
        sizes that are multiples of :attr:`NetworkSpec.divisor`.
    """
    from monai.networks.nets import DynUNet, UNet

    if spec.name == "unet":
        return UNet(
            spatial_dims=spec.dimensions, in_channels=spec.in_channels, out_channels=spec.out_channels,
            channels=spec.channels, strides=spec.strides, num_res_units=spec.num_res_units, norm=spec.norm.upper(),
        )
    if spec.name == "dynunet":
        return DynUNet(
            spatial_dims=spec.dimensions, in_channels=spec.in_channels, out_channels=spec.out_channels,
            kernel_size=[3] * len(spec.channels), strides=[1, *spec.strides], upsample_kernel_size=list(spec.strides),
            filters=list(spec.channels), norm_name=(spec.norm.upper(), {"affine": True}),
            res_block=spec.num_res_units > 0,
        )
    raise ConfigError(f"'train.network.name' is {spec.name!r}; allowed values: 'unet', 'dynunet'")


def foreground_probability(logits: torch.Tensor, output: str) -> torch.Tensor:
    """Foreground probability ``(B, 1, *spatial)`` from network logits of either output mode.

    For a multi-class softmax output, class ``k``'s is that of :func:`one_vs_rest_logits`.
    """
    if output == "sigmoid":
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=1)[:, 1:2]


def one_vs_rest_logits(logits: torch.Tensor, index: int) -> torch.Tensor:
    """Two-channel softmax logits of class ``index`` against all other classes of multi-class softmax logits.

    ``(log sum_{j != index} exp l_j, l_index)``: their softmax is exactly ``(1 - p, p)`` with ``p``
    the softmax probability of class ``index``, so every binary loss of a softmax output sees the
    class as its foreground, and the gradient reaches every channel.
    """
    rest = torch.cat([logits[:, :index], logits[:, index + 1:]], dim=1)
    return torch.cat([torch.logsumexp(rest, dim=1, keepdim=True), logits[:, index:index + 1]], dim=1)

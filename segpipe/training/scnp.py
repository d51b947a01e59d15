"""SCNP, Same-Class Neighbor Penalization (Valverde et al., CVPR 2026): the ``scnp`` training framework.

Before the loss, each logit is replaced by the worst logit of its class among its neighbours of
the same class: for the voxels of class ``c`` (one-hot label), channel ``c`` takes the minimum
of channel ``c`` over the ``n^d`` neighbourhood restricted to class-``c`` voxels; for the other
voxels it takes the maximum over the neighbours that are not of class ``c`` (min/max pooling with
the other class masked out). Any loss is then computed on these penalised logits alone (the
authors' runs: "optimizing only the SCNP-normalized logits"), so a voxel is only rewarded when
its whole same-class neighbourhood is confidently right: thin gaps and spurs get the gradient of
their neighbours. Gradient flows to the voxel each pooling selected.

A one-channel (sigmoid) output is the foreground channel against the label; a two-channel
(softmax) output has a background channel against ``1 - label`` too. Softmax logits ``(0, x)``
give the penalised logits ``(0, x~)`` of the sigmoid logits ``x``, so the two modes stay equal.
A multi-class output (background and one channel per class) is penalised against the one-hot label
of its class values in the same way.
Outside the patch counts as no neighbour. The neighbourhood side ``n`` is
``train.scnp_neighbourhood`` (3, the authors' default; odd).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def penalise(logits: torch.Tensor, label: torch.Tensor, neighbourhood: int = 3) -> torch.Tensor:
    """The SCNP logits of ``logits`` for the ``label``.

    Parameters
    ----------
    logits
        ``(B, C, *spatial)`` network output (2D or 3D): one foreground channel, or the background's
        and one per class.
    label
        ``(B, 1, *spatial)`` in {0, 1}, or class values 0..C-1.
    neighbourhood
        Odd side of the cubic neighbourhood.

    Returns
    -------
    torch.Tensor
        Logits of the same shape.
    """
    if neighbourhood < 1 or neighbourhood % 2 == 0:
        raise ValueError(f"the SCNP neighbourhood must be an odd positive size, got {neighbourhood}")
    if logits.shape[1] == 1:
        classes = label.to(logits.dtype) > 0.5
    else:
        values = label.round().long()[:, 0]
        classes = torch.movedim(F.one_hot(values, logits.shape[1]), -1, 1).bool()
    pool = F.max_pool2d if logits.ndim == 4 else F.max_pool3d
    infinity = torch.tensor(float("inf"), dtype=logits.dtype, device=logits.device)

    def largest(values: torch.Tensor) -> torch.Tensor:
        return pool(values, neighbourhood, stride=1, padding=neighbourhood // 2)

    inside = -largest(torch.where(classes, -logits, -infinity))  # min over same-class neighbours
    outside = largest(torch.where(classes, -infinity, logits))  # max over other-class neighbours
    return torch.where(classes, inside, outside)

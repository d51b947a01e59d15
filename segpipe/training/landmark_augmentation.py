"""Random augmentations that move landmarks with the image.

A random affine map (rotation, isotropic zoom, translation about the image centre) is applied to
the image with ``torch.nn.functional.affine_grid``/``grid_sample`` and to the landmarks with the
same matrix, in the normalised coordinates of :mod:`segpipe.networks.graph` (``align_corners=False``),
so a landmark stays on the image feature it marks. Intensity changes (contrast, brightness, gamma)
leave the landmarks alone. Randomness comes from torch's global generator, which checkpoints
capture and restore.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(batch: int, *, rotation_deg: float, scale: float, translation: float) -> torch.Tensor:
    """Forward maps ``(batch, 2, 3)`` in grid coordinates ``[-1, 1]``: ``g' = A g + b``.

    Parameters
    ----------
    batch
        Number of maps.
    rotation_deg
        Maximum absolute rotation in degrees.
    scale
        Maximum relative zoom (the factor is uniform in ``[1 - scale, 1 + scale]``).
    translation
        Maximum shift per axis as a fraction of the image side.
    """
    angle = (torch.rand(batch) * 2 - 1) * math.radians(rotation_deg)
    zoom = 1 + (torch.rand(batch) * 2 - 1) * scale
    shift = (torch.rand(batch, 2) * 2 - 1) * translation * 2  # a fraction of the side is twice that in [-1, 1]
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    return torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)


def apply_affine(images: torch.Tensor, landmarks: torch.Tensor, forward: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Move image content and landmarks by ``forward`` maps from :func:`random_affine`.

    Parameters
    ----------
    images
        ``(B, C, H, W)``.
    landmarks
        ``(B, N, 2)`` normalised ``(u, v)`` in ``[0, 1]``.
    forward
        ``(B, 2, 3)``: a point at grid position ``g`` moves to ``A g + b``.

    Returns
    -------
    tuple
        Warped images (border values fill the uncovered area) and moved landmarks.
    """
    linear, offset = forward[:, :, :2], forward[:, :, 2]
    inverse = torch.linalg.inv(linear)
    # affine_grid maps each output position to the input position it samples: the inverse map.
    theta = torch.cat([inverse, -(inverse @ offset.unsqueeze(-1))], dim=2)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    points = landmarks * 2 - 1
    moved = points @ linear.transpose(1, 2) + offset.unsqueeze(1)
    return warped, (moved + 1) / 2


def random_intensity(images: torch.Tensor, strength: float) -> torch.Tensor:
    """Random contrast, brightness and gamma per image, each within ``strength`` of identity."""
    if strength == 0:
        return images
    shape = (images.shape[0],) + (1,) * (images.dim() - 1)
    gamma = 1 + (torch.rand(shape) * 2 - 1) * strength
    contrast = 1 + (torch.rand(shape) * 2 - 1) * strength
    brightness = (torch.rand(shape) * 2 - 1) * strength / 2
    return (images.clamp(0, 1) ** gamma.to(images.device)) * contrast.to(images.device) + brightness.to(images.device)

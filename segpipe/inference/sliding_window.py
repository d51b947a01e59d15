"""Foreground probabilities for whole images: sliding window over patches, or one padded pass.

Used by ``segpipe predict`` and by validation during training, so both see the same predictions
(:func:`label_map` turns them into the predicted mask, or the label map of a multi-class network).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from segpipe.networks.factory import NetworkSpec, foreground_probability


def predict_probability(
    network: torch.nn.Module,
    image: np.ndarray,
    spec: NetworkSpec,
    *,
    patch_size: Sequence[int] | None,
    device: str | torch.device = "cpu",
    overlap: float = 0.5,
    sw_batch_size: int = 4,
) -> np.ndarray:
    """Foreground probability of every voxel of ``image`` (of every class, for a multi-class network).

    Parameters
    ----------
    network
        Trained network (put in eval mode by the caller).
    image
        Normalised image ``(C, *spatial)``.
    spec
        The network's description (output mode, down-sampling factor).
    patch_size
        With a patch size, MONAI ``sliding_window_inference`` (Gaussian-weighted blending of
        overlapping windows); with ``None`` the whole image is padded at its far end to a multiple
        of the network's divisor, predicted in one pass and cropped back.
    device
        Where to run the network.
    overlap
        Overlap of neighbouring windows (sliding window only).
    sw_batch_size
        Windows per forward pass (sliding window only).

    Returns
    -------
    numpy.ndarray
        ``float32`` array ``(*spatial)`` with values in [0, 1]; for a multi-class network
        (``spec.classes``) ``(1 + classes, *spatial)``: the probability of the background and of
        each class.
    """
    from monai.inferers import sliding_window_inference

    spatial = image.shape[1:]
    inputs = torch.as_tensor(np.ascontiguousarray(image), dtype=torch.float32, device=device)[None]
    with torch.inference_mode():
        if patch_size is not None:
            logits = sliding_window_inference(
                inputs, roi_size=tuple(patch_size), sw_batch_size=sw_batch_size, predictor=network,
                overlap=overlap, mode="gaussian",
            )
        else:
            pad = [(-s) % spec.divisor for s in spatial]
            padding = [width for p in reversed(pad) for width in (0, p)]  # F.pad wants last axis first
            logits = network(F.pad(inputs, padding))
            logits = logits[(..., *(slice(0, s) for s in spatial))]
        logits = torch.as_tensor(logits)
        if spec.classes:
            return torch.softmax(logits, dim=1)[0].float().cpu().numpy()
        probability = foreground_probability(logits, spec.output)
    return probability[0, 0].float().cpu().numpy()


def label_map(probability: np.ndarray, spec: NetworkSpec, threshold: float) -> np.ndarray:
    """The prediction of :func:`predict_probability`'s output.

    Parameters
    ----------
    probability
        Foreground probability ``(*spatial)``, or class probabilities ``(1 + classes, *spatial)``
        of a multi-class network.
    spec
        The network's description.
    threshold
        Foreground where the probability reaches it (binary network).

    Returns
    -------
    numpy.ndarray
        Boolean mask ``(*spatial)``; for a multi-class network the ``uint8`` class values 0..K of the
        most probable class.
    """
    if spec.classes:
        return np.argmax(probability, axis=0).astype(np.uint8)
    return probability >= threshold

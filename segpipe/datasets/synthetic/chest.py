"""Synthetic chest x-ray-like images with anatomically ordered landmark contours.

No chest data can be downloaded here, so this generator stands in for JSRT: posterior-anterior
views with both lungs, the heart and the clavicles as closed landmark rings, plus ribs, spine,
mediastinum, soft tissue, a smooth bias field and noise.

Anatomy
-------
Each organ has a mean shape: a periodic spline through hand-placed control points (normalised
coordinates, image-left is the patient's right), resampled to the template's landmark count at
equal arc length. Landmark 0 is the apex for the lungs, the top of the heart, and the lateral end
for the clavicles; landmarks run clockwise on screen. A sampled anatomy keeps this correspondence:
every landmark moves with a smooth invertible random warp of the plane (:func:`smooth_warp`), a
per-organ scaling about the organ's centre, and one affine transform of the whole thorax (scale,
aspect, rotation, translation).

Occlusion
---------
As in Gaggion et al.'s robustness experiments, occluded test images hide parts of the organs
under 1-3 rectangles of noise, of a constant grey level, or of heavy blur; the labels stay those
of the anatomy underneath.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.interpolate import CubicSpline

from segpipe.datasets.landmarks import (
    LANDMARKS,
    reference_label_types,
    write_landmarks,
    write_reference_masks,
    write_template,
)
from segpipe.datasets.layout import write_dataset_json
from segpipe.datasets.manifest import IN_DISTRIBUTION, Case, Manifest
from segpipe.errors import ConfigError
from segpipe.io.images import write_image
from segpipe.networks.graph import GraphTemplate, Organ, normalised_to_pixels, rasterize

#: Group name of the occluded test cases.
OCCLUDED = "occluded"

# Control points (u, v) of the mean shapes in the canonical thorax frame, clockwise on screen,
# starting at landmark 0. The left clavicle mirrors the right one.
_RIGHT_LUNG = [
    (0.30, 0.13), (0.37, 0.16), (0.41, 0.24), (0.425, 0.38), (0.43, 0.52), (0.435, 0.66), (0.38, 0.665),
    (0.29, 0.685), (0.20, 0.74), (0.155, 0.79), (0.14, 0.62), (0.15, 0.45), (0.18, 0.28), (0.23, 0.17),
]
_LEFT_LUNG = [
    (0.70, 0.13), (0.77, 0.17), (0.82, 0.28), (0.85, 0.45), (0.86, 0.62), (0.85, 0.80), (0.79, 0.76),
    (0.71, 0.72), (0.645, 0.72), (0.66, 0.60), (0.625, 0.48), (0.585, 0.38), (0.585, 0.26), (0.63, 0.16),
]
_HEART = [
    (0.52, 0.43), (0.59, 0.455), (0.635, 0.53), (0.65, 0.62), (0.625, 0.69), (0.54, 0.72), (0.47, 0.70),
    (0.445, 0.62), (0.45, 0.52), (0.475, 0.45),
]
_RIGHT_CLAVICLE = [
    (0.19, 0.095), (0.27, 0.105), (0.36, 0.135), (0.44, 0.155), (0.475, 0.17), (0.47, 0.19), (0.43, 0.185),
    (0.35, 0.16), (0.27, 0.13), (0.19, 0.12), (0.175, 0.108),
]
MEAN_SHAPE_POINTS: dict[str, list[tuple[float, float]]] = {
    "right_lung": _RIGHT_LUNG,
    "left_lung": _LEFT_LUNG,
    "heart": _HEART,
    "right_clavicle": _RIGHT_CLAVICLE,
    "left_clavicle": [(1.0 - u, v) for u, v in _RIGHT_CLAVICLE[:1] + _RIGHT_CLAVICLE[:0:-1]],
}
#: Largest displacement of the smooth organ deformation (normalised units); thin bones deform less.
_DEFORMATION = {"right_lung": 0.02, "left_lung": 0.02, "heart": 0.02, "right_clavicle": 0.004, "left_clavicle": 0.004}
#: Smallest distance of any landmark from the image border (normalised units).
_MARGIN = 0.03
#: Landmarks of rendered organs that a template does not list (they still appear in the image).
_RENDER_LANDMARKS = {"right_lung": 44, "left_lung": 50, "heart": 26, "right_clavicle": 23, "left_clavicle": 23}


@dataclass(frozen=True)
class ChestSynthConfig:
    """What ``segpipe synth chest`` generates (the ``decode.synthetic`` config section).

    Attributes
    ----------
    seed
        Seed of the whole dataset; case ``i`` of a split always gets the same anatomy.
    image_size
        Side of the square images in pixels.
    n_train, n_val, n_test
        Images per split; each test image also appears occluded.
    occlusions
        ``[min, max]`` rectangles per occluded image.
    occlusion_size
        ``[min, max]`` rectangle side as a fraction of the image side.
    """

    seed: int = 0
    image_size: int = 128
    n_train: int = 150
    n_val: int = 10
    n_test: int = 30
    occlusions: tuple[int, int] = (1, 3)
    occlusion_size: tuple[float, float] = (0.15, 0.3)

    def __post_init__(self) -> None:
        for key, (low, high) in (("occlusions", self.occlusions), ("occlusion_size", self.occlusion_size)):
            if low > high:
                raise ConfigError(
                    f"minimum {low} exceeds maximum {high}", where=f"decode.synthetic.{key}", fix="give [minimum, maximum]"
                )

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> ChestSynthConfig:
        """Build from the validated ``decode.synthetic`` section."""
        values = dict(section)
        values["occlusions"] = tuple(values.get("occlusions", cls.occlusions))
        values["occlusion_size"] = tuple(values.get("occlusion_size", cls.occlusion_size))
        return cls(**values)


def resample_closed_curve(control: np.ndarray, n: int) -> np.ndarray:
    """``n`` points at equal arc length on the periodic cubic spline through ``control``, from ``control[0]``."""
    closed = np.vstack([control, control[:1]])
    chord = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    spline = CubicSpline(chord, closed, bc_type="periodic")
    dense_t = np.linspace(0.0, chord[-1], 2000 * len(control), endpoint=False)
    dense = spline(dense_t)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(np.vstack([dense, dense[:1]]), axis=0), axis=1))])
    targets = np.arange(n) * arc[-1] / n
    return spline(np.interp(targets, arc[:-1], dense_t))


def mean_shape(organ: str, n_landmarks: int) -> np.ndarray:
    """Mean contour of ``organ`` with ``n_landmarks`` points, normalised ``(u, v)`` coordinates."""
    return resample_closed_curve(np.asarray(MEAN_SHAPE_POINTS[organ], dtype=float), n_landmarks)


def smooth_warp(points: np.ndarray, rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """Move ``points`` ``(n, 2)`` by a random smooth displacement field of the plane.

    The field is a sum of four plane waves (2 at 3 and 2 at 5 cycles per image side) whose
    amplitudes (at most ``amplitude`` in total) keep the map's Lipschitz constant below 1 for
    ``amplitude < 0.04`` (it is 2 pi x 3.8 x amplitude), so the warp is invertible: a simple contour stays simple and its
    landmarks keep their order.
    """
    moved = np.array(points, dtype=float)
    for cycles, share in ((3, 0.3), (3, 0.3), (5, 0.2), (5, 0.2)):
        wave, push = (np.array([np.cos(a), np.sin(a)]) for a in rng.uniform(0, 2 * np.pi, size=2))
        phase = rng.uniform(0, 2 * np.pi)
        moved += share * amplitude * np.sin(2 * np.pi * cycles * (points @ wave) + phase)[:, None] * push
    return moved


def check_template(template: GraphTemplate) -> None:
    """Raise :class:`ConfigError` unless the generator knows every organ of ``template``."""
    unknown = [name for name in template.names if name not in MEAN_SHAPE_POINTS]
    if unknown:
        raise ConfigError(
            f"the chest generator knows no organ {unknown}",
            where="decode.template",
            fix=f"synthetic templates may use only {sorted(MEAN_SHAPE_POINTS)} (with any landmark counts)",
        )


@dataclass(frozen=True)
class Anatomy:
    """One sampled thorax.

    Attributes
    ----------
    landmarks
        Organ name to ``(n, 2)`` normalised coordinates, for every organ the generator renders.
    thorax
        ``(3, 3)`` homogeneous affine from the canonical thorax frame to normalised image coordinates.
    """

    landmarks: dict[str, np.ndarray]
    thorax: np.ndarray


def sample_anatomy(rng: np.random.Generator, counts: dict[str, int]) -> Anatomy:
    """Sample organ contours with ``counts[organ]`` landmarks each (see the module notes).

    Like a radiographer centring the patient, the thorax is shifted back when a landmark would
    come closer than :data:`_MARGIN` to the image border.
    """
    canonical = {}
    for organ, n in counts.items():
        deformed = smooth_warp(mean_shape(organ, n), rng, _DEFORMATION[organ])
        organ_centre = deformed.mean(axis=0)
        organ_scale = rng.uniform(0.9, 1.1) * np.array([1.0, rng.uniform(0.92, 1.08)])
        canonical[organ] = organ_centre + (deformed - organ_centre) * organ_scale
    angle = np.deg2rad(rng.uniform(-8, 8))
    scale = rng.uniform(0.85, 1.1) * np.array([rng.uniform(0.92, 1.08), 1.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    thorax = np.eye(3)
    thorax[:2, :2] = rotation @ np.diag(scale)
    centre = np.array([0.5, 0.5])
    thorax[:2, 2] = centre + rng.uniform(-0.05, 0.05, size=2) - thorax[:2, :2] @ centre
    every = np.concatenate(list(canonical.values())) @ thorax[:2, :2].T + thorax[:2, 2]
    low, high = every.min(axis=0), every.max(axis=0)
    thorax[:2, 2] += np.where(
        high - low > 1 - 2 * _MARGIN, 0.5 - (low + high) / 2, np.maximum(_MARGIN - low, 0) - np.maximum(high - (1 - _MARGIN), 0)
    )
    landmarks = {organ: points @ thorax[:2, :2].T + thorax[:2, 2] for organ, points in canonical.items()}
    return Anatomy(landmarks, thorax)


def _canonical_grid(size: int, thorax: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical thorax coordinates ``(U, V)`` of every pixel centre."""
    v, u = (np.mgrid[0:size, 0:size] + 0.5) / size
    inverse = np.linalg.inv(thorax)
    return (inverse[0, 0] * u + inverse[0, 1] * v + inverse[0, 2], inverse[1, 0] * u + inverse[1, 1] * v + inverse[1, 2])


def _organ_masks(anatomy: Anatomy, size: int) -> dict[str, np.ndarray]:
    template = GraphTemplate(tuple(Organ(name, len(points)) for name, points in anatomy.landmarks.items()))
    points = np.concatenate(list(anatomy.landmarks.values()))
    return rasterize(normalised_to_pixels(points, (size, size)), template, (size, size))


def render(anatomy: Anatomy, size: int, rng: np.random.Generator) -> np.ndarray:
    """Render ``anatomy`` as a ``(size, size)`` float image in ``[0, 1]`` (bright = attenuating)."""
    U, V = _canonical_grid(size, anatomy.thorax)
    px = size / 128.0  # pixel scale of the blur radii, tuned at 128 px
    masks = {k: ndimage.gaussian_filter(m.astype(float), 0.8 * px) for k, m in _organ_masks(anatomy, size).items()}
    body_radius = np.sqrt(((U - 0.5) / 0.47) ** 2 + ((V - 0.55) / 0.6) ** 2)
    body = 1.0 / (1.0 + np.exp((body_radius - 1.0) / 0.02))
    image = 0.08 + 0.42 * body
    mediastinum = np.exp(-(((U - 0.5) / 0.07) ** 4)) * np.clip((V - 0.05) / 0.1, 0, 1)
    image += 0.12 * mediastinum * body
    spine = np.exp(-(((U - 0.5) / 0.035) ** 4)) * (0.75 + 0.25 * np.cos(2 * np.pi * V / 0.055))
    image += 0.10 * spine * body
    for side in (-1.0, 1.0):  # posterior ribs: arcs from the spine outwards and down
        lateral = side * (U - 0.5)
        reach = np.clip((lateral - 0.03) / 0.42, 0, 1)
        inside = (lateral > 0.03) * np.exp(-((np.maximum(lateral - 0.45, 0) / 0.02) ** 2))
        for rib in range(10):
            centre = 0.10 + 0.062 * rib + rng.normal(0, 0.004) + 0.16 * reach**2 - 0.02 * reach
            image += 0.06 * inside * np.exp(-(((V - centre) / 0.011) ** 2))
    lungs = masks["right_lung"] + masks["left_lung"]
    texture = ndimage.gaussian_filter(rng.normal(size=(size, size)), 1.5 * px)
    image += lungs * (-0.30 + 0.25 * texture)
    image += 0.08 * masks["heart"]
    image += 0.18 * (masks["right_clavicle"] + masks["left_clavicle"])
    image = ndimage.gaussian_filter(image, 0.6 * px)
    coefficients = rng.normal(0, 0.12, size=5)
    u, v = (np.mgrid[0:size, 0:size][::-1] + 0.5) / size - 0.5
    bias = np.exp(coefficients[0] * u + coefficients[1] * v + coefficients[2] * u * v + coefficients[3] * u**2 + coefficients[4] * v**2)
    image = np.clip(image * bias, 0, None) ** rng.uniform(0.8, 1.25)
    image += rng.normal(0, rng.uniform(0.01, 0.03), size=image.shape)
    return np.clip(image, 0.0, 1.0)


def occlude(image: np.ndarray, centres: np.ndarray, rng: np.random.Generator, config: ChestSynthConfig) -> np.ndarray:
    """Hide parts of ``image`` under rectangles centred near random ``centres`` (pixel ``(x, y)``)."""
    size = image.shape[0]
    result = image.copy()
    blurred = ndimage.gaussian_filter(image, 4.0 * size / 128.0)
    for _ in range(rng.integers(config.occlusions[0], config.occlusions[1] + 1)):
        x, y = centres[rng.integers(len(centres))]
        h, w = (rng.uniform(*config.occlusion_size, size=2) * size).astype(int) + 1
        top, left = int(np.clip(y - h / 2, 0, size - h)), int(np.clip(x - w / 2, 0, size - w))
        window = (slice(top, top + h), slice(left, left + w))
        kind = rng.choice(["noise", "constant", "blur"])
        if kind == "noise":
            result[window] = rng.uniform(0, 1, size=(h, w))
        elif kind == "constant":
            result[window] = rng.uniform(0, 1)
        else:
            result[window] = blurred[window]
    return result


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def generate_chest_dataset(out: str | PathLike[str], template: GraphTemplate, config: ChestSynthConfig) -> Path:
    """Write a synthetic chest dataset in segpipe's landmark layout (:mod:`segpipe.datasets.landmarks`).

    Parameters
    ----------
    out
        Dataset directory (created). Receives ``images/``, ``landmarks/`` (CSV), ``labels/<type>/``
        (PNG {0, 255}; one type per organ plus ``accurate``, the union of organs),
        ``landmark_template.json`` and ``dataset.json`` (each case's landmark file under ``files``).
    template
        Organs and landmark counts written to the landmark files; every organ must be one the
        generator knows (:data:`MEAN_SHAPE_POINTS`). Organs outside the template are still drawn.
    config
        Counts, size, seed and occlusion settings.

    Returns
    -------
    Path
        The ``dataset.json`` path, written last (so its presence means the dataset is complete).

    Raises
    ------
    ConfigError
        If the template names an organ the generator does not know.
    """
    check_template(template)
    out = Path(out)
    size = config.image_size
    counts = {**_RENDER_LANDMARKS, **{o.name: o.n_landmarks for o in template.organs}}
    cases: list[Case] = []
    for split_number, (split, count) in enumerate((("train", config.n_train), ("val", config.n_val), ("test", config.n_test))):
        for index in range(count):
            rng = np.random.default_rng([config.seed, split_number, index])
            anatomy = sample_anatomy(rng, counts)
            image = render(anatomy, size, rng)
            points = normalised_to_pixels(np.concatenate([anatomy.landmarks[name] for name in template.names]), (size, size))
            case = _write_case(out, Case(f"{split}_{index:04d}", split, IN_DISTRIBUTION, ""), image, points, template)
            cases.append(case)
            if split == "test":
                occluded_id = f"test_occluded_{index:04d}"
                occluded = replace(case, case_id=occluded_id, group=OCCLUDED, image=f"images/{occluded_id}.png")
                write_image(out / occluded.image, _to_uint8(occlude(image, points, rng, config)))
                cases.append(occluded)
    cases.sort(key=lambda case: (case.split, case.group != IN_DISTRIBUTION, case.case_id))
    write_template(out, template)
    manifest = Manifest(name="chest", dimensions=2, channels=1, label_types=reference_label_types(template), cases=cases)
    return write_dataset_json(out, manifest)


def _write_case(out: Path, case: Case, image: np.ndarray, points: np.ndarray, template: GraphTemplate) -> Case:
    """Write one image with its landmarks, organ masks and their union; return the case with its paths."""
    labels = write_reference_masks(out, case.case_id, points, template, image.shape)
    landmarks = f"landmarks/{case.case_id}.csv"
    write_landmarks(out / landmarks, points)
    write_image(out / f"images/{case.case_id}.png", _to_uint8(image))
    return replace(case, image=f"images/{case.case_id}.png", labels=labels, files={LANDMARKS: landmarks})

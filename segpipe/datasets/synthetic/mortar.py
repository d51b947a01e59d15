"""Synthetic TopoMortar-style brick walls: images, accurate/noisy/pseudo labels, OOD variants.

A wall is a running-bond brick pattern described in *wall coordinates* ``(u, v)`` (along and
across the courses, in wall pixels). Every image pixel is mapped to wall coordinates (a small
rotation, or a perspective homography for the ``angles`` group) and gets a signed distance ``s``
in image pixels to the nearest mortar edge (negative inside the mortar). The accurate label is
``s < 0``; the image blends brick and mortar colours with the anti-aliased coverage
``clip(0.5 - s, 0, 1)``, then adds texture, recessed-joint shading, lighting, blur and noise.
Joints are never thinner than 1.2 pixels, so the mortar is one 8-connected network and every
brick inside the image is its own 4-connected hole (``b0 == 1``, ``b1`` = enclosed bricks).

Label rules follow TopoMortar:

- ``noisy``: thin (about 0.42 of the joint width, TopoMortar's ~4 px at 512; at least 1.5 px, so that
  a stroke stays connected) wobbly strokes along the joint centre lines (precision about 0.94, recall
  about 0.45 from 256 px on, 0.6 at 128 px). Like TopoMortar's (train/ 001-020: 0.05 Betti0 and 0.4
  Betti1 errors per image) they keep the mortar network's topology, nearly (about 2 errors per wall);
- ``pseudo``: the output of a deliberately weak, deterministic "model" of the rendered image
  (:func:`weak_model_score`): the blurred brightness of a pixel's neighbourhood (0.2 joint widths)
  above the wall around it (a brick height), divided by the local spread of that contrast, thresholded
  at 0.05, with components under two squared joint widths dropped. It over-segments (precision about
  0.82, recall about 0.985 at 128 px; TopoMortar: 0.83 / 0.99) and errs where the image is ambiguous:
  light or textured bricks get mortar rings and blobs (extra holes), bricks that differ little from
  their mortar merge into it, thin or shaded joints thin out. The errors are a function of the image,
  so they recur at the same kind of place in every wall (per brick, the fraction labelled mortar
  falls with the brick's contrast to its mortar: Spearman rho about -0.47 over 10 walls), so a network
  trained on them can learn them, as it can learn a real model's pseudo-labels; random, independent
  errors (the previous pseudo-labels: random bulges, spots and breaks) average out in training, and
  the synthetic study's pseudo-label case did not hurt (whether it hurts now is not yet measured). Betti errors per 128 px wall: about 8 (heavy-tailed, median 2; TopoMortar: 11, median 3.5),
  against about 2 for the noisy labels. Tuned at 128 px; the camera blur does not scale linearly with
  the image size, so 256 px walls get more errors (precision 0.76, about 26 Betti errors);
- out-of-distribution groups: ``angles`` (perspective), ``colors`` (unusual colours, mostly
  inverted contrast: dark mortar, light bricks), ``graffiti`` (paint over the wall, label
  unchanged), ``objects`` (things in front, labelled background), ``shadows`` (strong cast
  shadows, label unchanged), ``occlusion`` (vegetation, cables and poles in front; the mortar is
  labelled through them).

Every image has its own random generator seeded from ``(seed, group, split, position)``, so the
same seed gives byte-identical files and changing one split's size does not change the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from skimage import color, draw

from segpipe.datasets.betti import betti_numbers, write_betti_csv
from segpipe.datasets.layout import TOPOMORTAR_GROUPS, TOPOMORTAR_LABEL_TYPES, write_topomortar_index
from segpipe.datasets.manifest import IN_DISTRIBUTION, Case
from segpipe.datasets.synthetic.noise import fractal_noise, smooth_noise, smooth_threshold_mask
from segpipe.errors import ConfigError
from segpipe.io.atomic import write_directory_atomically
from segpipe.io.images import write_image
from segpipe.utilities.progress import progress_bar

#: TopoMortar's groups, in its numbering order (in-distribution first).
GROUPS = TOPOMORTAR_GROUPS
#: The out-of-distribution groups.
OOD_GROUPS = GROUPS[1:]
#: Label types, in TopoMortar's directory names.
LABEL_TYPES = TOPOMORTAR_LABEL_TYPES

_MIN_HALF_JOINT = 0.6  # pixels: joints at least 1.2 px wide keep the mortar 8-connected


@dataclass(frozen=True)
class MortarSpec:
    """Size and composition of a synthetic mortar dataset (``dataset.synthetic`` of the config).

    Attributes
    ----------
    image_size
        Side of the square images in pixels (TopoMortar: 512).
    seed
        Master seed; the same seed gives byte-identical files.
    n_train, n_train_small, n_val, n_test_id, n_test_ood
        Training images, how many of them (the first) form the small training set, validation
        images, in-distribution test images and test images per out-of-distribution group.
    """

    image_size: int = 128
    seed: int = 0
    n_train: int = 50
    n_train_small: int = 10
    n_val: int = 10
    n_test_id: int = 20
    n_test_ood: int = 10

    def __post_init__(self) -> None:
        if self.image_size < 32:
            raise ConfigError(f"'dataset.synthetic.image_size' is {self.image_size}; use at least 32")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MortarSpec:
        """Build the spec from a validated configuration's ``dataset.synthetic`` section."""
        synthetic = config["dataset"]["synthetic"]
        return cls(**{name: int(synthetic[name]) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class PlannedCase:
    """One image of the dataset before it is rendered.

    Attributes
    ----------
    number
        TopoMortar-style running number (1-based): train, val, ID test, then each OOD group.
    split, group
        Where the case belongs.
    position
        Index of the case within its ``(split, group)``; with the seed it selects the image.
    width
        Digits of the zero-padded identifier.
    """

    number: int
    split: str
    group: str
    position: int
    width: int = 3

    @property
    def case_id(self) -> str:
        """Zero-padded identifier (``"001"``), TopoMortar's file stem."""
        return f"{self.number:0{self.width}d}"

    @property
    def has_training_labels(self) -> bool:
        """Whether noisy and pseudo labels are written (training and validation images)."""
        return self.split in ("train", "val")


def plan_cases(spec: MortarSpec) -> list[PlannedCase]:
    """Return every case of ``spec`` in TopoMortar's numbering order."""
    blocks = [("train", IN_DISTRIBUTION, spec.n_train), ("val", IN_DISTRIBUTION, spec.n_val),
              ("test", IN_DISTRIBUTION, spec.n_test_id)]
    blocks += [("test", group, spec.n_test_ood) for group in OOD_GROUPS]
    total = sum(count for _, _, count in blocks)
    width = max(3, len(str(total)))
    cases: list[PlannedCase] = []
    for split, group, count in blocks:
        first = len(cases) + 1
        cases += [PlannedCase(first + k, split, group, k, width) for k in range(count)]
    return cases


def case_rng(seed: int, case: PlannedCase) -> np.random.Generator:
    """The random generator of one case, independent of every other case."""
    split_code = ("train", "val", "test").index(case.split)
    return np.random.default_rng([seed, GROUPS.index(case.group), split_code, case.position])


@dataclass
class Wall:
    """A rendered wall.

    Attributes
    ----------
    image
        ``uint8`` RGB image, channel-first ``(3, H, W)``.
    accurate, noisy, pseudo
        Boolean masks ``(H, W)``, True on mortar.
    bricks
        ``int32`` brick index of every pixel (mortar pixels carry the index of the cell they lie in).
    in_front
        Pixels hidden by an object or occluder in front of the wall (``objects`` and
        ``occlusion`` groups; all False otherwise).
    """

    image: np.ndarray
    accurate: np.ndarray
    noisy: np.ndarray
    pseudo: np.ndarray
    bricks: np.ndarray
    in_front: np.ndarray

    def label(self, label_type: str) -> np.ndarray:
        """The mask of ``label_type`` (``accurate``, ``noisy`` or ``pseudo``)."""
        return {"accurate": self.accurate, "noisy": self.noisy, "pseudo": self.pseudo}[label_type]


@dataclass
class _Geometry:
    """Distances of every pixel to the wall's joints, in image pixels."""

    bed: np.ndarray  # signed distance to the nearest bed-joint centre line
    head: np.ndarray  # signed distance to the nearest head-joint centre line of the course
    half_bed: np.ndarray  # half width of the bed joint at the pixel
    half_head: np.ndarray
    bricks: np.ndarray
    joint_px: float  # nominal joint width in pixels (at the image centre)
    brick_px: float  # nominal brick height in pixels

    @property
    def signed_distance(self) -> np.ndarray:
        """Signed distance to the mortar edge (negative in the mortar)."""
        return np.minimum(np.abs(self.bed) - self.half_bed, np.abs(self.head) - self.half_head)


def _wall_coordinates(size: int, group: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Map pixel centres to wall coordinates (rotation, or perspective for ``angles``)."""
    y, x = np.mgrid[0:size, 0:size].astype(float) + 0.5 - size / 2
    if group != "angles":
        theta = math.radians(rng.uniform(-4.0, 4.0))
        c, s = math.cos(theta), math.sin(theta)
        return c * x + s * y, -s * x + c * y
    # A wall plane turned by yaw/pitch/roll in front of a pinhole camera at distance `depth`;
    # the plane-to-image homography is inverted to find the wall point seen by each pixel.
    yaw = math.radians(rng.uniform(25.0, 45.0)) * rng.choice([-1, 1])
    pitch = math.radians(rng.uniform(-20.0, 20.0))
    roll = math.radians(rng.uniform(-15.0, 15.0))
    depth = size * rng.uniform(1.6, 2.4)
    cy, sy, cp, sp, cr, sr = (math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch),
                              math.cos(roll), math.sin(roll))
    rotation = (np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
                @ np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
                @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]]))
    homography = np.diag([depth, depth, 1.0]) @ np.column_stack([rotation[:, 0], rotation[:, 1], [0, 0, depth]])
    inverse = np.linalg.inv(homography)
    points = np.stack([x.ravel(), y.ravel(), np.ones(x.size)])
    u, v, w = inverse @ points
    return (u / w).reshape(x.shape), (v / w).reshape(x.shape)


def _layout_bricks(
    u: np.ndarray, v: np.ndarray, rng: np.random.Generator, length: float, height: float, joint: float
) -> _Geometry:
    """Lay a running bond over wall coordinates ``(u, v)``; return joint distances in pixels."""
    grad_u = np.hypot(*np.gradient(u))  # wall units per image pixel
    grad_v = np.hypot(*np.gradient(v))
    course = height + joint
    period = length + joint
    row = np.floor(v / course).astype(np.int64)
    bed = (v - course * np.round(v / course)) / grad_v
    head = np.empty_like(u)
    bricks = np.empty(u.shape, dtype=np.int32)
    next_id = 0
    for k in np.unique(row):
        in_row = row == k
        u_row = u[in_row]
        offset = (k % 2) * period / 2 + rng.normal(0.0, 0.03 * period)
        start = (math.floor((u_row.min() - 2 * period - offset) / period)) * period + offset
        count = int(math.ceil((u_row.max() - start) / period)) + 3
        joints = start + np.concatenate([[0.0], np.cumsum(period * (1 + 0.04 * rng.standard_normal(count)))])
        index = np.clip(np.searchsorted(joints, u_row), 1, len(joints) - 1)
        left, right = u_row - joints[index - 1], joints[index] - u_row
        head[in_row] = np.where(left < right, left, -right) / grad_u[in_row]
        bricks[in_row] = next_id + index - 1
        next_id += len(joints)
    return _Geometry(
        bed=bed,
        head=head,
        half_bed=np.maximum(joint / 2 / grad_v, _MIN_HALF_JOINT),
        half_head=np.maximum(joint / 2 / grad_u, _MIN_HALF_JOINT),
        bricks=bricks,
        joint_px=joint / float(np.median(grad_v)),
        brick_px=height / float(np.median(grad_v)),
    )


def _build_geometry(size: int, group: str, rng: np.random.Generator) -> tuple[_Geometry, np.ndarray]:
    """Random brick dimensions and layout; returns the geometry and the noisy mortar distance."""
    zoom = math.exp(rng.uniform(math.log(0.65), math.log(1.3)))
    length = zoom * rng.uniform(0.17, 0.22) * size
    height = length * rng.uniform(0.30, 0.40)
    joint = zoom * rng.uniform(0.019, 0.028) * size
    u, v = _wall_coordinates(size, group, rng)
    scale = size / 128
    # Hand-laid courses bend a little; a random phase places the pattern anywhere on the wall.
    u = u + 0.3 * joint * smooth_noise(rng, u.shape, size / 3) + rng.uniform(0, 1e3)
    v = v + 0.3 * joint * smooth_noise(rng, v.shape, size / 3) + rng.uniform(0, 1e3)
    geometry = _layout_bricks(u, v, rng, length, height, joint)
    # Irregular brick edges: a small smooth perturbation that never thins a joint below 1.2 px
    # nor eats more than a quarter of a brick.
    ragged = 0.12 * geometry.joint_px * fractal_noise(rng, u.shape, (1.2 * scale, 3.0 * scale), (0.6, 0.8))
    limit_thin = np.minimum(geometry.half_bed, geometry.half_head) - _MIN_HALF_JOINT
    ragged = np.clip(ragged, -0.25 * geometry.brick_px, limit_thin)
    return geometry, _tidy(geometry.signed_distance + ragged, geometry)


def _tidy(distance: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """Make the mortar one network with no pinholes, as a wall (and its annotator) has it.

    Cropping can cut a sliver of a joint off the network at the image border, and ragged edges
    can leave single background pixels inside a joint or clip a corner pixel off a brick. Those
    pixels are moved across the edge (to distance -/+0.5, full coverage) so that the image and
    the label agree.
    """
    mortar = distance < 0
    components, count = ndimage.label(mortar, structure=np.ones((3, 3), dtype=bool))
    if count > 1:
        largest = np.argmax(np.bincount(components.ravel())[1:]) + 1
        distance = np.where(mortar & (components != largest), 0.5, distance)
        mortar = components == largest
    background, count = ndimage.label(~mortar)
    sizes = np.bincount(background.ravel())
    speck = max(3.0, 0.05 * geometry.brick_px ** 2 / 0.35)
    specks = (sizes < speck)[background] & (background > 0)
    return np.where(specks, -0.5, distance)


# ---------------------------------------------------------------------------------------------
# Colours and rendering
# ---------------------------------------------------------------------------------------------


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return color.hsv2rgb(np.array([[[h % 1.0, np.clip(s, 0, 1), np.clip(v, 0, 1)]]]))[0, 0]


def _palette(group: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Base brick colour (HSV), mortar colour (RGB) and per-brick value spread."""
    if group == "colors" and rng.random() < 0.7:  # inverted contrast: dark mortar, light bricks
        brick = np.array([rng.uniform(0, 1), rng.uniform(0.0, 0.45), rng.uniform(0.62, 0.9)])
        mortar = _hsv(rng.uniform(0, 1), rng.uniform(0, 0.4), rng.uniform(0.08, 0.3))
        return brick, mortar, 0.06
    if group == "colors":  # unusual hues (painted walls, glazed bricks)
        brick = np.array([rng.uniform(0.15, 0.92), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.65)])
        mortar = _hsv(rng.uniform(0, 1), rng.uniform(0.2, 0.6), rng.uniform(0.55, 0.9))
        return brick, mortar, 0.08
    brick = np.array([rng.uniform(-0.01, 0.07), rng.uniform(0.45, 0.8), rng.uniform(0.35, 0.62)])
    mortar = _hsv(rng.uniform(0.07, 0.14), rng.uniform(0.03, 0.25), rng.uniform(0.58, 0.85))
    return brick, mortar, 0.12


def _brick_colours(base_hsv: np.ndarray, spread: float, count: int, rng: np.random.Generator) -> np.ndarray:
    """RGB colour of each brick: the base colour with per-brick variation and a few odd bricks."""
    hsv = np.tile(base_hsv, (count, 1))
    hsv[:, 0] += 0.012 * rng.standard_normal(count)
    hsv[:, 1] *= 1 + 0.08 * rng.standard_normal(count)
    odd = rng.random(count)
    hsv[:, 2] *= (1 + spread * rng.standard_normal(count)) * np.where(
        odd < 0.08, rng.uniform(0.55, 0.75, count), np.where(odd > 0.96, 1.2, 1.0)
    )
    hsv[:, 0] %= 1.0
    hsv[:, 1:] = np.clip(hsv[:, 1:], 0, 1)
    return color.hsv2rgb(hsv[np.newaxis])[0]


def _render(geometry: _Geometry, distance: np.ndarray, group: str, rng: np.random.Generator) -> np.ndarray:
    """The wall's RGB image in [0, 1], shape ``(H, W, 3)``, before lighting and camera effects."""
    shape = distance.shape
    scale = shape[0] / 128
    brick_hsv, mortar_rgb, spread = _palette(group, rng)
    colours = _brick_colours(brick_hsv, spread, int(geometry.bricks.max()) + 1, rng)
    bricks = colours[geometry.bricks]
    texture = fractal_noise(rng, shape, (0.5, 1.5 * scale, 4.0 * scale), (0.05, 0.04, 0.03))
    pits = ndimage.gaussian_filter((rng.random(shape) < 0.004).astype(float), 0.6 * scale)
    bevel = 1 - 0.12 * np.exp(-np.clip(distance, 0, None) / (0.8 * scale))
    bricks = bricks * ((1 + texture) * (1 - 0.8 * pits) * bevel)[..., np.newaxis]
    grain = fractal_noise(rng, shape, (0.6, 2.0 * scale), (0.07, 0.04))
    # Recessed joints: the upper part of a bed joint lies in the shadow of the brick above.
    depth = np.clip((geometry.bed + geometry.half_bed) / (2 * geometry.half_bed), 0, 1)
    shade = np.where(np.abs(geometry.bed) - geometry.half_bed < np.abs(geometry.head) - geometry.half_head,
                     0.75 + 0.25 * depth, 0.9)
    mortar = mortar_rgb * ((1 + grain) * shade)[..., np.newaxis]
    coverage = np.clip(0.5 - distance, 0, 1)[..., np.newaxis]
    return coverage * mortar + (1 - coverage) * bricks


def _soft(mask: np.ndarray, sigma: float = 0.6) -> np.ndarray:
    """Anti-aliased coverage of a rasterised binary shape."""
    return np.clip(ndimage.gaussian_filter(mask.astype(float), sigma), 0, 1)


def _curve(rng: np.random.Generator, size: int, points: int, step: float) -> np.ndarray:
    """A smooth random curve of ``points`` vertices (rows, cols), about ``step`` pixels apart."""
    heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.35, points))
    origin = rng.uniform(0, size, 2)
    return origin + np.cumsum(step * np.stack([np.sin(heading), np.cos(heading)], axis=1), axis=0)


def _stroke(size: int, curve: np.ndarray, width: float) -> np.ndarray:
    """Anti-aliased coverage of a polyline of the given width."""
    centre = np.zeros((size, size), dtype=bool)
    vertices = np.round(curve).astype(int)
    for (r0, c0), (r1, c1) in zip(vertices[:-1], vertices[1:]):
        rr, cc = draw.line(r0, c0, r1, c1)
        keep = (rr >= 0) & (rr < size) & (cc >= 0) & (cc < size)
        centre[rr[keep], cc[keep]] = True
    if not centre.any():
        return np.zeros((size, size))
    distance = ndimage.distance_transform_edt(~centre)
    return np.clip(width / 2 - distance + 0.5, 0, 1)


def _random_colour(rng: np.random.Generator, saturated: bool) -> np.ndarray:
    if saturated:
        return _hsv(rng.uniform(0, 1), rng.uniform(0.6, 1.0), rng.uniform(0.55, 1.0))
    return _hsv(rng.uniform(0, 1), rng.uniform(0.0, 0.7), rng.uniform(0.15, 0.9))


def _paint(image: np.ndarray, coverage: np.ndarray, rgb: np.ndarray, texture: np.ndarray | None = None) -> np.ndarray:
    """Alpha-blend a colour (optionally textured) over ``image`` with ``coverage``."""
    layer = np.broadcast_to(rgb, image.shape) if texture is None else rgb * (1 + texture)[..., np.newaxis]
    return image * (1 - coverage[..., np.newaxis]) + layer * coverage[..., np.newaxis]


def _graffiti(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Spray-paint strokes and filled tags on the wall (nothing in front; the label is unchanged)."""
    size = image.shape[0]
    for _ in range(rng.integers(2, 6)):
        coverage = _stroke(size, _curve(rng, size, 40, size / 45), rng.uniform(0.02, 0.06) * size)
        image = _paint(image, rng.uniform(0.75, 1.0) * coverage, _random_colour(rng, saturated=True))
    if rng.random() < 0.6:
        blob = _soft(smooth_threshold_mask(rng, image.shape[:2], size / 14, rng.uniform(0.05, 0.15)))
        image = _paint(image, 0.9 * blob, _random_colour(rng, saturated=True))
    return image, np.zeros(image.shape[:2], dtype=bool)


def _object_masks(size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Masks of 1-3 compact objects in front of the wall (signs, boxes, bins, pots, stones)."""
    masks = []
    for _ in range(rng.integers(1, 4)):
        mask = np.zeros((size, size), dtype=bool)
        centre = rng.uniform(0.15, 0.85, 2) * size
        extent = rng.uniform(0.08, 0.22, 2) * size
        kind = rng.integers(3)
        if kind == 0:
            rr, cc = draw.rectangle(np.maximum(centre - extent, 0), np.minimum(centre + extent, size - 1), shape=mask.shape)
        elif kind == 1:
            rr, cc = draw.ellipse(centre[0], centre[1], extent[0], extent[1], shape=mask.shape,
                                  rotation=rng.uniform(0, np.pi))
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, rng.integers(5, 9)))
            radii = rng.uniform(0.6, 1.0, angles.size)
            rr, cc = draw.polygon(centre[0] + extent[0] * radii * np.sin(angles),
                                  centre[1] + extent[1] * radii * np.cos(angles), shape=mask.shape)
        mask[rr, cc] = True
        masks.append(mask)
    return masks


def _objects(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Objects in front of the wall with drop shadows; returns the image and the covered pixels."""
    size = image.shape[0]
    covered = np.zeros((size, size), dtype=bool)
    for mask in _object_masks(size, rng):
        shadow = ndimage.shift(_soft(mask, 2.0), rng.uniform(1, 4, 2) * size / 128, order=1)
        image = image * (1 - 0.45 * shadow)[..., np.newaxis]
        texture = fractal_noise(rng, mask.shape, (0.7, 6.0 * size / 128), (0.04, 0.08))
        image = _paint(image, _soft(mask), _random_colour(rng, saturated=False), texture)
        covered |= mask
    return image, covered


def _shadows(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Strong cast shadows of a building edge, a tree canopy or a pole (the label is unchanged)."""
    size = image.shape[0]
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    kind = rng.integers(3)
    if kind == 0:
        angle = rng.uniform(0, 2 * np.pi)
        edge = x * np.cos(angle) + y * np.sin(angle) - rng.uniform(-0.3, 0.3)
        region = (edge + 0.02 * smooth_noise(rng, x.shape, size / 20)) > 0
    elif kind == 1:
        region = smooth_threshold_mask(rng, x.shape, size / 12, rng.uniform(0.3, 0.6))
    else:
        angle = rng.uniform(-0.6, 0.6)
        across = x * np.cos(angle) - y * np.sin(angle) - rng.uniform(-0.3, 0.3)
        region = np.abs(across) < rng.uniform(0.05, 0.15)
    darkness = rng.uniform(0.55, 0.8) * _soft(region, rng.uniform(0.5, 2.5) * size / 128)
    tint = np.array([0.9, 0.95, 1.1])  # skylight-lit shadows are bluish
    darkness = darkness[..., np.newaxis]
    return image * (1 - darkness) * (1 + darkness * (tint - 1)), np.zeros((size, size), dtype=bool)


def _occlusion(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Vegetation, cables and poles in front of the wall; returns the image and the covered pixels.

    The mortar is labelled through these occluders, as TopoMortar's annotators did.
    """
    size = image.shape[0]
    covered = np.zeros((size, size), dtype=bool)
    for _ in range(rng.integers(1, 3)):
        kind = rng.integers(3)
        if kind == 0:  # a climbing plant: a cluster of leaves
            cluster = smooth_noise(rng, covered.shape, size / 8) > rng.uniform(0.6, 1.2)
            coverage = _soft(cluster & smooth_threshold_mask(rng, covered.shape, size / 60, 0.55))
            green = _hsv(rng.uniform(0.2, 0.38), rng.uniform(0.5, 0.9), rng.uniform(0.2, 0.55))
            image = _paint(image, coverage, green, fractal_noise(rng, covered.shape, (0.8, 2.5 * size / 128), (0.1, 0.12)))
        elif kind == 1:  # cables sagging across the wall
            coverage = np.zeros(covered.shape)
            for _ in range(rng.integers(1, 4)):
                cols = np.linspace(-0.1, 1.1, 60) * size
                lowest = rng.uniform(0.2, 0.8) * size
                rows = (rng.uniform(0.1, 0.9) * size + rng.uniform(-0.2, 0.2) * cols
                        + rng.uniform(0.1, 0.4) * size * ((cols - lowest) / size) ** 2)
                width = rng.uniform(0.01, 0.025) * size
                coverage = np.maximum(coverage, _stroke(size, np.column_stack([rows, cols]), width))
            image = _paint(image, coverage, _hsv(0, 0, rng.uniform(0.05, 0.2)))
        else:  # a pole or drainpipe
            column = rng.uniform(0.1, 0.9) * size
            half = rng.uniform(0.03, 0.07) * size
            x = np.arange(size) + 0.5
            coverage = np.broadcast_to(np.clip(half - np.abs(x - column) + 0.5, 0, 1), covered.shape)
            cylinder = np.broadcast_to(0.25 * np.clip((x - column) / half, -1, 1), covered.shape)
            texture = cylinder + 0.03 * smooth_noise(rng, covered.shape, 1.0)
            image = _paint(image, coverage, _random_colour(rng, saturated=False), texture)
        covered |= coverage > 0.5
    return image, covered


def _camera(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lighting gradient, colour cast, lens blur and sensor noise; returns ``uint8 (3, H, W)``."""
    size = image.shape[0]
    y, x = np.mgrid[0:size, 0:size] / size - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.0, 0.45) * (x * np.cos(angle) + y * np.sin(angle)) + 0.07 * smooth_noise(rng, x.shape, size / 5)
    cast = 1 + 0.04 * rng.standard_normal(3)
    image = image * light[..., np.newaxis] * cast
    sigma = rng.uniform(0.3, 0.7) * math.sqrt(size / 128)
    image = ndimage.gaussian_filter(image, (sigma, sigma, 0))
    image = image + rng.uniform(0.004, 0.02) * rng.standard_normal(image.shape)
    return np.moveaxis(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), -1, 0)


# ---------------------------------------------------------------------------------------------
# Training labels
# ---------------------------------------------------------------------------------------------


def _noisy_label(geometry: _Geometry, rng: np.random.Generator) -> np.ndarray:
    """Thin wobbly strokes along the joint centre lines, one connected network like the accurate label."""
    shape = geometry.bed.shape
    scale = shape[0] / 128
    half_width = max(0.75, 0.22 * geometry.joint_px)
    wobble = 0.17 * geometry.joint_px
    bed = np.abs(geometry.bed - wobble * smooth_noise(rng, shape, 6.0 * scale)) < half_width
    head = np.abs(geometry.head - wobble * smooth_noise(rng, shape, 3.0 * scale)) < half_width
    return bed | head


#: The weak model of the pseudo-labels: feature blur (in joint widths), threshold on the locally
#: normalised contrast, and the smallest component it keeps (in squared joint widths).
PSEUDO_BLUR, PSEUDO_THRESHOLD, PSEUDO_MIN_AREA = 0.2, 0.05, 2.0


def weak_model_score(image: np.ndarray, joint_px: float, brick_px: float) -> np.ndarray:
    """The pseudo-labelling model's mortar score: blurred local brightness contrast of the image.

    Mortar is lighter than the bricks in the training walls, so the model scores a pixel by how much
    brighter its blurred neighbourhood (``PSEUDO_BLUR`` joint widths) is than the wall around it (a
    brick height), divided by the local spread of that contrast. Thin, dark or low-contrast joints
    score low; light bricks, light texture and shading score high, wherever they occur.

    Parameters
    ----------
    image
        ``uint8`` RGB image ``(3, H, W)`` as written.
    joint_px, brick_px
        Nominal joint width and brick height in pixels.

    Returns
    -------
    numpy.ndarray
        Float score ``(H, W)``; the model's mask is ``score > PSEUDO_THRESHOLD``.
    """
    grey = image.astype(float).mean(axis=0) / 255.0
    contrast = ndimage.gaussian_filter(grey, PSEUDO_BLUR * joint_px) - ndimage.gaussian_filter(grey, brick_px)
    spread = np.sqrt(ndimage.gaussian_filter(contrast ** 2, brick_px)) + 1e-3
    return contrast / spread


def _pseudo_label(image: np.ndarray, geometry: _Geometry) -> np.ndarray:
    """A deliberately weak, deterministic model's segmentation of the wall image (see the module docstring)."""
    mask = weak_model_score(image, geometry.joint_px, geometry.brick_px) > PSEUDO_THRESHOLD
    components, _ = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    sizes = np.bincount(components.ravel())
    keep = sizes >= PSEUDO_MIN_AREA * geometry.joint_px ** 2
    keep[0] = False
    return keep[components]


# ---------------------------------------------------------------------------------------------
# One wall
# ---------------------------------------------------------------------------------------------

#: What each out-of-distribution group adds to the wall: ``(image, rng) -> (image, in_front)``.
_EFFECTS: dict[str, Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]] = {
    "graffiti": _graffiti,
    "objects": _objects,
    "shadows": _shadows,
    "occlusion": _occlusion,
}


def render_wall(size: int, group: str, rng: np.random.Generator) -> Wall:
    """Render one wall of ``group`` with all its labels.

    Parameters
    ----------
    size
        Side of the square image in pixels.
    group
        One of :data:`GROUPS`.
    rng
        Source of randomness (use :func:`case_rng` for dataset cases).

    Returns
    -------
    Wall
        Image, accurate/noisy/pseudo masks and the brick index map.
    """
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; expected one of {GROUPS}")
    geometry, distance = _build_geometry(size, group, rng)
    accurate = distance < 0
    image = _render(geometry, distance, group, rng)
    in_front = np.zeros(accurate.shape, dtype=bool)
    if group in _EFFECTS:
        image, in_front = _EFFECTS[group](image, rng)
    if group == "objects":  # TopoMortar labels objects in front of the wall as background
        accurate = accurate & ~in_front
    image = _camera(image, rng)
    noisy = _noisy_label(geometry, rng)
    pseudo = _pseudo_label(image, geometry)
    return Wall(image, accurate, noisy, pseudo, geometry.bricks, in_front)


# ---------------------------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------------------------


def generate_mortar_dataset(spec: MortarSpec, out: str | PathLike[str], *, progress: bool = False) -> Path:
    """Generate a synthetic data set in TopoMortar's layout (see :mod:`segpipe.datasets.layout`).

    Writes ``{train,val,test}/images/NNN.png`` (RGB), ``accurate`` labels for every image,
    ``noisy`` and ``pseudo`` labels for the training and validation images (as TopoMortar has
    them), ``splits.yaml``, ``splits_small.yaml`` (the first ``n_train_small`` training images),
    ``dataset_types.txt`` and ``betti_numbers.csv`` (ground truth of the accurate label of every
    image; TopoMortar's own file lists the test images only). The directory is built aside and
    swapped into place, so ``out`` is either the complete old or the complete new data set.

    Parameters
    ----------
    spec
        What to generate.
    out
        The dataset directory (TopoMortar's ``dataset/``).
    progress
        Show a progress bar on standard error.

    Returns
    -------
    Path
        ``out``.
    """

    out = Path(out)
    planned = plan_cases(spec)

    def build(root: Path) -> None:
        betti = []
        for case in progress_bar(planned, desc="synth mortar", unit="image", show=progress):
            wall = render_wall(spec.image_size, case.group, case_rng(spec.seed, case))
            name = f"{case.case_id}.png"
            write_image(root / case.split / "images" / name, wall.image)
            for label_type in LABEL_TYPES if case.has_training_labels else ("accurate",):
                write_image(root / case.split / label_type / name, wall.label(label_type).astype(np.uint8) * 255)
            betti.append((case.case_id, betti_numbers(wall.accurate)))
        cases = [
            Case(case.case_id, case.split, case.group, f"{case.split}/images/{case.case_id}.png",
                 small=case.split == "train" and case.position < spec.n_train_small)
            for case in planned
        ]
        write_topomortar_index(root, cases, prefix=out.name)
        write_betti_csv(root / "betti_numbers.csv", betti)

    return write_directory_atomically(out, build)

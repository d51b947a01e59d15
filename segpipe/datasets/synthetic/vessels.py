"""Synthetic 3D vessel trees in time-of-flight MRA-like volumes, with known topology.

Each volume holds a few vessel trees that enter through the volume's faces and branch inwards:
every branch is a tortuous centre line (a smoothly turning random walk) whose radius tapers from
its start to its end, where it bifurcates into two children with Murray's law
(``r^3 = r1^3 + r2^3``) or stops once it is thinner than the smallest radius or reaches the
volume's border. A few anastomoses (short connecting vessels between two branches of the same
tree) add loops. Growth keeps every vessel about three voxels clear of the others (only a
branch's parent and sibling may come closer, within a sphere around their shared bifurcation,
which children leave in straight lines at diverging angles), so no two vessels touch by accident
and the label's topology is the designed one: ``b0`` = number of trees, ``b1`` = number of
loops, ``b2`` = 0 (foreground 26-connected, background 6-connected); see :func:`render_vessels`.

Rendering works in millimetres with anisotropic voxels. The image is the partial-volume fraction
of vessel in each voxel (the mean of an anti-aliased inside test over 2x2x2 sub-voxel samples, so
vessels thinner than a voxel appear dimmer instead of vanishing), bright vessel signal on a
textured background, multiplied by a smooth intensity inhomogeneity (bias field), with Rician
noise, stored as ``int16``. The label is every voxel whose centre lies inside a vessel plus every
voxel that a centre line passes through, so sub-voxel vessels stay connected in the label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from segpipe.datasets.betti import betti_numbers, write_betti_csv
from segpipe.datasets.layout import DATASET_JSON
from segpipe.datasets.manifest import IN_DISTRIBUTION
from segpipe.datasets.synthetic.noise import smooth_noise
from segpipe.errors import ConfigError
from segpipe.io.atomic import write_directory_atomically, write_json
from segpipe.io.images import Geometry, write_image
from segpipe.utilities.progress import progress_bar

_MARGIN_VOXELS = 1.5  # clearance claimed around every vessel, on each side
_SUPERSAMPLING = 2  # sub-voxel samples per axis for the partial-volume image
_MAX_BRANCHES_PER_TREE = 80
_MAX_DRAWS = 20  # volumes drawn until the label has the designed topology


@dataclass(frozen=True)
class VesselSpec:
    """Size and composition of a synthetic vessel dataset.

    Attributes
    ----------
    seed
        Master seed; the same seed gives byte-identical files.
    n_train, n_train_small, n_val, n_test
        Training volumes, how many of them (the first) form the small training set, validation
        and test volumes.
    shape
        Voxels per array axis ``(z, y, x)``.
    spacing
        Voxel size in mm per array axis ``(z, y, x)``.
    trees, loops
        Most vessel trees and loops per volume (each volume draws 1..trees and 0..loops).
    radius_mm
        Smallest and largest vessel radius in mm (roots start near the largest).
    """

    seed: int = 0
    n_train: int = 50
    n_train_small: int = 10
    n_val: int = 10
    n_test: int = 20
    shape: tuple[int, int, int] = (64, 64, 64)
    spacing: tuple[float, float, float] = (0.6, 0.4, 0.4)
    trees: int = 2
    loops: int = 2
    radius_mm: tuple[float, float] = (0.12, 1.2)

    def __post_init__(self) -> None:
        low, high = self.radius_mm
        if not 0 < low < high:
            raise ConfigError(
                f"'dataset.synthetic.vessels.radius_mm' is {list(self.radius_mm)}; it must be [smallest, largest] "
                "with 0 < smallest < largest",
            )
        if len(self.shape) != 3 or len(self.spacing) != 3:
            raise ConfigError("'dataset.synthetic.vessels.shape' and 'spacing' need three values (z, y, x)")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VesselSpec:
        """Build the spec from a validated configuration's ``dataset.synthetic`` section."""
        synthetic = config["dataset"]["synthetic"]
        vessels = synthetic["vessels"]
        return cls(
            seed=int(synthetic["seed"]), n_train=int(synthetic["n_train"]),
            n_train_small=int(synthetic["n_train_small"]), n_val=int(synthetic["n_val"]),
            n_test=int(synthetic["n_test_id"]), shape=tuple(int(v) for v in vessels["shape"]),
            spacing=tuple(float(v) for v in vessels["spacing"]), trees=int(vessels["trees"]),
            loops=int(vessels["loops"]), radius_mm=tuple(float(v) for v in vessels["radius_mm"]),
        )


@dataclass
class VesselVolume:
    """One rendered volume.

    Attributes
    ----------
    image
        ``int16`` intensities ``(z, y, x)``.
    label
        ``uint8`` vessel mask ``(z, y, x)``.
    occupancy
        ``float32`` partial-volume fraction of vessel per voxel.
    geometry
        Spacing and origin of the grid (identity direction, centred on the physical origin).
    trees, loops
        The designed topology: ``betti_numbers(label) == (trees, loops, 0)``.
    """

    image: np.ndarray
    label: np.ndarray
    occupancy: np.ndarray
    geometry: Geometry
    trees: int
    loops: int


@dataclass
class _Branch:
    """A vessel segment between bifurcations: centre-line points (mm) and radii."""

    ident: int
    tree: int
    family: frozenset[int]  # parent and sibling: allowed to overlap near the start
    points: list[np.ndarray] = field(default_factory=list)
    radii: list[float] = field(default_factory=list)


class _Claims:
    """Who occupies which voxels (vessel plus clearance), to keep vessels from touching."""

    def __init__(self, shape: tuple[int, ...], spacing: np.ndarray):
        self.owner = np.zeros(shape, dtype=np.int32)
        self.spacing = spacing

    def _ball(self, point: np.ndarray, radius: float) -> tuple[tuple[slice, ...], np.ndarray, list[np.ndarray]]:
        """The voxels within ``radius`` plus the clearance of ``point``: region, mask, index grids."""
        centre = point / self.spacing
        semi = radius / self.spacing + _MARGIN_VOXELS
        low = np.maximum(np.floor(centre - semi).astype(int), 0)
        high = np.minimum(np.ceil(centre + semi).astype(int) + 1, self.owner.shape)
        grids = np.meshgrid(*[np.arange(lo, hi) for lo, hi in zip(low, high)], indexing="ij", sparse=True)
        inside = sum(((g - c) / s) ** 2 for g, c, s in zip(grids, centre, semi)) <= 1
        return tuple(slice(lo, hi) for lo, hi in zip(low, high)), inside, grids

    def free(self, point: np.ndarray, radius: float, own: int, tolerated: frozenset[int] = frozenset(),
             near: tuple[tuple[np.ndarray, float], ...] = ()) -> bool:
        """Whether a vessel of ``radius`` at ``point`` keeps clear of every other vessel.

        Claims of ``own`` are ignored everywhere; claims of ``tolerated`` owners (a branch's parent
        and sibling, a loop's end branches) only inside the ``near`` spheres ``(centre, radius)``
        around the junctions where they legitimately meet.
        """
        region, inside, grids = self._ball(point, radius)
        owners = self.owner[region]
        foreign = inside & (owners != 0) & (owners != own)
        if tolerated and foreign.any():
            known = np.isin(owners, list(tolerated))
            for centre, reach in near:
                distance2 = sum((g * s - c) ** 2 for g, s, c in zip(grids, self.spacing, centre))
                foreign &= ~(known & (distance2 <= reach**2))
        return not foreign.any()

    def claim(self, point: np.ndarray, radius: float, owner: int) -> None:
        """Claim the clearance around a vessel point; voxels already claimed keep their first owner."""
        region, inside, _ = self._ball(point, radius)
        view = self.owner[region]
        view[inside & (view == 0)] = owner


def _perpendicular(direction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    vector = rng.standard_normal(3)
    vector -= vector.dot(direction) * direction
    return vector / np.linalg.norm(vector)


def _rotate(vector: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation of ``vector`` about the unit ``axis``."""
    return (vector * math.cos(angle) + np.cross(axis, vector) * math.sin(angle)
            + axis * axis.dot(vector) * (1 - math.cos(angle)))


class _Forest:
    """Grows the vessel trees of one volume and adds loops."""

    def __init__(self, spec: VesselSpec, rng: np.random.Generator):
        self.spec = spec
        self.rng = rng
        self.spacing = np.asarray(spec.spacing, dtype=float)
        self.extent = (np.asarray(spec.shape) - 1) * self.spacing
        self.step = 0.5 * float(self.spacing.min())
        self.claims = _Claims(spec.shape, self.spacing)
        self.branches: list[_Branch] = []
        self.tortuosity = rng.uniform(0.15, 0.45)  # rad per sqrt(mm) of the curvature random walk
        self.clearance = 2 * _MARGIN_VOXELS * float(self.spacing.max())  # mm kept between two vessels

    def _inside(self, point: np.ndarray) -> bool:
        return bool(np.all(point >= 0) and np.all(point <= self.extent))

    def _new_branch(self, tree: int, family: frozenset[int]) -> _Branch:
        branch = _Branch(len(self.branches) + 1, tree, family)
        self.branches.append(branch)
        return branch

    def _grow(self, branch: _Branch, start: np.ndarray, direction: np.ndarray, radii: tuple[float, float],
              length: float) -> np.ndarray | None:
        """Extend ``branch`` by ``length`` mm; its final direction, or None if it left the volume or collided."""
        count = max(2, int(math.ceil(length / self.step)))
        # A child starts inside its parent's and sibling's clearance, which it may overlap only
        # within `reach` of the junction; it leaves that sphere straight (siblings diverge by at
        # least 1.05 rad), then wanders.
        reach = 2.5 * radii[0] + self.clearance
        junction = ((start, reach),)
        # It also ends straight, so that its own children leave it cleanly.
        straight_end = count - int(math.ceil((2.5 * radii[1] + self.clearance) / self.step))
        curvature = np.zeros(3)
        point = start
        for k in range(1, count + 1):
            if np.linalg.norm(point - start) > reach and k < straight_end:
                curvature = 0.85 * curvature + self.tortuosity * math.sqrt(self.step) * _perpendicular(direction, self.rng)
                direction = direction + curvature
                direction /= np.linalg.norm(direction)
            point = point + self.step * direction
            radius = radii[0] + (radii[1] - radii[0]) * k / count
            if not self._inside(point) or not self.claims.free(point, radius, branch.ident, branch.family, junction):
                return None
            branch.points.append(point)
            branch.radii.append(radius)
            self.claims.claim(point, radius, branch.ident)
        return direction

    def grow_tree(self, tree: int) -> bool:
        """Grow one tree from a random entry point on the volume's border; False if there is no room.

        The root must grow its whole first segment inside the volume and clear of the other
        vessels; a root that leaves the volume or collides at once (which would leave a stub of a
        voxel or two as a whole tree) is discarded and another entry point drawn.
        """
        high = self.spec.radius_mm[1]
        for _ in range(20):
            axis, side = self.rng.integers(3), self.rng.integers(2)
            start = self.rng.uniform(0.2, 0.8, 3) * self.extent
            start[axis] = side * self.extent[axis]
            radius = self.rng.uniform(0.7, 1.0) * high
            if not self.claims.free(start, radius, own=0):
                continue
            inward = self.extent / 2 - start + self.rng.normal(0, 0.25, 3) * self.extent
            root = self._new_branch(tree, frozenset())
            root.points.append(start)
            root.radii.append(radius)
            end = self._segment(root, start, inward / np.linalg.norm(inward), radius)
            if end is not None:
                break
            self._discard(root)
        else:
            return False
        queue = self._children(root, *end)
        grown = 1
        while queue and grown < _MAX_BRANCHES_PER_TREE:
            branch, point, direction, radius = queue.pop(0)
            grown += 1
            end = self._segment(branch, point, direction, radius)
            if end is not None:
                queue.extend(self._children(branch, *end))
        return True

    def _segment(self, branch: _Branch, start: np.ndarray, direction: np.ndarray,
                 radius: float) -> tuple[np.ndarray, float] | None:
        """Grow one tapering segment of ``branch``; its end direction and radius, or None if it
        left the volume or collided."""
        low, high = self.spec.radius_mm
        end_radius = max(low, radius * self.rng.uniform(0.8, 0.95))
        length = self.rng.uniform(0.15, 0.35) * self.extent.min() * (radius / high) ** 0.4 + 4 * self.step
        end_direction = self._grow(branch, start, direction, (radius, end_radius), length)
        return None if end_direction is None else (end_direction, end_radius)

    def _children(self, branch: _Branch, end_direction: np.ndarray,
                  end_radius: float) -> list[tuple[_Branch, np.ndarray, np.ndarray, float]]:
        """The children of a bifurcation at the end of ``branch`` (Murray's law), none once it is too thin."""
        low = self.spec.radius_mm[0]
        if end_radius < 1.25 * low:
            return []
        share = self.rng.uniform(0.25, 0.75)
        radii = [r for r in sorted((end_radius * share ** (1 / 3), end_radius * (1 - share) ** (1 / 3)),
                                   reverse=True) if r >= low]
        axis = _perpendicular(end_direction, self.rng)
        angles = (self.rng.uniform(0.35, 0.7), -self.rng.uniform(0.7, 1.2))  # >= 1.05 rad apart
        children = [self._new_branch(branch.tree, frozenset()) for _ in radii]
        queued = []
        for child, child_radius, angle in zip(children, radii, angles):
            child.family = frozenset({branch.ident} | {c.ident for c in children if c is not child})
            child.points.append(branch.points[-1])
            child.radii.append(child_radius)
            queued.append((child, branch.points[-1], _rotate(end_direction, axis, angle), child_radius))
        return queued

    def _discard(self, branch: _Branch) -> None:
        """Remove ``branch``, the newest one, and release its claims."""
        self.branches.remove(branch)
        self.claims.owner[self.claims.owner == branch.ident] = 0

    def add_loop(self, tree: int) -> bool:
        """Connect two non-adjacent branches of ``tree`` by a short curved vessel; False if none fits."""
        members = [b for b in self.branches if b.tree == tree and len(b.points) > 8]
        # endpoints in the middle half of a branch, away from its bifurcations
        candidates = [(b, k) for b in members for k in range(len(b.points) // 4, 3 * len(b.points) // 4, 2)]
        if len(candidates) < 2:
            return False
        positions = np.array([b.points[k] for b, k in candidates])
        for _ in range(30):
            i = self.rng.integers(len(candidates))
            distances = np.linalg.norm(positions - positions[i], axis=1)
            first, k_first = candidates[i]
            eligible = [j for j in np.flatnonzero((distances > 2.0) & (distances < 0.4 * self.extent.min()))
                        if candidates[j][0].ident not in first.family | {first.ident}
                        and first.ident not in candidates[j][0].family]
            if not eligible:
                continue
            second, k_second = candidates[eligible[self.rng.integers(len(eligible))]]
            if self._connect(first, k_first, second, k_second):
                return True
        return False

    def _connect(self, first: _Branch, k_first: int, second: _Branch, k_second: int) -> bool:
        a, b = first.points[k_first], second.points[k_second]
        radius = max(self.spec.radius_mm[0], self.rng.uniform(0.5, 0.8) * min(first.radii[k_first], second.radii[k_second]))
        chord = b - a
        bend = _perpendicular(chord / np.linalg.norm(chord), self.rng) * self.rng.uniform(0.1, 0.35) * np.linalg.norm(chord)
        # leave and join each branch steeply (at least 60 degrees), never running alongside it
        for branch, k, tangent in ((first, k_first, chord + 2 * bend), (second, k_second, chord - 2 * bend)):
            along = branch.points[k + 1] - branch.points[k - 1]
            if abs(along.dot(tangent)) > 0.5 * np.linalg.norm(along) * np.linalg.norm(tangent):
                return False
        t = np.linspace(0, 1, max(3, int(np.linalg.norm(chord) / self.step) + 2))[:, np.newaxis]
        path = (1 - t) ** 2 * a + 2 * t * (1 - t) * (a + chord / 2 + bend) + t**2 * b
        connector = _Branch(len(self.branches) + 1, first.tree, frozenset({first.ident, second.ident}))
        reach = 1.5 * max(first.radii[k_first], second.radii[k_second]) + self.clearance
        ends = ((a, reach), (b, reach))
        if not all(self._inside(p) and self.claims.free(p, radius, connector.ident, connector.family, ends)
                   for p in path[1:-1]):
            return False
        self.branches.append(connector)
        connector.points, connector.radii = list(path), [radius] * len(path)
        for p in path:
            self.claims.claim(p, radius, connector.ident)
        return True

    def centrelines(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every branch and loop as ``(points (N, 3) in mm, radii (N,))``."""
        return [(np.asarray(b.points).reshape(-1, 3), np.asarray(b.radii)) for b in self.branches if b.points]


def _segment_distance(axes: list[np.ndarray], start: np.ndarray, end: np.ndarray, r0: float, r1: float) -> np.ndarray:
    """Signed distance (mm) from grid points (one coordinate vector per axis) to a tapered capsule."""
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    chord = end - start
    length2 = max(float(chord.dot(chord)), 1e-12)
    t = np.clip(sum((g - s) * c for g, s, c in zip(grids, start, chord)) / length2, 0, 1)
    distance = np.sqrt(sum((g - s - t * c) ** 2 for g, s, c in zip(grids, start, chord)))
    return distance - (r0 + t * (r1 - r0))


def _soft_radius(radius: float, ramp: float) -> float:
    """Radius at which a tube's linear edge ramp of width ``ramp`` integrates to ``pi * radius**2``.

    The anti-aliased inside test ``clip(0.5 - (distance - r) / ramp, 0, 1)`` of a tube of radius
    ``r`` covers ``pi * (r**2 + ramp**2 / 12)`` of its cross-section when ``r >= ramp / 2``, and
    ``pi * (r + ramp / 2)**3 / (3 * ramp)`` below; inverting that keeps the partial volume of
    thin vessels right instead of inflating it.
    """
    if radius >= ramp / math.sqrt(3):
        return math.sqrt(radius**2 - ramp**2 / 12)
    return (3 * ramp * radius**2) ** (1 / 3) - ramp / 2


def render_centrelines(
    centrelines: Sequence[tuple[np.ndarray, np.ndarray]],
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise tubes given by centre lines: partial-volume occupancy and label.

    Parameters
    ----------
    centrelines
        Per vessel, its centre-line points ``(N, 3)`` in mm (array axis order, voxel ``i`` at
        ``i * spacing``) and the radius ``(N,)`` in mm at each point; consecutive points are
        joined by tapered capsules.
    shape
        Voxels per array axis.
    spacing
        Voxel size in mm per array axis.

    Returns
    -------
    tuple
        ``float32`` occupancy (the fraction of each voxel inside a vessel, from 2x2x2 anti-aliased
        sub-voxel samples whose edge ramp is corrected to the exact cross-section area) and ``uint8`` label (voxel centres inside a vessel, plus every voxel a
        centre line passes through, so vessels thinner than a voxel stay connected).
    """
    shape_array = np.asarray(shape)
    spacing_array = np.asarray(spacing, dtype=float)
    fine_spacing = spacing_array / _SUPERSAMPLING
    ramp = float(fine_spacing.mean())
    fine = np.full(tuple(shape_array * _SUPERSAMPLING), np.inf, dtype=np.float32)
    coarse = np.full(tuple(shape_array), np.inf, dtype=np.float32)
    label = np.zeros(tuple(shape_array), dtype=bool)
    for points, radii in centrelines:
        for start, end, r0, r1 in zip(points[:-1], points[1:], radii[:-1], radii[1:]):
            reach = max(r0, r1) + 2 * spacing_array.max()
            low, high = np.minimum(start, end) - reach, np.maximum(start, end) + reach
            grids = ((coarse, spacing_array, 0.0, (r0, r1)),
                     (fine, fine_spacing, (1 / _SUPERSAMPLING - 1) / 2, (_soft_radius(r0, ramp), _soft_radius(r1, ramp))))
            for grid, step, offset, (q0, q1) in grids:
                # sample j of the grid lies at (j * step + offset * spacing) mm
                first = np.maximum(np.floor((low - offset * spacing_array) / step).astype(int), 0)
                last = np.minimum(np.ceil((high - offset * spacing_array) / step).astype(int) + 1, grid.shape)
                if np.any(last <= first):
                    continue
                axes = [np.arange(f, l) * s + offset * sp for f, l, s, sp in zip(first, last, step, spacing_array)]
                region = tuple(slice(f, l) for f, l in zip(first, last))
                np.minimum(grid[region], _segment_distance(axes, start, end, q0, q1), out=grid[region])
        # centre-line voxels, sampled at most half a voxel apart
        chords = np.linalg.norm(np.diff(points, axis=0), axis=1)
        steps = np.maximum(1, np.ceil(chords / (0.5 * spacing_array.min())).astype(int))
        dense = [points[:1]] + [a + np.linspace(0, 1, n + 1)[1:, None] * (b - a)
                                for a, b, n in zip(points[:-1], points[1:], steps)]
        index = np.clip(np.round(np.concatenate(dense) / spacing_array).astype(int), 0, shape_array - 1)
        label[tuple(index.T)] = True
    samples = np.clip(0.5 - fine / ramp, 0, 1)
    s = _SUPERSAMPLING
    occupancy = samples.reshape(shape[0], s, shape[1], s, shape[2], s).mean(axis=(1, 3, 5))
    return occupancy.astype(np.float32), (label | (coarse < 0)).astype(np.uint8)


def _mra_image(occupancy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bright vessels on textured tissue, bias field and Rician noise, as ``int16``."""
    shape = occupancy.shape
    tissue = rng.uniform(80, 140) * (1 + 0.08 * smooth_noise(rng, shape, 4.0))
    vessel = rng.uniform(400, 650)
    clean = tissue * (1 - occupancy) + vessel * occupancy
    bias = np.exp(rng.uniform(0.1, 0.3) * smooth_noise(rng, shape, tuple(n / 3 for n in shape)))
    sigma = rng.uniform(0.02, 0.05) * vessel
    signal = clean * bias
    noisy = np.hypot(signal + sigma * rng.standard_normal(shape), sigma * rng.standard_normal(shape))
    return np.round(np.clip(noisy, 0, np.iinfo(np.int16).max)).astype(np.int16)


def render_vessels(spec: VesselSpec, rng: np.random.Generator) -> VesselVolume:
    """Grow, render and image one volume of vessel trees.

    Parameters
    ----------
    spec
        Volume shape, spacing, tree/loop counts and radii.
    rng
        Source of randomness.

    Returns
    -------
    VesselVolume
        Image, label, occupancy, geometry and the designed numbers of trees and loops.

    Notes
    -----
    Rarely, two thin vessels leaving the same bifurcation touch again in the voxel grid a voxel
    or two away from it, which makes a tiny extra loop in the label. Such a draw is discarded and
    the next one taken (from the same generator, so the result stays deterministic), so the label
    has the designed topology unless 20 draws in a row failed.
    """
    for _ in range(_MAX_DRAWS):
        forest = _Forest(spec, rng)
        trees = sum(forest.grow_tree(tree) for tree in range(int(rng.integers(1, spec.trees + 1))))
        wanted_loops = int(rng.integers(0, spec.loops + 1))
        loops = sum(forest.add_loop(int(rng.integers(trees))) for _ in range(wanted_loops)) if trees else 0
        occupancy, label = render_centrelines(forest.centrelines(), spec.shape, spec.spacing)
        if betti_numbers(label) == (trees, loops, 0):
            break
    image = _mra_image(occupancy, rng)
    spacing_xyz = tuple(reversed(spec.spacing))
    origin = tuple(-(n - 1) * s / 2 for n, s in zip(reversed(spec.shape), spacing_xyz))
    geometry = Geometry(spacing_xyz, origin, tuple(np.eye(3).ravel().tolist()))
    return VesselVolume(image, label, occupancy, geometry, trees, loops)


def generate_vessel_dataset(spec: VesselSpec, out: str | PathLike[str], *, progress: bool = False) -> Path:
    """Generate NIfTI image/label pairs in the generic ``dataset.json`` layout.

    Writes ``images/{id}.nii.gz`` (``int16``), ``labels/{id}.nii.gz`` (``uint8`` {0, 1}) with
    the volume's affine, ``dataset.json`` (train, val and test splits; the first
    ``n_train_small`` training volumes form the small set) and ``betti_numbers.csv``
    (``ID,Betti0,Betti1,Betti2`` of every label). The directory is built aside and swapped into
    place.

    Parameters
    ----------
    spec
        What to generate.
    out
        The dataset directory.
    progress
        Show a progress bar on standard error.
    """

    plan = [("train", k) for k in range(spec.n_train)] + [("val", k) for k in range(spec.n_val)]
    plan += [("test", k) for k in range(spec.n_test)]
    width = max(3, len(str(len(plan))))

    def build(root: Path) -> None:
        cases, betti = [], []
        for number, (split, position) in enumerate(progress_bar(plan, desc="synth vessels", unit="volume", show=progress), 1):
            case_id = f"{number:0{width}d}"
            rng = np.random.default_rng([spec.seed, ("train", "val", "test").index(split), position])
            volume = render_vessels(spec, rng)
            write_image(root / "images" / f"{case_id}.nii.gz", volume.image, volume.geometry)
            write_image(root / "labels" / f"{case_id}.nii.gz", volume.label, volume.geometry)
            cases.append({"id": case_id, "split": split, "group": IN_DISTRIBUTION,
                          "image": f"images/{case_id}.nii.gz", "labels": {"accurate": f"labels/{case_id}.nii.gz"},
                          "small": split == "train" and position < spec.n_train_small})
            betti.append((case_id, betti_numbers(volume.label)))
        write_json(root / DATASET_JSON, {"name": Path(out).name, "dimensions": 3, "channels": 1,
                                         "label_types": ["accurate"], "cases": cases})
        write_betti_csv(root / "betti_numbers.csv", betti)

    return write_directory_atomically(out, build)

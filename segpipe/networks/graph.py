"""Landmark graphs for HybridGNet: organ templates, multi-resolution rings and rasterisation.

A :class:`GraphTemplate` lists organs, each a closed ring of landmarks, in a fixed order; a landmark
array holds the organs concatenated in that order (JSRT/Gaggion convention: right lung 44, left lung
50, heart 26, then optionally right and left clavicle 23 each). Node ``i`` of a ring is joined to
``i - 1`` and ``i + 1`` modulo the ring's length; optional extra edges join chosen nodes of different
organs.

Resolutions
-----------
Level 0 is the full graph. Level ``l + 1`` keeps the even-numbered nodes of each ring of level ``l``
(``ceil(n / 2)`` of ``n``), so the last kept node and node 0 stay neighbours. Unpooling goes the other
way: even fine nodes copy their coarse node, odd fine node ``2k + 1`` is the midpoint of coarse nodes
``k`` and ``k + 1``, wrapping to node 0 at the ring's end (this only happens for even ``n``).

Coordinates
-----------
Landmarks in pixels are ``(x, y)`` = ``(column, row)`` with integer values at pixel *centres*: the
top-left pixel's centre is ``(0, 0)`` and the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.
Normalised coordinates ``(u, v)`` in ``[0, 1]`` cover the same extent, ``u = (x + 0.5) / W``, which is
exactly the convention of ``torch.nn.functional.grid_sample(..., align_corners=False)`` after mapping
to ``[-1, 1]``. :func:`rasterize` sets a pixel when its centre lies inside or on the contour
(scikit-image ``polygon2mask``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import yaml

from segpipe.errors import ConfigError, InputError
from segpipe.io.images import Geometry

#: Organs of the default template, in JSRT/Gaggion order, with their landmark counts.
DEFAULT_ORGANS: tuple[tuple[str, int], ...] = (("right_lung", 44), ("left_lung", 50), ("heart", 26))
#: Optional clavicles appended after the default organs.
CLAVICLE_ORGANS: tuple[tuple[str, int], ...] = (("right_clavicle", 23), ("left_clavicle", 23))
#: The smallest ring any resolution level may hold.
MIN_RING_NODES = 3


@dataclass(frozen=True)
class Organ:
    """One closed ring of landmarks.

    Attributes
    ----------
    name
        Organ name (letters, digits, ``_`` and ``-``); names output files.
    n_landmarks
        Number of landmarks on the ring (at least :data:`MIN_RING_NODES`).
    """

    name: str
    n_landmarks: int


@dataclass(frozen=True)
class GraphTemplate:
    """Organs as landmark rings plus optional extra edges between organs.

    Attributes
    ----------
    organs
        The rings, in the order their landmarks are concatenated.
    extra_edges
        Undirected edges ``((organ_a, index_a), (organ_b, index_b))`` added to the rings.
    """

    organs: tuple[Organ, ...]
    extra_edges: tuple[tuple[tuple[str, int], tuple[str, int]], ...] = ()

    def __post_init__(self) -> None:
        names = [organ.name for organ in self.organs]
        if not names:
            raise ConfigError("a landmark template needs at least one organ", fix="list organs with their landmark counts")
        if len(set(names)) != len(names):
            raise ConfigError(f"organ names must be unique, got {names}", fix="rename the repeated organ")
        for organ in self.organs:
            if organ.n_landmarks < MIN_RING_NODES:
                raise ConfigError(
                    f"organ {organ.name!r} has {organ.n_landmarks} landmarks; a ring needs at least {MIN_RING_NODES}",
                    fix="give every organ at least 3 landmarks",
                )
        sizes = dict(zip(names, (organ.n_landmarks for organ in self.organs), strict=True))
        for (a, i), (b, j) in self.extra_edges:
            for organ, index in ((a, i), (b, j)):
                if organ not in sizes:
                    raise ConfigError(f"extra edge names unknown organ {organ!r}", fix=f"use one of {names}")
                if not 0 <= index < sizes[organ]:
                    raise ConfigError(
                        f"extra edge index {index} is outside organ {organ!r} (0..{sizes[organ] - 1})",
                        fix="use a landmark index within the organ",
                    )

    @property
    def names(self) -> list[str]:
        """Organ names in template order."""
        return [organ.name for organ in self.organs]

    @property
    def n_nodes(self) -> int:
        """Total number of landmarks."""
        return sum(organ.n_landmarks for organ in self.organs)

    @property
    def offsets(self) -> list[int]:
        """Index of each organ's first landmark in the concatenated array."""
        return np.concatenate([[0], np.cumsum([o.n_landmarks for o in self.organs])[:-1]]).astype(int).tolist()

    def organ_slice(self, name: str) -> slice:
        """Rows of the landmark array that belong to organ ``name``."""
        for organ, offset in zip(self.organs, self.offsets, strict=True):
            if organ.name == name:
                return slice(offset, offset + organ.n_landmarks)
        raise KeyError(name)

    def split(self, points: np.ndarray) -> dict[str, np.ndarray]:
        """Split a ``(n_nodes, 2)`` landmark array into one array per organ."""
        return {name: points[self.organ_slice(name)] for name in self.names}

    def edges(self) -> np.ndarray:
        """Undirected edges ``(E, 2)`` of the full graph, each listed once (``i < j``)."""
        pairs = set()
        for organ, offset in zip(self.organs, self.offsets, strict=True):
            n = organ.n_landmarks
            for i in range(n):
                a, b = offset + i, offset + (i + 1) % n
                pairs.add((min(a, b), max(a, b)))
        starts = dict(zip(self.names, self.offsets, strict=True))
        for (a, i), (b, j) in self.extra_edges:
            u, v = starts[a] + i, starts[b] + j
            if u != v:
                pairs.add((min(u, v), max(u, v)))
        return np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)

    def coarser(self) -> GraphTemplate:
        """The template one resolution level down: every other node of each ring, extra edges mapped."""
        organs = tuple(Organ(o.name, (o.n_landmarks + 1) // 2) for o in self.organs)
        mapped = {((a, i // 2), (b, j // 2)) for (a, i), (b, j) in self.extra_edges if (a, i // 2) != (b, j // 2)}
        return GraphTemplate(organs, tuple(sorted(mapped)))

    def to_dict(self) -> dict[str, Any]:
        """The template file representation (see :func:`load_template`)."""
        return {
            "organs": [{"name": o.name, "landmarks": o.n_landmarks} for o in self.organs],
            "extra_edges": [[a, i, b, j] for (a, i), (b, j) in self.extra_edges],
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "template") -> GraphTemplate:
        """Build a template from its file representation, reporting mistakes against ``source``."""
        fix = "write `organs: [{name: heart, landmarks: 26}, ...]` and optionally `extra_edges: [[organ, i, organ, j], ...]`"
        if not isinstance(data, dict) or not isinstance(data.get("organs"), list):
            raise ConfigError("a landmark template must be a mapping with a list under 'organs'", where=source, fix=fix)
        unknown = set(data) - {"organs", "extra_edges"}
        if unknown:
            raise ConfigError(f"unknown template keys {sorted(unknown)}", where=source, fix=fix)
        organs = []
        for entry in data["organs"]:
            if (
                not isinstance(entry, dict)
                or set(entry) != {"name", "landmarks"}
                or not isinstance(entry["name"], str)
                or not isinstance(entry["landmarks"], int)
            ):
                raise ConfigError(f"bad organ entry {entry!r}", where=source, fix=fix)
            if not entry["name"].replace("_", "").replace("-", "").isalnum():
                raise ConfigError(f"organ name {entry['name']!r} may hold only letters, digits, '_' and '-'", where=source)
            organs.append(Organ(entry["name"], entry["landmarks"]))
        edges = []
        for entry in data.get("extra_edges") or []:
            if not (isinstance(entry, list) and len(entry) == 4 and all(isinstance(entry[k], int) for k in (1, 3))):
                raise ConfigError(f"bad extra edge {entry!r}", where=source, fix=fix)
            edges.append(((entry[0], entry[1]), (entry[2], entry[3])))
        try:
            return cls(tuple(organs), tuple(edges))
        except ConfigError as error:
            raise ConfigError(error.problem, where=source, fix=error.fix) from error


def default_template(*, clavicles: bool = False) -> GraphTemplate:
    """The JSRT template: right lung 44, left lung 50, heart 26 (+ clavicles 2 x 23)."""
    organs = DEFAULT_ORGANS + (CLAVICLE_ORGANS if clavicles else ())
    return GraphTemplate(tuple(Organ(name, n) for name, n in organs))


def load_template(spec: str | PathLike[str]) -> GraphTemplate:
    """Return the template named by ``spec``.

    Parameters
    ----------
    spec
        ``"default"``, ``"default+clavicles"``, or the path of a YAML/JSON file with
        ``organs: [{name: ..., landmarks: ...}, ...]`` and optional
        ``extra_edges: [[organ_a, index_a, organ_b, index_b], ...]`` (organ-local indices).

    Raises
    ------
    ConfigError
        If the file is missing or malformed.
    """
    if str(spec) == "default":
        return default_template()
    if str(spec) == "default+clavicles":
        return default_template(clavicles=True)
    path = Path(spec)
    if not path.is_file():
        raise ConfigError(
            "landmark template not found", where=path, fix="use 'default', 'default+clavicles' or an existing YAML/JSON file"
        )
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot parse the template ({exc})", where=path, fix="correct the file's syntax") from exc
    return GraphTemplate.from_dict(data, source=str(path))


@dataclass(frozen=True)
class GraphPyramid:
    """Templates, edges and pooling operators of ``levels`` resolutions, finest first.

    Attributes
    ----------
    templates
        Template of each level (level 0 is the input template).
    """

    templates: tuple[GraphTemplate, ...]

    @classmethod
    def build(cls, template: GraphTemplate, levels: int) -> GraphPyramid:
        """Build ``levels`` resolutions of ``template``.

        Raises
        ------
        ConfigError
            If a ring would fall below :data:`MIN_RING_NODES` nodes at the coarsest level.
        """
        if levels < 1:
            raise ConfigError(f"the number of graph levels must be at least 1, got {levels}", where="decode.model.levels")
        templates = [template]
        for _ in range(levels - 1):
            smallest = min(templates[-1].organs, key=lambda organ: organ.n_landmarks)
            if (smallest.n_landmarks + 1) // 2 < MIN_RING_NODES:
                raise ConfigError(
                    f"{levels} graph levels are too many: organ {smallest.name!r} would have fewer than "
                    f"{MIN_RING_NODES} nodes at level {len(templates)}",
                    where="decode.model.levels",
                    fix=f"use at most {len(templates)} levels or give the organ more landmarks",
                )
            templates.append(templates[-1].coarser())
        return cls(tuple(templates))

    @property
    def levels(self) -> int:
        """Number of resolutions."""
        return len(self.templates)

    def n_nodes(self, level: int) -> int:
        """Number of nodes at ``level``."""
        return self.templates[level].n_nodes

    def edge_index(self, level: int) -> np.ndarray:
        """Directed edge list ``(2, 2E)`` of ``level`` (both directions), as torch-geometric expects."""
        edges = self.templates[level].edges()
        return np.concatenate([edges.T, edges[:, ::-1].T], axis=1)

    def adjacency(self, level: int) -> sp.csr_matrix:
        """Symmetric 0/1 adjacency matrix of ``level``."""
        n = self.n_nodes(level)
        rows, cols = self.edge_index(level)
        return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))

    def laplacian(self, level: int) -> sp.csr_matrix:
        """Symmetric normalised Laplacian ``I - D^-1/2 A D^-1/2`` of ``level`` (ChebConv's ``sym``)."""
        adjacency = self.adjacency(level)
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        scale = sp.diags(1.0 / np.sqrt(degree))
        return (sp.identity(adjacency.shape[0]) - scale @ adjacency @ scale).tocsr()

    def lambda_max(self, level: int) -> float:
        """Largest eigenvalue of :meth:`laplacian`, which ChebConv uses to rescale the spectrum to [-1, 1]."""
        return float(np.linalg.eigvalsh(self.laplacian(level).toarray())[-1])

    def downsample(self, level: int) -> sp.csr_matrix:
        """Selection matrix ``(n_{level+1}, n_level)`` keeping the even nodes of each ring."""
        fine, coarse = self.templates[level], self.templates[level + 1]
        rows, cols = [], []
        for organ, fine_offset, coarse_offset in zip(fine.organs, fine.offsets, coarse.offsets, strict=True):
            for k in range((organ.n_landmarks + 1) // 2):
                rows.append(coarse_offset + k)
                cols.append(fine_offset + 2 * k)
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(coarse.n_nodes, fine.n_nodes))

    def upsample(self, level: int) -> sp.csr_matrix:
        """Unpooling matrix ``(n_level, n_{level+1})``: copy even nodes, insert midpoints at odd ones."""
        fine, coarse = self.templates[level], self.templates[level + 1]
        rows, cols, values = [], [], []
        for organ, fine_offset, coarse_offset in zip(fine.organs, fine.offsets, coarse.offsets, strict=True):
            m = (organ.n_landmarks + 1) // 2
            for i in range(organ.n_landmarks):
                k = i // 2
                if i % 2 == 0:
                    rows.append(fine_offset + i), cols.append(coarse_offset + k), values.append(1.0)
                else:
                    for neighbour in (k, (k + 1) % m):
                        rows.append(fine_offset + i), cols.append(coarse_offset + neighbour), values.append(0.5)
        return sp.csr_matrix((values, (rows, cols)), shape=(fine.n_nodes, coarse.n_nodes))

    def kept_indices(self, level: int) -> np.ndarray:
        """Indices (into level 0) of the landmarks that survive at ``level``."""
        index = np.arange(self.n_nodes(0), dtype=float)
        for current in range(level):
            index = self.downsample(current) @ index
        return index.astype(np.int64)

    def restrict(self, points: np.ndarray, level: int) -> np.ndarray:
        """The landmarks of ``points`` (level 0, shape ``(..., n_0, d)``) that survive at ``level``."""
        return np.asarray(points)[..., self.kept_indices(level), :]


def pixels_to_normalised(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Map ``(x, y)`` pixel-centre coordinates in an image of ``shape = (rows, cols)`` to ``[0, 1]``."""
    size = np.array([shape[1], shape[0]], dtype=float)
    return (np.asarray(points, dtype=float) + 0.5) / size


def normalised_to_pixels(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`pixels_to_normalised`."""
    size = np.array([shape[1], shape[0]], dtype=float)
    return np.asarray(points, dtype=float) * size - 0.5


def pixels_to_physical(points: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Map ``(x, y)`` pixel-centre coordinates (ITK index order) to physical positions in mm."""
    matrix = geometry.index_to_physical()
    points = np.asarray(points, dtype=float)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def physical_to_pixels(points: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Inverse of :func:`pixels_to_physical`."""
    matrix = np.linalg.inv(geometry.index_to_physical())
    points = np.asarray(points, dtype=float)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def rasterize(points: np.ndarray, template: GraphTemplate, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Fill each organ's contour into a binary mask of ``shape``.

    Parameters
    ----------
    points
        ``(n_nodes, 2)`` landmarks as ``(x, y)`` pixel-centre coordinates (see the module notes;
        convert physical positions with :func:`physical_to_pixels` first).
    template
        Organ order and ring sizes.
    shape
        ``(rows, cols)`` of the image.

    Returns
    -------
    dict
        Organ name to ``uint8`` mask ``(rows, cols)`` with values {0, 1}; a pixel is 1 when its
        centre lies inside or on the organ's polygon.

    Raises
    ------
    InputError
        If ``points`` does not hold ``template.n_nodes`` 2D points.
    """
    from skimage.draw import polygon2mask

    points = np.asarray(points, dtype=float)
    if points.shape != (template.n_nodes, 2):
        raise InputError(
            f"expected {template.n_nodes} landmarks of 2 coordinates, got an array of shape {points.shape}",
            fix="give the landmarks of every organ of the template, in template order",
        )
    return {
        name: polygon2mask(tuple(shape), contour[:, ::-1]).astype(np.uint8)
        for name, contour in template.split(points).items()
    }

"""Landmark graph templates, ring pyramids, Laplacians and rasterisation geometry."""

import json

import numpy as np
import pytest
import scipy.sparse.csgraph as csgraph
import torch
from torch_geometric.utils import get_laplacian, to_scipy_sparse_matrix

from segpipe.errors import ConfigError, InputError
from segpipe.io.images import Geometry
from segpipe.networks.graph import (
    GraphPyramid,
    GraphTemplate,
    Organ,
    default_template,
    load_template,
    normalised_to_pixels,
    physical_to_pixels,
    pixels_to_normalised,
    pixels_to_physical,
    rasterize,
)


def test_default_template_matches_jsrt_counts():
    template = default_template()
    assert [(o.name, o.n_landmarks) for o in template.organs] == [("right_lung", 44), ("left_lung", 50), ("heart", 26)]
    assert template.n_nodes == 120
    assert default_template(clavicles=True).n_nodes == 166
    assert template.organ_slice("heart") == slice(94, 120)


@pytest.mark.parametrize("levels", [1, 2, 3, 4])
def test_every_ring_is_one_cycle_at_every_level(levels):
    pyramid = GraphPyramid.build(default_template(clavicles=True), levels)
    for level in range(levels):
        template = pyramid.templates[level]
        adjacency = pyramid.adjacency(level)
        assert (adjacency != adjacency.T).nnz == 0
        degrees = np.asarray(adjacency.sum(axis=1)).ravel()
        assert np.all(degrees == 2), "each node of a ring has exactly two neighbours"
        n_components, labels = csgraph.connected_components(adjacency, directed=False)
        assert n_components == len(template.organs)
        for organ, offset in zip(template.organs, template.offsets):
            n = organ.n_landmarks
            assert len(set(labels[offset : offset + n])) == 1
            assert adjacency[offset + n - 1, offset] == 1, "the ring wraps from its last node to its first"
        # a connected 2-regular graph is a single cycle: edges == nodes per ring
        assert adjacency.nnz // 2 == template.n_nodes


def test_coarser_levels_halve_rings_rounding_up():
    pyramid = GraphPyramid.build(default_template(), 4)
    assert [pyramid.n_nodes(level) for level in range(4)] == [120, 60, 31, 17]
    assert [o.n_landmarks for o in pyramid.templates[2].organs] == [11, 13, 7]


def test_too_many_levels_is_a_config_error():
    with pytest.raises(ConfigError, match="too many"):
        GraphPyramid.build(default_template(), 5)  # the heart would have 2 nodes


def test_downsample_keeps_even_nodes_and_upsample_wraps():
    template = GraphTemplate((Organ("even", 6), Organ("odd", 5)))
    pyramid = GraphPyramid.build(template, 2)
    down = pyramid.downsample(0).toarray()
    assert down.shape == (6, 11)
    assert [int(np.argmax(row)) for row in down] == [0, 2, 4, 6, 8, 10]
    up = pyramid.upsample(0).toarray()
    assert up.shape == (11, 6)
    # even ring of 6 -> 3: node 5 is the midpoint of coarse nodes 2 and 0 (wrap-around)
    np.testing.assert_array_equal(up[5, :3], [0.5, 0.0, 0.5])
    np.testing.assert_array_equal(up[1, :3], [0.5, 0.5, 0.0])
    # odd ring of 5 -> 3: node 4 is coarse node 2 itself, no wrap needed
    np.testing.assert_array_equal(up[6 + 4, 3:], [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(up.sum(axis=1), np.ones(11))
    # unpooling a pooled ring of points on a circle puts midpoints between their neighbours
    angles = np.linspace(0, 2 * np.pi, 6, endpoint=False)
    circle = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = np.vstack([circle, circle[:5]])
    restored = up @ (down @ points)
    np.testing.assert_allclose(restored[[0, 2, 4]], points[[0, 2, 4]])
    np.testing.assert_allclose(restored[5], (points[4] + points[0]) / 2)


def test_kept_indices_compose_the_pooling():
    pyramid = GraphPyramid.build(default_template(), 3)
    points = np.random.default_rng(0).random((2, 120, 2))
    twice = pyramid.downsample(1) @ (pyramid.downsample(0) @ points[0])
    np.testing.assert_allclose(pyramid.restrict(points, 2)[0], twice)
    assert pyramid.kept_indices(2)[:3].tolist() == [0, 4, 8]
    assert pyramid.kept_indices(2)[11] == 44  # first node of the left lung


def test_laplacian_matches_torch_geometric_and_bounds_the_spectrum():
    pyramid = GraphPyramid.build(default_template(), 3)
    for level in range(3):
        edge_index = torch.as_tensor(pyramid.edge_index(level))
        index, weight = get_laplacian(edge_index, normalization="sym", num_nodes=pyramid.n_nodes(level))
        expected = to_scipy_sparse_matrix(index, weight, pyramid.n_nodes(level)).toarray()
        np.testing.assert_allclose(pyramid.laplacian(level).toarray(), expected, atol=1e-6)
        assert 0 < pyramid.lambda_max(level) <= 2 + 1e-9
    # the pure odd ring at level 2 (heart, 7 nodes) has lambda_max below 2; even rings reach 2
    odd = GraphPyramid.build(GraphTemplate((Organ("ring", 7),)), 1)
    assert odd.lambda_max(0) == pytest.approx(1 - np.cos(6 * np.pi / 7))


def test_template_file_with_extra_edges(tmp_path):
    path = tmp_path / "template.json"
    path.write_text(json.dumps({
        "organs": [{"name": "a", "landmarks": 8}, {"name": "b", "landmarks": 6}],
        "extra_edges": [["a", 3, "b", 5]],
    }))
    template = load_template(path)
    assert template.n_nodes == 14
    edges = {tuple(e) for e in template.edges().tolist()}
    assert (3, 8 + 5) in edges and len(edges) == 14 + 1
    coarse = template.coarser()
    assert coarse.extra_edges == ((("a", 1), ("b", 2)),)
    assert GraphTemplate.from_dict(template.to_dict()) == template
    yaml_path = tmp_path / "template.yaml"
    yaml_path.write_text("organs:\n  - {name: a, landmarks: 8}\n")
    assert load_template(yaml_path).n_nodes == 8


@pytest.mark.parametrize(
    "data, message",
    [
        ({"organs": [{"name": "a", "landmarks": 2}]}, "at least 3"),
        ({"organs": [{"name": "a", "landmarks": 5}, {"name": "a", "landmarks": 5}]}, "unique"),
        ({"organs": [{"name": "a", "landmarks": 5}], "extra_edges": [["a", 0, "z", 1]]}, "unknown organ"),
        ({"organs": [{"name": "a", "landmarks": 5}], "extra_edges": [["a", 0, "a", 9]]}, "outside organ"),
        ({"organs": [{"name": "a", "count": 5}]}, "bad organ entry"),
        ({"organ": []}, "list under 'organs'"),
    ],
)
def test_template_mistakes_name_the_file(tmp_path, data, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=message) as info:
        load_template(path)
    assert str(path) in str(info.value)


def test_missing_template_file():
    with pytest.raises(ConfigError, match="not found"):
        load_template("no/such/template.yaml")


def test_normalised_coordinates_cover_the_image_extent():
    shape = (20, 40)  # rows, cols
    corners = np.array([[-0.5, -0.5], [39.5, 19.5], [0.0, 0.0]])
    normalised = pixels_to_normalised(corners, shape)
    np.testing.assert_allclose(normalised, [[0, 0], [1, 1], [0.5 / 40, 0.5 / 20]])
    np.testing.assert_allclose(normalised_to_pixels(normalised, shape), corners)


def test_square_rasterises_to_the_pixels_whose_centres_it_contains():
    template = GraphTemplate((Organ("square", 4),))
    square = np.array([[1.5, 2.5], [5.5, 2.5], [5.5, 4.5], [1.5, 4.5]])  # x from 1.5 to 5.5, y from 2.5 to 4.5
    mask = rasterize(square, template, (8, 10))["square"]
    expected = np.zeros((8, 10), np.uint8)
    expected[3:5, 2:6] = 1  # rows 3..4 (y centres 3, 4), columns 2..5
    np.testing.assert_array_equal(mask, expected)


def test_circle_rasterises_like_the_analytic_disc():
    template = GraphTemplate((Organ("disc", 400),))
    angles = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    centre, radius = np.array([20.3, 14.7]), 9.2
    contour = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    mask = rasterize(contour, template, (32, 40))["disc"].astype(bool)
    rows, cols = np.mgrid[0:32, 0:40]
    distance = np.hypot(cols - centre[0], rows - centre[1])
    np.testing.assert_array_equal(mask[np.abs(distance - radius) > 0.01], (distance < radius)[np.abs(distance - radius) > 0.01])


def test_physical_landmarks_respect_spacing_and_origin():
    geometry = Geometry(spacing=(0.5, 2.0), origin=(10.0, -4.0), direction=(1.0, 0.0, 0.0, 1.0))
    # a square from x = 11.25 to 12.25 mm and y = 1 to 5 mm
    square_mm = np.array([[11.25, 1.0], [12.25, 1.0], [12.25, 5.0], [11.25, 5.0]])
    pixels = physical_to_pixels(square_mm, geometry)
    np.testing.assert_allclose(pixels, [[2.5, 2.5], [4.5, 2.5], [4.5, 4.5], [2.5, 4.5]])
    np.testing.assert_allclose(pixels_to_physical(pixels, geometry), square_mm)
    mask = rasterize(pixels, GraphTemplate((Organ("square", 4),)), (6, 8))["square"]
    assert np.argwhere(mask).tolist() == [[3, 3], [3, 4], [4, 3], [4, 4]]


def test_direction_is_applied_to_physical_coordinates():
    flipped = Geometry(spacing=(1.0, 1.0), origin=(5.0, 0.0), direction=(-1.0, 0.0, 0.0, 1.0))
    np.testing.assert_allclose(pixels_to_physical(np.array([[2.0, 3.0]]), flipped), [[3.0, 3.0]])


def test_rasterize_rejects_wrong_landmark_count():
    with pytest.raises(InputError, match="expected 120 landmarks"):
        rasterize(np.zeros((100, 2)), default_template(), (16, 16))

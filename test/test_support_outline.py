"""The support surface's outline (for a planning scene): on the table top, covering what the camera sees of it."""
import numpy as np
import pytest
import torch
from scipy.spatial import ConvexHull

from seg_perception.config import load_config
from seg_perception.pipeline import Pipeline
from seg_perception.surfaces.outline import outline_area, support_outline
from seg_perception.synthetic import SceneConfig, synthesize
from seg_perception.types import SURFACE_SUPPORT, Plane

SMALL = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)


@pytest.fixture(scope='module')
def pipeline():
    return Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': False}))


def _signed_area(xy: np.ndarray) -> float:
    return 0.5 * float(np.sum(xy[:, 0] * np.roll(xy[:, 1], -1) - np.roll(xy[:, 0], -1) * xy[:, 1]))


@pytest.mark.parametrize('seed', [101, 102, 103, 104])
def test_outline_lies_on_the_table_top_and_covers_its_visible_part(pipeline, seed):
    frame = synthesize(seed, SMALL)
    scene = frame.scene
    outline = pipeline.perceive(frame.rgbd())[0].surfaces.support_outline
    assert outline.ndim == 2 and outline.shape[1] == 3 and 3 <= len(outline) <= 40
    world = outline @ scene.camera_to_world[:3, :3].T + scene.camera_to_world[:3, 3]
    # on the table top, within its edges (the fitted plane and a pixel or two of noise at the edges)
    sx, sy = scene.table_size
    assert np.abs(world[:, 2] - scene.table_height).max() < 0.005
    assert (np.abs(world[:, 0]) <= sx / 2 + 0.02).all() and (np.abs(world[:, 1]) <= sy / 2 + 0.02).all()
    # counter-clockwise seen from above
    assert _signed_area(world[:, :2]) > 0
    # covers the hull of the table top the camera sees (true labels, true plane)
    v, u = np.nonzero(frame.rendered.surfaces == SURFACE_SUPPORT)
    rays = np.stack([(u - scene.cx) / scene.fx, (v - scene.cy) / scene.fy, np.ones(len(u))], 1)
    plane = scene.table_plane_in_camera()
    seen = rays * (-plane[3] / (rays @ plane[:3]))[:, None]
    seen_world = seen @ scene.camera_to_world[:3, :3].T + scene.camera_to_world[:3, 3]
    true_area = ConvexHull(seen_world[:, :2]).volume
    assert 0.95 * true_area < _signed_area(world[:, :2]) < 1.03 * true_area


def test_a_rectangle_of_support_pixels_gives_its_four_corners():
    h, w = 60, 80
    v, u = np.mgrid[0:h, 0:w].astype(np.float32)
    # a level plane 1 m below a camera looking straight down: 1 px = 1 cm
    points = torch.from_numpy(np.stack([(u - 40) * 0.01, (v - 30) * 0.01, np.ones_like(u)], -1))
    support = torch.zeros(h, w, dtype=torch.bool)
    support[10:50, 20:70] = True
    support[30, 30] = False                      # holes (objects) do not matter
    plane = Plane(np.array([0.0, 0.0, -1.0]), 1.0, SURFACE_SUPPORT, 0)
    outline = support_outline(points, support, plane)
    corners = {(round(x, 2), round(y, 2)) for x, y, _ in outline}
    assert corners == {(-0.2, -0.2), (0.29, -0.2), (0.29, 0.19), (-0.2, 0.19)}
    assert np.allclose(outline[:, 2], 1.0)
    assert abs(outline_area(outline) - 0.49 * 0.39) < 1e-6
    # counter-clockwise seen from the side the normal points to (the camera's: x right, y down)
    assert _signed_area(outline[:, :2] * [1, -1]) > 0


def test_no_outline_without_a_support_plane_or_enough_pixels():
    points = torch.zeros(4, 4, 3)
    support = torch.zeros(4, 4, dtype=torch.bool)
    plane = Plane(np.array([0.0, 0.0, -1.0]), 1.0, SURFACE_SUPPORT, 0)
    assert support_outline(points, support, None).shape == (0, 3)
    assert support_outline(points, support, plane).shape == (0, 3)
    support[1, 1:3] = True       # two points: no polygon
    assert support_outline(points, support, plane).shape == (0, 3)

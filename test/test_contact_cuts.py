"""Touching objects with no depth step between them, parted by colour only where outline and surfaces agree."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from seg_perception.config import load_config
from seg_perception.instances.clusters import _color_gradient
from seg_perception.instances.contact_cuts import cut_at_colour_contacts
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import SceneConfig, frame_seed, synthesize

FOCAL, DEPTH = 306.0, 0.75     # a 640x480 camera on every second pixel, 75 cm away: 2.45 mm per pixel
TABLE = (120, 110, 100)
RED, GREEN = (200, 60, 60), (60, 180, 60)
FACING = (0.0, 0.0, -1.0)      # towards the camera


def _turned(deg):
    """A surface turned about the image's vertical by ``deg``: receding to the right for positive angles."""
    return (math.sin(math.radians(deg)), 0.0, -math.cos(math.radians(deg)))


def _region(parts):
    """A 64 x 64 grid holding one region (label 1) made of ``parts``: (rows, cols, colour, normal) each, every
    part a plane through the point 75 cm in front of the camera at column 28 (where the parts below meet)."""
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[:] = TABLE
    points = np.zeros((64, 64, 3), np.float32)
    normals = np.zeros((64, 64, 3), np.float32)
    truth = np.zeros((64, 64), np.int64)
    v, u = np.mgrid[0:64, 0:64]
    x, y = (u - 28) * DEPTH / FOCAL, (v - 32) * DEPTH / FOCAL
    for k, (rows, cols, rgb, normal) in enumerate(parts, start=1):
        nx, ny, nz = normal
        z = DEPTH - (nx * x + ny * y) / nz
        colour[rows, cols] = rgb
        points[rows, cols] = np.stack([x * z / DEPTH, y * z / DEPTH, z], -1)[rows, cols]
        normals[rows, cols] = normal
        truth[rows, cols] = k
    labels = torch.from_numpy((truth > 0).astype(np.int64))
    pf = SimpleNamespace(color=torch.from_numpy(colour), normals=torch.from_numpy(normals),
                         points=torch.from_numpy(points), depth=torch.from_numpy(points[..., 2].copy()),
                         camera=SimpleNamespace(fx=FOCAL, fy=FOCAL))
    return labels, pf, truth


def _cut(labels, pf):
    cfg = load_config().instances
    return cut_at_colour_contacts(labels, 1, pf, _color_gradient(pf.color), cfg.color_edge, cfg.min_area)


# two boxes side by side, offset: the outline has a bay at each end of their contact
SIDE_BY_SIDE = ((slice(8, 40), slice(6, 28)), (slice(24, 58), slice(28, 54)))


def test_two_touching_objects_of_different_colours_meeting_in_a_valley_are_cut_apart():
    # the second one's face rises towards the camera from where they meet: a valley between the two
    (rows_a, cols_a), (rows_b, cols_b) = SIDE_BY_SIDE
    labels, pf, truth = _region([(rows_a, cols_a, RED, FACING), (rows_b, cols_b, GREEN, _turned(-40))])
    out, count = _cut(labels, pf)
    out = out.numpy()
    assert count == 2
    for k in (1, 2):
        ids, counts = np.unique(out[truth == k], return_counts=True)
        assert counts.max() >= 0.95 * (truth == k).sum()
    assert np.bincount(out[truth == 1]).argmax() != np.bincount(out[truth == 2]).argmax()


@pytest.mark.parametrize('case', ['print on one surface', 'one colour', 'convex outline', 'over a ridge',
                                  'a piece not convex'])
def test_what_is_one_object_is_not_cut(case):
    (rows_a, cols_a), (rows_b, cols_b) = SIDE_BY_SIDE
    if case == 'print on one surface':     # a two-coloured object whose surface goes on smoothly
        parts = [(rows_a, cols_a, RED, FACING), (rows_b, cols_b, GREEN, FACING)]
    elif case == 'one colour':             # an L-shaped object, two faces of one colour and a dark seam
        parts = [(rows_a, cols_a, RED, FACING), (rows_b, cols_b, RED, _turned(-40)),
                 (slice(24, 40), slice(28, 29), (40, 20, 20), _turned(-20))]
    elif case == 'convex outline':         # an open folder seen into its fold: two colours, a valley, but one
        parts = [(slice(8, 56), slice(6, 28), RED, FACING),                             # convex outline
                 (slice(8, 56), slice(28, 50), GREEN, _turned(-60))]
    elif case == 'over a ridge':           # a box's front and side with a nearer object cutting into its
        parts = [(rows_a, cols_a, RED, FACING), (rows_b, cols_b, GREEN, _turned(40))]   # outline: a ridge
    else:                                  # a two-coloured tool whose green part hooks round below the red one
        parts = [(rows_a, cols_a, RED, FACING), (rows_b, cols_b, GREEN, _turned(-40)),
                 (slice(48, 58), slice(6, 28), GREEN, _turned(-40))]
    labels, pf, _ = _region(parts)
    out, count = _cut(labels, pf)
    assert count == 1 and torch.equal(out, labels)


@pytest.mark.slow
@pytest.mark.parametrize('cuts', [True, False])
def test_a_thin_box_lying_against_a_rock_comes_out_as_two_objects(cuts):
    """Frame 3 of the evaluation set (640x480): a 2 cm thin box lies flush against a convex rock, no depth step
    between them; measured, the two came out as one object before contact cuts."""
    f = synthesize(frame_seed(777, 3), SceneConfig())
    cfg = load_config(None, {'device': 'cpu', 'grasps.enabled': False, 'instances.contact_cuts': cuts})
    labels = Pipeline(cfg).perceive(f.rgbd())[0].instances.labels
    main = [np.bincount(labels[f.rendered.instances == k]).argmax() for k in (2, 3)]
    assert (main[0] != main[1]) == cuts, main

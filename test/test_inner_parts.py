"""A bowl's floor cut off by the boundary rules joins the bowl; what rises out of a bowl, stands beside it or lies
in a tote stays an object of its own."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from seg_perception.config import load_config
from seg_perception.instances.inner_parts import join_low_floors, merge_inner_parts
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import Renderer
from seg_perception.types import RGBDFrame
from staged_scenes import staged_scene


def _bowl_from_above(part_height, pitch=0.005, part_centre=(0.0, 0.0), part_radius=0.035):
    """A camera 1 m above a table looking down; region 1 a bowl's wall (a ring of 4.5-6 cm radius, 5 cm tall),
    region 2 a disc of ``part_radius`` at ``part_centre`` (m) and ``part_height``. ``pitch``: metres per pixel."""
    n = 48
    ij = (np.mgrid[0:n, 0:n].transpose(1, 2, 0) - n / 2) * pitch                     # (n, n, 2) metres
    points = torch.from_numpy(np.dstack([ij[..., 1], ij[..., 0], np.ones((n, n))]).astype(np.float32))
    r = np.hypot(*np.moveaxis(ij, -1, 0)) / pitch * 0.005        # the ring at the same pixels whatever the pitch
    part = np.hypot(ij[..., 0] - part_centre[1], ij[..., 1] - part_centre[0]) < part_radius
    labels = np.where((r >= 0.045) & (r <= 0.06), 1, np.where(part & (r < 0.045) | part & (r > 0.06), 2, 0))
    heights = np.where(labels == 1, 0.05, np.where(labels == 2, part_height, 0.0))
    return (torch.from_numpy(labels).long(), points, torch.from_numpy(heights.astype(np.float32)),
            torch.tensor([0.0, 0.0, -1.0]))


def test_a_low_part_inside_a_bowl_joins_it():
    labels, points, heights, up = _bowl_from_above(part_height=0.008)   # the floor, 1 cm from the wall
    merged = merge_inner_parts(labels, 2, points, heights, up)
    assert bool((merged[labels > 0] == 1).all())


@pytest.mark.parametrize('case', ['rises out of the bowl', 'beside the bowl', 'in a tote'])
def test_what_is_not_a_low_part_of_a_small_object_stays_apart(case):
    if case == 'rises out of the bowl':     # a can in the bowl, 4 cm of the bowl's 5
        labels, points, heights, up = _bowl_from_above(part_height=0.04)
    elif case == 'beside the bowl':         # a flat thing touching the bowl's outside
        labels, points, heights, up = _bowl_from_above(0.008, part_centre=(0.078, 0.0), part_radius=0.015)
    else:                                   # the same pixels 2.6 times as large: a 31 cm tote and a flat item in it
        labels, points, heights, up = _bowl_from_above(0.008, pitch=0.013)
    assert int(labels.max()) == 2
    assert torch.equal(merge_inner_parts(labels, 2, points, heights, up), labels)


BOWL = {'shape': 'cup', 'radius': 0.07, 'height': 0.05, 'wall': 0.005, 'bottom': 0.012}
TALL_CAN = {'shape': 'cylinder', 'radius': 0.02, 'height': 0.08}


def _segment_staged(seed, objects, merge):
    """The staged scene's true instance image and the pipeline's instance labels."""
    scene, r = staged_scene(seed, objects)
    cfg = load_config(None, {'device': 'cpu', 'grasps.enabled': False, 'instances.merge_inner_parts': merge})
    return r.instances, Pipeline(cfg).process(RGBDFrame(r.color, r.depth, Renderer.camera_of(scene))).instances.labels


def _pieces(seed, objects, merge):
    """{true instance id: shares of its pixels on each found object, largest first}."""
    truth_image, labels = _segment_staged(seed, objects, merge)
    out = {}
    for truth in range(1, len(objects) + 1):
        mine = truth_image == truth
        ids, counts = np.unique(labels[mine & (labels > 0)], return_counts=True)
        out[truth] = (sorted((counts / mine.sum()).tolist(), reverse=True), ids[np.argsort(-counts)].tolist())
    return out


def test_a_staged_bowl_s_floor_joins_its_wall():
    # seed 7's view of the bowl: floor and walls come out as separate regions (measured: 76 %, 16 % and a speck)
    split = _pieces(7, [(BOWL, 0.0, 0.0, 0.0, 0.025)], merge=False)[1][0]
    whole = _pieces(7, [(BOWL, 0.0, 0.0, 0.0, 0.025)], merge=True)[1][0]
    assert split[0] < 0.8 and whole[0] > 0.9


def test_a_can_standing_in_a_bowl_stays_an_object_of_its_own():
    pieces = _pieces(3, [(BOWL, 0.0, 0.0, 0.0, 0.025), (TALL_CAN, 0.0, 0.0, 0.0, 0.012 + 0.04)], merge=True)
    (_, bowl_ids), (can_shares, can_ids) = pieces[1], pieces[2]
    assert can_shares[0] > 0.9 and can_ids[0] not in bowl_ids[:1]


# -- a floor at the table's height ------------------------------------------------------------------------------

FOCAL, DEPTH = 306.0, 0.75        # a 640x480 RealSense on every second pixel, 75 cm away: 2.45 mm per pixel


def _ground_inside(shape: str, floor_rise: float):
    """A 64 x 64 grid of unlabelled support at the table's height with object 1 drawn on it, and the ground
    inside the object at ``floor_rise`` (m): a 'bowl' (a ring 6 pixels wide whose near rim is broken for 8
    pixels), a 'handle' (a ring around a 3 cm^2 hole) or a 'pocket' (a U whose open side is a third of its
    inside's outline)."""
    rows, cols = np.mgrid[0:64, 0:64]
    r = np.hypot(rows - 32, cols - 32)
    if shape == 'bowl':
        obj = (r >= 19) & (r <= 25) & ~((rows > 50) & (np.abs(cols - 32) <= 4))
        inside = r < 19
    elif shape == 'handle':
        obj = (r >= 4) & (r <= 10)
        inside = r < 4
    else:
        obj = (rows >= 20) & (rows < 38) & (cols >= 16) & (cols < 48)
        inside = (rows >= 20) & (rows < 32) & (cols >= 22) & (cols < 42)
        obj &= ~inside
    labels = torch.from_numpy(obj.astype(np.int64))
    heights = torch.from_numpy(np.where(obj, 0.05, np.where(inside, floor_rise, 0.0)).astype(np.float32))
    depth = torch.full((64, 64), DEPTH)
    return labels, ~labels.bool(), heights, depth, torch.from_numpy(inside)


def test_a_bowl_floor_at_the_table_s_height_joins_the_bowl():
    labels, support, heights, depth, inside = _ground_inside('bowl', floor_rise=0.003)
    joined = join_low_floors(labels, support, heights, depth, FOCAL)
    assert bool((joined[inside] == 1).all())
    gap = 9 * 7                 # the broken rim's pixels: the closing bridges them too
    assert int((joined == 1).sum()) - int((labels == 1).sum()) <= int(inside.sum()) + gap


@pytest.mark.parametrize('shape, rise', [('bowl', 0.0),      # table seen through a ring (a roll of tape)
                                         ('handle', 0.003),  # table seen through a mug's handle
                                         ('pocket', 0.003)])  # table in the bend of a U
def test_ground_that_is_no_floor_stays_free(shape, rise):
    labels, support, heights, depth, inside = _ground_inside(shape, floor_rise=rise)
    assert torch.equal(join_low_floors(labels, support, heights, depth, FOCAL), labels)


def test_a_container_s_inside_read_below_the_table_joins_it():
    """A time-of-flight camera reads a cup's inside deeper than it is (light bounced off its walls): on the
    GraspNet frame's Azure Kinect 5-6 mm below the table around it, so the surface stage takes it for neither
    support nor object and the cup came out as a ring. Enclosed by the object, it is the object's inside; table
    seen through a ring a little below the table around it (noise, a slight sag) stays free."""
    labels, support, heights, depth, inside = _ground_inside('bowl', floor_rise=-0.005)
    joined = join_low_floors(labels, support & ~inside, heights, depth, FOCAL)
    assert bool((joined[inside] == 1).all())
    labels, support, heights, depth, inside = _ground_inside('bowl', floor_rise=-0.0015)
    assert torch.equal(join_low_floors(labels, support, heights, depth, FOCAL), labels)


THIN_BOWL = {'shape': 'cup', 'radius': 0.07, 'height': 0.05, 'wall': 0.005, 'bottom': 0.003}


@pytest.mark.parametrize('merge', [False, True])
def test_a_thin_bottomed_bowl_comes_out_whole_not_as_a_ring(merge):
    # seed 7's view: the 3 mm floor lies within the table's noise band; the bowl's mask went around a hole of
    # 906 of its 7,546 pixels without the floor rule (measured), 259 with it (a corner of the floor)
    truth_image, labels = _segment_staged(7, [(THIN_BOWL, 0.0, 0.0, 0.0, 0.025)], merge)
    bowl = truth_image == 1
    ids, counts = np.unique(labels[bowl & (labels > 0)], return_counts=True)
    found = labels == ids[np.argmax(counts)]
    holes, count = ndimage.label(ndimage.binary_fill_holes(found) & ~found & bowl)   # what its mask goes around
    largest = np.bincount(holes.ravel())[1:].max() if count else 0
    assert largest < 0.05 * bowl.sum() if merge else largest > 0.1 * bowl.sum()

"""A tote's walls are labelled walls, not objects, without any configuration; thin or long things on a table that
are not a tote's walls stay objects."""
import numpy as np
import pytest

from seg_perception.config import load_config
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import NoiseConfig, Renderer, SceneConfig
from seg_perception.synthetic.scene import ToteWalls
from seg_perception.types import SURFACE_WALL, RGBDFrame
from staged_scenes import staged_scene, tote_frame

_SMALL = SceneConfig(width=320, height=240, fx=307.5, fy=307.5, max_distance=1.0, min_elevation_deg=45.0)


def _objects_found(result, truth):
    """True instance ids that some found object lies mostly on."""
    return {int(np.bincount(truth[result.instances.labels == o.instance_id]).argmax()) for o in result.objects}


@pytest.mark.parametrize('seed, walls, noise, most_as_objects', [
    (13, ToteWalls(0.12, 0.01), NoiseConfig(), 0.05), (34, ToteWalls(0.2, 0.01), NoiseConfig(), 0.05),
    # a moulded tote: walls leaning out by 6 degrees, a 2 cm lip, twice the depth noise (measured: 8 % of the
    # wall's pixels left as objects, without a grasp; without the rule 93 %, with 10 grasps)
    (13, ToteWalls(0.2, 0.01, 6.0, 0.02), NoiseConfig(depth_sigma_1m=0.004), 0.1)])
def test_a_tote_s_walls_are_walls_and_its_objects_are_found(seed, walls, noise, most_as_objects):
    frame, _, _ = tote_frame(seed, _SMALL, walls, noise)
    walls = (frame.rendered.surfaces == SURFACE_WALL) & (frame.rendered.instances == 0)
    result = Pipeline(load_config(None, {'device': 'cpu'})).process(frame.rgbd())
    # before the rule most of these pixels were objects with grasps (test_workspace)
    assert (result.instances.labels[walls] > 0).mean() < most_as_objects
    assert (result.surfaces.labels[walls] == SURFACE_WALL).mean() > 0.8
    on_walls = [g for g in result.grasps if walls[result.instances.labels == g.object_id].mean() > 0.5]
    assert not on_walls
    truth = frame.rendered.instances
    visible = {int(i) for i, n in zip(*np.unique(truth, return_counts=True)) if i > 0 and n >= 50}
    assert len(_objects_found(result, truth) & visible) >= len(visible) - 1


def test_a_moulded_tote_s_face_below_its_lip_is_wall():
    """Walls leaning out by 8 degrees below a 2.5 cm lip: seen from outside, the near wall's face lies off the line
    of its rim and lip."""
    frame, _, _ = tote_frame(1, _SMALL, ToteWalls(0.15, 0.01, 8.0, 0.025), NoiseConfig(depth_sigma_1m=0.004))
    walls = (frame.rendered.surfaces == SURFACE_WALL) & (frame.rendered.instances == 0)
    result = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': False})).process(frame.rgbd())
    # measured: 4 % left as objects (a piece where the wall leaves the image), 91 % labelled wall; 22 % and 68 %
    # when the face was looked for along the rim's line only
    assert (result.instances.labels[walls] > 0).mean() < 0.1
    assert (result.surfaces.labels[walls] == SURFACE_WALL).mean() > 0.85


def test_a_bin_wall_shorter_than_the_setting_stays_an_object():
    frame, _, _ = tote_frame(13, _SMALL, ToteWalls(0.12, 0.01))
    walls = (frame.rendered.surfaces == SURFACE_WALL) & (frame.rendered.instances == 0)
    result = Pipeline(load_config(None, {'device': 'cpu', 'surfaces.bin_wall_length': 2.0})).process(frame.rgbd())
    assert (result.instances.labels[walls] > 0).mean() > 0.5


def test_thin_upright_and_long_objects_on_a_table_stay_objects():
    board = {'shape': 'box', 'size': [0.22, 0.015, 0.14]}         # a board or a book standing, 22 cm long
    beam = {'shape': 'box', 'size': [0.50, 0.06, 0.07]}           # a long box lying: its top is 6 cm wide
    post = {'shape': 'box', 'size': [0.02, 0.3, 0.09]}           # a thin 30 cm slab standing alone
    scene, rendered = staged_scene(5, [(board, -0.12, 0.10, 0.3, 0.07), (beam, 0.05, -0.12, -0.2, 0.035),
                                       (post, 0.15, 0.12, 0.1, 0.045)])
    frame = RGBDFrame(rendered.color, rendered.depth, Renderer.camera_of(scene))
    result = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': False})).process(frame)
    assert _objects_found(result, rendered.instances) >= {1, 2, 3}
    assert (result.surfaces.labels[rendered.instances > 0] == SURFACE_WALL).mean() < 0.01

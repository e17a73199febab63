"""Grasp candidates (first version, grasps.enabled): frame convention, opening, collisions, no grasp when the
object cannot fit."""
import numpy as np
import torch

from seg_perception.config import GraspConfig, load_config
from seg_perception.geometry import matrix_from_quaternion
from seg_perception.grasps import GraspPlanner
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import SceneConfig, synthesize
from seg_perception.types import ObjectCloud


def _box_scene(size):
    """A camera 0.5 m straight above a table (z forward = down); a box of ``size`` (x, y, height) on it."""
    sx, sy, h = size
    g = np.mgrid[-sx / 2:sx / 2:0.002, -sy / 2:sy / 2:0.002].reshape(2, -1).T
    top = np.c_[g, np.full(len(g), 0.5 - h)]
    obj = ObjectCloud(1, 'box', 1.0, len(top), top.astype(np.float32), np.zeros((len(top), 3), np.uint8),
                      np.tile([0, 0, -1.0], (len(top), 1)).astype(np.float32), top.mean(0), top.mean(0),
                      np.array([sx, sy, h]), np.eye(3))
    t = np.mgrid[-0.3:0.3:0.005, -0.3:0.3:0.005].reshape(2, -1).T
    table = np.c_[t, np.full(len(t), 0.5)]
    table = table[~((np.abs(table[:, 0]) < sx / 2) & (np.abs(table[:, 1]) < sy / 2))]
    scene = torch.from_numpy(np.concatenate([top, table]).astype(np.float32))
    up = np.array([0.0, 0.0, -1.0])
    heights = lambda p: 0.5 - p[..., 2]  # noqa: E731  height above the table
    return obj, scene, up, heights


def test_small_box_is_grasped_from_above_with_the_right_opening():
    cfg = GraspConfig(enabled=True)
    obj, scene, up, heights = _box_scene((0.04, 0.12, 0.05))
    grasps = GraspPlanner(cfg, torch.device('cpu')).plan([obj], scene, up, heights)
    assert grasps, 'a 4 cm wide box fits an 8 cm gripper'
    best = grasps[0]
    R = matrix_from_quaternion(best.quaternion)
    assert np.allclose(R.T @ R, np.eye(3), atol=1e-6) and np.linalg.det(R) > 0.99
    assert R[:, 0] @ np.array([0, 0, 1.0]) > np.cos(np.radians(31))   # approach within the cone around down
    assert abs(R[:, 1][0]) > 0.9                                        # closes across the narrow side
    assert 0.04 < best.width <= cfg.max_opening
    assert 0 <= best.score <= 1
    # fingertips go below the top face but stay above the table
    assert 0.45 < best.position[2] < 0.5 - cfg.collision_margin
    assert [g.score for g in grasps] == sorted((g.score for g in grasps), reverse=True)


def test_object_wider_than_the_gripper_gets_no_grasp():
    obj, scene, up, heights = _box_scene((0.15, 0.15, 0.05))
    assert GraspPlanner(GraspConfig(enabled=True), torch.device('cpu')).plan([obj], scene, up, heights) == []


def test_pipeline_grasps_follow_the_contract():
    f = synthesize(141, SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
    result = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': True})).process(f.rgbd())
    ids = {o.instance_id for o in result.objects}
    for g in result.grasps:
        assert g.object_id in ids and 0 <= g.score <= 1 and 0 < g.width <= 0.08
        assert abs(np.linalg.norm(g.quaternion) - 1) < 1e-6
    assert 'grasps' in result.timings_ms
    # disabled by default: no grasps, no time spent
    plain = Pipeline(load_config(None, {'device': 'cpu'})).process(f.rgbd())
    assert plain.grasps == () and 'grasps' not in plain.timings_ms


def _one_box_scene():
    """scene.json-like dict: camera 0.5 m above a table (camera frame = world frame here), a 4x6x5 cm box."""
    eye = np.eye(4)
    box = np.eye(4)
    box[:3, 3] = [0.0, 0.0, 0.5 - 0.025]            # resting on the table top at z = 0.5 (camera looks down +z)
    table = np.eye(4)
    table[:3, 3] = [0.0, 0.0, 0.5 + 0.015]
    return {'objects': [{'name': 'object5', 'shape': 'box', 'size': [0.04, 0.06, 0.05], 'pose_camera': box.tolist(),
                         'pose_world': box.tolist(), 'instance_id': 1}],
            'surfaces': [{'name': 'table_top', 'shape': 'box', 'size': [1.0, 1.0, 0.03], 'pose_camera': table.tolist(),
                          'pose_world': eye.tolist()}]}


def test_true_geometry_grasp_check():
    from seg_perception.geometry import quaternion_from_matrix
    from seg_perception.grasps.evaluate import grasp_valid, object_fits, scene_solids
    scene = _one_box_scene()
    solids = scene_solids(scene)
    target = solids[0]
    cfg = GraspConfig()
    down = np.array([0.0, 0.0, 1.0])

    def frame(angle):
        y = np.array([np.cos(angle), np.sin(angle), 0.0])
        return quaternion_from_matrix(np.stack([down, y, np.cross(down, y)], 1))

    top = np.array([0.0, 0.0, 0.45])
    good = top + down * 0.03
    assert grasp_valid(good, frame(0.0), 0.056, target, solids, cfg)                 # across the 4 cm side
    assert not grasp_valid(good, frame(np.radians(40)), 0.07, target, solids, cfg)   # corner: outside the cone
    assert not grasp_valid(good, frame(0.0), 0.035, target, solids, cfg)             # fingers inside the box
    assert not grasp_valid(top + down * 0.06, frame(0.0), 0.056, target, solids, cfg)  # fingertips in the table
    assert not grasp_valid(good, frame(0.0), 0.09, target, solids, cfg)              # wider than the gripper
    assert object_fits(scene['objects'][0], cfg.max_opening)
    wide = dict(scene['objects'][0], size=[0.15, 0.15, 0.05])
    assert not object_fits(wide, cfg.max_opening)

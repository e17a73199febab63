"""Grasp candidates: frame convention, opening, collisions, no grasp when the object cannot fit, presets, and
grasps judged against the true geometry of staged synthetic scenes (boxes, cans, balls, open cups, neighbours)
and of ray-cast boxes (cut by the image border, hidden behind another)."""
import numpy as np
import pytest
import torch

from seg_perception.config import GraspConfig, load_config
from seg_perception.geometry import matrix_from_quaternion
from seg_perception.grasps import GraspPlanner, GraspScene
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import SceneConfig, synthesize
from seg_perception.types import ObjectCloud
from staged_scenes import staged_scene


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
    points = torch.from_numpy(np.concatenate([top, table]).astype(np.float32))[None]   # a 1 x M "image"
    up = np.array([0.0, 0.0, -1.0])
    heights = lambda p: 0.5 - p[..., 2]  # noqa: E731  height above the table
    labels = torch.zeros(points.shape[:2], dtype=torch.int64)
    labels[0, :len(top)] = 1
    return obj, GraspScene(points, points[..., 2], labels, None, up, heights)


def test_small_box_is_grasped_from_above_with_the_right_opening():
    cfg = GraspConfig(enabled=True)
    obj, scene = _box_scene((0.04, 0.12, 0.05))
    grasps = GraspPlanner(cfg, torch.device('cpu')).plan([obj], scene)
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
    obj, scene = _box_scene((0.15, 0.15, 0.05))
    grasps, why = GraspPlanner(GraspConfig(enabled=True), torch.device('cpu')).plan_with_reasons([obj], scene)
    # the box's own width, not a chord across a corner
    assert grasps == [] and why[1].startswith('too wide for the hand: 14.') and '8.0 cm opening' in why[1]


def test_pipeline_grasps_follow_the_contract():
    f = synthesize(141, SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
    stages = []
    result = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': True})).process(
        f.rgbd(), on_stage=lambda stage, r: stages.append((stage, r)))
    # the labels, then the object clouds are handed out before grasp planning
    assert [name for name, _ in stages] == ['labels', 'objects']
    (_, labels), (_, objects) = stages
    assert labels.objects == () and labels.grasps == () and objects.grasps == ()
    assert np.array_equal(labels.instances.labels, result.instances.labels)
    assert 'clouds' not in labels.timings_ms and 'grasps' not in objects.timings_ms
    assert [o.instance_id for o in objects.objects] == [o.instance_id for o in result.objects]
    assert result.grasps
    ids = {o.instance_id for o in result.objects}
    for g in result.grasps:
        assert g.object_id in ids and 0 <= g.score <= 1 and 0 < g.width <= 0.08
        assert abs(np.linalg.norm(g.quaternion) - 1) < 1e-6
    assert 'grasps' in result.timings_ms
    # on by default; switched off: no grasps, no time spent
    assert load_config().grasps.enabled
    plain = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': False})).process(f.rgbd())
    assert plain.grasps == () and 'grasps' not in plain.timings_ms


def test_objects_planned_together_get_what_each_gets_alone():
    """The planner takes a frame's objects together (one batch of candidates): each object still gets exactly the
    grasps, or the reason for none, it gets when planned on its own in the same scene."""
    f = synthesize(141, SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
    pipeline = Pipeline(load_config(None, {'device': 'cpu'}))
    result, scene = pipeline.perceive(f.rgbd())
    together, why = pipeline.grasp_planner.plan_with_reasons(result.objects, scene)
    # a cluttered frame: objects with grasps, and objects without for many different reasons
    assert len(result.objects) >= 10 and len({g.object_id for g in together}) >= 4 and len(set(why.values())) >= 5
    for obj in result.objects:
        alone, why_alone = pipeline.grasp_planner.plan_with_reasons([obj], scene)
        mine = [g for g in together if g.object_id == obj.instance_id]
        assert [(g.width, g.score) for g in mine] == [(g.width, g.score) for g in alone]
        assert all(np.array_equal(a.position, b.position) and np.array_equal(a.quaternion, b.quaternion)
                   for a, b in zip(mine, alone))
        assert why_alone.get(obj.instance_id) == why.get(obj.instance_id)


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


def test_grasp_metrics_count_an_object_whose_later_grasp_holds_when_its_first_fails():
    """A motion planner that cannot reach an object's first grasp tries the next: the metrics say how many
    objects have a valid grasp among all of theirs, besides the top one."""
    from types import SimpleNamespace
    from seg_perception.geometry import quaternion_from_matrix
    from seg_perception.grasps.evaluate import grasp_metrics, summarize_grasps
    scene = _one_box_scene()
    down, y = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    q = quaternion_from_matrix(np.stack([down, y, np.cross(down, y)], 1))
    at = np.array([0.0, 0.0, 0.48])
    inside = SimpleNamespace(object_id=7, position=at, quaternion=q, width=0.035)   # fingers inside the box
    across = SimpleNamespace(object_id=7, position=at, quaternion=q, width=0.056)   # across its 4 cm side
    truth = np.zeros((20, 20), np.int32)
    truth[5:15, 5:15] = 1
    labels = np.where(truth == 1, 7, 0)

    def counts(*grasps):
        result = SimpleNamespace(instances=SimpleNamespace(labels=labels), objects=[SimpleNamespace(instance_id=7)],
                                 grasps=list(grasps))
        return grasp_metrics(result, truth, scene, GraspConfig())

    first_fails = counts(inside, across)
    assert (first_fails['fit'], first_fails['fit_with_grasp'], first_fails['fit_top1_valid'],
            first_fails['fit_any_valid']) == (1, 1, 0, 1)
    assert counts(across, inside)['fit_top1_valid'] == counts(across, inside)['fit_any_valid'] == 1
    assert counts(inside)['fit_any_valid'] == 0 and counts()['fit_any_valid'] == 0
    summary = summarize_grasps([first_fails, counts(inside)])
    assert summary['top1_valid'] == 0.0 and summary['any_valid'] == 0.5 and summary['coverage'] == 1.0


def test_grasp_upper_bound_finds_a_hold_unless_the_object_is_boxed_in_or_flat():
    from seg_perception.grasps.evaluate import grasp_exists, scene_solids
    cfg = GraspConfig()
    up = np.array([0.0, 0.0, -1.0])            # the helper's camera looks straight down +z
    scene = _one_box_scene()
    assert grasp_exists(scene_solids(scene)[0], scene_solids(scene), up, cfg)
    # tall neighbours 5 mm from each side: no finger fits in, and the palm meets them from any direction
    walls = []
    for k, (x, y, sx, sy) in enumerate([(0.045, 0.0, 0.04, 0.2), (-0.045, 0.0, 0.04, 0.2),
                                        (0.0, 0.055, 0.2, 0.04), (0.0, -0.055, 0.2, 0.04)]):
        pose = np.eye(4)
        pose[:3, 3] = [x, y, 0.5 - 0.075]
        walls.append({'name': f'object{k + 10}', 'shape': 'box', 'size': [sx, sy, 0.15], 'pose_camera': pose.tolist(),
                      'pose_world': pose.tolist(), 'instance_id': k + 2})
    boxed = dict(scene, objects=scene['objects'] + walls)
    solids = scene_solids(boxed)
    assert not grasp_exists(solids[0], solids, up, cfg)
    # only the two along the long sides: the hand closes across the short side, its palm between them
    solids = scene_solids(dict(scene, objects=scene['objects'] + walls[2:]))
    assert grasp_exists(solids[0], solids, up, cfg)
    # 6 mm high: no contact between fingertips clear of the table and the top
    flat = dict(scene['objects'][0], size=[0.04, 0.06, 0.006])
    pose = np.eye(4)
    pose[:3, 3] = [0.0, 0.0, 0.5 - 0.003]
    flat['pose_camera'] = flat['pose_world'] = pose.tolist()
    solids = scene_solids(dict(scene, objects=[flat]))
    assert not grasp_exists(solids[0], solids, up, cfg)


def test_gripper_presets_set_the_hand():
    from seg_perception.config import default_config_path
    REPO_CONFIG_DIR = default_config_path().parent
    franka = load_config([REPO_CONFIG_DIR / 'seg_perception.yaml', REPO_CONFIG_DIR / 'gripper_franka_hand.yaml'])
    robotiq = load_config([REPO_CONFIG_DIR / 'seg_perception.yaml', REPO_CONFIG_DIR / 'gripper_robotiq_2f85.yaml'])
    assert franka.grasps.max_opening == 0.08 and robotiq.grasps.max_opening == 0.085
    assert franka.grasps == load_config().grasps           # the defaults are the Franka Hand
    # a 7.6 cm box: too wide for the Franka Hand once the measurement's uncertainty and half the collision margin
    # are added on both sides, fits the 2F-85
    obj, scene = _box_scene((0.076, 0.12, 0.05))
    assert GraspPlanner(franka.grasps, torch.device('cpu')).plan([obj], scene) == []
    grasps = GraspPlanner(robotiq.grasps, torch.device('cpu')).plan([obj], scene)
    # the hand fully open is its opening, not the float32 value next to it (8.5 cm in float32 is 8.5000001 cm:
    # a width a gripper driver may refuse, and that the true-geometry check took as too wide)
    assert grasps and all(0.074 < g.width <= 0.085 for g in grasps) and max(g.width for g in grasps) == 0.085


def test_an_object_near_the_hand_limit_is_held_with_the_hand_wide_open():
    """7.2 cm across (its sampled top 7 cm): no room for the full clearance on both sides within 8 cm, but room
    for the measurement's uncertainty and half the collision margin: gripped across its narrow side with the
    fingers fully open and centred on it."""
    obj, scene = _box_scene((0.072, 0.12, 0.05))
    grasps = GraspPlanner(GraspConfig(enabled=True), torch.device('cpu')).plan([obj], scene)
    assert grasps
    for g in grasps:
        assert g.width == pytest.approx(0.08)
        closing = matrix_from_quaternion(g.quaternion)[:, 1]
        assert abs(closing[0]) > 0.95                               # across the 7.2 cm side
        assert abs(g.position[0]) < 0.002                           # centred: 5 mm free on either side


def test_a_neighbour_in_the_way_is_avoided():
    obj, scene = _box_scene((0.04, 0.12, 0.05))
    # a tall wall of points 1.3 cm beside the box's long side: closing across the box would put a finger in it
    wy, wz = np.mgrid[-0.1:0.1:0.004, 0.35:0.5:0.004].reshape(2, -1)
    wall = np.c_[np.full(wy.size, 0.033), wy, wz].astype(np.float32)
    points = torch.cat([scene.points[0], torch.from_numpy(wall)])[None]
    labels = torch.cat([scene.labels[0], torch.full((len(wall),), 2)])[None]
    blocked = GraspScene(points, points[..., 2], labels, None, scene.up, scene.support_height)
    cfg = GraspConfig()

    def hits_wall(g):
        R = matrix_from_quaternion(g.quaternion)
        local = (wall - g.position) @ R
        return bool(((local[:, 0] > -cfg.finger_depth) & (local[:, 0] < 0)
                     & (np.abs(local[:, 2]) < cfg.finger_width / 2) & (np.abs(local[:, 1]) > g.width / 2)
                     & (np.abs(local[:, 1]) < g.width / 2 + cfg.finger_thickness)).any())

    unblocked = GraspPlanner(cfg, torch.device('cpu')).plan([obj], scene)
    assert unblocked and hits_wall(unblocked[0])       # without the wall, the best grasp puts a finger there
    grasps = GraspPlanner(cfg, torch.device('cpu')).plan([obj], blocked)
    assert not any(hits_wall(g) for g in grasps)
    # walled in on both long sides too: nothing left, and the planner says why
    other = wall * [-1, 1, 1]
    points = torch.cat([blocked.points[0], torch.from_numpy(other)])[None]
    labels = torch.cat([blocked.labels[0], torch.full((len(other),), 3)])[None]
    walled = GraspScene(points, points[..., 2], labels, None, scene.up, scene.support_height)
    grasps, why = GraspPlanner(cfg, torch.device('cpu')).plan_with_reasons([obj], walled)
    assert grasps == [] and why == {1: 'the fingers or the palm meet neighbouring objects (or the object) in every '
                                       'pose'}


def _top_grasps_by_truth(seed, objects):
    """{true instance id: (grasp count, whether its best grasp is valid on the true geometry)}."""
    from seg_perception.grasps.evaluate import grasp_valid, scene_solids
    from seg_perception.synthetic import Renderer
    from seg_perception.types import RGBDFrame
    scene, r = staged_scene(seed, objects)
    cfg = load_config(None, {'device': 'cpu'})
    result = Pipeline(cfg).process(RGBDFrame(r.color, r.depth, Renderer.camera_of(scene)))
    solids = scene_solids(scene.to_json(r.visible_pixels))
    out = {}
    for o in result.objects:
        ids = r.instances[result.instances.labels == o.instance_id]
        truth = int(np.bincount(ids[ids > 0]).argmax()) if (ids > 0).any() else 0
        grasps = [g for g in result.grasps if g.object_id == o.instance_id]
        target = next(s for s in solids if s.instance_id == truth) if truth else None
        valid = bool(grasps) and target is not None and grasp_valid(grasps[0].position, grasps[0].quaternion,
                                                                     grasps[0].width, target, solids, cfg.grasps)
        count, any_valid = out.get(truth, (0, False))
        out[truth] = (count + len(grasps), any_valid or valid)
    return out


BOX = {'shape': 'box', 'size': [0.04, 0.12, 0.08]}
CAN = {'shape': 'cylinder', 'radius': 0.025, 'height': 0.1}
BALL = {'shape': 'sphere', 'radius': 0.025}
WIDE = {'shape': 'box', 'size': [0.12, 0.12, 0.05]}


@pytest.mark.slow
@pytest.mark.parametrize('seed', [0, 3])
def test_staged_objects_get_a_valid_best_grasp(seed):
    for shape, z, yaw in ((BOX, 0.04, 0.5), (CAN, 0.05, 0.0), (BALL, 0.025, 0.0)):
        found = _top_grasps_by_truth(seed, [(shape, 0.0, 0.0, yaw, z)])
        assert found.get(1, (0, False))[1], f"{shape['shape']}: best grasp not valid on the true geometry"
    # too wide for the hand on every side: nothing
    assert all(count == 0 for count, _ in _top_grasps_by_truth(seed, [(WIDE, 0.0, 0.0, 0.3, 0.025)]).values())
    # side by side, 1 cm apart: both still grasped without touching the other
    pair = _top_grasps_by_truth(seed, [(BOX, -0.045, 0.0, 0.0, 0.04), (CAN, 0.03, 0.0, 0.0, 0.05)])
    assert pair.get(1, (0, False))[1] and pair.get(2, (0, False))[1]


def test_contact_sides_lean_as_the_outermost_points_say():
    from seg_perception.grasps.finger_levels import level_slopes
    seen = torch.ones(4, 6, dtype=torch.bool)
    extreme = torch.tensor([[5.0, 5, 5, 5, 5, 5],          # upright side
                            [10.0, 9, 8, 7, 6, 5],         # slanted face: recedes 1 per level
                            [8.0, 9.6, 10, 9.6, 8, 5],     # round side, widest at the second level
                            [6.0, 8, 10, 8, 6, 4]])        # ridge between two faces slanted 2 per level
    slope = level_slopes(extreme, seen, step=1.0, noise=0.5)   # levels 1..5 (level 0 lies below them)
    assert torch.allclose(slope[0], torch.zeros(5))
    assert torch.allclose(slope[1], torch.full((5,), 0.5))
    assert slope[2, 1] == 0 and (slope[2, 3:] > 0).all()        # grip a ball at its equator, not above it
    assert (slope[3] > 1).all()                                 # a ridge is no place for a finger either
    # one of its sides not seen: a level as far out as the one seen neighbour may be the equator of a lying can
    # whose lower half is hidden...
    half_seen = seen.clone()
    half_seen[2:, :2] = False
    round_side = torch.tensor([[0.0, 0, 10, 8.8, 6, 3]])      # recedes 1.2 steps: a circle can (radius 1.5 steps)
    assert level_slopes(round_side, half_seen[2:3], 1.0, 0.5)[0, 1] == 0
    # ...but not when it recedes further than any circle's widest part could: a face slanted 2 per level
    assert level_slopes(extreme, half_seen, 1.0, 0.5)[3, 1] > 1
    # a hidden side (no points at the neighbouring levels) tells nothing: taken as upright
    hidden = seen.clone()
    hidden[1, 2:] = False
    assert level_slopes(extreme, hidden, 1.0, 0.5)[1, 2:].eq(0).all()


def test_each_finger_level_keeps_the_outermost_slab_points_on_both_jaws():
    from seg_perception.grasps.finger_levels import LEVELS, outermost_per_level
    depth = 0.05                                           # finger length: levels 1 cm apart, level 0 below the tips
    tip = torch.tensor([0.01])
    # a face leaning in towards the +along jaw (1 cm further in per level up), an upright -along side at -2 cm,
    # a point outside the slab far out, one 2.5 mm above the first level a little further out, nothing higher up
    heights = torch.tensor([[0.01 + s * depth for s in (0.15, 0.35, 0.55)] * 2 + [0.0175, 0.02]])
    along = torch.tensor([[0.05, 0.04, 0.03, -0.02, -0.02, -0.02, 0.5, 0.055]])
    slab = torch.tensor([[True] * 6 + [False, True]])
    levels, seen, ext_hi, ext_lo, spacing = outermost_per_level(slab, heights, along, tip, depth)
    assert spacing == pytest.approx((LEVELS[1] - LEVELS[0]) * depth)
    assert levels[0, 1:].tolist() == pytest.approx([0.01 + s * depth for s in LEVELS])
    assert seen[0].tolist() == [False, True, True, True, False, False]
    assert ext_hi[0, 1:4].tolist() == pytest.approx([0.055, 0.04, 0.03])   # not the point outside the slab
    assert ext_lo[0, 1:4].tolist() == pytest.approx([0.02] * 3)            # negated: the -along jaw
    assert (ext_hi[0, 4:] == -1e3).all() and ext_hi[0, 0] == -1e3


def _box_seen_from_above(cx):
    """A 4 x 12 x 5 cm box on a table 0.5 m below a downward camera (160x120, f 300 px) with principal point
    column ``cx``: the organized points, depth and labels it sees (box top and table), and the box's cloud."""
    from seg_perception.types import CameraModel
    camera = CameraModel(160, 120, 300.0, 300.0, cx, 60.0)
    u, v = np.meshgrid(np.arange(160), np.arange(120))
    ray = np.stack([(u - cx) / 300.0, (v - 60.0) / 300.0, np.ones_like(u, dtype=float)], -1)
    top = ray * (0.5 - 0.05)
    on_box = (np.abs(top[..., 0]) < 0.02) & (np.abs(top[..., 1]) < 0.06)
    depth = np.where(on_box, 0.45, 0.5)
    points = (ray * depth[..., None]).astype(np.float32)
    box = points[on_box]
    obj = ObjectCloud(1, 'box', 1.0, len(box), box, np.zeros((len(box), 3), np.uint8),
                      np.tile([0, 0, -1.0], (len(box), 1)).astype(np.float32), box.mean(0), box.mean(0),
                      np.array([0.04, 0.12, 0.05]), np.eye(3))
    scene = GraspScene(torch.from_numpy(points), torch.from_numpy(depth.astype(np.float32)),
                       torch.from_numpy(on_box.astype(np.int64)), camera, np.array([0.0, 0.0, -1.0]),
                       lambda p: 0.5 - p[..., 2])
    return obj, scene


def test_occlusion_and_border_tests_take_each_points_own_object_and_reach():
    """The planner tests all objects' points at once: each point against its own object's label (its own nearer
    pixels, a tall object's top, hide nothing of it) and with its own object's reach (pixels from the border)."""
    from seg_perception.geometry import camera_from_intrinsics
    from seg_perception.grasps.visibility import at_image_border, behind_neighbour
    camera = camera_from_intrinsics(100.0, 100.0, 49.5, 39.5, 100, 80)
    depth = torch.full((80, 100), 1.0)
    labels = torch.zeros((80, 100), dtype=torch.int64)
    depth[:, 20:41], labels[:, 20:41] = 0.8, 1
    depth[:, 41:61], labels[:, 41:61] = 0.7, 2     # object 2 stands 10 cm nearer the camera than object 1
    scene = GraspScene(torch.zeros(80, 100, 3), depth, labels, camera, np.array([0.0, -1.0, 0.0]))

    def at(u, z):   # the point seen at column u, row 40, depth z
        return [(u - 49.5) / 100.0 * z, 0.5 / 100.0 * z, z]
    # object 1 beside object 2's pixels; object 2's own foot, farther than its own pixels there
    pts = torch.tensor([at(39, 0.8), at(43, 0.8)])
    assert behind_neighbour(scene, pts, torch.tensor([1, 2]), 2).tolist() == [True, False]
    assert behind_neighbour(scene, pts, torch.tensor([1, 1]), 2).tolist() == [True, True]
    near_border = torch.tensor([at(3, 0.8), at(3, 0.8)])
    assert at_image_border(scene, near_border, torch.tensor([2, 4])).tolist() == [False, True]
    assert at_image_border(scene, near_border, 4).tolist() == [True, True]


def test_an_object_cut_off_by_the_image_border_is_not_gripped_across_the_cut():
    planner = GraspPlanner(GraspConfig(enabled=True), torch.device('cpu'))
    obj, scene = _box_seen_from_above(80.0)
    whole = planner.plan([obj], scene)
    assert whole and abs(matrix_from_quaternion(whole[0].quaternion)[0, 1]) > 0.9   # across the 4 cm side
    # the image's left edge runs through the box's middle: its other half may be anywhere beyond it
    cut_obj, cut_scene = _box_seen_from_above(0.0)
    assert len(cut_obj.points) > 100
    assert planner.plan_with_reasons([cut_obj], cut_scene) == (
        [], {cut_obj.instance_id: 'it leaves the image or goes on behind a nearer object where the jaws would close'})


@pytest.mark.slow
def test_a_box_half_hidden_behind_a_taller_one_is_said_to_be_hidden_where_it_would_be_gripped():
    """Its 4 cm sides face the camera, and the taller box 9 cm in front hides the lower part of the near one:
    the lines across those sides would hold, but a jaw closes where the box may go on out of sight; the lines
    still in view cross its ends at a slant. The reason names what stops the lines that would hold."""
    from seg_perception.synthetic import Renderer, generate_scene
    from seg_perception.types import RGBDFrame
    seed = 3
    room = generate_scene(seed, SceneConfig())
    eye, ray = room.camera_to_world[:3, 3], room.camera_to_world[:3, 2]
    towards = (eye - (eye + (room.table_height - eye[2]) / ray[2] * ray))[:2]
    towards /= np.linalg.norm(towards)
    yaw = float(np.arctan2(towards[1], towards[0]))
    nearer = {'shape': 'box', 'size': [0.04, 0.08, 0.2]}
    scene, r = staged_scene(seed, [(BOX, 0.0, 0.0, yaw, 0.04), (nearer, *(0.09 * towards), yaw, 0.1)])
    result = Pipeline(load_config(None, {'device': 'cpu'})).process(
        RGBDFrame(r.color, r.depth, Renderer.camera_of(scene)))
    hidden = [o.instance_id for o in result.objects
              if np.bincount(r.instances[result.instances.labels == o.instance_id]).argmax() == 1]
    assert len(hidden) == 1 and not any(g.object_id == hidden[0] for g in result.grasps)
    assert result.grasp_notes[hidden[0]] == ('where its sides face each other, it leaves the image or goes on '
                                             'behind a nearer object')
    assert any(g.object_id != hidden[0] for g in result.grasps)      # the nearer box is gripped


def test_the_border_check_allows_for_the_voxels_of_the_cloud():
    """Voxel averaging leaves a cloud's outermost points up to a voxel inside the object's outline: on a fine
    grid (every pixel, as on a GPU) that is more than the border check's two pixels."""
    from dataclasses import replace
    planner = GraspPlanner(GraspConfig(enabled=True), torch.device('cpu'))
    obj, scene = _box_seen_from_above(0.0)      # the image's left edge runs through the box's middle
    column = obj.points[:, 0] / obj.points[:, 2] * 300.0
    inside = column >= 3.0                        # the cloud's outermost points 3 pixels from the border
    pulled = replace(obj, points=obj.points[inside], colors=obj.colors[inside], normals=obj.normals[inside])
    assert planner.plan([pulled], scene)         # taken for where the box ends: gripped across the cut
    voxels = replace(scene, cloud_voxel=0.005)    # 5 mm at 0.45 m: 3.3 pixels of this camera
    assert planner.plan_with_reasons([pulled], voxels) == (
        [], {pulled.instance_id: 'it leaves the image or goes on behind a nearer object where the jaws would close'})


def test_a_round_outline_seen_from_one_side_gives_the_whole_circle():
    from seg_perception.grasps.round_outline import round_outline
    rng = np.random.default_rng(1)
    # a can's near wall (half a turn, 1 mm noise) and a few points of its lid, 2 cm radius
    turn = rng.uniform(-np.pi / 2, np.pi / 2, 150)
    wall = 0.02 * np.c_[np.cos(turn), np.sin(turn)] + rng.normal(0, 0.001, (150, 2))
    lid = rng.uniform(-0.018, 0.018, (60, 2))
    lid = lid[np.linalg.norm(lid, axis=1) < 0.018]
    found = round_outline(np.r_[wall, lid] + [0.3, 0.1], 0.002, 0.04)
    assert found is not None
    centre, radius = found
    assert np.linalg.norm(centre - [0.3, 0.1]) < 0.002 and abs(radius - 0.02) < 0.002
    # not round: a box's top (its corners lie on a circle, but apart), a can with a handle sticking out,
    # a straight side, a can wider than the hand
    box = rng.uniform([-0.025, -0.015], [0.025, 0.015], (500, 2))
    handle = np.r_[wall, lid, np.c_[rng.uniform(0.02, 0.035, 30), rng.uniform(-0.005, 0.005, 30)]]
    side = np.c_[rng.uniform(-0.05, 0.05, 100), rng.normal(0, 0.001, 100)]
    for points in (box, handle, side):
        assert round_outline(points, 0.002, 0.04) is None
    assert round_outline(np.r_[wall, lid] * 3, 0.002, 0.04) is None
    # too few points, or all in one place: nothing to fit
    for points in (np.zeros((0, 2)), np.zeros((50, 2)), wall[:5]):
        assert round_outline(points, 0.002, 0.04) is None


SLENDER_CAN = {'shape': 'cylinder', 'radius': 0.015, 'height': 0.12}


@pytest.mark.slow
@pytest.mark.parametrize('seed', [1, 5])
def test_every_grasp_of_a_can_seen_from_one_side_holds(seed):
    """The camera sees the near half of the can: jaws must close across its axis and clear its hidden far side."""
    from seg_perception.grasps.evaluate import grasp_valid, scene_solids
    from seg_perception.synthetic import Renderer
    from seg_perception.types import RGBDFrame
    scene, r = staged_scene(seed, [(SLENDER_CAN, 0.0, 0.0, 0.0, 0.06)])
    cfg = load_config(None, {'device': 'cpu'})
    result = Pipeline(cfg).process(RGBDFrame(r.color, r.depth, Renderer.camera_of(scene)))
    solids = scene_solids(scene.to_json(r.visible_pixels))
    can = next(s for s in solids if s.instance_id == 1)
    assert len(result.grasps) >= 3
    assert all(grasp_valid(g.position, g.quaternion, g.width, can, solids, cfg.grasps) for g in result.grasps)


@pytest.mark.slow
def test_a_ball_wider_than_the_hand_gets_no_grasp():
    """A 9 cm ball seen from one side: the near half's outline is narrower than the hand, but the outline is round
    and its circle is wider than the hand, so no line across it can hold the ball (the previous planner closed
    a jaw inside the hidden far half on this camera pose)."""
    big_ball = {'shape': 'sphere', 'radius': 0.045}
    assert _top_grasps_by_truth(1, [(big_ball, 0.0, 0.0, 0.0, big_ball['radius'])]) == {1: (0, False)}


def _lying_can(radius, length=0.16, sides=24):
    """A can lying on the table along x (a convex prism, so that the true-geometry check can judge it)."""
    angle = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.stack([np.zeros(sides), radius * np.cos(angle), radius * np.sin(angle)], 1)
    return {'shape': 'convex', 'vertices': np.concatenate([ring - [length / 2, 0, 0],
                                                           ring + [length / 2, 0, 0]]).round(5).tolist()}


@pytest.mark.slow
def test_the_hidden_side_of_a_lying_can_bulges_like_the_seen_one():
    """Seen from low down, a lying can's far silhouette lies near its top, like a box's top edge; below it the hidden
    side bulges out as the seen one does. A 6 cm can is gripped clear of that bulge (the previous planner's best
    grasp put the far finger into it), a 9 cm one, wider than the hand, not at all."""
    assert _top_grasps_by_truth(1, [(_lying_can(0.03), 0.0, 0.0, 0.4, 0.03)])[1][1]
    assert _top_grasps_by_truth(1, [(_lying_can(0.045), 0.0, 0.0, 0.4, 0.045)]) == {1: (0, False)}


def _half_disc_facing_the_camera(seed, radius, height):
    """A half disc standing on its flat base (a D-shaped prism) whose round side faces the camera of staged scene
    ``seed``; its flat side, away from the camera, is the D's diameter."""
    from seg_perception.synthetic import SceneConfig, generate_scene
    ray = generate_scene(seed, SceneConfig()).camera_to_world[:3, 2]
    angle = np.linspace(np.pi / 2, 3 * np.pi / 2, 17)
    arc = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)                # x <= 0: the round side
    vertices = np.concatenate([np.c_[arc, np.full(17, -height / 2)], np.c_[arc, np.full(17, height / 2)]])
    # local -x (the round side) towards the camera
    return {'shape': 'convex', 'vertices': vertices.round(5).tolist()}, float(np.arctan2(ray[1], ray[0]))


@pytest.mark.slow
def test_an_outline_round_only_on_the_camera_s_side_is_not_completed_into_a_circle():
    """A half disc 10 cm across with its round side to the camera: its outline follows a circle along half a turn,
    like a can's near wall, but the camera sees the table where the other half of that circle would be. So it is
    not round (before: "round, 8.9 cm across: wider than the hand opens", no grasp): it is gripped across its 5 cm
    depth, from the round side's middle to the flat side."""
    d_shape, yaw = _half_disc_facing_the_camera(1, 0.05, 0.03)
    count, valid = _top_grasps_by_truth(1, [(d_shape, 0.0, 0.0, yaw, 0.015)]).get(1, (0, False))
    assert count > 0 and valid


def _boxes_seen_from_above(boxes):
    """A camera 0.45 m up looking 45 degrees down (160x120, f 150 px) at axis-aligned boxes ((lo, hi) corners,
    world metres, z up) on a table at z = 0: the organized scene it sees (ray-cast, label i + 1 for box i) and
    each box's visible points as an ObjectCloud."""
    from seg_perception.types import CameraModel
    camera = CameraModel(160, 120, 150.0, 150.0, 80.0, 60.0)
    eye = np.array([0.0, -0.35, 0.45])
    forward = np.array([0.0, 1.0, -1.0]) / np.sqrt(2)
    right = np.array([1.0, 0.0, 0.0])
    down = np.cross(forward, right)
    to_world = np.stack([right, down, forward], 1)                                 # camera -> world rotation
    u, v = np.meshgrid(np.arange(160), np.arange(120))
    ray_cam = np.stack([(u - 80.0) / 150.0, (v - 60.0) / 150.0, np.ones_like(u, dtype=float)], -1)
    ray = ray_cam @ to_world.T
    depth = -eye[2] / ray[..., 2]                                                   # the table
    labels = np.zeros(depth.shape, np.int64)
    for index, (lo, hi) in enumerate(boxes):
        with np.errstate(divide='ignore', invalid='ignore'):
            t1, t2 = (np.asarray(lo) - eye) / ray, (np.asarray(hi) - eye) / ray
        near, far = np.minimum(t1, t2).max(-1), np.maximum(t1, t2).min(-1)
        hit = (near <= far) & (far > 0) & (near < depth)
        depth, labels = np.where(hit, near, depth), np.where(hit, index + 1, labels)
    points = (ray_cam * depth[..., None]).astype(np.float32)
    up = to_world.T @ np.array([0.0, 0.0, 1.0])                                    # world up, camera frame
    clouds = []
    for index, (lo, hi) in enumerate(boxes):
        seen = points[labels == index + 1]
        normals = np.zeros_like(seen)
        normals[:, 1] = -1.0
        clouds.append(ObjectCloud(index + 1, 'box', 1.0, len(seen), seen, np.zeros((len(seen), 3), np.uint8),
                                  normals, seen.mean(0), seen.mean(0), np.asarray(hi) - np.asarray(lo), np.eye(3)))
    scene = GraspScene(torch.from_numpy(points), torch.from_numpy(depth.astype(np.float32)), torch.from_numpy(labels),
                       camera, up, lambda p: p @ torch.tensor(up, dtype=p.dtype) + float(eye[2]))
    return clouds, scene, to_world


def _tall_box_cut_at_its_foot():
    """A 10 x 2 x 20 cm box standing so near that the bottom of the image cuts off its foot while its top is in
    view."""
    clouds, scene, _ = _boxes_seen_from_above([((-0.05, -0.19, 0.0), (0.05, -0.17, 0.2))])
    return clouds[0], scene, scene.labels.numpy() == 1


def test_an_object_partly_hidden_behind_a_nearer_one_is_not_gripped_across_the_hidden_side():
    """A 14 cm wide, 4 cm deep box whose left 9 cm are hidden behind a taller box in front: the 5 cm seen would fit
    the hand, but the box may go on behind the other (it does); across its 4 cm depth it may be gripped."""
    wide = ((-0.09, 0.05, 0.0), (0.05, 0.09, 0.06))
    occluder = ((-0.12, -0.06, 0.0), (0.0, -0.02, 0.2))
    clouds, scene, to_world = _boxes_seen_from_above([wide, occluder])
    seen = clouds[0].points @ to_world.T
    assert seen[:, 0].min() > -0.01                        # only its right 5 cm are in view
    grasps = [g for g in GraspPlanner(GraspConfig(enabled=True), torch.device('cpu')).plan(clouds, scene)
              if g.object_id == 1]
    assert grasps                                          # across its depth
    for g in grasps:
        closing = to_world @ matrix_from_quaternion(g.quaternion)[:, 1]
        assert abs(closing[0]) < 0.5, 'closes along the hidden length'


def test_a_tall_box_whose_foot_leaves_the_image_is_gripped_at_its_top():
    obj, scene, on_box = _tall_box_cut_at_its_foot()
    assert on_box[-1].any() and not on_box[0].any()          # its foot is cut off, its top is in view
    grasps = GraspPlanner(GraspConfig(enabled=True), torch.device('cpu')).plan([obj], scene)
    assert grasps, 'the fingers reach only the top of the box, which is in view'
    best = grasps[0]
    height = float(scene.support_height(torch.tensor(best.position, dtype=torch.float32)))
    assert height > 0.2 - GraspConfig().finger_depth                 # fingertips on the top part of the box
    assert 0.02 < best.width <= GraspConfig().max_opening


CUP = {'shape': 'cup', 'radius': 0.05, 'height': 0.09, 'wall': 0.004, 'bottom': 0.008}   # 10 cm: wider than the hand


def _inside_cup(points: np.ndarray, cup: dict, tolerance: float = 0.001) -> np.ndarray:
    """Which points (cup frame: axis z, centred) lie in the ``cup``'s wall or bottom, grown by ``tolerance``."""
    r, z = np.hypot(points[:, 0], points[:, 1]), points[:, 2] + cup['height'] / 2
    in_height = (z >= -tolerance) & (z <= cup['height'] + tolerance)
    wall = (r >= cup['radius'] - cup['wall'] - tolerance) & (r <= cup['radius'] + tolerance)
    bottom = (r <= cup['radius'] + tolerance) & (z <= cup['bottom'] + tolerance)
    return in_height & (wall | bottom)


def _rim_grasps_of_staged_cup(seed, cup_shape, pipeline):
    """Stage ``cup_shape`` alone, run ``pipeline`` and check every grasp against the true cup: one finger inside,
    one outside, straddling the wall below the rim, no part of the hand in the cup. Returns (scene, render,
    result)."""
    from seg_perception.grasps.evaluate import _gripper_points
    from seg_perception.synthetic import Renderer
    from seg_perception.types import RGBDFrame
    scene, r = staged_scene(seed, [(cup_shape, 0.0, 0.0, 0.0, cup_shape['height'] / 2)])
    result = pipeline.process(RGBDFrame(r.color, r.depth, Renderer.camera_of(scene)))
    cup = next(b for b in scene.bodies if b.name == 'object0')
    to_cup = np.linalg.inv(cup.pose) @ scene.camera_to_world
    for g in result.grasps:
        R, origin = matrix_from_quaternion(g.quaternion), np.asarray(g.position)
        hand = _gripper_points(R, origin, g.width, pipeline.config.grasps) @ to_cup[:3, :3].T + to_cup[:3, 3]
        assert not _inside_cup(hand, cup_shape).any()
        jaws = np.array([origin + s * R[:, 1] * g.width / 2 for s in (1, -1)]) @ to_cup[:3, :3].T + to_cup[:3, 3]
        radii = np.sort(np.hypot(jaws[:, 0], jaws[:, 1]))
        assert radii[0] < cup_shape['radius'] - cup_shape['wall'] and radii[1] > cup_shape['radius']  # the wall
        assert jaws[:, 2].max() < cup_shape['height'] / 2                                  # fingertips below the rim
        assert g.width < 0.04
    return scene, r, result


@pytest.mark.parametrize('seed', [0, 3])
def test_an_open_cup_wider_than_the_hand_is_held_by_its_rim(seed):
    """One finger inside, one outside: the jaws straddle the wall below the rim, and no part of the hand is in the
    cup (true geometry); none with grasps.rim_grasps off; a closed can as wide gets no grasp at all."""
    from seg_perception.synthetic import Renderer
    from seg_perception.types import RGBDFrame
    cfg = load_config(None, {'device': 'cpu'})
    pipeline = Pipeline(cfg)
    scene, r, result = _rim_grasps_of_staged_cup(seed, CUP, pipeline)
    assert len(result.grasps) >= 3
    from seg_perception.grasps.evaluate import scene_solids
    with pytest.raises(ValueError, match='convex'):
        scene_solids(scene.to_json(r.visible_pixels))                  # eval cannot judge a cup: it says so
    cfg.grasps.rim_grasps = False
    pipeline.update(cfg)
    assert not pipeline.process(RGBDFrame(r.color, r.depth, Renderer.camera_of(scene))).grasps   # switched off
    closed = {'shape': 'cylinder', 'radius': CUP['radius'], 'height': CUP['height']}
    scene, r = staged_scene(seed, [(closed, 0.0, 0.0, 0.0, CUP['height'] / 2)])
    assert not pipeline.process(RGBDFrame(r.color, r.depth, Renderer.camera_of(scene))).grasps


def test_a_deep_cup_seen_from_an_angle_is_found_open():
    """A 10 cm cup 12 cm deep: the lines of sight into it pass close over its near rim (the previous build, which
    wanted them within 0.7 radii of the rim's middle, found it closed and gave it no grasp)."""
    deep_cup = {**CUP, 'height': 0.12}
    _, _, result = _rim_grasps_of_staged_cup(1, deep_cup, Pipeline(load_config(None, {'device': 'cpu'})))
    assert len(result.grasps) >= 3


def test_an_open_cup_s_rim_grasps_do_not_depend_on_the_planner_s_point_sample():
    """The rim test reads every point of the cup (840 here), not the planner's random 800: with a sample, the
    best grasp changed with grasps.seed (measured: score 0.898 for seeds 0 and 1, 0.75 for seed 2)."""
    from seg_perception.synthetic import Renderer
    from seg_perception.types import RGBDFrame
    scene, r = staged_scene(0, [(CUP, 0.0, 0.0, 0.0, CUP['height'] / 2)])
    frame = RGBDFrame(r.color, r.depth, Renderer.camera_of(scene))
    runs = [[(round(g.width, 4), round(g.score, 3), tuple(np.round(g.position, 4))) for g in
             Pipeline(load_config(None, {'device': 'cpu', 'grasps.seed': seed})).process(frame).grasps]
            for seed in (0, 1, 2)]
    assert runs[0] and runs[0] == runs[1] == runs[2]


def _cup_as_seen(rim_near, rim_side, rim_far, lid=False, radius=0.04, wall=0.003, floor=0.008):
    """Points (flat (N, 2) along the support, heights (N,)) of an upright cup 35 cm out from below the camera as a
    real sensor sees it: its rim measured ``rim_near`` high on the side nearest the camera (seen against the
    deeper inside), ``rim_side`` at the sides and ``rim_far`` on the far side, the near wall's outside, the far
    wall's inside and the floor in view (or a ``lid`` on top at the side rim's height). Returns (flat, h, centre,
    which points are the rim)."""
    centre = np.array([0.35, 0.0])
    near = np.pi                                          # the camera is towards -x from the cup
    angles = np.radians(np.arange(0.0, 360.0, 3.0))
    mean, c2 = (rim_near + rim_far + 2 * rim_side) / 4, (rim_near + rim_far - 2 * rim_side) / 4
    rim_h = mean + (rim_near - rim_far) / 2 * np.cos(angles - near) + c2 * np.cos(2 * (angles - near))
    ring = lambda r, a: centre + r * np.c_[np.cos(a), np.sin(a)]  # noqa: E731
    flat, h = [ring(radius, angles)], [rim_h]
    for a, top in zip(angles, rim_h):
        heights = np.arange(0.0 if np.cos(a - near) > 0 else floor, top - 0.004, 0.004)
        r = radius + wall if np.cos(a - near) > 0 else radius - wall        # outside near, inside far
        flat.append(ring(r, np.full(len(heights), a)))
        h.append(heights)
    g = np.mgrid[-radius:radius:0.004, -radius:radius:0.004].reshape(2, -1).T
    disc = g[np.hypot(*g.T) < radius - wall]
    if lid:
        flat.append(centre + disc)
        h.append(np.full(len(disc), rim_side))
    else:
        disc = disc[disc[:, 0] > -0.3 * radius]           # the floor beyond the near rim's shadow
        flat.append(centre + disc)
        h.append(np.full(len(disc), floor))
    h = np.concatenate(h)
    on_rim = torch.arange(len(h)) < len(angles)
    return (torch.tensor(np.concatenate(flat), dtype=torch.float32), torch.tensor(h, dtype=torch.float32), centre,
            on_rim)


def test_an_open_cup_whose_rim_is_measured_lower_on_its_near_side_is_found_open():
    """A real sensor mixes the near rim with the deeper inside: a cup's rim measured 4.0 cm high on its near side,
    7.3 at its sides and 5.4 on its far side (UCN frame 6). The rim is the wall's top in each direction, so the
    whole ring is found and the cup is open (the previous build took one band below the object's top: two short
    arcs, no opening, no grasp); with a lid it stays closed. The near rim only reads low: rim grasps there put
    the fingertips as high as at the sides, below the rim's highest part, so the palm clears the true rim. A
    shallow hold (for a bowl's sloping wall) is offered only where the rim reads at its highest, ranked below the
    deeper holds there."""
    from seg_perception.grasps.rim import find_opening, rim_candidates
    flat, h, centre, on_rim = _cup_as_seen(0.040, 0.073, 0.054)
    opening = find_opening(flat, h, 0.65)
    assert opening is not None
    assert np.linalg.norm(opening.centre.numpy() - centre) < 0.005
    assert opening.rim[on_rim].float().mean() > 0.8                                      # most of the ring
    assert find_opening(*_cup_as_seen(0.040, 0.073, 0.054, lid=True)[:2], 0.65) is None
    cfg = GraspConfig()
    cand = rim_candidates(flat, h, opening, cfg.finger_width, cfg.finger_depth, 0.006, cfg.max_opening, 0.002,
                          cfg.friction)
    assert cand is not None
    offset = cand['centre'] - torch.tensor(centre, dtype=torch.float32)
    sides, near = offset[:, 1].abs() > 0.03, offset[:, 0] < -0.03
    assert sides.any() and near.any()
    shallow = cand['tip'] > float(cand['tip'].max()) - 1e-6
    assert shallow[sides].any() and not shallow[near].any()
    assert float(cand['quality'][shallow].max()) < float(cand['quality'][sides & ~shallow].max())
    for pick in (torch.min, torch.max):                        # at either of the deeper fingertip depths
        assert abs(float(pick(cand['tip'][sides & ~shallow])) - float(pick(cand['tip'][near]))) < 1e-6
    assert float(cand['tip'].max()) + cfg.finger_depth > 0.073 + 0.01    # the palm above the highest rim


def test_a_small_cup_with_a_few_mixed_depth_points_inside_its_rim_is_found_open():
    """A cup 6.4 cm across, whose lid zone (within 0.6 radii of the middle) is the very area where the ring test
    already lets a tenth of the rim points lie: a real sensor's mixed depths at the near rim put a few points there
    at the rim's height (UCN frame 8's plastic cup: 8 % of its rim points, found closed while 5 % was the limit,
    no grasp). A lid on the same cup still fills the middle and keeps it closed."""
    from seg_perception.grasps.rim import _LID, find_opening
    flat, h, centre, on_rim = _cup_as_seen(0.062, 0.070, 0.066, radius=0.032)
    # mixed depths: points at about the near rim's height scattered inside it
    rng = np.random.default_rng(0)
    count = int(0.15 * int(on_rim.sum()))
    radii, angles = rng.uniform(0.2, _LID - 0.05, count) * 0.032, rng.uniform(0.7, 1.3, count) * np.pi
    stray = torch.tensor(centre + radii[:, None] * np.c_[np.cos(angles), np.sin(angles)], dtype=torch.float32)
    flat, h = torch.cat([flat, stray]), torch.cat([h, torch.full((count,), 0.06)])
    opening = find_opening(flat, h, 0.65)
    assert opening is not None
    assert np.linalg.norm(opening.centre.numpy() - centre) < 0.005
    inside = (opening.rim & ((flat - torch.tensor(centre, dtype=torch.float32)).norm(dim=1) < _LID * 0.032))
    assert 0.05 < float(inside.sum()) / float(opening.rim.sum()) <= 0.1       # the share this test is about
    assert find_opening(*_cup_as_seen(0.062, 0.070, 0.066, lid=True, radius=0.032)[:2], 0.65) is None


def test_a_too_wide_note_tells_the_two_widths_apart():
    """The planner's note gives the object's narrowest width and the widest the hand holds to a millimetre, and to
    a tenth of one when they would read the same (UCN frame 8's cup: "6.5 cm at the narrowest, at most 6.5 cm
    fits")."""
    from seg_perception.grasps.planner import _centimetres
    assert _centimetres(0.079, 0.063) == ['7.9', '6.3']
    assert _centimetres(0.06536, 0.06474) == ['6.54', '6.47']
    assert _centimetres(0.065, 0.065) == ['6.5', '6.5']                 # equal lengths stay as they are

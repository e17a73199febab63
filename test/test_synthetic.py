"""The synthetic camera's ground truth is exact and its noise is what the configuration says."""
import json
from dataclasses import replace

import numpy as np
import pytest

from seg_perception.dataset import list_frames, read_frame, read_ground_truth
from seg_perception.geometry import backproject
from seg_perception.synthetic import NoiseConfig, Renderer, SceneConfig, generate_scene, synthesize, write_dataset
from seg_perception.synthetic.shapes import box_mesh, convex_mesh, cylinder_mesh, shape_mesh, sphere_mesh
from seg_perception.types import SURFACE_OBJECT, SURFACE_SUPPORT

SMALL = SceneConfig(width=160, height=120, fx=154.0, fy=154.0)
EXACT = replace(NoiseConfig.off(), shadows=True)


def _face_planes(mesh):
    a, b, c = (mesh.vertices[mesh.triangles[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return n, -np.einsum('ij,ij->i', n, a)


def _surface_distance(mesh, points):
    """For a convex mesh: 0 on the surface, > 0 outside, < 0 inside."""
    n, d = _face_planes(mesh)
    return (points @ n.T + d).max(1)


def test_primitive_meshes_are_closed_and_outward():
    rng = np.random.default_rng(1)
    meshes = [box_mesh([0.1, 0.2, 0.3]), cylinder_mesh(0.05, 0.2), sphere_mesh(0.07),
              convex_mesh(rng.normal(size=(15, 3)) * 0.05)]
    expected = [0.006, np.pi * 0.05 ** 2 * 0.2, 4 / 3 * np.pi * 0.07 ** 3, None]
    for mesh, vol in zip(meshes, expected):
        assert mesh.signed_volume() > 0  # outward winding
        if vol is not None:
            assert mesh.signed_volume() == pytest.approx(vol, rel=0.03)
        edges = np.sort(np.concatenate([mesh.triangles[:, [0, 1]], mesh.triangles[:, [1, 2]],
                                        mesh.triangles[:, [2, 0]]]), axis=1)
        _, counts = np.unique(edges, axis=0, return_counts=True)
        assert (counts == 2).all()  # watertight


@pytest.mark.parametrize('seed', range(12))
def test_scene_objects_rest_on_support_without_interpenetrating(seed):
    scene = generate_scene(seed, SMALL)
    objects = scene.objects
    assert 1 <= sum(o.instance_id > 0 for o in objects) <= 15
    by_name = {b.name: b for b in scene.bodies}
    meshes = {o.name: o.world_mesh() for o in objects}
    rng = np.random.default_rng(seed)
    for o in objects:
        bottom = meshes[o.name].vertices[:, 2].min()
        if o.resting_on == 'table':
            assert bottom == pytest.approx(scene.table_height, abs=1e-6)
            assert o.instance_id > 0
        elif o.resting_on == 'floor':
            assert bottom == pytest.approx(0.0, abs=1e-6) and o.instance_id == 0
        elif o.resting_on.startswith('object'):
            base = meshes[o.resting_on]
            assert bottom == pytest.approx(base.vertices[:, 2].max(), abs=1e-6)
            assert (o.instance_id > 0) == (by_name[o.resting_on].instance_id > 0)
        # interior points of this object are outside every other object
        v = meshes[o.name].vertices
        w = rng.dirichlet(np.ones(len(v)) * 0.3, 200)
        inside = w @ v
        for other in objects:
            if other is not o:
                assert (_surface_distance(meshes[other.name], inside) > -1e-4).all(), (o.name, other.name)


def test_ground_truth_is_exact_and_consistent(tmp_path):
    seed = 3
    frame = synthesize(seed, SMALL, EXACT)
    r, scene = frame.rendered, frame.scene
    camera = Renderer.camera_of(scene)
    points = backproject(r.depth, camera)
    # table pixels lie on the true table plane
    plane = np.asarray(scene.to_json()['table']['plane_camera'])
    table = r.surfaces == SURFACE_SUPPORT
    assert table.sum() > 500
    assert np.abs(points[table] @ plane[:3] + plane[3]).max() < 1e-4
    # object pixels lie on their object's true surface
    w2c = scene.world_to_camera
    for o in scene.objects:
        mask = r.instances == o.instance_id if o.instance_id else None
        if mask is None or not mask.any():
            continue
        mesh = shape_mesh(o.shape).transformed(w2c @ o.pose)
        assert np.abs(_surface_distance(mesh, points[mask])).max() < 2e-4, o.name
        assert (r.surfaces[mask] == SURFACE_OBJECT).all()
    # ids in instances.png and scene.json agree after the round trip through the folder format
    write_dataset(tmp_path, 2, seed, SMALL, NoiseConfig())
    for folder in list_frames(tmp_path):
        gt = read_ground_truth(folder)
        ids = set(np.unique(gt.instances)) - {0}
        listed = {o['instance_id']: o for o in gt.scene['objects'] if o['instance_id'] > 0}
        visible = {i for i, o in listed.items() if o['visible_pixels'] > 0}
        assert ids == visible
        for i in ids:
            assert (gt.instances == i).sum() == listed[i]['visible_pixels']
        assert len(listed) == len(set(listed))
        frame = read_frame(folder)
        assert frame.depth.shape == (120, 160) and frame.camera.fx == 154.0
        assert gt.surfaces.dtype == np.uint8 and gt.instances.dtype == np.uint16


def test_deterministic_for_a_seed(tmp_path):
    a, b = synthesize(11, SMALL), synthesize(11, SMALL)
    for name in ('color', 'depth', 'surfaces', 'instances'):
        np.testing.assert_array_equal(getattr(a.rendered, name), getattr(b.rendered, name))
    assert json.dumps(a.scene_json) == json.dumps(b.scene_json)
    c = synthesize(12, SMALL)
    assert not np.array_equal(a.rendered.depth, c.rendered.depth)


def _pair(seed, noise):
    scene = generate_scene(seed, SMALL)
    renderer = Renderer(scene)
    return renderer.render(np.random.default_rng(0), EXACT), renderer.render(np.random.default_rng(1), noise)


def test_depth_noise_grows_with_distance_squared():
    sigma = 0.004
    exact, noisy = _pair(5, replace(NoiseConfig.off(), depth_sigma_1m=sigma))
    valid = (exact.depth > 0) & (noisy.depth > 0)
    z = exact.depth[valid]
    ratio = (noisy.depth[valid] - z) / (z * z)
    assert ratio.mean() == pytest.approx(0, abs=sigma * 0.05)
    assert ratio.std() == pytest.approx(sigma, rel=0.1)
    assert (noisy.depth[exact.depth > 0] > 0).all()   # no other effect removes depth


def test_quantization_holes_grazing_and_stereo_bands():
    exact, quantized = _pair(5, replace(NoiseConfig.off(), depth_quantization=0.001))
    mm = quantized.depth[quantized.depth > 0] * 1000
    assert np.abs(mm - np.round(mm)).max() < 1e-3
    _, holed = _pair(5, replace(NoiseConfig.off(), holes=20.0))
    assert 0 < ((exact.depth > 0) & (holed.depth == 0)).mean() < 0.3
    _, grazing = _pair(5, replace(NoiseConfig.off(), grazing_cos=0.2))
    rays = np.stack(np.meshgrid((np.arange(160) - 79.5) / 154, (np.arange(120) - 59.5) / 154), -1)
    rays = np.concatenate([rays, np.ones((120, 160, 1))], -1)
    cos = np.abs((rays / np.linalg.norm(rays, axis=-1, keepdims=True) * exact.normals).sum(-1))
    assert (grazing.depth[(cos < 0.2) & (exact.depth > 0)] == 0).all()
    assert (grazing.depth[(cos > 0.4) & (exact.depth > 0)] > 0).all()
    # stereo: the missing band sits just left of foreground objects (second imager to the right)
    _, stereo = _pair(5, replace(NoiseConfig.off(), stereo_baseline=0.05))
    lost = (exact.depth > 0) & (stereo.depth == 0)
    assert lost.any()
    ys, xs = np.nonzero(lost)
    right = np.minimum(xs + 3, 159)
    assert np.mean(exact.depth[ys, right] < exact.depth[ys, xs] - 0.005) > 0.5


def test_edge_smear_turns_depth_steps_into_ramps():
    exact, smeared = _pair(5, replace(NoiseConfig.off(), edge_smear_px=2.0))
    valid = exact.depth > 0
    np.testing.assert_array_equal(smeared.depth > 0, valid)      # no depth appears or goes
    # next to a step of 5 cm or more the depth now lies between the two sides...
    step = np.zeros_like(valid)
    step[:, 1:] |= np.abs(np.diff(exact.depth, axis=1)) > 0.05
    step[:, :-1] |= np.abs(np.diff(exact.depth, axis=1)) > 0.05
    step &= valid & np.roll(valid, 1, 1) & np.roll(valid, -1, 1)
    assert step.sum() > 20
    assert np.mean(np.abs(smeared.depth - exact.depth)[step] > 0.01) > 0.5
    # ...while far from any step (a plane's depth is nearly linear across the kernel) it stays put
    from scipy.ndimage import binary_dilation
    jumps = np.zeros_like(valid)
    jumps[:, 1:] |= np.abs(np.diff(exact.depth, axis=1)) > 0.02
    jumps[1:] |= np.abs(np.diff(exact.depth, axis=0)) > 0.02
    far = valid & ~binary_dilation(jumps | ~valid, np.ones((13, 13), bool))
    assert far.sum() > 1000
    change = np.abs(smeared.depth - exact.depth)[far] / exact.depth[far]
    assert np.median(change) < 0.0005 and np.percentile(change, 95) < 0.003


def test_noise_config_off_changes_nothing():
    exact, again = _pair(7, NoiseConfig.off())
    np.testing.assert_array_equal(exact.depth, again.depth)
    np.testing.assert_array_equal(exact.color, again.color)


def test_scene_variety_over_seeds():
    kinds, walls, distractors, counts = set(), 0, 0, []
    for seed in range(40):
        scene = generate_scene(seed, SMALL)
        kinds |= {o.shape['shape'] for o in scene.objects}
        walls += any(b.name.startswith('wall') for b in scene.bodies)
        distractors += 'distractor' in scene.extras
        counts.append(sum(o.instance_id > 0 for o in scene.objects))
    assert kinds == {'box', 'cylinder', 'sphere', 'convex'}
    assert 0 < walls < 40 and 0 < distractors < 40
    assert min(counts) <= 3 and max(counts) >= 12

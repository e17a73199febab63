"""Object clouds: masks projected to 3-D, outliers removed, voxel averaged, boxed."""
import numpy as np
import torch

from seg_perception.config import ProjectionConfig, load_config
from seg_perception.pipeline import Pipeline
from seg_perception.projection import (nearest_neighbours, project_instances, remove_outliers, voxel_downsample,
                                       write_ply)
from seg_perception.synthetic import SceneConfig, synthesize
from seg_perception.synthetic.shapes import shape_mesh


def test_outliers_and_voxels():
    rng = np.random.default_rng(0)
    cloud = torch.from_numpy(rng.normal(0, 0.01, (500, 3)).astype(np.float32))
    flying = torch.tensor([[0.3, 0.3, 0.3], [-0.2, 0.4, 0.1]], dtype=torch.float32)
    dist, _ = nearest_neighbours(torch.cat([cloud, flying]), 8)
    keep = remove_outliers(dist, 2.0)
    assert not keep[-2:].any() and keep[:500].float().mean() > 0.9
    pts = torch.tensor([[0.0, 0, 0], [0.001, 0, 0], [0.02, 0, 0]])
    colors = torch.tensor([[0, 0, 0], [100, 100, 100], [255, 0, 0]], dtype=torch.uint8)
    down, col = voxel_downsample(pts, 0.005, colors)
    assert down.shape == (2, 3)
    assert sorted(col[:, 0].tolist()) == [50, 255]


def test_objects_are_filtered_apart():
    """One neighbour search and one outlier test for every object of a frame: neighbours and statistics stay
    within each object, and a small object uses the neighbours it has."""
    rng = np.random.default_rng(1)
    tight = rng.normal(0, 0.002, (200, 3))                  # a small, dense object
    wide = rng.normal(0, 0.03, (200, 3)) + [0.05, 0, 0]     # a large one next to it (overlapping in space)
    few = rng.normal(0, 0.01, (5, 3))                       # 5 points: fewer than the 8 neighbours asked for
    points = torch.from_numpy(np.concatenate([tight, wide, few]).astype(np.float32))
    groups = torch.tensor([1] * 200 + [2] * 200 + [3] * 5)
    dist, idx = nearest_neighbours(points, 8, groups)
    found = idx >= 0
    assert (groups[idx.clamp_min(0)][found] == groups[:, None].expand_as(idx)[found]).all()
    assert found[:400].all() and (found[400:].sum(1) == 4).all() and torch.isinf(dist[400:, 4:]).all()
    keep = remove_outliers(dist, 2.0, groups)
    # with one statistic for the whole frame the wide object's points would all look like outliers
    assert keep[:200].float().mean() > 0.9 and keep[200:400].float().mean() > 0.9 and keep[400:].all()
    pts = torch.tensor([[0.0, 0, 0], [0.001, 0, 0], [0.0, 0, 0.001]])
    down, members = voxel_downsample(pts, 0.005, groups=torch.tensor([1, 1, 2]))
    assert down.shape == (2, 3) and members.tolist() == [1, 2]


def test_object_clouds_lie_on_the_true_objects(tmp_path):
    f = synthesize(131, SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
    result = Pipeline(load_config(None, {'device': 'cpu'})).process(f.rgbd())
    assert len(result.objects) == result.instances.count > 0
    w2c = f.scene.world_to_camera
    meshes = {o.instance_id: shape_mesh(o.shape).transformed(w2c @ o.pose) for o in f.scene.objects}
    gt = f.rendered.instances
    for obj in result.objects:
        assert obj.points.shape[1] == 3 and len(obj.points) == len(obj.colors) == len(obj.normals)
        if len(obj.points) < 20:
            continue
        # the object this cloud belongs to: the ground-truth id under most of its pixels
        true_id = np.bincount(gt[result.instances.labels == obj.instance_id]).argmax()
        if true_id == 0:
            continue
        v = meshes[true_id].vertices
        lo, hi = v.min(0) - 0.01, v.max(0) + 0.01
        inside = np.all((obj.points >= lo) & (obj.points <= hi), axis=1)
        assert inside.mean() > 0.9, obj.instance_id
        assert np.allclose(np.linalg.norm(obj.normals, axis=1), 1, atol=1e-3)
        assert np.all(obj.box_extent >= 0) and np.allclose(obj.box_rotation.T @ obj.box_rotation, np.eye(3),
                                                            atol=1e-6)
        local = (obj.points - obj.box_center) @ obj.box_rotation
        assert np.all(np.abs(local) <= obj.box_extent / 2 + 1e-4)
    path = tmp_path / 'obj.ply'
    write_ply(path, result.objects[0])
    text = path.read_text().splitlines()
    assert text[0] == 'ply' and f'element vertex {len(result.objects[0].points)}' in text


def test_project_instances_on_an_organized_map():
    h, w = 20, 30
    z = torch.full((h, w), 1.0)
    v, u = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                          indexing='ij')
    points = torch.stack([(u - 15) / 100 * z, (v - 10) / 100 * z, z], -1)
    labels = torch.zeros((h, w), dtype=torch.int64)
    labels[5:10, 5:10] = 1
    labels[12:18, 20:28] = 2
    normals = torch.zeros((h, w, 3))
    normals[..., 2] = -1
    color = torch.zeros((h, w, 3), dtype=torch.uint8)
    cfg = ProjectionConfig(voxel_size=0.0, outlier_std_ratio=0.0)
    objs = project_instances(points, z > 0, normals, color, labels, ('a', 'b'), (0.9, 0.8), cfg)
    assert [o.pixel_count for o in objs] == [25, 48] and [len(o.points) for o in objs] == [25, 48]
    assert np.allclose(objs[0].centroid, [-0.08, -0.03, 1.0], atol=1e-6)
    assert objs[1].class_name == 'b' and objs[1].score == 0.8

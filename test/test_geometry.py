import logging

import numpy as np
import pytest
import torch

from seg_perception.geometry import (backproject, backproject_torch, camera_from_camera_info, camera_from_K,
                                     camera_info_yaml, depth_to_metres, load_camera_info_yaml, project)
from seg_perception.types import CameraModel, RGBDFrame

CAM = CameraModel(width=8, height=6, fx=10.0, fy=12.0, cx=3.5, cy=2.5)


def test_depth_units_and_invalid_values():
    mm = np.array([[0, 1000], [65535, 250]], np.uint16)
    np.testing.assert_allclose(depth_to_metres(mm), [[0, 1.0], [65.535, 0.25]], rtol=1e-6)
    np.testing.assert_allclose(depth_to_metres(mm, max_depth=10.0), [[0, 1.0], [0, 0.25]], rtol=1e-6)
    m = np.array([[np.nan, np.inf], [-1.0, 0.5]], np.float32)
    out = depth_to_metres(m)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_array_equal(out, [[0, 0], [0, 0.5]])
    np.testing.assert_allclose(depth_to_metres(np.array([[100]], np.uint16), scale=0.0001), [[0.01]])


def test_backprojection_inverts_projection():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 2.0, (CAM.height, CAM.width)).astype(np.float32)
    pts = backproject(depth, CAM)
    assert pts.shape == (6, 8, 3)
    np.testing.assert_allclose(pts[..., 2], depth)
    uv = project(pts.reshape(-1, 3), CAM)
    vv, uu = np.mgrid[0:6, 0:8]
    np.testing.assert_allclose(uv, np.stack([uu.ravel(), vv.ravel()], 1), atol=1e-4)
    # the principal point looks straight ahead; pixel (u=cx+fx, v) is 1 m right at 1 m depth
    one = np.ones((6, 8), np.float32)
    p = backproject(one, CAM)
    assert p[2, 3][0] == pytest.approx(-0.05) and p[2, 3][1] == pytest.approx(-1 / 24)


def test_torch_backprojection_matches_numpy_and_keeps_device():
    depth = torch.rand(CAM.height, CAM.width) + 0.5
    t = backproject_torch(depth, CAM)
    assert t.device == depth.device and t.shape == (6, 8, 3)
    np.testing.assert_allclose(t.numpy(), backproject(depth.numpy(), CAM), atol=1e-6)
    with pytest.raises(ValueError, match='differs from camera size'):
        backproject_torch(torch.ones(5, 5), CAM)


def test_camera_info_yaml_round_trip_and_message_dump(tmp_path):
    cam = camera_from_K([[615.0, 0, 320.5], [0, 616.0, 240.5], [0, 0, 1]], 640, 480)
    path = tmp_path / 'camera.yaml'
    path.write_text(camera_info_yaml(cam))
    assert load_camera_info_yaml(path) == CameraModel(640, 480, 615.0, 616.0, 320.5, 240.5, 'plumb_bob',
                                                      (0.0,) * 5)
    dump = {'width': 640, 'height': 480, 'k': [615.0, 0, 320.5, 0, 616.0, 240.5, 0, 0, 1],
            'd': [], 'distortion_model': ''}
    assert camera_from_camera_info(dump).fx == 615.0
    # a dump of a decimated crop (`ros2 topic echo` of image_proc's crop_decimate): the images' own intrinsics
    cropped = camera_from_camera_info(dict(dump, binning_x=2, binning_y=2,
                                           roi={'x_offset': 100, 'y_offset': 40, 'width': 400, 'height': 300}))
    assert (cropped.width, cropped.height, cropped.fx, cropped.cx, cropped.cy) == (200, 150, 307.5, 110.25, 100.25)
    with pytest.raises(ValueError, match="missing the field 'k'"):
        camera_from_camera_info({'width': 1, 'height': 1})


def test_a_lens_model_that_is_not_corrected_is_warned_about(tmp_path, caplog):
    K = [[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]]
    for model, coefficients, warned in (('kannala_brandt', [0.1, -0.05, 0.0, 0.0], True),
                                        ('plumb_bob', [0.1, -0.05, 0, 0, 0], False),   # corrected: no warning
                                        ('equidistant', [0.1, -0.05, 0.0, 0.0], False)):
        path = tmp_path / f'{model}.yaml'
        path.write_text(camera_info_yaml(camera_from_K(K, 640, 480, coefficients, model)))
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            load_camera_info_yaml(path)
        assert ("lens model 'kannala_brandt' with 4 coefficients is not corrected" in caplog.text) == warned
        assert ('rectified' in caplog.text) == warned


@pytest.mark.parametrize('model, coefficients', [('plumb_bob', (-0.15, 0.03, 0.001, -0.002, 0.0)),
                                                 ('rational_polynomial', (0.5, -2.6, 0.0007, -0.0003, 1.5, 0.4,
                                                                          -2.4, 1.4)),
                                                 ('equidistant', (-0.05, 0.02, -0.01, 0.002))])
def test_distorted_pixels_lie_on_their_rays_through_the_lens(model, coefficients):
    """Back-projection and projection follow the camera's lens model as OpenCV defines it (the ROS convention):
    a point projects where cv2.projectPoints puts it, and the pixel's depth back-projects onto the point."""
    import cv2
    from seg_perception.lens import distortion_shift
    cam = CameraModel(640, 480, 600.0, 600.0, 330.0, 235.0, model, coefficients)
    rng = np.random.default_rng(4)
    points = np.stack([rng.uniform(-0.45, 0.45, 200), rng.uniform(-0.35, 0.35, 200), np.ones(200)], 1)
    points *= rng.uniform(0.5, 2.0, (200, 1))
    if model == 'equidistant':
        expected = cv2.fisheye.projectPoints(points[:, None], np.zeros(3), np.zeros(3), cam.K,
                                             np.asarray(coefficients))[0][:, 0]
    else:
        expected = cv2.projectPoints(points, np.zeros(3), np.zeros(3), cam.K, np.asarray(coefficients))[0][:, 0]
    assert np.abs(project(points, cam) - expected).max() < 1e-6
    # integer pixels of the image: their rays, scaled by depth, project back onto them
    u, v = rng.integers(0, 640, 300), rng.integers(0, 480, 300)
    depth = np.zeros((480, 640), np.float32)
    depth[v, u] = rng.uniform(0.4, 2.0, 300)
    cloud = backproject(depth, cam)[v, u]
    assert np.abs(cloud[:, 2] - depth[v, u]).max() < 1e-6
    assert np.abs(project(cloud, cam) - np.stack([u, v], 1)).max() < 0.01
    # and differ from the pinhole rays of K by as much as the lens moves the border
    pinhole = backproject(depth, CameraModel(640, 480, 600.0, 600.0, 330.0, 235.0))[v, u]
    assert np.abs(project(pinhole, cam) - np.stack([u, v], 1)).max() > 5.0 and distortion_shift(cam) > 5.0


def test_frame_rejects_mismatched_sizes():
    color = np.zeros((6, 8, 3), np.uint8)
    with pytest.raises(ValueError, match='color and depth sizes differ: color 8x6, depth 7x6'):
        RGBDFrame(color, np.zeros((6, 7), np.float32), CAM)
    with pytest.raises(ValueError, match='camera_info size 8x6 differs from image size 10x6'):
        RGBDFrame(np.zeros((6, 10, 3), np.uint8), np.zeros((6, 10), np.float32), CAM)
    with pytest.raises(ValueError, match='float32'):
        RGBDFrame(color, np.zeros((6, 8), np.uint16), CAM)


def test_points_beyond_the_lens_field_project_outside_the_image():
    """A barrel polynomial folds back far outside the field it was calibrated on (k1 -0.25: a ray at 63 degrees
    would land on the image centre); such points must not count as seen."""
    cam = CameraModel(640, 480, 600.0, 600.0, 320.0, 240.0, 'plumb_bob', (-0.25, 0.0, 0.0, 0.0, 0.0))
    u, v = project(np.array([[2.0, 0.0, 1.0], [0.3, 0.2, 1.0]]), cam).T
    assert not (0 <= u[0] < 640 and 0 <= v[0] < 480)
    assert 0 <= u[1] < 640 and 0 <= v[1] < 480

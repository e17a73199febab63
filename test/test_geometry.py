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
    with pytest.raises(ValueError, match="missing the field 'k'"):
        camera_from_camera_info({'width': 1, 'height': 1})


def test_distorted_camera_info_warns(tmp_path, caplog):
    cam = camera_from_K(np.eye(3) * 500 + np.array([[0, 0, 320], [0, 0, 240], [0, 0, -499]]), 640, 480,
                        distortion=[0.1, -0.05, 0, 0, 0], distortion_model='plumb_bob')
    path = tmp_path / 'distorted.yaml'
    path.write_text(camera_info_yaml(cam))
    with caplog.at_level(logging.WARNING):
        load_camera_info_yaml(path)
    assert 'lens distortion (plumb_bob) moves the image border by up to' in caplog.text and 'rectified' in caplog.text


def test_lens_distortion_is_measured_at_the_image_border():
    from seg_perception.geometry import distortion_shift, distortion_warning
    pinhole = dict(width=640, height=480, fx=600.0, fy=600.0, cx=320.0, cy=240.0)
    assert distortion_shift(CameraModel(**pinhole)) == 0.0
    assert distortion_shift(CameraModel(**pinhole, distortion_model='plumb_bob', distortion=(0.0,) * 5)) == 0.0
    # barrel distortion k1 = -0.05: a corner 400 px from the centre (0.67 of f) moves by about 0.05 * 0.44 * 400 px
    barrel = CameraModel(**pinhole, distortion_model='plumb_bob', distortion=(-0.05, 0.0, 0.0, 0.0, 0.0))
    assert 6.0 < distortion_shift(barrel) < 12.0 and 'px' in distortion_warning(barrel)
    # coefficients a calibration leaves on a practically rectified image: no warning
    tiny = CameraModel(**pinhole, distortion_model='plumb_bob', distortion=(1e-4, -1e-4, 0.0, 0.0, 0.0))
    assert distortion_shift(tiny) < 0.1 and distortion_warning(tiny) is None
    # a model OpenCV does not know cannot be measured: warned about
    odd = CameraModel(**pinhole, distortion_model='mystery', distortion=(0.1,))
    assert distortion_shift(odd) is None and 'cannot measure' in distortion_warning(odd)


def test_frame_rejects_mismatched_sizes():
    color = np.zeros((6, 8, 3), np.uint8)
    with pytest.raises(ValueError, match='color and depth sizes differ: color 8x6, depth 7x6'):
        RGBDFrame(color, np.zeros((6, 7), np.float32), CAM)
    with pytest.raises(ValueError, match='camera_info size 8x6 differs from image size 10x6'):
        RGBDFrame(np.zeros((6, 10, 3), np.uint8), np.zeros((6, 10), np.float32), CAM)
    with pytest.raises(ValueError, match='float32'):
        RGBDFrame(color, np.zeros((6, 8), np.uint16), CAM)

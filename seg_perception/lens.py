"""Lens distortion of the colour camera that depth is aligned to.

A camera_info may describe unrectified images (an Azure Kinect driver publishes them so): a pixel then lies on
the ray its undistorted coordinates give, not on the pinhole ray of K. The ROS models ``plumb_bob`` and
``rational_polynomial`` (OpenCV's radial-tangential model with 4, 5 or 8 coefficients) and ``equidistant``
(OpenCV's fisheye model, 4 coefficients) are corrected exactly: back-projection uses a per-pixel ray map
(computed once per camera model), projection applies the model forward. Other models are used as if rectified,
with a warning.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional, Tuple

import numpy as np
import torch

from .types import CameraModel

_RADIAL_MODELS, _RADIAL_COUNTS = ('', 'plumb_bob', 'rational_polynomial'), (4, 5, 8)
_FISHEYE_MODELS = ('equidistant', 'fisheye')


def lens_model(camera: CameraModel) -> Optional[str]:
    """'radial' or 'fisheye' for a distortion corrected here, None for none at all; 'other' for a model that is
    not handled."""
    values = camera.distortion
    if not any(values):
        return None
    model = camera.distortion_model.lower()
    if model in _RADIAL_MODELS and len(values) in _RADIAL_COUNTS:
        return 'radial'
    if model in _FISHEYE_MODELS and len(values) >= 4 and not any(values[4:]):
        return 'fisheye'
    return 'other'


def is_handled(camera: CameraModel) -> bool:
    """No distortion, or a model corrected exactly here."""
    return lens_model(camera) != 'other'


def _coefficients(camera: CameraModel) -> np.ndarray:
    """The radial model's eight coefficients (k1, k2, p1, p2, k3, k4, k5, k6), or the fisheye model's four."""
    values = np.asarray(camera.distortion, dtype=np.float64)
    if lens_model(camera) == 'fisheye':
        return values[:4]
    return np.concatenate([values, np.zeros(8 - values.size)])


@lru_cache(maxsize=8)
def pixel_rays(camera: CameraModel) -> Optional[np.ndarray]:
    """(H, W, 2) float32 undistorted normalized coordinates (x/z, y/z) of every pixel's ray, or None for a
    camera whose pixels lie on their pinhole rays (or whose model is not handled)."""
    import cv2
    model = lens_model(camera)
    if model not in ('radial', 'fisheye'):
        return None
    u, v = np.meshgrid(np.arange(camera.width, dtype=np.float64), np.arange(camera.height, dtype=np.float64))
    pixels = np.stack([u, v], -1).reshape(-1, 1, 2)
    undistort = cv2.fisheye.undistortPoints if model == 'fisheye' else cv2.undistortPoints
    rays = undistort(pixels, camera.K, _coefficients(camera))[:, 0]
    rays = rays.reshape(camera.height, camera.width, 2).astype(np.float32)
    rays.setflags(write=False)   # shared by every frame of this camera
    return rays


@lru_cache(maxsize=8)
def rays_tensor(camera: CameraModel, device: torch.device) -> Optional[torch.Tensor]:
    """:func:`pixel_rays` on a device (uploaded once per camera model)."""
    rays = pixel_rays(camera)
    return None if rays is None else torch.from_numpy(rays.copy()).to(device)


_BEYOND_FIELD = 1e6   # pixel coordinate given to points outside the lens's calibrated field (never in an image)


@lru_cache(maxsize=8)
def _field_limit(camera: CameraModel) -> float:
    """Squared tangent of the widest pixel ray, with a fifth of margin: a calibrated distortion polynomial holds
    within the image's field of view and may fold back far outside it."""
    rays = pixel_rays(camera)
    return 1.2 * float((rays.astype(np.float64) ** 2).sum(-1).max())


def project_torch(points: torch.Tensor, camera: CameraModel) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Image coordinates (u, v, unrounded) of (..., 3) camera-frame points through the camera's lens, and their
    depth (at least 1 mm). With lens distortion, points well outside the field of view land far outside the
    image."""
    z = points[..., 2].clamp_min(1e-3)
    x, y = points[..., 0] / z, points[..., 1] / z
    model = lens_model(camera)
    if model not in ('radial', 'fisheye'):
        return x * camera.fx + camera.cx, y * camera.fy + camera.cy, z
    r2 = x * x + y * y
    if model == 'fisheye':   # the angle from the axis is what the polynomial bends
        k1, k2, k3, k4 = _coefficients(camera).tolist()
        r = torch.sqrt(r2)
        theta = torch.atan(r)
        t2 = theta * theta
        bent = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
        scale = torch.where(r > 1e-12, bent / r.clamp_min(1e-12), torch.ones_like(r))
        xd, yd = x * scale, y * scale
    else:
        k1, k2, p1, p2, k3, k4, k5, k6 = _coefficients(camera).tolist()
        radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
        xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    outside = r2 > _field_limit(camera)
    u = torch.where(outside, torch.full_like(xd, -_BEYOND_FIELD), xd * camera.fx + camera.cx)
    v = torch.where(outside, torch.full_like(yd, -_BEYOND_FIELD), yd * camera.fy + camera.cy)
    return u, v, z


def distortion_shift(camera: CameraModel) -> float:
    """How far (pixels) the lens moves points along the image border, where distortion is largest, from where
    the pinhole model of K puts them (0 without distortion or for a model not handled here)."""
    rays = pixel_rays(camera)
    if rays is None:
        return 0.0
    w, h = camera.width - 1, camera.height - 1
    u, v = np.arange(w + 1.0), np.arange(h + 1.0)
    pixels = np.concatenate([np.stack([u, 0 * u], 1), np.stack([u, h + 0 * u], 1),
                             np.stack([0 * v, v], 1), np.stack([w + 0 * v, v], 1)])
    border = np.concatenate([rays[0], rays[-1], rays[:, 0], rays[:, -1]])
    pinhole = border * [camera.fx, camera.fy] + [camera.cx, camera.cy]   # where K alone puts each border ray
    return float(np.linalg.norm(pinhole - pixels, axis=1).max())


def distortion_warning(camera: CameraModel) -> Optional[str]:
    """A warning for a distortion model this package does not correct (its images are used as if rectified),
    else None."""
    if is_handled(camera):
        return None
    return (f"the camera's lens model {camera.distortion_model or '(unnamed)'!r} with {len(camera.distortion)} "
            'coefficients is not corrected here (plumb_bob, rational_polynomial and equidistant are): the images '
            'are used as if rectified (pinhole K), so 3-D points and grasps drift towards the image edges; feed '
            'rectified colour and depth (for example through image_proc)')

"""Camera models, depth units and back-projection (numpy and torch, any device).

Optical frame (REP 103): x right, y down, z forward; metres.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import yaml

from .lens import distortion_warning, project_torch, rays_tensor
from .types import CameraModel

log = logging.getLogger(__name__)

# REP 118: 16-bit depth images are in millimetres.
MILLIMETRES = 0.001


def camera_from_K(K: Union[np.ndarray, Sequence[float]], width: int, height: int,
                  distortion: Sequence[float] = (), distortion_model: str = '') -> CameraModel:
    K = np.asarray(K, dtype=float).reshape(3, 3)
    return CameraModel(width=int(width), height=int(height), fx=float(K[0, 0]), fy=float(K[1, 1]),
                       cx=float(K[0, 2]), cy=float(K[1, 2]), distortion_model=distortion_model,
                       distortion=tuple(float(x) for x in distortion))


def binned_camera(camera: CameraModel, binning_x: int = 0, binning_y: int = 0,
                  roi: Sequence[int] = (0, 0, 0, 0)) -> CameraModel:
    """The model of the images a camera_info with binning and a region of interest describes (REP 104): its K and
    size are the whole sensor's, its images the ``roi`` (x_offset, y_offset, width, height; all zero: the whole
    sensor) with every ``binning_x`` x ``binning_y`` block of pixels combined (0 counts as 1), as image_proc's
    crop_decimate publishes them. K is adjusted as image_geometry adjusts it."""
    bx, by = max(1, int(binning_x)), max(1, int(binning_y))
    x0, y0, w, h = (int(v) for v in roi)
    if (x0, y0, w, h) == (0, 0, 0, 0):
        w, h = camera.width, camera.height
    if bx == by == 1 and (x0, y0, w, h) == (0, 0, camera.width, camera.height):
        return camera
    if w <= 0 or h <= 0 or x0 < 0 or y0 < 0 or x0 + w > camera.width or y0 + h > camera.height:
        raise ValueError(f'camera_info roi (x_offset {x0}, y_offset {y0}, {w}x{h}) does not lie within its '
                         f'{camera.width}x{camera.height} sensor')
    if w < bx or h < by:
        raise ValueError(f'camera_info binning {bx}x{by} leaves no pixel of its {w}x{h} region')
    return replace(camera, width=w // bx, height=h // by, fx=camera.fx / bx, fy=camera.fy / by,
                   cx=(camera.cx - x0) / bx, cy=(camera.cy - y0) / by)


def camera_from_intrinsics(fx: float, fy: float, cx: float, cy: float, width: int, height: int) -> CameraModel:
    return CameraModel(width=int(width), height=int(height), fx=float(fx), fy=float(fy), cx=float(cx), cy=float(cy))


def _matrix_data(entry: Any) -> list:
    """camera_calibration_parsers writes {rows, cols, data}; a message dump writes a flat list."""
    if isinstance(entry, Mapping):
        return list(entry['data'])
    return list(entry)


def camera_from_camera_info(info: Mapping[str, Any]) -> CameraModel:
    """From a camera_info mapping: the ROS calibration YAML (camera_matrix, image_width, ...) or a
    sensor_msgs/CameraInfo dump (k, d, width, height, ...)."""
    try:
        if 'camera_matrix' in info:
            K = _matrix_data(info['camera_matrix'])
            width, height = info['image_width'], info['image_height']
            dist = _matrix_data(info.get('distortion_coefficients', {'data': []}))
        else:
            K = _matrix_data(info['k'])
            width, height = info['width'], info['height']
            dist = _matrix_data(info.get('d', []))
        model = str(info.get('distortion_model', '') or '')
        roi = info.get('roi') or {}
        roi = tuple(int(roi.get(k, 0)) for k in ('x_offset', 'y_offset', 'width', 'height'))
        binning = int(info.get('binning_x', 0) or 0), int(info.get('binning_y', 0) or 0)
    except KeyError as exc:
        raise ValueError(f'camera_info is missing the field {exc.args[0]!r}') from None
    if len(K) != 9:
        raise ValueError(f'camera_info camera matrix must have 9 entries, got {len(K)}')
    return binned_camera(camera_from_K(K, width, height, dist, model), *binning, roi)


def load_camera_info_yaml(path: Union[str, Path]) -> CameraModel:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'camera_info file not found: {path}')
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, Mapping):
        raise ValueError(f'{path}: not a camera_info YAML mapping')
    camera = camera_from_camera_info(data)
    warn_if_distorted(camera, source=str(path))
    return camera


def camera_info_yaml(camera: CameraModel, camera_name: str = 'camera') -> str:
    """The ROS calibration YAML (camera_calibration_parsers layout) for ``camera``."""
    K = camera.K.reshape(-1).tolist()
    P = [camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    dist = list(camera.distortion) or [0.0] * 5
    data = {
        'image_width': camera.width,
        'image_height': camera.height,
        'camera_name': camera_name,
        'camera_matrix': {'rows': 3, 'cols': 3, 'data': K},
        'distortion_model': camera.distortion_model or 'plumb_bob',
        'distortion_coefficients': {'rows': 1, 'cols': len(dist), 'data': dist},
        'rectification_matrix': {'rows': 3, 'cols': 3, 'data': [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]},
        'projection_matrix': {'rows': 3, 'cols': 4, 'data': P},
    }
    return yaml.safe_dump(data, sort_keys=False)


def warn_if_distorted(camera: CameraModel, source: str = 'camera_info') -> bool:
    """Log :func:`lens.distortion_warning` for a lens model the pipeline cannot correct."""
    text = distortion_warning(camera)
    if text:
        log.warning('%s: %s', source, text)
    return text is not None


def depth_to_metres(depth: np.ndarray, scale: Optional[float] = None, min_depth: float = 0.0,
                    max_depth: float = float('inf')) -> np.ndarray:
    """float32 metres with 0 marking invalid pixels.

    uint16 depth is multiplied by ``scale`` (default: millimetres, REP 118); float depth is taken as
    metres (times ``scale`` if given). 0, NaN, inf, negatives and values outside [min_depth, max_depth]
    become 0.
    """
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f'depth must be a 2-D image, got shape {depth.shape}')
    if np.issubdtype(depth.dtype, np.integer):
        metres = depth.astype(np.float32) * np.float32(MILLIMETRES if scale is None else scale)
    elif np.issubdtype(depth.dtype, np.floating):
        metres = depth.astype(np.float32, copy=True)
        if scale is not None:
            metres *= np.float32(scale)
    else:
        raise ValueError(f'depth must be an integer or float image, got dtype {depth.dtype}')
    valid = np.isfinite(metres) & (metres > 0) & (metres >= min_depth) & (metres <= max_depth)
    metres[~valid] = 0.0
    return metres


def backproject_torch(depth: torch.Tensor, camera: CameraModel) -> torch.Tensor:
    """(H, W) depth in metres on any device -> (H, W, 3) organized points in the camera frame, along each pixel's
    ray through the lens (lens.py). Invalid pixels (depth 0) map to the origin."""
    h, w = depth.shape
    if (h, w) != (camera.height, camera.width):
        raise ValueError(f'depth size {w}x{h} differs from camera size {camera.width}x{camera.height}')
    rays = rays_tensor(camera, depth.device)
    if rays is not None:
        rays = rays.to(depth.dtype)
        return torch.stack((rays[..., 0] * depth, rays[..., 1] * depth, depth), dim=-1)
    u = torch.arange(w, device=depth.device, dtype=depth.dtype)
    v = torch.arange(h, device=depth.device, dtype=depth.dtype)
    x = (u[None, :] - camera.cx) / camera.fx * depth
    y = (v[:, None] - camera.cy) / camera.fy * depth
    return torch.stack((x, y, depth), dim=-1)


def backproject(depth: np.ndarray, camera: CameraModel) -> np.ndarray:
    """numpy front end of :func:`backproject_torch` (shares memory on the CPU, no copy of the result)."""
    tensor = torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32))
    return backproject_torch(tensor, camera).numpy()


def project(points: np.ndarray, camera: CameraModel) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixel coordinates (u, v), through the camera's lens."""
    u, v, _ = project_torch(torch.from_numpy(np.asarray(points, dtype=np.float64)), camera)
    return torch.stack((u, v), dim=1).numpy()


def estimate_normals(points: torch.Tensor, valid: torch.Tensor, step: int = 2, smooth: int = 2,
                     max_jump: float = 0.03) -> torch.Tensor:
    """Per-pixel unit normals (H, W, 3) of an organized point map, pointing towards the camera.

    Central differences ``step`` pixels apart on a ``smooth``-radius mean of the valid points (averaging tames
    stereo noise); pixels whose neighbourhood crosses a depth jump larger than ``max_jump`` per metre of depth
    (or lacks depth) get a zero normal.
    """
    from .imageops import box_sum, cross3, dot3, norm3
    h, w, _ = points.shape
    weight = valid.to(points.dtype)
    p = points.permute(2, 0, 1)
    if smooth > 0:
        p = box_sum(p * weight, smooth) / box_sum(weight, smooth).clamp_min(1e-6)
    s = step
    dx = torch.zeros_like(p)
    dy = torch.zeros_like(p)
    dx[:, :, s:w - s] = p[:, :, 2 * s:] - p[:, :, :-2 * s]
    dy[:, s:h - s] = p[:, 2 * s:] - p[:, :-2 * s]
    n = cross3(dx, dy, dim=0)
    n = n / norm3(n, dim=0).clamp_min(1e-12)
    n = torch.where(dot3(n, p, dim=0) > 0, -n, n)  # towards the camera: n . p < 0
    ok = torch.zeros_like(valid)
    ok[s:h - s, s:w - s] = (valid[s:h - s, 2 * s:] & valid[s:h - s, :-2 * s] & valid[2 * s:, s:w - s]
                            & valid[:-2 * s, s:w - s])
    limit = max_jump * 2 * s * p[2].clamp_min(0.1)
    ok &= valid & (dx[2].abs() < limit) & (dy[2].abs() < limit)
    return (n * ok).permute(1, 2, 0)


def plane_basis(normal: torch.Tensor):
    """Two unit vectors spanning the plane orthogonal to ``normal`` (deterministic)."""
    helper = torch.tensor([1.0, 0.0, 0.0], dtype=normal.dtype, device=normal.device)
    alt = torch.tensor([0.0, 0.0, 1.0], dtype=normal.dtype, device=normal.device)
    helper = torch.where(normal[0].abs() < 0.9, helper, alt)
    e1 = torch.linalg.cross(normal, helper)
    e1 = e1 / e1.norm()
    return e1, torch.linalg.cross(normal, e1)


def oriented_box(points: np.ndarray, up: Optional[np.ndarray] = None):
    """(center, extent, rotation) of a box around (N, 3) points; rotation columns are the box axes.

    With ``up`` the box stands upright (third axis = up) and turns about it to the principal direction of the
    footprint, as an object resting on a table would; without it the axes are the principal axes.
    """
    points = np.asarray(points, dtype=np.float64)
    centroid = points.mean(0)
    centred = points - centroid
    if up is not None:
        up = np.asarray(up, float) / np.linalg.norm(up)
        flat = centred - np.outer(centred @ up, up)
        _, vecs = np.linalg.eigh(flat.T @ flat)
        a = vecs[:, 2] - (vecs[:, 2] @ up) * up
        a /= np.linalg.norm(a)
        axes = np.stack([a, np.cross(up, a), up], 1)
    else:
        _, vecs = np.linalg.eigh(centred.T @ centred)
        axes = vecs[:, ::-1].copy()
        if np.linalg.det(axes) < 0:
            axes[:, 2] *= -1
    local = centred @ axes
    lo, hi = local.min(0), local.max(0)
    center = centroid + axes @ ((lo + hi) / 2)
    return center, hi - lo, axes


def quaternion_from_matrix(R: np.ndarray) -> np.ndarray:
    """(x, y, z, w) unit quaternion of a rotation matrix."""
    R = np.asarray(R, dtype=np.float64)
    w = np.sqrt(max(0.0, 1 + R[0, 0] + R[1, 1] + R[2, 2])) / 2
    x = np.sqrt(max(0.0, 1 + R[0, 0] - R[1, 1] - R[2, 2])) / 2
    y = np.sqrt(max(0.0, 1 - R[0, 0] + R[1, 1] - R[2, 2])) / 2
    z = np.sqrt(max(0.0, 1 - R[0, 0] - R[1, 1] + R[2, 2])) / 2
    x = np.copysign(x, R[2, 1] - R[1, 2])
    y = np.copysign(y, R[0, 2] - R[2, 0])
    z = np.copysign(z, R[1, 0] - R[0, 1])
    q = np.array([x, y, z, w])
    return q / np.linalg.norm(q)


def matrix_from_quaternion(q) -> np.ndarray:
    """Rotation matrix of an (x, y, z, w) unit quaternion."""
    x, y, z, w = (float(v) for v in q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])

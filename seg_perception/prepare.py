"""A frame uploaded once to the pipeline's device, with what every stage shares (points, normals)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Optional

import numpy as np
import torch

from .geometry import backproject_torch, estimate_normals
from .types import CameraModel, RGBDFrame

log = logging.getLogger(__name__)


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without a GPU is an error that says so."""
    if name == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if name == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but torch sees no CUDA device; use 'auto' or 'cpu'")
    return torch.device(name)


@dataclass(frozen=True, eq=False)
class PreparedFrame:
    """Stages work on every ``stride``-th pixel of the frame (``camera`` describes that grid);
    the pipeline brings their labels back to full resolution."""

    frame: RGBDFrame
    device: torch.device
    stride: int
    camera: CameraModel
    depth: torch.Tensor     # (H, W) float32 m, 0 = invalid
    valid: torch.Tensor     # (H, W) bool
    points: torch.Tensor    # (H, W, 3) camera frame
    normals: torch.Tensor   # (H, W, 3) unit towards the camera, 0 where unknown (2 grid pixels either side)
    color: torch.Tensor     # (H, W, 3) uint8
    up_hint: Optional[torch.Tensor]  # (3,) world up in the camera frame when known
    surface_normals: torch.Tensor   # (H, W, 3) over a wider window on fine grids (surface_normal_window), else
                                    # the same tensor as normals

    @property
    def shape(self):
        return self.depth.shape

    @cached_property
    def normal_unknown(self) -> torch.Tensor:
        """(H, W) pixels without a normal (next to a depth jump or a pixel without depth)."""
        return self.normals.abs().sum(-1) == 0


def pixel_areas(pf: PreparedFrame) -> torch.Tensor:
    """(H, W) surface area (m^2) each pixel of the grid covers, as if the surface faced the camera."""
    return pf.depth * pf.depth / (pf.camera.fx * pf.camera.fy)


def region_areas(pf: PreparedFrame, labels: torch.Tensor, count: int) -> torch.Tensor:
    """(count+1,) visible surface area (m^2, as if facing the camera) of each region of ``labels`` (0..count)."""
    return torch.bincount(labels.view(-1), weights=pixel_areas(pf).view(-1), minlength=count + 1)


# On the CPU the grid's focal length may drop to this (pixels): what matters for small objects is how many pixels they
# cover, and 640x480 at fx 615 on every second pixel is the tested budget. A 1280x720 colour stream with fx 910
# (RealSense D435) then runs on every third pixel: Overlap F 0.924 vs 0.929 on every second, 1.6x faster; GraspNet's
# 1280x720 frames with fx 631 stay on every second pixel (every third: F 0.743 vs 0.877).
_CPU_GRID_FOCAL = 300.0
# Every second pixel only while the grid keeps this focal length (pixels): a wide-angle 640x480 stream (fx 380, a
# RealSense D455) on every second pixel scored Overlap F 0.924 against 0.948 on every pixel (40 synthetic frames).
_CPU_HALF_FOCAL = 250.0
# The surfaces' normals span two grid pixels either side per this many pixels of the grid's focal length.
_SURFACE_NORMAL_FOCAL = 150.0


def processing_stride(setting: int, fx: float, device: torch.device) -> int:
    """0 = automatic: every pixel on a GPU; on the CPU every second pixel where the grid's focal length stays at
    least _CPU_HALF_FOCAL (640x480 at fx 615: the 50 ms budget on two cores), coarser while it stays at least
    _CPU_GRID_FOCAL (how many pixels an object covers depends on the focal length, not the image's size)."""
    if setting > 0:
        return setting
    if device.type != 'cpu':
        return 1
    return max(2 if fx >= 2 * _CPU_HALF_FOCAL else 1, int(fx // _CPU_GRID_FOCAL))


def surface_normal_window(grid_fx: float) -> int:
    """Pixels either side (difference step and smoothing radius) of the normals that tell surfaces apart, on a
    grid of focal length ``grid_fx``: 2 at the focal lengths the CPU grids keep (250-450 px), wider on finer
    grids so that they span about the same angle of view. On every pixel of a Kinect's 720p frame (fx 631) a
    2-pixel window spans 3 mm of table at 1 m, where 1 mm depth steps tilt the normals by 20 deg and more, and a
    tenth of the table failed the support's normal test. The surfaces take either normal (planes.normals_agree):
    the wide ones blur a table's edge. Objects keep the 2-pixel normals: their creases need the fine ones."""
    return max(2, int(grid_fx // _SURFACE_NORMAL_FOCAL))


def strided_camera(camera: CameraModel, stride: int) -> CameraModel:
    """Intrinsics of the grid of every ``stride``-th pixel (pixel u of the grid is pixel stride*u)."""
    if stride == 1:
        return camera
    return CameraModel(width=-(-camera.width // stride), height=-(-camera.height // stride), fx=camera.fx / stride,
                       fy=camera.fy / stride, cx=camera.cx / stride, cy=camera.cy / stride,
                       distortion_model=camera.distortion_model, distortion=camera.distortion)


def depth_out_of_range(depth: np.ndarray, min_depth: float, max_depth: float) -> Optional[str]:
    """Why a depth image (metres) with measurements gives nothing to work on, or None: when none of its values
    lies within the depth range, most likely the units are wrong (millimetres read as metres, or a wrong scale)."""
    with np.errstate(invalid='ignore'):   # NaN marks missing depth
        for sample in (depth[::4, ::4], depth):   # every 16th pixel settles it for almost every frame
            if bool(((sample >= min_depth) & (sample <= max_depth)).any()):
                return None
    measured = depth[np.isfinite(depth) & (depth > 0)]
    if measured.size == 0:
        return None
    return (f'no depth value lies within depth.min..depth.max ({min_depth:g}-{max_depth:g} m): the median is '
            f'{float(np.median(measured)):.4g} m. Wrong units? 16UC1 depth must be millimetres, 32FC1 metres '
            '(segment: --depth-scale); or widen the range')


def clip_depth(depth: torch.Tensor, min_depth: float, max_depth: float) -> torch.Tensor:
    return torch.where((depth >= min_depth) & (depth <= max_depth), depth, torch.zeros_like(depth))


def prepare_frame(frame: RGBDFrame, device: torch.device, min_depth: float, max_depth: float,
                  up_vector=None, stride: int = 1) -> PreparedFrame:
    """Upload colour and depth once; back-project and estimate normals on the device.

    The up vector comes from ``up_vector`` (configuration), else from the frame's camera_to_base extrinsics.
    With ``stride`` > 1 the stages see every stride-th pixel (measured values, never averaged across edges).
    """
    depth = torch.from_numpy(frame.depth[::stride, ::stride]).to(device, non_blocking=True)
    depth = clip_depth(depth, min_depth, max_depth)
    valid = depth > 0
    camera = strided_camera(frame.camera, stride)
    points = backproject_torch(depth, camera)
    normals = estimate_normals(points, valid)
    window = surface_normal_window(camera.fx)
    surface_normals = normals if window == 2 else estimate_normals(points, valid, step=window, smooth=window)
    up = None
    if up_vector is not None and len(up_vector) == 3:
        up = np.asarray(up_vector, dtype=np.float32)
    elif frame.camera_to_base is not None:
        # base z axis expressed in the camera frame: R_base_camera^T e_z
        up = np.asarray(frame.camera_to_base, dtype=np.float32)[2, :3]
    up_t = None
    if up is not None:
        norm = float(np.linalg.norm(up))
        if norm < 1e-6:
            raise ValueError('the up vector must not be zero')
        up_t = torch.from_numpy(up / norm).to(device)
    color = torch.from_numpy(np.ascontiguousarray(frame.color[::stride, ::stride])).to(device, non_blocking=True)
    return PreparedFrame(frame, device, stride, camera, depth, valid, points, normals, color, up_t, surface_normals)

"""What the camera saw of a grasp's surroundings: where an object leaves the image or goes on behind a nearer
neighbour (no jaw closes there: the object may go on out of view), whether the fingers stay in space the camera
saw as empty rather than behind a surface it measured, and which points it saw past (a round outline's far half
must not lie there).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ..config import GraspConfig
from ..lens import project_torch

if TYPE_CHECKING:
    from .planner import GraspScene

_BORDER_PIXELS = 2         # object points this close to the image border (pixels of the processed grid), or a
                           # voxel of their cloud if that is more, may be where the object leaves the view (voxel
                           # averaging pulls them up to a voxel inwards)
_OCCLUSION_STEP = 0.05     # m: a neighbour this much nearer the camera next to an object may hide part of it
_HIDDEN_TOLERANCE = 0.01   # m: points farther than this behind the surface the camera sees are in space it could
                           # not see into (the far side of an object may be there); points this far in front of
                           # it, in space it saw as empty (depth noise and voxels stay within it)


def border_reach(spacing: float, cloud_voxel: float) -> int:
    """How far (pixels of the processed grid) the outermost points of an object seen at ``spacing`` m per pixel
    may lie from where it leaves the view: _BORDER_PIXELS, or a voxel of its cloud if that is more (on every
    pixel of a 640x480 frame a 5 mm voxel at 0.5 m spans 6)."""
    if spacing <= 0:
        return _BORDER_PIXELS
    return max(_BORDER_PIXELS, math.ceil(cloud_voxel / spacing))


def behind_neighbour(view: 'GraspScene', pts: torch.Tensor, target: torch.Tensor, edge_px: int) -> torch.Tensor:
    """(N,) whether each point (of the object labelled ``target`` (N,)) lies within ``edge_px`` pixels of another
    object's pixel that is nearer the camera by more than _OCCLUSION_STEP: the object may go on hidden behind
    that one there."""
    if view.camera is None:
        return torch.zeros(pts.shape[0], dtype=torch.bool, device=pts.device)
    h, w = view.depth.shape
    u, v, z = project_torch(pts, view.camera)
    steps = torch.arange(-edge_px, edge_px + 1, device=pts.device)
    du, dv = (t.reshape(-1) for t in torch.meshgrid(steps, steps, indexing='ij'))
    uu = (u.round().long()[:, None] + du[None]).clamp(0, w - 1)                          # (N, window)
    vv = (v.round().long()[:, None] + dv[None]).clamp(0, h - 1)
    depth, labels = view.depth.to(pts.device)[vv, uu], view.labels.to(pts.device)[vv, uu]
    nearer = (labels > 0) & (labels != target[:, None]) & (depth > 0) & (depth < z[:, None] - _OCCLUSION_STEP)
    return nearer.any(1)


def at_image_border(view: 'GraspScene', pts: torch.Tensor, edge_px) -> torch.Tensor:
    """(N,) whether each point lies within ``edge_px`` pixels (one count, or (N,) one per point) of the border
    of the image it was seen in."""
    if view.camera is None:
        return torch.zeros(pts.shape[0], dtype=torch.bool, device=pts.device)
    h, w = view.depth.shape
    u, v, _ = project_torch(pts, view.camera)
    return (u < edge_px) | (u > w - 1 - edge_px) | (v < edge_px) | (v > h - 1 - edge_px)


def _measured_at(view: 'GraspScene', pts: torch.Tensor):
    """For (..., 3) points: the pixel each projects to (row, column, clamped into the image), whether that lies
    inside the image, the depth measured there (0 = none) and the points' own depth."""
    h, w = view.depth.shape
    u, v, z = project_torch(pts, view.camera)
    u, v = u.round().long(), v.round().long()
    inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    v, u = v.clamp(0, h - 1), u.clamp(0, w - 1)
    return v, u, inside, view.depth.to(pts.device)[v, u], z


def seen_through(view: 'GraspScene', pts: torch.Tensor) -> torch.Tensor:
    """(N,) whether the camera saw past each point: its pixel measured a surface more than _HIDDEN_TOLERANCE
    farther away, so the point lies in space seen as empty (False without a camera, outside the image or where
    the pixel has no depth)."""
    if view.camera is None:
        return torch.zeros(pts.shape[0], dtype=torch.bool, device=pts.device)
    _, _, inside, seen, z = _measured_at(view, pts)
    return inside & (seen > 0) & (seen > z + _HIDDEN_TOLERANCE)


def fingers_seen(view: 'GraspScene', cfg: GraspConfig, rot, origin, width, top_edge,
                 target: torch.Tensor) -> torch.Tensor:
    """Whether every sample point of both fingers lies in space the camera saw as empty: in front of the
    measured depth at its pixel (or where there is no measurement), not hidden behind a surface; a
    finger beyond a jaw whose extreme is the object's top edge (``top_edge`` (G, 2): +y, -y) may be hidden;
    ``target`` (G,): the label of the object each candidate grips."""
    if view.camera is None:
        return torch.ones_like(width, dtype=torch.bool)
    dev = width.device
    # per finger 3 x 3 samples along its depth (x) and width (z), on the finger's middle and on its inner face
    # (the object must not reach into space the fingers close over and the camera could not see behind it);
    # groups: +y finger, +y inner face, -y finger, -y inner face
    xs = torch.tensor([-0.9, -0.5, -0.1], device=dev) * cfg.finger_depth
    zs = torch.tensor([-0.5, 0.0, 0.5], device=dev) * cfg.finger_width
    gx, gz = (t.reshape(-1) for t in torch.meshgrid(xs, zs, indexing='ij'))               # (9,)
    side = torch.tensor([1.0, 1.0, -1.0, -1.0], device=dev)
    beyond = torch.tensor([cfg.finger_thickness / 2, -cfg.collision_margin] * 2, device=dev)
    gy = side * (width[:, None] / 2 + beyond)                                               # (G, 4)
    axes = rot.transpose(1, 2)                                                              # (G, 3 axes, 3)
    points = (origin[:, None, None] + gx[None, None, :, None] * axes[:, None, None, 0]
              + gy[:, :, None, None] * axes[:, None, None, 1]
              + gz[None, None, :, None] * axes[:, None, None, 2]).reshape(width.shape[0], -1, 3)
    n = gx.numel()
    allowed = top_edge[:, [0, 0, 1, 1]].repeat_interleave(n, 1)                           # (G, 36)
    inner = torch.tensor([False, True, False, True], device=dev).repeat_interleave(n)      # (36,)
    v, u, inside, seen, z = _measured_at(view, points)
    hidden = inside & (seen > 0) & (z > seen + _HIDDEN_TOLERANCE) & ~allowed
    # behind a neighbour, the gap is unknown but the target was measured up to its visible edge there
    hidden &= ~inner[None] | (view.labels[v, u] == target[:, None])
    return ~hidden.any(1)

"""The workspace box (``workspace.*``): only points inside it can belong to objects.

A pick area on a larger table, the inside of a tote (whose walls would otherwise stand on the support like
objects), a table without the robot's side: pixels outside the box keep their surface class but are never object
pixels. The support surface is still found on the whole view, and the grasp planner still counts every point
outside the box as an obstacle.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional, Sequence

import numpy as np
import torch

from .config import WorkspaceConfig
from .types import SURFACE_OBJECT, SURFACE_OTHER, SurfaceResult


class WorkspaceBox:
    """An axis-aligned box [lower, upper] (m) in the camera optical frame, or in a base frame given the camera's
    pose there (``camera_to_box``, 4x4)."""

    def __init__(self, lower: Sequence[float], upper: Sequence[float], camera_to_box: Optional[np.ndarray] = None):
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        if self.lower.shape != (3,) or self.upper.shape != (3,) or not np.all(self.lower < self.upper):
            raise ValueError(f'a workspace box needs lower < upper in x, y and z, got {lower} and {upper}')
        self.camera_to_box = None if camera_to_box is None else np.asarray(camera_to_box, dtype=np.float64)

    @classmethod
    def from_config(cls, cfg: WorkspaceConfig, camera_to_base: Optional[np.ndarray]) -> Optional['WorkspaceBox']:
        """The configured box, or None when none is set. ValueError when it is in the base frame and there is
        no camera pose."""
        if not cfg.min:
            return None
        if cfg.frame == 'base' and camera_to_base is None:
            raise ValueError("workspace.frame is 'base' but the camera pose in the base frame is not known "
                             '(set extrinsics.camera_pose, or give frames their camera_to_base)')
        return cls(cfg.min, cfg.max, camera_to_base if cfg.frame == 'base' else None)

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """Which camera-frame points (..., 3) lie in the box."""
        p = points
        if self.camera_to_box is not None:
            T = torch.as_tensor(self.camera_to_box, dtype=points.dtype, device=points.device)
            p = points @ T[:3, :3].T + T[:3, 3]
        lower = torch.as_tensor(self.lower, dtype=points.dtype, device=points.device)
        upper = torch.as_tensor(self.upper, dtype=points.dtype, device=points.device)
        return ((p >= lower) & (p <= upper)).all(-1)

    def restrict(self, surfaces: SurfaceResult, points: torch.Tensor) -> SurfaceResult:
        """``surfaces`` (on the grid of ``points``) with no object pixel, and no raised candidate for one,
        outside the box; object pixels there become 'other'."""
        inside = self.contains(points)
        labels = torch.where((surfaces.labels == SURFACE_OBJECT) & ~inside,
                             torch.full_like(surfaces.labels, SURFACE_OTHER), surfaces.labels)
        raised = None if surfaces.raised is None else surfaces.raised & inside
        return replace(surfaces, labels=labels, raised=raised)

"""The support surface's outline: the convex polygon around its pixels in view, lying on its plane.

What a motion planner needs to keep the arm out of the table: extrude the polygon downwards into a collision
object. Objects standing on the table hide parts of it; the convex hull closes over them (tables are convex).
Where the table leaves the image the outline follows the edge of the view, not the table's.
"""
from __future__ import annotations

import numpy as np
import torch

from ..geometry import plane_basis
from ..types import Plane

_SIMPLIFY = 0.005   # m: outline vertices this close to the line through their neighbours are dropped


def support_outline(points: torch.Tensor, support: torch.Tensor, plane: Plane,
                    tolerance: float = _SIMPLIFY) -> np.ndarray:
    """(K, 3) vertices (camera frame, metres) of the convex outline of the organized ``points`` (H, W, 3) where
    ``support`` (H, W) is true, projected onto ``plane``; counter-clockwise seen from the side its normal
    points to (above the table). (0, 3) when there are fewer than three such points or they lie on a line."""
    empty = np.zeros((0, 3))
    if plane is None:
        return empty
    # hull vertices are among the first and last support pixels of each row and column: a few hundred points
    pts = torch.cat([_row_ends(points, support), _row_ends(points.transpose(0, 1), support.t())])
    if pts.shape[0] < 3:
        return empty
    normal = torch.as_tensor(np.asarray(plane.normal), dtype=pts.dtype, device=pts.device)
    e1, e2 = plane_basis(normal)   # e1 x e2 = normal
    uv = torch.stack([pts @ e1, pts @ e2], 1).cpu().numpy().astype(np.float64)
    ring = _convex_hull(uv)
    if len(ring) < 3:
        return empty
    ring = _simplify(ring, tolerance)
    e1, e2, n = (t.cpu().numpy().astype(np.float64) for t in (e1, e2, normal))
    return -float(plane.offset) * n + ring[:, :1] * e1 + ring[:, 1:] * e2


def _row_ends(points: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Points of the first and last true pixel of each row of ``mask`` that has one."""
    cols = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    first = torch.where(mask, cols, mask.shape[1]).amin(1)
    last = torch.where(mask, cols, -1).amax(1)
    rows = torch.nonzero(last >= 0).squeeze(1)
    return torch.cat([points[rows, first[rows]], points[rows, last[rows]]])


def _convex_hull(uv: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull vertices of 2-D points; fewer than three when they lie on a line."""
    import cv2
    flat = uv.astype(np.float32)
    index = cv2.convexHull(flat, clockwise=False, returnPoints=False)
    if index is None or len(index) < 3 or cv2.contourArea(flat[index.reshape(-1)]) <= 0:
        return uv[:0]
    return uv[index.reshape(-1)]


def _simplify(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Drop vertices within ``tolerance`` of the line through their two neighbours, the nearest first (never
    two neighbours at once): a convex polygon only loses thin slivers, and noise along straight edges goes."""
    while len(ring) > 3:
        before, after = np.roll(ring, 1, 0), np.roll(ring, -1, 0)
        chord = after - before
        offset = ring - before
        distance = np.abs(chord[:, 0] * offset[:, 1] - chord[:, 1] * offset[:, 0]) / \
            np.maximum(np.linalg.norm(chord, axis=1), 1e-12)
        # vertices nearer their line than both neighbours are to theirs (ties: the first) and within tolerance
        drop = (distance < tolerance) & (distance < np.roll(distance, 1)) & (distance <= np.roll(distance, -1))
        if not drop.any():
            drop = (distance < tolerance) & (distance == distance.min())
            if not drop.any():
                break
            drop &= np.cumsum(drop) == 1
        if len(ring) - int(drop.sum()) < 3:
            break
        ring = ring[~drop]
    return ring


def outline_area(outline: np.ndarray) -> float:
    """Area (m^2) of a planar polygon given by its (K, 3) vertices in order."""
    if outline is None or len(outline) < 3:
        return 0.0
    outline = np.asarray(outline, dtype=np.float64)
    return 0.5 * float(np.linalg.norm(np.cross(outline, np.roll(outline, -1, 0)).sum(0)))

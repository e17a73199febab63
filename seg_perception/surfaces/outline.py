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
    # only pixels on the region's border can be hull vertices: far fewer points for the hull
    inner = support.clone()
    inner[1:] &= support[:-1]
    inner[:-1] &= support[1:]
    inner[:, 1:] &= support[:, :-1]
    inner[:, :-1] &= support[:, 1:]
    border = support & ~inner
    border[0], border[-1], border[:, 0], border[:, -1] = support[0], support[-1], support[:, 0], support[:, -1]
    pts = points[border]
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


def _convex_hull(uv: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull vertices of 2-D points; none when they lie on a line."""
    from scipy.spatial import ConvexHull, QhullError
    try:
        return uv[ConvexHull(uv).vertices]   # counter-clockwise in 2-D
    except QhullError:
        return uv[:0]


def _simplify(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Drop, one at a time, the vertex nearest the line through its two neighbours while it is within
    ``tolerance``: a convex polygon only loses thin slivers, and noise along straight table edges goes."""
    while len(ring) > 3:
        before, after = np.roll(ring, 1, 0), np.roll(ring, -1, 0)
        chord = after - before
        offset = ring - before
        distance = np.abs(chord[:, 0] * offset[:, 1] - chord[:, 1] * offset[:, 0]) / \
            np.maximum(np.linalg.norm(chord, axis=1), 1e-12)
        i = int(np.argmin(distance))
        if distance[i] >= tolerance:
            break
        ring = np.delete(ring, i, 0)
    return ring

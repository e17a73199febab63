"""The support surface's extent, as an occupancy grid in the plane's own 2-D coordinates."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import plane_basis
from ..imageops import bounding_box, dilate
from ..lens import project_torch


@dataclass(frozen=True, eq=False)
class SupportFootprint:
    """Cells of ``cell`` metres around ``origin`` on the plane spanned by e1, e2; True where the support is.

    Built from the visible support points: the convex hull of the occupied cells (tables are convex; objects
    occlude parts of them), then grown by a margin. Cells outside the camera's view within ``unseen_reach`` of
    the support count as support too: the table under an object cut by the image border is not absent.
    """

    origin: torch.Tensor
    e1: torch.Tensor
    e2: torch.Tensor
    cell: float
    grid: torch.Tensor  # (G, G) bool

    @classmethod
    def build(cls, support_points: torch.Tensor, up: torch.Tensor, offset: torch.Tensor, margin: float,
              depth: torch.Tensor, camera, unseen_reach: float = 0.12, cell: float = 0.01,
              size_m: float = 3.0) -> 'SupportFootprint':
        e1, e2 = plane_basis(up)
        origin = support_points.median(dim=0).values if support_points.shape[0] else up * 0
        g = int(round(size_m / cell))
        ij = cls._cells(support_points, origin, e1, e2, cell, g)
        occupied = torch.zeros(g * g, dtype=torch.bool, device=up.device)
        inside = (ij >= 0).all(1) & (ij < g).all(1)
        occupied[ij[inside, 0] * g + ij[inside, 1]] = True
        occupied = occupied.view(g, g)
        reach = int(round(unseen_reach / cell))
        radius = max(0, int(round(margin / cell)))
        grid = torch.zeros_like(occupied)
        if bool(occupied.any()):
            # nothing beyond the occupied cells' box grown by the reach and the margin can be support: the grid
            # work happens in that window (a table covers a small part of the 3 m grid)
            r0, r1, c0, c1 = bounding_box(occupied, margin=reach + radius)
            filled = _convex_fill(occupied[r0:r1, c0:c1])
            near = dilate(filled, reach)
            # only cells within reach of the support can join it: test those for being out of view
            n0, n1, m0, m1 = bounding_box(near, margin=0)
            unseen = cls._out_of_view_cells(origin, up, offset, e1, e2, cell, g, depth, camera,
                                            (r0 + n0, r0 + n1, c0 + m0, c0 + m1))
            filled[n0:n1, m0:m1] |= near[n0:n1, m0:m1] & unseen
            grid[r0:r1, c0:c1] = dilate(filled, radius)
        return cls(origin, e1, e2, cell, grid)

    @staticmethod
    def _out_of_view_cells(origin, up, offset, e1, e2, cell, g, depth, camera, window) -> torch.Tensor:
        """Cells of the support plane in ``window`` (rows r0:r1, columns c0:c1 of the grid) that project
        outside the image (or behind the camera)."""
        r0, r1, c0, c1 = window
        idx = (torch.arange(g, device=up.device, dtype=up.dtype) - g // 2 + 0.5) * cell
        centres = origin + idx[r0:r1, None, None] * e1 + idx[None, c0:c1, None] * e2  # (rows, cols, 3)
        centres = centres - ((centres @ up) + offset)[..., None] * up               # onto the plane
        z = centres[..., 2]
        u, v, _ = project_torch(centres, camera)
        u, v = torch.round(u).long(), torch.round(v).long()
        h, w = depth.shape
        in_view = (z > 0.05) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
        return ~in_view

    @staticmethod
    def _cells(points, origin, e1, e2, cell, g):
        rel = points - origin
        a, b = rel @ e1, rel @ e2
        return torch.stack([torch.floor(a / cell), torch.floor(b / cell)], -1).long() + g // 2

    def contains(self, points: torch.Tensor) -> torch.Tensor:
        """For (..., 3) points: True where the point's foot on the plane lies on the support."""
        g = self.grid.shape[0]
        ij = self._cells(points.reshape(-1, 3), self.origin, self.e1, self.e2, self.cell, g)
        inside = (ij >= 0).all(1) & (ij < g).all(1)
        ij = ij.clamp(0, g - 1)
        return (self.grid[ij[:, 0], ij[:, 1]] & inside).view(points.shape[:-1])


def _convex_fill(occupied: torch.Tensor) -> torch.Tensor:
    """The grid cells inside the convex hull of the occupied ones."""
    from scipy.spatial import ConvexHull, QhullError
    h, w = occupied.shape
    rows = torch.nonzero(occupied.any(1)).squeeze(1)
    if rows.numel() == 0:
        return occupied
    # each occupied row's extreme cells are enough for the hull
    cols = torch.arange(w, device=occupied.device)
    first = torch.where(occupied, cols, w).amin(1)[rows]
    last = torch.where(occupied, cols, -1).amax(1)[rows]
    corners = torch.cat([torch.stack([rows, first], 1), torch.stack([rows, last], 1)]).double()
    offsets = torch.tensor([[-0.5, -0.5], [-0.5, 0.5], [0.5, -0.5], [0.5, 0.5]], dtype=torch.float64,
                           device=occupied.device)
    pts = (corners[:, None, :] + offsets[None]).reshape(-1, 2).cpu().numpy()
    try:
        hull = ConvexHull(pts)
    except QhullError:  # a line of cells: nothing to fill
        return occupied
    # inside: a.i + b.j + c <= 0 for every facet (a, b, c); per row i that bounds j from above where b > 0 and
    # from below where b < 0, and the row as a whole where b = 0
    a, b, c = (hull.equations[:, k, None] for k in range(3))
    i = np.arange(h, dtype=np.float64)[None]
    free = 1e-6 - c - a * i                                   # (F, h): b.j <= free
    up, down, flat = b > 1e-12, b < -1e-12, np.abs(b) <= 1e-12
    hi = np.where(up, free / np.where(up, b, 1.0), np.inf).min(0)
    lo = np.where(down, free / np.where(down, b, 1.0), -np.inf).max(0)
    rows_ok = np.where(flat, free >= 0, True).all(0)
    j = torch.arange(w, device=occupied.device, dtype=torch.float64)
    hi, lo, rows_ok = (torch.as_tensor(v, device=occupied.device) for v in (hi, lo, rows_ok))
    return occupied | ((j[None] >= lo[:, None]) & (j[None] <= hi[:, None]) & rows_ok[:, None])

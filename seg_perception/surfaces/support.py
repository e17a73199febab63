"""The support surface as a plane plus a gentle quadratic correction, with its measured noise.

Real tables sag and real depth sensors warp large planes by several millimetres across the image (Kinect,
RealSense far away); a plane alone then puts part of the table "above" itself. Heights are measured from
the fitted quadratic surface, and the tolerance for "on the surface" comes from the residuals themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from ..geometry import plane_basis
from .ransac import refine_plane

_NOISE_SIGMAS = 3.0   # "on the surface" = within this many robust standard deviations


@dataclass(frozen=True, eq=False)
class SupportSurface:
    normal: torch.Tensor   # (3,) unit, = up
    offset: torch.Tensor   # plane n . p + offset = 0
    e1: torch.Tensor
    e2: torch.Tensor
    coeffs: torch.Tensor   # quadratic correction c0 + c1 a + c2 b + c3 a^2 + c4 ab + c5 b^2
    lo: torch.Tensor       # (2,) range of the fitted (a, b): no extrapolation beyond it
    hi: torch.Tensor
    noise_1m: float        # measured residual scale: sigma(z) ~ noise_1m * z^2
    noise_floor: float     # and at least this (m)

    @classmethod
    def fit(cls, points: torch.Tensor, up: torch.Tensor, noise_1m: float, noise_floor: float) -> 'SupportSurface':
        """Fit to (N, 3) support points; ``noise_1m`` / ``noise_floor`` are the configured least tolerances."""
        normal, offset = refine_plane(points, torch.ones_like(points[:, 0]))
        if normal @ up < 0:
            normal, offset = -normal, -offset
        e1, e2 = plane_basis(normal)
        a, b = points @ e1, points @ e2
        lo = torch.stack([a.min(), b.min()])
        hi = torch.stack([a.max(), b.max()])
        residual = points @ normal + offset
        design = cls._design(a, b, lo, hi)
        keep = torch.ones_like(residual, dtype=torch.bool)
        coeffs = torch.zeros(6, dtype=points.dtype, device=points.device)
        for _ in range(2):  # least squares, then again without the outliers of the first fit
            if int(keep.sum()) < 12:
                break
            d, r = design[keep], residual[keep]
            # normal equations: a 6 x 6 system, far cheaper than a QR of the tall matrix
            coeffs = torch.linalg.solve(d.T @ d + 1e-9 * torch.eye(6, dtype=d.dtype, device=d.device), d.T @ r)
            corrected = residual - design @ coeffs
            mad = corrected.abs().median()
            keep = corrected.abs() < 4 * 1.4826 * mad + 1e-4
        corrected = residual - design @ coeffs
        z2 = (points[:, 2] ** 2).clamp_min(1e-4)
        measured_1m = float(1.4826 * (corrected.abs() / z2).median()) * _NOISE_SIGMAS
        return cls(normal, offset, e1, e2, coeffs, lo, hi, max(noise_1m, measured_1m), noise_floor)

    @staticmethod
    def _design(a, b, lo, hi):
        # normalised coordinates keep the least-squares problem well conditioned
        centre, half = (lo + hi) / 2, ((hi - lo) / 2).clamp_min(0.05)
        u = ((a - centre[0]) / half[0]).clamp(-1, 1)
        v = ((b - centre[1]) / half[1]).clamp(-1, 1)
        return torch.stack([torch.ones_like(u), u, v, u * u, u * v, v * v], -1)

    def _warp(self, flat: torch.Tensor) -> torch.Tensor:
        """The quadratic correction at (N, 3) points (from their coordinates along the plane)."""
        centre, half = (self.lo + self.hi) / 2, ((self.hi - self.lo) / 2).clamp_min(0.05)
        u = ((flat @ self.e1 - centre[0]) / half[0]).clamp_(-1, 1)
        v = ((flat @ self.e2 - centre[1]) / half[1]).clamp_(-1, 1)
        c = self.coeffs.tolist()
        # the quadratic of _design, evaluated term by term (no N x 6 matrix on full frames)
        return c[0] + u * (c[1] + c[3] * u + c[4] * v) + v * (c[2] + c[5] * v)

    def to(self, device: torch.device) -> 'SupportSurface':
        """The same surface with its tensors on ``device``."""
        return replace(self, **{f.name: getattr(self, f.name).to(device) for f in fields(self)
                                if isinstance(getattr(self, f.name), torch.Tensor)})

    def heights(self, points: torch.Tensor) -> torch.Tensor:
        """Signed height above the surface (up positive) for (..., 3) points."""
        flat = points.reshape(-1, 3)
        return (flat @ self.normal + self.offset - self._warp(flat)).view(points.shape[:-1])

    def heights_image(self, depth: torch.Tensor, camera, warp_step: int = 8,
                      rays: torch.Tensor = None) -> torch.Tensor:
        """:meth:`heights` of every pixel of a depth image, without its (H, W, 3) cloud: the plane term from
        per-column and per-row ray components of K (or ``rays`` (H, W, 2): each pixel's ray through a distorting
        lens, lens.py); the gentle quadratic warp where each pixel's ray meets the plane,
        on a grid about ``warp_step`` pixels apart, interpolated bilinearly. Exact on and near the surface
        (where "on it or not" is decided); for a point h above it the warp is taken a few centimetres away, a
        fraction of a millimetre off. Holes in the depth do not matter: the warp does not use it."""
        h, w = depth.shape
        n = self.normal.tolist()
        # the warp grid's first and last samples are the image's corner pixels (bilinear, corners aligned)
        grid_u = torch.linspace(0, w - 1, max(2, -(-(w - 1) // warp_step) + 1), device=depth.device)
        grid_v = torch.linspace(0, h - 1, max(2, -(-(h - 1) // warp_step) + 1), device=depth.device)
        if rays is None:   # pinhole rays of K
            cols = (torch.arange(w, device=depth.device, dtype=depth.dtype) - camera.cx) / camera.fx
            rows = (torch.arange(h, device=depth.device, dtype=depth.dtype) - camera.cy) / camera.fy
            ray_dot_normal = (n[0] * cols + n[2])[None, :] + (n[1] * rows)[:, None]
            grid_x, grid_y = torch.broadcast_tensors(((grid_u - camera.cx) / camera.fx)[None, :],
                                                     ((grid_v - camera.cy) / camera.fy)[:, None])
        else:              # (h, w, 2) each pixel's ray through the lens; the warp grid takes the nearest pixel's
            rays = rays.to(depth.dtype)
            ray_dot_normal = n[0] * rays[..., 0] + n[1] * rays[..., 1] + n[2]
            nearest = rays[grid_v.round().long()][:, grid_u.round().long()]
            grid_x, grid_y = nearest[..., 0], nearest[..., 1]
        rays = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], -1).to(depth.dtype)
        # along each ray to the plane (n . t ray + offset = 0); rays that miss it stop far away (clamped warp)
        towards = rays @ self.normal
        reach = -float(self.offset) / torch.where(towards.abs() > 1e-6, towards, torch.full_like(towards, 1e-6))
        reach = torch.where(reach > 0, reach, torch.full_like(reach, 100.0)).clamp_max(100.0)
        warp = self._warp((rays * reach[..., None]).reshape(-1, 3)).view(reach.shape)
        warp = torch.nn.functional.interpolate(warp[None, None], size=(h, w), mode='bilinear',
                                               align_corners=True)[0, 0]
        return depth * ray_dot_normal + (self.offset - warp)

    def tolerance(self, depth: torch.Tensor) -> torch.Tensor:
        """Distance within which a point at this depth lies on the surface."""
        return (self.noise_1m * depth * depth).clamp_min(self.noise_floor)

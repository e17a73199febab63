"""Round objects seen from one side: the camera sees the near half of a can's wall or a ball's limb, and the hidden
far half is where a jaw has to close. When the object's outline seen from above is a circle, its far side is the
near side turned half a turn about the circle's centre.

The circle must be supported by a contiguous arc of the outline (a box's corners also lie on a circle, but apart)
and nothing may stick out of it (a mug's handle, a box's side).
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

_HYPOTHESES = 96        # random triples of outline points tried
_BIN_DEG = 10.0         # angular bins for the outline and for the arc the circle is seen along
_MIN_ARC_DEG = 120.0    # the circle must be seen along at least this contiguous arc
_MAX_OUTSIDE = 0.05     # share of the points allowed outside the circle (real clouds keep a few streaks of
                        # flying pixels at depth edges: 3-7 % of a can on the UCN RealSense frames)
_MIN_RADIUS = 0.004     # m
_CONTAINMENT_POINTS = 200  # points a hypothesis is checked against before the best one is refined
_REFINE_STEPS = 4          # Gauss-Newton steps of the geometric fit
_TRIPLES = np.random.default_rng(0).random((_HYPOTHESES, 3))   # fixed draws: the same points give the same circle


def round_outline(flat: np.ndarray, tolerance: float, max_radius: float,
                  max_outside: float = _MAX_OUTSIDE, large_radius: float = float('inf'),
                  large_arc_deg: float = 360.0) -> Optional[Tuple[np.ndarray, float]]:
    """(centre (2,), radius) of the circle the (N, 2) points' outline follows within ``tolerance`` (m), or None
    when the outline is not round (or too few points show it, or more than ``max_outside`` of them lie
    outside). A circle wider than ``large_radius`` must be seen along at least ``large_arc_deg``."""
    flat = np.asarray(flat, np.float64)
    if len(flat) < 6:
        return None
    outline = _outline(flat)
    if len(outline) < 6:
        return None
    centres, radii = _circumcircles(outline[(_TRIPLES * len(outline)).astype(int)])
    sized = (radii >= _MIN_RADIUS) & (radii <= max_radius)
    centres, radii = centres[sized], radii[sized]
    if len(radii) == 0:
        return None
    # hypotheses nothing sticks out of (judged on a few hundred of the points), ranked by the outline points
    # they pass near
    contained = _share_outside(flat[::max(1, len(flat) // _CONTAINMENT_POINTS)], centres, radii,
                               tolerance) <= max_outside
    support = (np.abs(np.linalg.norm(outline[None] - centres[:, None], axis=2) - radii[:, None])
               <= tolerance).sum(1)
    if not contained.any():
        return None
    best = int(np.argmax(np.where(contained, support, -1)))
    centre, radius = centres[best], float(radii[best])
    # geometric least squares on the points near the circle (an algebraic fit is biased towards small circles
    # on the half turn a camera sees)
    for _ in range(_REFINE_STEPS):
        rel = flat - centre
        dist = np.sqrt(np.einsum('ij,ij->i', rel, rel))
        near = np.abs(dist - radius) <= tolerance
        if np.count_nonzero(near) < 6:
            return None
        jacobian = np.empty((np.count_nonzero(near), 3))
        jacobian[:, :2] = -rel[near] / np.maximum(dist[near], 1e-9)[:, None]
        jacobian[:, 2] = -1.0
        # the Gauss-Newton step from the normal equations (3 x 3; the points near the circle surround its
        # centre along at least _MIN_ARC_DEG, so they are well conditioned)
        try:
            step = np.linalg.solve(jacobian.T @ jacobian, jacobian.T @ (radius - dist[near]))
        except np.linalg.LinAlgError:   # degenerate: the points near the circle all lie in one direction
            return None
        centre, radius = centre + step[:2], float(radius + step[2])
    if not _MIN_RADIUS <= radius <= max_radius:
        return None
    if _share_outside(flat, centre[None], np.array([radius]), tolerance)[0] > max_outside:
        return None
    dist = np.linalg.norm(flat - centre, axis=1)
    on_circle = flat[np.abs(dist - radius) <= tolerance]
    arc = _longest_arc_deg(on_circle - centre)
    if arc < _MIN_ARC_DEG or (radius > large_radius and arc < large_arc_deg):
        return None
    return centre, radius


def _share_outside(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, tolerance: float) -> np.ndarray:
    """(S,) share of the points farther than two tolerances outside each of S circles."""
    # |p - c|^2 expanded: one (S, 2) x (2, N) product instead of an (S, N, 2) array
    dist2 = (points ** 2).sum(1)[None] - 2 * centres @ points.T + (centres ** 2).sum(1)[:, None]   # (S, N)
    return np.mean(dist2 > ((radii + 2 * tolerance) ** 2)[:, None], axis=1)


def _angle_bins(rel: np.ndarray) -> np.ndarray:
    """The _BIN_DEG bin of each (N, 2) offset's direction, 0 .. 360 / _BIN_DEG - 1."""
    angle = np.degrees(np.arctan2(rel[:, 1], rel[:, 0])) % 360
    return (angle // _BIN_DEG).astype(int) % int(round(360 / _BIN_DEG))


def _outline(flat: np.ndarray) -> np.ndarray:
    """The outermost point per angular bin around the points' centroid."""
    rel = flat - flat.mean(0)
    bins = _angle_bins(rel)
    radius = np.linalg.norm(rel, axis=1)
    order = np.lexsort((-radius, bins))            # per bin, farthest first
    first = np.r_[True, bins[order][1:] != bins[order][:-1]]
    return flat[order[first]]


def _circumcircles(triangles: np.ndarray):
    """Centres (T, 2) and radii (T,) of the circles through (T, 3, 2) point triples (degenerate ones dropped)."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    d = 2 * (a[:, 0] * (b[:, 1] - c[:, 1]) + b[:, 0] * (c[:, 1] - a[:, 1]) + c[:, 0] * (a[:, 1] - b[:, 1]))
    ok = np.abs(d) > 1e-12
    a, b, c, d = a[ok], b[ok], c[ok], d[ok]
    sa, sb, sc = (a ** 2).sum(1), (b ** 2).sum(1), (c ** 2).sum(1)
    ux = (sa * (b[:, 1] - c[:, 1]) + sb * (c[:, 1] - a[:, 1]) + sc * (a[:, 1] - b[:, 1])) / d
    uy = (sa * (c[:, 0] - b[:, 0]) + sb * (a[:, 0] - c[:, 0]) + sc * (b[:, 0] - a[:, 0])) / d
    centres = np.stack([ux, uy], 1)
    return centres, np.linalg.norm(a - centres, axis=1)


def _longest_arc_deg(rel: np.ndarray) -> float:
    """The longest run of consecutive occupied angular bins (degrees) of points around the origin."""
    if len(rel) == 0:
        return 0.0
    n = int(round(360 / _BIN_DEG))
    occupied = np.zeros(n, bool)
    occupied[_angle_bins(rel)] = True
    if occupied.all():
        return 360.0
    # unroll the circle at an empty bin, then count runs
    start = int(np.argmin(occupied))
    ring = np.roll(occupied, -start)
    best = run = 0
    for filled in ring:
        run = run + 1 if filled else 0
        best = max(best, run)
    return best * _BIN_DEG

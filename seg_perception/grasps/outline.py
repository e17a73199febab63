"""The outline of an object seen from above: its points projected on the support (2-D, along the support's axes),
their convex hull, the directions a parallel-jaw hand may close in, and where closing lines cross the outline
(chord lengths and how squarely they meet its sides).
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np
import torch

_SMOOTH_TURN_DEG = 20.0    # outline sides within this turn of the crossed side are averaged with it


def convex_hull(flat: torch.Tensor) -> Optional[torch.Tensor]:
    """(V, 2) counter-clockwise hull vertices of 2-D points, or None when they are degenerate."""
    from scipy.spatial import ConvexHull
    try:
        hull = ConvexHull(flat.detach().cpu().numpy().astype(np.float64))
    except Exception:   # collinear or too few points
        return None
    return flat[torch.from_numpy(hull.vertices).to(flat.device)]


def closing_directions(hull: torch.Tensor, uniform: int) -> torch.Tensor:
    """Unit 2-D directions: the normals of the hull's longer sides (a box's faces) and ``uniform`` spread ones,
    one per half turn (a jaw closes both ways). In NumPy: a few dozen operations on a handful of vertices."""
    corners = hull.detach().cpu().numpy().astype(np.float64)
    edges = np.roll(corners, -1, 0) - corners
    length = np.sqrt((edges ** 2).sum(1))
    normals = np.stack([edges[:, 1], -edges[:, 0]], 1) / np.maximum(length, 1e-9)[:, None]
    long_sides = normals[length >= 0.25 * length.max()]
    angles = np.arange(uniform) * (math.pi / uniform)
    directions = np.concatenate([long_sides, np.stack([np.cos(angles), np.sin(angles)], 1)])
    # fold to half a turn and drop near-duplicates (within 3 degrees)
    theta = np.sort(np.arctan2(directions[:, 1], directions[:, 0]) % math.pi)
    keep = np.ones(theta.shape, dtype=bool)
    keep[1:] = np.diff(theta) > math.radians(3)
    theta = theta[keep]
    return torch.from_numpy(np.stack([np.cos(theta), np.sin(theta)], 1)).to(hull)


def padded_hulls(hulls) -> torch.Tensor:
    """(K, V, 2) several objects' hulls as one tensor, each repeating its first vertex up to the longest's count:
    the repeats add sides of no length, which no closing line crosses or takes a direction from."""
    most = max(hull.shape[0] for hull in hulls)
    return torch.stack([torch.cat([hull, hull[:1].expand(most - hull.shape[0], 2)]) for hull in hulls])


def widest_chords(hull: torch.Tensor, directions: torch.Tensor, samples: int = 21) -> torch.Tensor:
    """(D,) per closing direction, the across-offset of the longest chord of its hull (``hull`` (D, V, 2): the
    hull of the object it closes on; the mean offset of the chords within 2 mm of the longest, so a box's flat
    stretch gives its middle)."""
    e = left(directions)
    hull_e = torch.einsum('dvk,dk->dv', hull, e)                                 # (D, V)
    lo, hi = hull_e.min(1).values, hull_e.max(1).values
    f = torch.linspace(0.05, 0.95, samples, device=hull.device)
    o = lo[:, None] + f[None] * (hi - lo)[:, None]                               # (D, S)
    chord = chords(hull.repeat_interleave(samples, 0), directions.repeat_interleave(samples, 0),
                   o.reshape(-1))[1].view(-1, samples)
    near_max = chord >= chord.amax(1, keepdim=True) - 0.002
    return (o * near_max).sum(1) / near_max.sum(1).clamp_min(1)


def chords(hull: torch.Tensor, d: torch.Tensor, o: torch.Tensor):
    """Where the lines {p : p . e = o} along d (e = d turned left) cross the sides of their hulls (``hull``
    (G, V, 2), one per line): ((crosses (G, V), position along d (G, V), sides (G, V, 2), side lengths (G, V)),
    chord length (G,))."""
    e = left(d)
    nxt = torch.roll(hull, -1, 1)
    edges = nxt - hull
    length = edges.norm(dim=2).clamp_min(1e-9)
    s0 = torch.einsum('gvk,gk->gv', hull, e) - o[:, None]                               # (G, V)
    s1 = torch.einsum('gvk,gk->gv', nxt, e) - o[:, None]
    crosses = (s0 * s1) <= 0
    t = s0 / (s0 - s1).where((s0 - s1).abs() > 1e-12, torch.full_like(s0, 1e-12))
    y = torch.einsum('gvk,gk->gv', hull, d) + t * torch.einsum('gvk,gk->gv', edges, d)  # (G, V)
    big = torch.full_like(y, 1e3)
    chord = (torch.where(crosses, y, -big).amax(1) - torch.where(crosses, y, big).amin(1)).clamp_min(0)
    return (crosses, y, edges, length), torch.where(crosses.any(1), chord, torch.zeros_like(chord))


def crossing_alignment(hull: torch.Tensor, d: torch.Tensor, o: torch.Tensor,
                       crossings=None) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For closing lines {p : p . e = o} along d (e = d turned left) across their hulls (``hull`` (G, V, 2)), the
    cosines between the line and the outward normals of the hull's sides where it leaves (the +d jaw) and
    enters (the -d jaw), 1 = square; and the length of the chord. ``crossings``: the first part of what
    :func:`chords` gives for these lines, when already at hand.
    Normals are averaged over the hull's boundary within a finger's reach of each crossing, so that the
    many short sides of a noisy round outline give the wall's direction."""
    crosses, y, edges, length = crossings if crossings is not None else chords(hull, d, o)[0]
    e = left(d)
    normals = torch.stack([edges[..., 1], -edges[..., 0]], 2) / length[..., None]      # (G, V, 2) outward (CCW)
    big = torch.full_like(y, 1e3)
    exit_y, exit_edge = torch.where(crosses, y, -big).max(1)
    entry_y, entry_edge = torch.where(crosses, y, big).min(1)
    # both jaws at once: the exits (+d), then the entries (-d)
    target, edge = torch.cat([exit_y, entry_y]), torch.cat([exit_edge, entry_edge])      # (2G,)
    d2, o2, e2 = d.repeat(2, 1), o.repeat(2), e.repeat(2, 1)
    hull2, edges2, length2, normals2 = (t.repeat(2, *([1] * (t.dim() - 1))) for t in (hull, edges, length, normals))
    at = target[:, None] * d2 + o2[:, None] * e2                                         # (2G, 2)
    # distance from the crossing to each side (a segment)
    k = (((at[:, None] - hull2) * edges2).sum(-1) / length2 ** 2).clamp(0, 1)          # (2G, V)
    near = (hull2 + k[..., None] * edges2 - at[:, None]).norm(dim=-1) <= 0.01
    # only sides turning gently away from the crossed one: a corner is not smoothed away
    crossed = normals2[torch.arange(edge.numel(), device=edge.device), edge]            # (2G, 2)
    near &= torch.einsum('gvk,gk->gv', normals2, crossed) >= math.cos(math.radians(_SMOOTH_TURN_DEG))
    w = torch.where(near, length2, torch.zeros_like(length2))
    n = (w[..., None] * normals2).sum(1)                                                 # (2G, 2)
    n = n / n.norm(dim=1, keepdim=True).clamp_min(1e-9)
    facing = (n * d2).sum(1) * torch.cat([torch.ones_like(o), -torch.ones_like(o)])
    valid = crosses.any(1)
    zero = torch.zeros_like(exit_y)
    exits, entries = facing.chunk(2)
    return torch.where(valid, exits, zero), torch.where(valid, entries, zero), \
        torch.where(valid, exit_y - entry_y, zero)


def left(d: torch.Tensor) -> torch.Tensor:
    """Directions turned a quarter turn to the left."""
    return torch.stack([-d[..., 1], d[..., 0]], -1)

"""Rim grasps of open containers (cups, mugs, bowls): one finger inside, one outside, closing across the wall.

A bowl is usually wider than the hand and a mug has a handle in the way, but both are held by their rim. The
camera, looking down, sees into an open container: points well below its rim whose line of sight crosses the
rim's height well inside the rim, a thin round ring with nothing at its height inside it (the near side of a
rim seen from low down may be lost at the depth edge against the inside; its far side still shows the circle).
A box or a can with a lid hides what is under its top, and the line of sight to a point on its side crosses the
top's height outside the object; a box's top or a rock's face fills its outline instead of ringing it.

A real sensor does not see the rim at one height: where the near rim is seen against the deeper inside, stereo
and time-of-flight cameras mix the two depths and place it centimetres lower (a cup with a 7 cm rim measured
4.0-7.3 cm around it, a mug 8.7-9.7 cm, on the UCN RealSense frames), so the rim is the top of the wall in each
direction around the object, not one band below the object's top.

Everything is in the support's frame: ``flat`` (N, 2) coordinates along the support with the camera above the
origin (the camera frame's origin projected on the support), ``h`` (N,) heights above the support.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch

from .outline import left
from .round_outline import round_outline

_TOP_QUANTILE = 0.98      # the object's top, robust to a few stray points
_RIM_BAND = 0.008         # m: points this close below the wall's top in their direction are the rim
_RIM_SECTORS = 16         # directions around the object the wall's top is found in
_RIM_LOW = 0.5            # share of the object's top a rim point lies above (not the floor inside, not the table)
_MIN_HEIGHT = 0.03        # m: lower objects are dishes or lids, not containers a finger goes into
_MIN_DEPTH = 0.015        # m: a point seen inside lies at least this far below the object's top ...
_DEPTH_SHARE = 0.2        # ... and this share of the object's height
_MIN_RIM_POINTS = 24      # fewer points at the top cannot show a rim
_MIN_INSIDE = 10          # points seen inside the rim that make an opening (fewer: noise)
_ROUND_TOLERANCE = 0.005  # m: rim points this close to a circle follow it
_ROUND_OUTSIDE = 0.15     # share of the rim points a round rim may leave outside (a mug's handle)
_MAX_RADIUS = 0.15        # m: widest round opening looked for
_LID = 0.6                # rim points this share of the radius from a round rim's centre are a lid ...
_MAX_LID_SHARE = 0.1      # ... when more than this share of them lie there (a lid puts a third there; the near
                          # rim's mixed depths a few: a 6.4 cm cup 8 %, and the ring test below allows 10 %)
_RING_WIDTH = 0.013       # m: a rim's points lie this close inside its circle (a wall and its top's slope) ...
_RING_SHARE = 0.9         # ... this share of them at least (a box's top or a rock's face fills the circle; the
                          # near rim's mixed depths put a few points inside: real cups and bowls 0.94-1.0)
_INSIDE = 0.8             # lines of sight crossing the rim's height this share of the radius from the centre
                          # look into the container (nearer the rim, they may pass over a dome's edge)
_RIM_DIRECTIONS = 16      # places around the rim a grasp is tried
_MAX_WALL = 0.02          # m: a thicker rim is not a wall a finger pair straddles
_INSERTIONS = (0.35, 0.6)  # fingertips this share of the finger length below the rim's highest part ...
_SHALLOW_INSERTION = 0.2   # ... and this share, where the wall's top is within _SHALLOW_LEVEL of the highest
_SHALLOW_LEVEL = 0.004     # m
_SHALLOW_QUALITY = 0.8     # a shallow hold's quality relative to a deeper one's
_WALL_REACH = 0.015       # m: rim points this far from a wall's middle along the closing line are that wall


class Opening(NamedTuple):
    """An open container's opening: its middle (2,) along the support, the rim's (median) height and which of
    the object's points are its rim."""
    centre: torch.Tensor
    height: float
    rim: torch.Tensor


def find_opening(flat: torch.Tensor, h: torch.Tensor, camera_height: float) -> Optional[Opening]:
    """The opening of an open container, or None when the object is not seen to be open at the top."""
    if h.numel() < 20:
        return None
    top = float(torch.quantile(h, _TOP_QUANTILE))
    if top < _MIN_HEIGHT or camera_height <= top:
        return None
    rim = _rim_points(flat, h, top)
    if int(rim.sum()) < _MIN_RIM_POINTS:
        return None
    height = float(h[rim].median())
    deep = ~rim & (h < top - max(_MIN_DEPTH, _DEPTH_SHARE * top))
    if int(deep.sum()) < _MIN_INSIDE:
        return None
    # where the line of sight to each deep point crosses the rim's height (the camera is above the origin)
    share = (camera_height - height) / (camera_height - h[deep])
    crossing = flat[deep] * share[:, None]
    rim_flat = flat[rim]
    # cheap first: a container is seen into through the middle of its rim
    if int(_inside_hull(crossing, rim_flat).sum()) < _MIN_INSIDE:
        return None
    # a round rim: seen from low down, its near side may be lost at the depth edge against the inside, but its
    # far side shows the circle
    circle = round_outline(rim_flat.detach().cpu().numpy(), _ROUND_TOLERANCE, _MAX_RADIUS, _ROUND_OUTSIDE)
    if circle is None:
        return None
    centre = torch.as_tensor(circle[0], dtype=flat.dtype, device=flat.device)
    radius = circle[1]
    from_centre = (rim_flat - centre).norm(dim=1)
    lid = float((from_centre < _LID * radius).float().mean())
    ring = float((from_centre >= radius - _RING_WIDTH).float().mean())
    inside = (crossing - centre).norm(dim=1) < _INSIDE * radius
    if lid > _MAX_LID_SHARE or ring < _RING_SHARE or int(inside.sum()) < _MIN_INSIDE:
        return None
    return Opening(centre, height, rim)


def rim_candidates(flat: torch.Tensor, h: torch.Tensor, opening: Opening, finger_width: float, finger_depth: float,
                   clearance: float, max_opening: float, tip_floor: float, friction: float, leans=(0.0,)):
    """Grasps across the rim at evenly spread places around the ``opening``, in the planner's candidate form:
    closing direction ``d`` (the wall's normal there), ``centre`` (the wall's middle), fingertip height ``tip``
    (two depths below the rim's highest part), ``lean`` (each of ``leans``, radians), ``width`` (the wall plus
    ``clearance`` on each side), ``own_margin``, ``quality`` (how squarely the wall faces the closing line),
    ``centring``, ``observed``, ``top_edge``; None when no place holds a thin enough wall."""
    dev = flat.device
    rim, rim_h = flat[opening.rim], h[opening.rim]
    angles = torch.arange(_RIM_DIRECTIONS, device=dev) * (2 * math.pi / _RIM_DIRECTIONS)
    radial = torch.stack([torch.cos(angles), torch.sin(angles)], 1)                         # (K, 2)
    # first pass: the rim points in a finger-wide slab out from the opening's middle along each direction
    rel = rim - opening.centre                                                                # (R, 2)
    along, across = rel @ radial.T, rel @ left(radial).T                                      # (R, K)
    slab = (across.abs() <= finger_width / 2) & (along > 0)
    count = slab.sum(0)
    mid = torch.where(slab, along, torch.zeros_like(along)).sum(0) / count.clamp_min(1)
    wall = opening.centre + mid[:, None] * radial                                             # (K, 2)
    # the wall's normal there: the least spread direction of its rim points (they follow the wall)
    near = slab & ((along - mid).abs() <= _WALL_REACH)
    w = near.float()
    offset = rim[:, None] - wall[None]                                                        # (R, K, 2)
    cov = torch.einsum('rk,rki,rkj->kij', w, offset, offset) / w.sum(0).clamp_min(1)[:, None, None]
    _, vectors = torch.linalg.eigh(cov)
    normal = vectors[..., 0]
    normal = torch.where(((normal * radial).sum(1, keepdim=True) < 0), -normal, normal)
    # second pass: the wall's extent along its normal, over a finger's width
    along_n = (offset * normal[None]).sum(-1)                                                 # (R, K)
    across_n = (offset * left(normal)[None]).sum(-1)
    on_wall = (across_n.abs() <= finger_width / 2) & (along_n.abs() <= _WALL_REACH)
    big = torch.full_like(along_n, 1e3)
    hi = torch.where(on_wall, along_n, -big).amax(0)
    lo = torch.where(on_wall, along_n, big).amin(0)
    thickness = hi - lo
    width = thickness + 2 * clearance
    ok = (count >= 3) & (on_wall.sum(0) >= 3) & (thickness <= _MAX_WALL) & (width <= max_opening)
    if not bool(ok.any()):
        return None
    cos_fc = math.cos(math.atan(friction))
    square = (normal * radial).sum(1)
    quality = ((square - cos_fc) / (1 - cos_fc)).clamp(0, 1)
    ok &= quality > 0
    if not bool(ok.any()):
        return None
    centre = wall + ((hi + lo) / 2)[:, None] * normal
    # every place at every fingertip depth and lean; the fingertips go in below the highest of the places' wall
    # tops, all around: a near rim that reads low is not lower, and the palm must clear the true rim
    wall_top = torch.where(w.sum(0) > 0, (w * rim_h[:, None]).sum(0) / w.sum(0).clamp_min(1),
                           torch.full_like(mid, opening.height))
    # a sloping wall (a bowl's) meets fingers that go deeper: a shallow hold too, ranked below the deeper ones, and
    # only where the rim reads at its highest (a rim that truly is lower there, an uneven or tilted one, would
    # leave such short fingers above it)
    highest = wall_top[ok].max()
    depths = torch.tensor(_INSERTIONS + (_SHALLOW_INSERTION,), dtype=mid.dtype, device=dev) * finger_depth
    allowed = ok[None].repeat(depths.numel(), 1)                                              # (D, K)
    allowed[-1] &= wall_top >= highest - _SHALLOW_LEVEL
    hold = torch.ones_like(depths)
    hold[-1] = _SHALLOW_QUALITY
    lean = torch.tensor(list(leans), dtype=mid.dtype, device=dev)
    tips = (highest - depths[:, None]).clamp_min(tip_floor).expand(-1, ok.numel())
    tips = tips.repeat_interleave(lean.numel(), 0)                                            # (V, K)
    n = tips.shape[0]
    keep = allowed.repeat_interleave(lean.numel(), 0).reshape(-1)
    quality = (hold[:, None] * quality[None]).repeat_interleave(lean.numel(), 0).reshape(-1)
    return {'d': normal.repeat(n, 1)[keep], 'centre': centre.repeat(n, 1)[keep],
            'tip': tips.reshape(-1)[keep], 'lean': lean.repeat(depths.numel()).repeat_interleave(ok.numel())[keep],
            'width': width.repeat(n)[keep], 'own_margin': torch.full((int(keep.sum()),), clearance, device=dev),
            'quality': quality[keep], 'centring': torch.ones(int(keep.sum()), device=dev),
            # one face of the wall is always out of sight (the inside near the camera, the outside far from
            # it): the wall is assumed thin there, as at a box's top edge
            'observed': torch.zeros(int(keep.sum()), device=dev),
            'top_edge': torch.ones(int(keep.sum()), 2, dtype=torch.bool, device=dev)}


def _rim_points(flat: torch.Tensor, h: torch.Tensor, top: float) -> torch.Tensor:
    """(N,) the points at the top of the object's wall in each of _RIM_SECTORS directions around the middle of
    its upper half (within _RIM_BAND of the highest point there), above _RIM_LOW of its ``top``."""
    upper = h >= _RIM_LOW * top
    middle = flat[upper].mean(0)
    direction = torch.atan2(flat[:, 1] - middle[1], flat[:, 0] - middle[0])
    sector = ((direction + math.pi) * (_RIM_SECTORS / (2 * math.pi))).long().clamp(0, _RIM_SECTORS - 1)
    highest = torch.full((_RIM_SECTORS,), -math.inf, dtype=h.dtype, device=h.device)
    highest = highest.scatter_reduce(0, sector[upper], h[upper], 'amax')
    return upper & (h >= highest[sector] - _RIM_BAND)


def _inside_hull(points: torch.Tensor, outline: torch.Tensor) -> torch.Tensor:
    """(P,) whether each 2-D point lies inside the convex hull of the ``outline`` points."""
    from scipy.spatial import ConvexHull, QhullError
    try:
        faces = torch.as_tensor(ConvexHull(outline.detach().cpu().numpy()).equations, dtype=points.dtype,
                                device=points.device)                                   # a . p + b <= 0 inside
    except (QhullError, ValueError):   # collinear or too few points
        return torch.zeros(points.shape[0], dtype=torch.bool, device=points.device)
    return (points @ faces[:, :2].T + faces[:, 2] <= 0).all(1)


"""Low parts of an object seen inside its outline: a bowl's floor, a piece of a cup's wall.

Seen from above at a slant, a bowl shows its rim, its inner wall and its floor; the floor meets the wall at a
concave crease, often behind a band of pixels at the support's height, so the boundary rules cut it off as an
object of its own, and a grasp planned for it would close inside the bowl. Such a part is low and lies within
the object's outline seen from above, where no separate object fits beside it: a region that touches another
(within a few pixels), lies mostly inside its convex outline on the support and reaches at most half its height
joins it. Objects that rise out of a container (a can in a bowl) are taller and stay apart; containers wider than
a hand could lift (a tote, a tray) keep their contents apart too.

A thin-bottomed bowl's floor lies only a few millimetres above the table, within its noise band: it is taken for
support, and the bowl comes out as a ring (:func:`join_low_floors`). Such a floor is support-like ground that the
object encloses in the image (up to a gap: the near rim, seen edge-on, is often broken) and that lies measurably
above the table around the object; table seen through a ring of merged objects or a mug's handle is at the
table's height or too small. A time-of-flight camera reads a container's inside deeper than it is (light bounced
off its walls), below the table: enclosed ground measurably below the table around the object is its inside too.
"""
from __future__ import annotations

import numpy as np
import torch

from ..geometry import plane_basis
from ..imageops import grow_labels

_TOUCH = 3              # grid pixels: parts this close count as touching (a band of support-height pixels
                        # often lies between a bowl's floor and its wall)
_MIN_TOUCH = 3          # pixel pairs along which they must touch
_INSIDE = 0.8           # share of the part's points inside the object's convex outline on the support
_LOW = 0.5              # the part's top reaches at most this share of the object's top
_TOP_QUANTILE = 0.9     # a region's top: this quantile of its heights (a few noisy pixels stick out)
_MAX_CONTAINER = 0.30   # m: objects wider than this on the support (a tote) keep what lies inside them
_OUTLINE_SLACK = 0.005  # m: points this close outside the outline count as inside (voxel and depth noise)
_HULL_POINTS = 2000     # at most this many of the object's points build its outline
_RIM_GAP = 0.03         # m: gaps in an object's outline up to twice this wide are closed before looking inside
_MAX_GAP_PIXELS = 24    # grid pixels: the closing's radius at most (a near object covers many pixels)
_MIN_FLOOR = 0.0006     # m^2: an enclosed floor at least this large (table seen through a mug's handle is less)
_FLOOR_SUPPORT = 0.5    # share of the enclosed pixels the surface stage took for support
_ENCLOSED = 0.8         # share of the pixels bordering it that are the object's (bowl floors on RealSense
                        # frames: 0.88-0.97; table in a pocket between an object's parts and a gap: 0.63-0.75)
_FLOOR_RISE = 0.0015    # m: the floor's median height above that of the table around the object (measured on
                        # RealSense frames at 0.75 m: bowl floors 2.5-3.1 mm, table enclosed by objects -0.5-0.9 mm)
_FLOOR_SINK = 0.003     # m: or its median height this far below it (a cup's inside on the GraspNet frame's Azure
                        # Kinect: 5-6 mm below the table around it)
_TABLE_RING = 4         # grid pixels around the enclosed region where the table's own height is measured
_SQUARE = np.ones((3, 3), bool)   # 8-neighbourhood


def merge_inner_parts(labels: torch.Tensor, count: int, points: torch.Tensor, heights: torch.Tensor,
                      up: torch.Tensor) -> torch.Tensor:
    """``labels`` (ids 1..count, 0 = none) with every low part inside another object's outline given that
    object's id (the ids left may have gaps). ``points``: (H, W, 3) camera frame; ``heights``: above the
    support; ``up``: the support's normal."""
    if count < 2:
        return labels
    n = count + 1
    near = _touching(labels, n)
    if not bool((near >= _MIN_TOUCH).any()):
        return labels
    tops = _region_quantile(labels, heights, n, _TOP_QUANTILE)
    candidate = (near >= _MIN_TOUCH) & (tops[None, :] <= _LOW * tops[:, None]) & (tops[:, None] > 0)  # [object, part]
    candidate[0], candidate[:, 0] = False, False
    if not bool(candidate.any()):
        return labels
    e1, e2 = plane_basis(up.to(points.dtype))
    flat = torch.stack([points @ e1, points @ e2], -1)                                      # (H, W, 2)
    candidate &= (_extent(labels, flat, n) <= _MAX_CONTAINER)[:, None]
    pairs = torch.nonzero(candidate).tolist()
    if not pairs:
        return labels
    # strongest contact first: a part inside two outlines joins the one it touches most
    pairs.sort(key=lambda p: -int(near[p[0], p[1]]))
    flat_np = flat.detach().cpu().numpy()
    labels_np = labels.detach().cpu().numpy()
    outlines = {}
    target = list(range(n))
    for obj, part in pairs:
        if target[part] != part:
            continue
        if obj not in outlines:
            outlines[obj] = _outline(flat_np[labels_np == obj])
        if outlines[obj] is None:
            continue
        inside = _inside_share(flat_np[labels_np == part], outlines[obj])
        if inside >= _INSIDE:
            target[part] = obj
    # follow chains (a part of a part); there are no cycles: each step at least halves the top
    for i in range(n):
        j = i
        while target[j] != j:
            j = target[j]
        target[i] = j
    return torch.tensor(target, device=labels.device)[labels]


def _touching(labels: torch.Tensor, n: int) -> torch.Tensor:
    """(n, n) pixel pairs along which two regions meet once each has grown ``_TOUCH`` pixels into unlabelled
    pixels (the larger id where two grow into the same pixel)."""
    grown = grow_labels(labels, None, _TOUCH)
    keys = []
    for a, b in ((grown[:, :-1], grown[:, 1:]), (grown[:-1], grown[1:])):
        pair = (a != b) & (a > 0) & (b > 0)
        keys.append(a[pair] * n + b[pair])
    counts = torch.bincount(torch.cat(keys), minlength=n * n).view(n, n)
    return counts + counts.T


def _region_quantile(labels: torch.Tensor, values: torch.Tensor, n: int, q: float) -> torch.Tensor:
    """(n,) the ``q`` quantile of ``values`` (metres) over each region (0 for an empty one), to a tenth of a
    millimetre: one sort of the labelled pixels by region, then value."""
    inside = labels > 0
    region, value = labels[inside], values[inside].float()
    tenths = ((value.clamp(-100.0, 100.0) + 100.0) * 1e4).long()          # non-negative, below 2^21
    ordered = torch.sort(region * (1 << 22) + tenths).values
    sizes = torch.bincount(region, minlength=n)
    starts = torch.cumsum(sizes, 0) - sizes
    pick = (starts + (q * (sizes - 1).clamp_min(0).float()).long()).clamp(0, max(0, ordered.numel() - 1))
    picked = (ordered[pick] % (1 << 22)).float() / 1e4 - 100.0
    return torch.where(sizes > 0, picked, torch.zeros_like(picked))


def _extent(labels: torch.Tensor, flat: torch.Tensor, n: int) -> torch.Tensor:
    """(n,) the longer side of each region's box on the support (its two axes)."""
    index = labels.reshape(-1)
    sides = []
    for k in range(2):
        v = flat[..., k].reshape(-1)
        hi = torch.full((n,), -float('inf'), device=v.device).scatter_reduce(0, index, v, 'amax')
        lo = torch.full((n,), float('inf'), device=v.device).scatter_reduce(0, index, v, 'amin')
        sides.append((hi - lo).clamp_min(0))
    return torch.maximum(*sides)


def _outline(flat: np.ndarray):
    """Half-plane equations (K, 3) of the convex outline of (N, 2) points, or None when degenerate."""
    from scipy.spatial import ConvexHull
    if len(flat) > _HULL_POINTS:
        flat = flat[:: len(flat) // _HULL_POINTS + 1]
    try:
        return ConvexHull(flat.astype(np.float64)).equations
    except Exception:   # too few or collinear points
        return None


def _inside_share(flat: np.ndarray, equations: np.ndarray) -> float:
    if len(flat) == 0:
        return 0.0
    return float(((flat @ equations[:, :2].T + equations[:, 2]) <= _OUTLINE_SLACK).all(1).mean())


def join_low_floors(labels: torch.Tensor, support: torch.Tensor, heights: torch.Tensor, depth: torch.Tensor,
                    focal: float) -> torch.Tensor:
    """``labels`` with the unlabelled ground each object encloses in the image given its id (a bowl's floor),
    when that ground is at least _MIN_FLOOR large, mostly ``support`` pixels (the surface stage's), bordered by
    the object for at least _ENCLOSED of its outline and raised above the table around the object by _FLOOR_RISE.
    ``heights``: above the support; ``depth``: metres (0 = none); ``focal``: the grid's focal length (pixels).
    On the CPU with scipy (a few binary filters per object on small windows)."""
    from scipy import ndimage
    labels_np = labels.detach().cpu().numpy()
    support_np, heights_np = support.detach().cpu().numpy(), heights.detach().cpu().numpy()
    depth_np = depth.detach().cpu().numpy()
    out = labels_np.copy()
    margin = _TABLE_RING + 1
    for obj, box in enumerate(ndimage.find_objects(labels_np), 1):
        if box is None:
            continue
        window = tuple(slice(max(0, b.start - margin), min(n, b.stop + margin)) for b, n in zip(box, labels_np.shape))
        own = labels_np[window] == obj
        seen = depth_np[window][own]
        seen = seen[seen > 0]
        if seen.size == 0:
            continue
        pixel = float(seen.mean()) / focal                                       # m per grid pixel
        radius = min(_MAX_GAP_PIXELS, max(1, round(_RIM_GAP / pixel)))
        region = _enclosed_region(own, radius)
        ground = region & (labels_np[window] == 0)
        if ground.sum() * pixel * pixel < _MIN_FLOOR:
            continue
        local_support, local_heights = support_np[window], heights_np[window]
        around = ndimage.binary_dilation(region, _SQUARE, iterations=_TABLE_RING) & ~region & local_support
        if not around.any():
            continue
        table = float(np.median(local_heights[around]))
        # a container's inside seen by a time-of-flight camera reads deeper than it is (light bounced off its
        # walls): below the table
        floor_like = local_support | ((depth_np[window] > 0) & (local_heights < table - _FLOOR_SINK))
        floors, count = ndimage.label(ground)
        sizes = np.bincount(floors.ravel(), minlength=count + 1)
        on_floor = np.bincount(floors.ravel(), weights=floor_like.ravel(), minlength=count + 1)
        for k in np.nonzero((sizes * pixel * pixel >= _MIN_FLOOR) & (on_floor >= _FLOOR_SUPPORT * sizes))[0]:
            if k == 0:
                continue
            floor = floors == k
            border = ndimage.binary_dilation(floor, _SQUARE) & ~floor
            if np.count_nonzero(border & own) < _ENCLOSED * np.count_nonzero(border):
                continue
            offset = float(np.median(local_heights[floor & floor_like])) - table
            if offset >= _FLOOR_RISE or offset <= -_FLOOR_SINK:
                out[window][floor & (out[window] == 0)] = obj      # a floor two objects enclose: the first
    return torch.from_numpy(out).to(labels.device)


def _enclosed_region(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` with what it encloses once gaps up to 2 ``radius`` wide in it are closed (a morphological closing,
    then the holes filled)."""
    from scipy import ndimage
    # on a canvas with room around: beyond the image border is open ground, not a wall to close gaps against
    pad = radius + 1
    canvas = np.pad(mask, pad).view(np.uint8)
    size = 2 * radius + 1
    closed = ndimage.minimum_filter(ndimage.maximum_filter(canvas, size), size).astype(bool)
    # holes: parts of the rest that do not reach the canvas's edge (one labelling pass; scipy's hole filling
    # propagates from the edge step by step)
    parts, count = ndimage.label(~closed)
    if count > 1:
        edge = np.unique(np.concatenate([parts[0], parts[-1], parts[:, 0], parts[:, -1]]))
        closed |= ~np.isin(parts, edge)
    return closed[pad:-pad, pad:-pad]

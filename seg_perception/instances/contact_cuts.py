"""Two touching objects told apart by colour where the outline and the surfaces show that they are two.

Objects flush against each other (a thin box lying against a rock, a can against a box) may have no depth step and
no concave crease strong enough between them, and depth alone makes them one region. A colour edge inside a region
may be where they meet, or only print on one object (a label, a checker pattern, a two-coloured tool) or the edge
between two faces of one box, shaded differently. A region is cut in two along colour edges only when everything
agrees that it holds two objects:
- its outline is not convex (two objects side by side leave bays in it), but each of its two largest pieces is;
- the pieces touch, and their surfaces meet at an angle, in a valley: print lies on one smooth surface, and two
  faces of one convex object meet over a ridge;
- their colours differ (the pieces of a checker print share their colours).
The rules are strict on purpose: a wrong cut turns one object into two halves, each with a grasp that may not hold;
a missed cut leaves the region as it was.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

from ..prepare import PreparedFrame, pixel_areas

_EDGE_SHARE = 0.6       # of instances.color_edge: a colour edge that may part two objects here
_CONVEX = 0.85          # solidity (area / convex hull area) of a convex piece; a region holding two is below it
_COLOUR_STEP = 40.0     # least difference of the pieces' median colours (largest channel, 0-255)
_MEET_DEG = 15.0        # least angle between the pieces' mean normals where they meet
_RIDGE = 0.5            # the normals diverge across a ridge: their turn points this much across (cosine)
_MEET_PIXELS = 4        # the pieces' pixels this close to each other are where they meet
_FOUR = ndimage.generate_binary_structure(2, 1)


def cut_at_colour_contacts(labels: torch.Tensor, count: int, pf: PreparedFrame, gradient: torch.Tensor,
                           color_edge: float, min_area: float):
    """``labels`` (H, W) 1..count on the prepared frame ``pf``'s grid, ``gradient`` (H, W) its colour gradient,
    ``color_edge`` the gradient that separates objects next to a depth step (``instances.color_edge``; here,
    with the outline and the surfaces as evidence, _EDGE_SHARE of it will do), ``min_area`` (m^2) the smallest
    object. Returns the labels and their count, regions that hold two objects cut in two."""
    if count == 0:
        return labels, count
    pixel_area = pixel_areas(pf)
    # only regions that could hold two objects and have colour edges inside are looked at (on the host)
    eligible = torch.bincount(labels.view(-1), weights=pixel_area.view(-1), minlength=count + 1) >= 2 * min_area
    eligible[0] = False
    edges = (gradient > _EDGE_SHARE * color_edge) & eligible[labels]
    if not bool(edges.any()):
        return labels, count
    lab = labels.detach().cpu().numpy()
    edges, rgb, nrm, area, pts = (t.detach().cpu().numpy() for t in (edges, pf.color, pf.normals, pixel_area,
                                                                       pf.points))
    out = lab.copy()
    next_id = count + 1
    for index, window in enumerate(ndimage.find_objects(lab), start=1):
        if window is None or not edges[window].any():
            continue
        region = lab[window] == index
        second = _second_object(region, edges[window] & region, rgb[window], nrm[window], area[window], min_area,
                                pts[window])
        if second is not None:
            out[window][second] = next_id
            next_id += 1
    if next_id == count + 1:
        return labels, count
    return torch.from_numpy(out).to(labels.device), next_id - 1


def _second_object(region: np.ndarray, edge: np.ndarray, rgb: np.ndarray, nrm: np.ndarray, area: np.ndarray,
                   min_area: float, pts: np.ndarray):
    """The pixels of the region that belong to a second object (see the module's rules), or None."""
    if not edge.any():
        return None
    parts, n_parts = ndimage.label(region & ~edge, structure=_FOUR)
    if n_parts < 2:
        return None
    part_area = ndimage.sum(area, parts, index=np.arange(1, n_parts + 1))
    largest = np.argsort(-part_area)[:2]
    if part_area[largest[1]] < min_area:
        return None
    if _solidity(region) > _CONVEX:
        return None
    first, second = (parts == k + 1 for k in largest)
    # where they meet: each piece's pixels near the other
    near_first = first & ndimage.binary_dilation(second, iterations=_MEET_PIXELS)
    near_second = second & ndimage.binary_dilation(first, iterations=_MEET_PIXELS)
    known = np.abs(nrm).sum(-1) > 0
    near_first &= known
    near_second &= known
    if near_first.sum() < 3 or near_second.sum() < 3:
        return None
    if not _meet_in_a_valley(pts[near_first], nrm[near_first], pts[near_second], nrm[near_second]):
        return None
    step = np.abs(np.median(rgb[first].astype(float), 0) - np.median(rgb[second].astype(float), 0)).max()
    if step < _COLOUR_STEP:
        return None
    if min(_solidity(first), _solidity(second)) < _CONVEX:
        return None
    # the rest of the region (the edge between them, small pieces) goes with the nearer of the two
    seeds = first.astype(np.int8) + 2 * second.astype(np.int8)
    _, (iy, ix) = ndimage.distance_transform_edt(seeds == 0, return_indices=True)
    return region & (seeds[iy, ix] == 2)


def _meet_in_a_valley(points_1: np.ndarray, normals_1: np.ndarray, points_2: np.ndarray, normals_2: np.ndarray) -> bool:
    """Whether two surfaces, seen where they meet (points and normals of each), meet at an angle of at least
    _MEET_DEG in a valley, not over a ridge: the normals diverge across a ridge (the edge between two faces of one
    convex object, a box's top and side) and converge into a valley."""
    n1, n2 = (n.mean(0) / max(1e-9, float(np.linalg.norm(n.mean(0)))) for n in (normals_1, normals_2))
    if float(n1 @ n2) > math.cos(math.radians(_MEET_DEG)):
        return False
    across = points_2.mean(0) - points_1.mean(0)
    turn = n2 - n1
    # the share of the normals' turn that points across, from the first surface to the second
    ridge = float(turn @ across) / max(1e-9, float(np.linalg.norm(turn) * np.linalg.norm(across)))
    return ridge <= _RIDGE


def _solidity(mask: np.ndarray) -> float:
    """The mask's pixel count over the pixel count of its convex hull (1 for a convex shape)."""
    ys, xs = np.nonzero(mask)
    if len(xs) < 3:
        return 1.0
    try:
        hull = ConvexHull(np.stack([xs, ys], 1).astype(float))
    except QhullError:   # on a line
        return 1.0
    y0, x0 = ys.min(), xs.min()
    gy, gx = np.mgrid[y0:ys.max() + 1, x0:xs.max() + 1]
    inside = np.ones(gx.shape, bool)
    for nx, ny, offset in hull.equations:   # qhull's facets: normal . p + offset <= 0 inside
        inside &= nx * gx + ny * gy + offset <= 1e-6
    return len(xs) / max(1, int(inside.sum()))

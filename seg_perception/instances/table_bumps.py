"""Patches of table that the depth lifts a little: a stereo camera's phantom objects, told by their colour.

A stereo camera's depth is not independent pixel by pixel: its matching window makes errors in blobs, and beside an
object's foot (where the object hides the table from one of the two cameras) or at the far edge of the table a
patch of table can come out a centimetre or two above it, higher than the support's noise band allows. Such a
patch stands on the table like a small flat object. On the 9 UCN RealSense frames every object under 600 pixels
was one (11 of them, 75-430 pixels, each with an id, a cloud and sometimes a grasp).

What tells them from a small flat object is that they stand little above the noise band and keep the table's
colour. A small region (under _SMALL_AREAS x ``instances.min_area``) goes when its median height is under
_LOW_BANDS x the support's tolerance at its depth (on those frames the objects' medians were 3.3 or more, the
phantoms' 1.1-2.8) and its colour is that of the support around it: the difference of the mean colours (CIELAB)
in units of the support's colour spread there (at most _SPREAD_CAP, plus _SPREAD_FLOOR) under _TABLE_COLOUR.
Measured: 6 of the 11 go, no object of those frames does; on the 200 synthetic frames 1 of 2 phantoms goes and so
do 3 small objects coloured like their table (a dark purple stone on a dark purple checker), Overlap F 0.9333 ->
0.9330; on 12 frames with depth smeared by 3 px, where ramps cut off their objects stand on the table, phantoms 13
-> 3.
"""
from __future__ import annotations

import torch

from ..imageops import dilate, rgb_to_lab
from ..prepare import PreparedFrame, region_areas
from ..types import SURFACE_SUPPORT, SurfaceResult

_SMALL_AREAS = 8        # regions under this many min_area are tested
_LOW_BANDS = 3.0        # ... standing less than this many support tolerances above it (median) ...
_TABLE_COLOUR = 1.0     # ... and coloured like the support around them within this many of its spreads go
_RING_PX = 8            # full-resolution pixels around a region where the support's colour is taken
_SPREAD_FLOOR = 2.0     # CIELAB units added to the support's spread (a uniform table is not infinitely strict)
_SPREAD_CAP = 8.0       # CIELAB units: the most of the support's spread counted (the real tables' rings: up to 7)
_RING_LEAST = 10        # grid pixels of support around a region needed to judge its colour


def table_bumps(labels: torch.Tensor, count: int, pf: PreparedFrame, surfaces: SurfaceResult,
                min_area: float) -> torch.Tensor:
    """(count + 1,) bool: the regions of ``labels`` (1..count on ``pf``'s grid) that are patches of table the depth
    lifted (above); index 0 is False."""
    drop = torch.zeros(count + 1, dtype=torch.bool, device=labels.device)
    model = surfaces.support_model
    if count == 0 or surfaces.heights is None or model is None:
        return drop
    small = region_areas(pf, labels, count) < _SMALL_AREAS * min_area
    small[0] = False
    if not bool(small.any()):
        return drop
    measured = pf.valid & (labels > 0)
    bands = torch.where(measured, surfaces.heights / model.tolerance(pf.depth), torch.zeros_like(pf.depth))
    low = torch.zeros_like(small)
    for i in torch.nonzero(small).view(-1).tolist():
        region = (labels == i) & measured
        low[i] = bool(region.any()) and float(bands[region].median()) < _LOW_BANDS
    if not bool(low.any()):
        return drop
    # the support's pixels around each low region (where two regions' rings meet, the larger id takes them)
    candidates = torch.where(low[labels], labels, torch.zeros_like(labels))
    ring = dilate(candidates, max(1, round(_RING_PX / pf.stride)))
    ring = torch.where((surfaces.labels == SURFACE_SUPPORT) & pf.valid & (candidates == 0), ring,
                       torch.zeros_like(ring))
    # colours only where they are compared: the low regions and their rings
    near = (candidates > 0) | (ring > 0)
    lab = rgb_to_lab(pf.color[near])                                                   # (K, 3)

    def moments(ids: torch.Tensor):
        """Pixel count, mean and spread of the colours per id (0: none)."""
        n = torch.bincount(ids, minlength=count + 1).float()
        per = n.clamp_min(1)[:, None]
        mean = torch.stack([torch.bincount(ids, weights=lab[:, k], minlength=count + 1) for k in range(3)], 1) / per
        square = torch.stack([torch.bincount(ids, weights=lab[:, k] ** 2, minlength=count + 1) for k in range(3)],
                             1) / per
        return n, mean, (square - mean ** 2).clamp_min(0).sqrt()
    n_region, region_mean, _ = moments(candidates[near])
    n_ring, ring_mean, ring_spread = moments(ring[near])
    # a ring of mixed colours (an object lying flat within the noise band around a piece of it that stands out)
    # is no table to compare with: its spread allows no more than a uniform table's
    spread = ring_spread.clamp_max(_SPREAD_CAP) + _SPREAD_FLOOR
    contrast = (((region_mean - ring_mean) / spread) ** 2).sum(1).sqrt()
    drop = low & (n_region > 0) & (n_ring >= _RING_LEAST) & (contrast < _TABLE_COLOUR)
    drop[0] = False
    return drop

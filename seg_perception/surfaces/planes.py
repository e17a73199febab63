"""Geometric workspace segmentation: support surface, floor, walls from multi-plane RANSAC on depth.

1. RANSAC finds the largest planes in a sample of the depth points.
2. The up vector is the known one (configuration or extrinsics) or, when unknown, the normal of the dominant
   plane that faces up in the image (a camera looking down at a workspace sees its up direction between
   -y and -z of the optical frame, or close to -z when it looks straight down with any roll).
3. The support surface is the horizontal plane that covers most of the view near the image centre (where its
   pixels lost depth too: a black table), or a large one far above it (a table over the floor).
4. Every pixel gets a class: support (on the support plane), object (above it, over its footprint), floor
   (horizontal, below it), wall (vertical planes), other (the rest with depth), unknown (no depth).
"""
from __future__ import annotations

import logging
import math
from typing import List, Optional, Tuple

import torch

from ..config import Config
from ..geometry import plane_basis
from ..imageops import dilate
from ..labeling import connected_components
from ..prepare import PreparedFrame, pixel_areas
from ..types import (SURFACE_FLOOR, SURFACE_OBJECT, SURFACE_OTHER, SURFACE_SUPPORT, SURFACE_UNKNOWN, SURFACE_WALL,
                     Plane, SurfaceResult)
from .footprint import SupportFootprint
from .ransac import PlaneFit, detect_planes, inlier_threshold
from .support import SupportSurface

log = logging.getLogger(__name__)

# Priors for "up" in the optical frame of a camera looking down at a workspace, with the widest angle from
# each: an oblique view (up between the image edge that is up, surfaces.image_up, and -z), else a near top-down
# view with any roll (up close to -z).
_HALF = math.sqrt(0.5)
_OBLIQUE_UP = {'top': (0.0, -_HALF, -_HALF), 'bottom': (0.0, _HALF, -_HALF), 'left': (-_HALF, 0.0, -_HALF),
               'right': (_HALF, 0.0, -_HALF)}
_OBLIQUE_DEG = 60.0
_TOP_DOWN_UP = (0.0, 0.0, -1.0)
_TOP_DOWN_DEG = 30.0
_PLANE_NOISE_FLOOR = 0.004      # m: the least 'on the surface' tolerance at any depth
_ROUGHLY_FLAT_COS = 0.5          # cos 60 deg: normals of noisy support pixels close to the surface
_WIDE_BAND = 4.0                 # first support band, in RANSAC thresholds...
_WIDE_BAND_FLOOR = 0.015         # ...and at least this (m)
_FLOOR_BELOW = 0.08       # a horizontal plane this far below the support (m) is the floor
_SUPPORT_PIECE_REACH = 0.15   # m: support pieces cut off by clutter lie this close to the main region's box
_SEEN_BELOW = 3.0             # pixels this many surface tolerances below it show that it is not there
_HOLE_BRIDGE = 2              # coarse cells (4 pixels each) of lost depth that support pieces connect across
_GAPPED_SHARE = 0.5           # a piece goes when more than this share of it lies beyond such a gap
_SUPPORT_SHARE_OF_BEST = 0.3     # a horizontal plane this big relative to the largest may be the support...
_TABLE_ABOVE_FLOOR = 0.4         # ...when it is this much higher (m): a table over the floor
_SAME_SURFACE = 0.05             # m: horizontal fits this close in height are one surface
_SUPPORT_FITS = 4               # at most this many fits of the support surface, each to the last one's support
_FIT_POINTS = 4000              # support points (evenly picked) the surface is fitted to: ample for 6 terms
_FOOTPRINT_POINTS = 8000        # ...and the footprint is built from (1 cm cells over a table)
_COVER_CELLS = 32               # the view is cut into cells of 1/32 of its shorter side...
_COVER_SHARE = 0.5              # ...and a cell counts for a plane when more than this share of its measured
                                # pixels lie on it
_WALL_MIN_AREA = 0.2             # m^2: a vertical plane this large is a wall, not the face of an object


def normals_agree(pf: PreparedFrame, direction: torch.Tensor, cos_limit: float, facing: bool = False) -> torch.Tensor:
    """(H, W) pixels whose normal lies within acos(``cos_limit``) of ``direction`` (``facing``: pointing along
    it; else either way), or that have none (next to a depth jump). On fine grids the normals over a wider window
    (``pf.surface_normals``) count too: depth noise tilts the 2-pixel ones on a Kinect's table, and the wide ones
    blur a table's edge and the bases of objects (alone they cost 0.006 of support IoU on synthetic frames)."""
    def agrees(normals: torch.Tensor) -> torch.Tensor:
        cos = normals @ direction
        return (cos if facing else cos.abs()) > cos_limit

    out = agrees(pf.normals) | pf.normal_unknown
    if pf.surface_normals is not pf.normals:
        out |= agrees(pf.surface_normals)
    return out


def raised_above_support(heights: torch.Tensor, depth: torch.Tensor, valid: torch.Tensor, tolerance: torch.Tensor,
                         min_height: float, max_height: float) -> torch.Tensor:
    """Pixels standing clear of the support surface: higher than its noise band (``tolerance``) and than
    ``min_height`` (growing with depth squared like sensor noise), lower than ``max_height``."""
    floor = inlier_threshold(depth, min_height, floor=0.005).maximum(tolerance)
    return valid & (heights > floor) & (heights < max_height)


class PlaneSurfaceSegmenter:
    name = 'planes'

    def __init__(self, config: Config):
        self.cfg = config.surfaces
        self.min_height = config.instances.min_height
        self.max_height = config.instances.max_height

    def segment(self, pf: PreparedFrame, support_hint: Optional[torch.Tensor] = None) -> SurfaceResult:
        """``support_hint``: (H, W) pixels a model calls support; the support plane is then the horizontal
        plane holding most of them."""
        c = self.cfg
        h, w = pf.shape
        device = pf.device
        generator = torch.Generator(device=device).manual_seed(c.seed)
        sample_idx, sample_pts, sample_nrm = self._sample(pf, generator)
        n_valid = sample_idx.numel()
        normal_cos = math.cos(math.radians(c.normal_threshold_deg))
        fits = detect_planes(sample_pts, sample_nrm, max_planes=c.max_planes, hypotheses=c.hypotheses,
                             threshold_1m=c.distance_threshold, normal_cos=normal_cos,
                             min_inliers=max(20, int(c.min_plane_fraction * n_valid)), generator=generator)
        labels = torch.where(pf.valid, SURFACE_OTHER, SURFACE_UNKNOWN).to(torch.uint8)
        if not fits:
            return SurfaceResult(labels, (), pf.up_hint, None)
        if support_hint is not None and bool(support_hint.any()):
            weight = support_hint.float()
        else:   # the workspace is near the middle of the view
            v = torch.linspace(-0.5, 0.5, h, device=device)[:, None]
            u = torch.linspace(-0.5, 0.5, w, device=device)[None, :]
            weight = torch.exp(-(u * u + v * v) / (2 * 0.25 ** 2))
        z = pf.depth
        tol = inlier_threshold(z, c.distance_threshold)
        cover = self._view_cover(pf, fits, weight, tol, normal_cos)
        up, support = self._choose_support(fits, pf.up_hint, cover)
        if support is None:
            return SurfaceResult(labels, tuple(self._plane(f, SURFACE_OTHER) for f in fits), up, None)

        # full resolution: heights above the support plane and its inliers
        s_normal, s_offset = support.normal, support.offset
        if s_normal @ up < 0:
            s_normal, s_offset = -s_normal, -s_offset
        heights = pf.points @ s_normal + s_offset
        flat = normals_agree(pf, up, normal_cos, facing=True)
        roughly_flat = normals_agree(pf, up, _ROUGHLY_FLAT_COS, facing=True)
        # a wide band first: real sensors bend large planes (lens distortion, warp), RANSAC's band holds
        # only part of the table; the fitted surface then follows the bend and measures the noise
        band = (_WIDE_BAND * tol).clamp_min(_WIDE_BAND_FLOOR)
        on_support = self._main_region(pf.valid & (heights.abs() < band) & flat, pf.points, s_normal,
                                       pf.valid & (heights < -band), ~pf.valid)
        if not bool(on_support.any()):
            return SurfaceResult(labels, tuple(self._plane(f, SURFACE_OTHER) for f in fits), up, None)
        count = int(on_support.sum())
        for _ in range(_SUPPORT_FITS):
            support_pts = pf.points[on_support]
            step = max(1, support_pts.shape[0] // _FIT_POINTS)
            surface = SupportSurface.fit(support_pts[::step], up, c.distance_threshold, _PLANE_NOISE_FLOOR)
            heights = surface.heights(pf.points)
            tol = surface.tolerance(z)
            # normals are noisy far away: pixels very close to the surface need only a roughly upward normal
            # (a vertical face crossing the table's height must not join it)
            on_support = pf.valid & (((heights.abs() < tol) & flat) | ((heights.abs() < 0.5 * tol) & roughly_flat))
            on_support = self._main_region(on_support, pf.points, surface.normal,
                                           pf.valid & (heights < -_SEEN_BELOW * tol), ~pf.valid)
            # the fitted surface may take in more of the table (a plane a degree off only held a strip of it):
            # fit again until the support stops growing
            previous, count = count, int(on_support.sum())
            if abs(count - previous) <= 0.01 * count:
                break
        s_normal, s_offset = surface.normal, surface.offset
        if pf.up_hint is None:
            up = s_normal
        support_pts = pf.points[on_support]
        step = max(1, support_pts.shape[0] // _FOOTPRINT_POINTS)
        footprint = SupportFootprint.build(support_pts[::step], s_normal, s_offset, c.footprint_margin, pf.depth,
                                           pf.camera)
        above = raised_above_support(heights, z, pf.valid, tol, self.min_height, self.max_height)
        walls = self._wall_pixels(pf, fits, support, up, heights, tol, normal_cos)
        above &= ~walls
        objects = torch.zeros_like(above)
        objects[above] = footprint.contains(pf.points[above])  # only raised points can be objects

        labels[on_support] = SURFACE_SUPPORT
        labels[objects] = SURFACE_OBJECT
        planes = [Plane(s_normal, s_offset, SURFACE_SUPPORT, int(on_support.sum()))]
        rest = pf.valid & ~on_support & ~objects
        for fit in fits:
            if fit is support:
                continue
            kind = self._classify(fit, up, s_normal, s_offset)
            planes.append(self._plane(fit, kind))
            if kind == SURFACE_OTHER:
                continue
            dist = (pf.points @ fit.normal + fit.offset).abs()
            member = rest & (dist < tol) & normals_agree(pf, fit.normal, normal_cos)
            labels[member] = kind
            rest &= ~member
        return SurfaceResult(labels, tuple(planes), up, planes[0], heights=heights, footprint=footprint,
                             raised=above, support_model=surface)

    # -- helpers -------------------------------------------------------------------------------------------

    def _sample(self, pf: PreparedFrame, generator) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        flat_valid = pf.valid.view(-1)
        idx = torch.nonzero(flat_valid).squeeze(1)
        if idx.numel() > self.cfg.sample_points:
            choice = torch.randint(idx.numel(), (self.cfg.sample_points,), generator=generator, device=idx.device)
            idx = idx[choice]
        return idx, pf.points.view(-1, 3)[idx], pf.surface_normals.view(-1, 3)[idx]

    @staticmethod
    def _view_cover(pf: PreparedFrame, fits: List[PlaneFit], weight: torch.Tensor, tol: torch.Tensor,
                    normal_cos: float) -> List[float]:
        """How much of the view each plane covers, ``weight`` (H, W) summed over the cells of the view most of
        whose measured pixels lie on it (within ``tol``, normals agreeing or unknown), however few were
        measured: a dark or glossy table that returns depth on a fifth of its pixels covers as much of the view
        as a bright one (counting its points, a floor around it won)."""
        h, w = pf.shape
        cell = max(1, min(h, w) // _COVER_CELLS)

        def per_cell(x: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.avg_pool2d(x[None, None].float(), cell, ceil_mode=True)[0, 0]
        measured = per_cell(pf.valid)
        cell_weight = per_cell(weight)
        cover = []
        for fit in fits:
            on = pf.valid & ((pf.points @ fit.normal + fit.offset).abs() < tol)
            on &= normals_agree(pf, fit.normal, normal_cos)
            mostly = per_cell(on) > _COVER_SHARE * measured
            cover.append(float((cell_weight * mostly).sum()))
        return cover

    def _choose_support(self, fits: List[PlaneFit], up_hint: Optional[torch.Tensor],
                        cover: List[float]) -> Tuple[torch.Tensor, Optional[PlaneFit]]:
        horizontal_cos = math.cos(math.radians(self.cfg.horizontal_tolerance_deg))
        if up_hint is not None:
            candidates = [f for f in fits if float((f.normal @ up_hint).abs()) > horizontal_cos]
        else:
            candidates = []
            priors = ((_OBLIQUE_UP[self.cfg.image_up], _OBLIQUE_DEG), (_TOP_DOWN_UP, _TOP_DOWN_DEG))
            for prior, max_deg in priors:  # an oblique view first, then a top-down one
                prior_t = torch.tensor(prior, device=fits[0].normal.device, dtype=fits[0].normal.dtype)
                limit = math.cos(math.radians(max_deg))
                candidates = [f for f in fits if float(f.normal @ prior_t) > limit]
                if candidates:
                    break
            if candidates:
                # and every fit level with the largest of them: a camera looking down steeply sees the table's
                # normal just outside the oblique prior, where RANSAC's lesser fits of it may lie inside
                level = max(candidates, key=lambda f: cover[fits.index(f)]).normal
                candidates += [f for f in fits if f not in candidates and float(f.normal @ level) > horizontal_cos]
        if not candidates:
            return (up_hint if up_hint is not None else fits[0].normal), None
        scores = [cover[fits.index(f)] for f in candidates]
        best = max(scores)
        up = up_hint if up_hint is not None else candidates[scores.index(best)].normal
        # a table seen over a floor that fills more of the image is still the workspace: a substantial
        # horizontal plane far above the best one wins (box tops and shelves are not that far above a table)
        def height(f):  # of the plane along up, up to a common constant
            return -float(f.offset * torch.sign(f.normal @ up))
        support = candidates[scores.index(best)]
        # RANSAC may fit one surface twice (a warped table, two fits a few degrees apart; a table that lost much
        # of its depth): surfaces, not fits, compete
        heights = [height(f) for f in candidates]
        own = scores
        scores = [sum(s for s, h in zip(own, heights) if abs(h - h0) < _SAME_SURFACE) for h0 in heights]
        best = scores[candidates.index(support)]
        while True:   # of the surfaces far above, the one covering most of the view (not the flat tops of large
            # objects on it, which RANSAC may find first when the table lost much of its depth), and of that
            # surface's fits the largest
            above = [(sc, own_sc, -i) for i, (f, sc, own_sc) in enumerate(zip(candidates, scores, own))
                     if sc >= _SUPPORT_SHARE_OF_BEST * best and height(f) - height(support) > _TABLE_ABOVE_FLOOR]
            if not above:
                return up, support
            support = candidates[-max(above)[2]]

    @staticmethod
    def _main_region(mask: torch.Tensor, points: torch.Tensor, normal: torch.Tensor,
                     seen_below: torch.Tensor, unmeasured: torch.Tensor) -> torch.Tensor:
        """The support's main region and the pieces of it that clutter cuts off. Pieces connected across pixels
        without depth (``unmeasured``: a black table's specks) are one group; the main region is the largest
        group, and pieces within reach of its box on the plane join it with their groups. Not from piece to
        piece across measured pixels: on every pixel of a Kinect frame, noisy normals speckled the table, and a
        chain of specks reached a robot platform's rails at the table's height. A coplanar desk further away
        and specks elsewhere go, and so does a piece that lies beyond a gap: a chair's seat behind the table at
        its height, seen past the table's edge (``seen_below``: pixels seen below the surface, where it is
        not)."""
        step = 4
        coarse = mask[::step, ::step]
        labels, count = connected_components(coarse)
        if count <= 1:
            return mask
        labels = labels.to(mask.device)
        e1, e2 = plane_basis(normal)
        pts = points[::step, ::step]
        a, b = (pts @ e1).view(-1), (pts @ e2).view(-1)
        flat = labels.view(-1)
        inf = torch.full((count + 1,), float('inf'), device=mask.device)
        boxes = torch.stack([inf.scatter_reduce(0, flat, a, 'amin'), (-inf).scatter_reduce(0, flat, a, 'amax'),
                             inf.scatter_reduce(0, flat, b, 'amin'), (-inf).scatter_reduce(0, flat, b, 'amax')], 1)
        sizes = torch.bincount(flat, minlength=count + 1)
        sizes[0] = 0
        # a table that loses much of its depth (black, glossy) falls apart into specks: pieces connected across
        # pixels without depth are one group, and the main region is the largest piece of the largest group
        group_of = _lost_depth_groups(coarse, labels, sizes, unmeasured[::step, ::step])
        group_sizes = torch.bincount(group_of, weights=sizes.to(torch.float64))
        group_sizes[0] = 0
        main_group = group_of == group_sizes.argmax()
        main_group[0] = False                   # not a piece
        main_id = int(torch.where(main_group, sizes, 0).argmax())
        # pieces within reach of the main group's box (cut off by clutter), and every piece of their groups
        main = boxes[main_group]
        main = torch.stack([main[:, 0].min(), main[:, 1].max(), main[:, 2].min(), main[:, 3].max()])
        reach = _SUPPORT_PIECE_REACH
        keep = ((boxes[:, 0] <= main[1] + reach) & (boxes[:, 1] >= main[0] - reach)
                & (boxes[:, 2] <= main[3] + reach) & (boxes[:, 3] >= main[2] - reach))
        keep[0] = False
        kept_groups = torch.zeros_like(group_sizes, dtype=torch.bool)
        kept_groups[group_of[keep]] = True
        kept_groups[0] = False
        keep |= kept_groups[group_of]
        keep[0] = False
        if int(keep.sum()) > 1:   # pieces besides the main region
            keep &= ~_beyond_gaps(labels, count, main_id, seen_below[::step, ::step])
        kept = keep[labels]
        kept = kept.repeat_interleave(step, 0).repeat_interleave(step, 1)[:mask.shape[0], :mask.shape[1]]
        # grow back by one coarse cell so boundary pixels of kept regions stay
        return mask & dilate(kept, step)

    def _wall_pixels(self, pf, fits, support, up, heights, tol, normal_cos) -> torch.Tensor:
        """Pixels on vertical planes that rise above the tallest object or are larger than any object face:
        walls, cabinet fronts."""
        walls = torch.zeros_like(pf.valid)
        vertical_sin = math.sin(math.radians(self.cfg.horizontal_tolerance_deg + 5))
        areas = pixel_areas(pf)
        for fit in fits:
            if fit is support or float((fit.normal @ up).abs()) > vertical_sin:
                continue
            dist = (pf.points @ fit.normal + fit.offset).abs()
            member = pf.valid & (dist < tol) & normals_agree(pf, fit.normal, normal_cos)
            tall = (member & (heights > self.max_height)).sum()
            area = areas[member].sum()
            if bool(tall > 0.05 * member.sum()) or float(area) > _WALL_MIN_AREA:
                walls |= member
        return walls

    def _classify(self, fit: PlaneFit, up: torch.Tensor, s_normal, s_offset) -> int:
        horizontal_cos = math.cos(math.radians(self.cfg.horizontal_tolerance_deg))
        vertical_sin = math.sin(math.radians(self.cfg.horizontal_tolerance_deg + 5))
        cos_up = float((fit.normal @ up).abs())
        if cos_up > horizontal_cos:
            # the plane's height relative to the support, measured at the support plane's closest point
            foot = -s_offset * s_normal
            height = float(fit.normal @ foot + fit.offset) * (1.0 if float(fit.normal @ up) > 0 else -1.0)
            return SURFACE_FLOOR if height > _FLOOR_BELOW else SURFACE_OTHER
        if cos_up < vertical_sin:
            return SURFACE_WALL
        return SURFACE_OTHER

    @staticmethod
    def _plane(fit: PlaneFit, kind: int) -> Plane:
        return Plane(fit.normal, fit.offset, kind, fit.count)


def _lost_depth_groups(pieces: torch.Tensor, labels: torch.Tensor, sizes: torch.Tensor,
                       unmeasured: torch.Tensor) -> torch.Tensor:
    """(count + 1,) the group of each of the ``pieces`` (their ``labels`` 1..count, ``sizes``): pieces connected
    across pixels without depth (``unmeasured``, up to _HOLE_BRIDGE cells from a piece) share one; 0 for none."""
    bridged = pieces | (dilate(pieces, _HOLE_BRIDGE) & unmeasured)
    groups, _ = connected_components(bridged)
    return torch.zeros_like(sizes).scatter_reduce(0, labels.view(-1), groups.to(labels.device).view(-1), 'amax')


def _beyond_gaps(labels: torch.Tensor, count: int, main_id: int, below: torch.Tensor) -> torch.Tensor:
    """(count + 1,) whether each region of ``labels`` lies mostly beyond a gap from region ``main_id``: along
    the image rows and columns, every way from its pixels to the main region crosses pixels seen ``below`` the
    surface. A piece of table cut off by an object is reached across the object (above the surface)."""
    h, w = labels.shape
    main = labels == main_id
    reaching = torch.zeros_like(main)
    blocked_everywhere = torch.ones_like(main)
    for dim, size in ((0, h), (1, w)):
        index = torch.arange(size, device=labels.device).view((-1, 1) if dim == 0 else (1, -1)).expand(h, w)
        for forward in (True, False):
            to_main, to_below = (_nearest(hit, index, dim, size, forward) for hit in (main, below))
            if forward:
                reaches, blocked = to_main < size, to_below < to_main
            else:
                reaches, blocked = to_main >= 0, to_below > to_main
            reaching |= reaches
            blocked_everywhere &= ~reaches | blocked
    gapped = reaching & blocked_everywhere
    cells = torch.bincount(labels.view(-1), minlength=count + 1).clamp_min(1)
    share = torch.bincount(labels.view(-1), weights=gapped.view(-1).float(), minlength=count + 1) / cells
    out = share > _GAPPED_SHARE
    out[0] = False
    out[main_id] = False
    return out


def _nearest(hit: torch.Tensor, index: torch.Tensor, dim: int, size: int, forward: bool) -> torch.Tensor:
    """Per pixel, the ``index`` along ``dim`` of the nearest ``hit`` pixel at or ahead of it (towards higher
    indices when ``forward``, else lower); ``size`` (forward) or -1 where there is none."""
    if forward:
        ahead = torch.where(hit, index, size)
        return torch.flip(torch.cummin(torch.flip(ahead, [dim]), dim).values, [dim])
    return torch.cummax(torch.where(hit, index, -1), dim).values

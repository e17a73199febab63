"""Class-agnostic geometric instances: what stands on the support surface, split where objects meet.

Candidates are the surface stage's raised pixels (above the support plane, anywhere). Pixels on a
boundary between two objects are set aside, the rest is split into 4-connected regions, and the set-aside
pixels rejoin their neighbouring region. A boundary is
- a depth step between neighbouring pixels larger than ``depth_jump`` per metre of depth (one object in
  front of another); on fine grids (every pixel of a 640x480 frame) between pixels a step span apart, so that a
  step covers about the same angle of view as on the CPU's grid,
- a concave crease: normals turning towards each other across the pixel (two convex objects touching),
- a strong colour edge near a depth step (where a depth step alone leaves a gap, e.g. stacked objects).
Fragments smaller than ``min_area`` join the neighbour they share the longest smooth border with, or go;
small regions whose depth steps like a surface seen edge-on (depth a sensor smeared across an object's
silhouette, cut off from it) go, and so do small regions that hardly touch the table and stand no higher than
the region they touch (nothing holds them up: a piece cut off an object, a smeared silhouette), and so do small
regions standing little above the support in the table's colour (a stereo camera's lifted patches of table:
table_bumps.py); regions mostly
beyond the support's footprint (a robot arm reaching in, a shelf) are dropped; a low part inside a smaller
object's outline seen from above joins it (a bowl's floor: inner_parts.py), and so does ground it encloses a
few millimetres above the table (a thin floor taken for support); small depth holes enclosed by one object are
filled. Ids run left to right by centroid.
"""
from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..config import Config
from ..depth_edges import RAMP_STEPS
from ..imageops import bounding_box, box_sum, dilate, dot3, grow_labels, norm3
from ..labeling import connected_components
from ..prepare import PreparedFrame, region_areas
from ..types import SURFACE_OBJECT, SURFACE_SUPPORT, CameraModel, InstanceResult, SurfaceResult
from ..unmeasured import MOSTLY_ENCLOSED, join_holes
from .contact_cuts import cut_at_colour_contacts
from .inner_parts import join_low_floors, merge_inner_parts
from .table_bumps import table_bumps

_REGROW_ITERATIONS = 4
_STEP_SPAN_FOCAL = 300.0  # px of the grid's focal length per pixel a depth step is measured across (step_span)
_THIN_SHARE = 0.2         # regions with fewer interior pixels than this share are strips, merged or dropped
_STEP_RATIO = 1.25        # an occlusion edge steps this many times more than its neighbouring pixels do
_CROP_MARGIN = 8          # pixels kept around the raised region (filters reach a few pixels)
_STRONG_CREASE = 2.0      # a crease this many times the threshold is strong evidence of a boundary
_WEAK_BORDER = 0.25       # regions meeting along a border with less strong evidence than this share merge
_SLIVER_AREAS = 4         # regions under this many min_area may be slivers of smeared depth ...
_EDGE_ON_DEG = 75.0       # ... when their depth steps like a surface turned this far from the camera ...
_EDGE_ON_SHARE = 0.5      # ... at more than this share of their pixels
_PIECE_RISE = 0.003       # m: a small region off the support standing less than this above what it touches rests on
                          # nothing (such regions of 3 x 80 synthetic frames, sharp and smeared: 29 pieces of an
                          # object, 27 of them below 3 mm; 13 whole objects, 9 of them 3.5-94 mm above)
_TABLE_OUTLINE = 1 / 3    # ... unless this share of its outline lies on the table (a flat rock beside a can over
                          # three renders: 0.46-0.51; the pieces of the real frames 0-0.18, two of 11 0.42 and 0.57)
_TABLE_BELOW = 0.02       # m: unraised pixels down to this below the support are the table (the floor is further)
_RAMP_REACH = 6           # full-resolution pixels either side of a pixel over which a smeared depth step is sought
                          # ... and a change of RAMP_STEPS single-step limits across them (depth_edges.py; 3
                          # measured on synthetic frames smeared by 3 px: F 0.802 -> 0.805; 5: no change; sharp
                          # frames unchanged)


def step_span(grid_fx: float) -> int:
    """Grid pixels a depth step is measured across on a grid of focal length ``grid_fx``: 1 on the CPU's grids
    (under 600 px), 2 on every pixel of a 640x480 frame (fx 615) or of GraspNet's 720p one, 3 from 900 px. On
    every pixel an edge a sensor spreads over two pixels stepped half the limit per pixel, and touching objects
    merged that the CPU's grid kept apart (UCN frames 2 and 6: a drill and a mug, a toy and the box beside it)."""
    return max(1, int(grid_fx // _STEP_SPAN_FOCAL))


def _crease_step(stride: int) -> int:
    """Grid pixels either side of a pixel when testing for a concave crease: 3 at full resolution, 2 on coarser
    grids (measured: F +0.007 on synthetic frames and +0.012 on the GraspNet frame at stride 2, -0.004 at
    stride 1 with 2)."""
    return max(2, 4 - stride)


class ClusterInstanceSegmenter:
    name = 'clusters'

    def __init__(self, config: Config):
        self.cfg = config.instances

    def segment(self, pf: PreparedFrame, surfaces: SurfaceResult) -> InstanceResult:
        empty = torch.zeros(pf.shape, dtype=torch.int64, device=pf.device)
        if surfaces.raised is None or not bool((surfaces.labels == SURFACE_OBJECT).any()):
            return InstanceResult(empty)
        # everything below works inside the box around the raised pixels (objects fill a small part of a frame)
        box = bounding_box(surfaces.raised, margin=_CROP_MARGIN)
        pf, surfaces = crop_frame(pf, box), crop_surfaces(surfaces, box)
        labels, count = self._segment_crop(pf, surfaces)
        empty[box[0]:box[1], box[2]:box[3]] = labels
        return InstanceResult(empty, ('unknown',) * count, (1.0,) * count)

    def _segment_crop(self, pf: PreparedFrame, surfaces: SurfaceResult):
        candidates = self.standing_blobs(pf, surfaces)
        if not bool(candidates.any()):
            return torch.zeros(pf.shape, dtype=torch.int64, device=pf.device), 0
        # tighter still: around what stands on the support
        box = bounding_box(candidates, margin=_CROP_MARGIN)
        out = torch.zeros(pf.shape, dtype=torch.int64, device=pf.device)
        pf, surfaces, candidates = crop_frame(pf, box), crop_surfaces(surfaces, box), \
            candidates[box[0]:box[1], box[2]:box[3]].contiguous()
        labels, count = self._split(pf, surfaces, candidates)
        out[box[0]:box[1], box[2]:box[3]] = labels
        return out, count

    def _split(self, pf: PreparedFrame, surfaces: SurfaceResult, candidates: torch.Tensor):
        boundary, strong, gradient = self._boundaries(pf, candidates)
        core = candidates & ~boundary
        labels, count = connected_components(core)
        labels = labels.to(pf.device)
        labels = grow_labels(labels, candidates, _REGROW_ITERATIONS)
        # candidate regions with no core at all (small objects that are all boundary) become regions too
        orphans, n_orphans = connected_components(candidates & (labels == 0))
        if n_orphans:
            labels = torch.where(labels > 0, labels, torch.where(orphans.to(pf.device) > 0,
                                                                 orphans.to(pf.device) + count, labels))
            count += n_orphans
        labels, count = _merge_weak_borders(labels, count, strong, pf.depth, self.cfg.depth_jump * pf.stride)
        if self.cfg.contact_cuts and gradient is not None:
            labels, count = cut_at_colour_contacts(labels, count, pf, gradient, self.cfg.color_edge, self.cfg.min_area)
        labels, count = self._merge_fragments(pf, labels, count)
        labels, count = self._drop_edge_on_slivers(pf, labels, count)
        labels, count = self._drop_unsupported_pieces(surfaces, pf, labels, count)
        if self.cfg.drop_table_bumps:
            bumps = table_bumps(labels, count, pf, surfaces, self.cfg.min_area)
            if bool(bumps.any()):
                labels, count = _compact(torch.where(bumps[labels], torch.zeros_like(labels), labels))
        labels, count = self._keep_supported(surfaces, labels, count)
        if self.cfg.merge_inner_parts and surfaces.up is not None and surfaces.heights is not None:
            labels, count = _compact(merge_inner_parts(labels, count, pf.points, surfaces.heights, surfaces.up))
            labels = join_low_floors(labels, surfaces.labels == SURFACE_SUPPORT, surfaces.heights, pf.depth,
                                     pf.camera.fx)
        labels = join_holes(labels, pf.valid, MOSTLY_ENCLOSED)
        labels, _ = order_left_to_right(labels, count)
        return labels, count

    def standing_blobs(self, pf: PreparedFrame, surfaces: SurfaceResult) -> torch.Tensor:
        """Raised pixels whose smooth (no depth step) connected blob lies mostly over the support's footprint.
        A robot arm or platform, a shelf or a wall reaching over the table's edge is one blob mostly outside
        it and goes as a whole, before texture and creases could cut it into pieces that look inside."""
        raised = surfaces.raised
        z = pf.depth
        k = step_span(pf.camera.fx)
        # any step above the limit cuts here (steep faces included): blobs must not leak into a robot or shelf
        limit = self.cfg.depth_jump * z.clamp_min(0.1)
        cut = torch.zeros_like(raised)
        across_x = (z[:, k:] - z[:, :-k]).abs() > torch.minimum(limit[:, k:], limit[:, :-k])
        across_y = (z[k:] - z[:-k]).abs() > torch.minimum(limit[k:], limit[:-k])
        cut[:, 1:] |= _pairs_inside(across_x, k)             # the pixels after the step's first one
        cut[1:] |= _pairs_inside(across_y.T, k).T
        blobs, count = connected_components(raised & ~cut)
        if count == 0:
            return raised & False
        blobs = grow_labels(blobs.to(pf.device), raised, 2 * k)   # across the cut's width
        inside = torch.bincount(blobs.view(-1), weights=(surfaces.labels == SURFACE_OBJECT).view(-1).float(),
                                minlength=count + 1)
        total = torch.bincount(blobs.view(-1), minlength=count + 1).float().clamp_min(1)
        keep = inside / total >= self.cfg.min_inside
        keep[0] = False
        return keep[blobs]

    # -- boundaries -----------------------------------------------------------------------------------------

    def _boundaries(self, pf: PreparedFrame, candidates: torch.Tensor) -> torch.Tensor:
        c = self.cfg
        z = pf.depth
        boundary = torch.zeros_like(candidates)
        # occlusion edges between 4-neighbours
        jump_x, jump_y = depth_steps(z, pf.valid, c.depth_jump, step_span(pf.camera.fx))
        jump_x &= candidates[:, 1:] | candidates[:, :-1]
        jump_y &= candidates[1:] | candidates[:-1]
        boundary[:, 1:] |= jump_x
        boundary[:, :-1] |= jump_x
        boundary[1:] |= jump_y
        boundary[:-1] |= jump_y
        # concave creases, from smooth normals over a wider window
        crease = torch.zeros_like(z)
        if c.concavity > 0 or c.color_edge > 0:
            crease = _concavity(pf.points, pf.normals, _crease_step(pf.stride))
        strong = boundary.clone()
        gradient = None
        if c.concavity > 0:
            boundary |= crease < -c.concavity
            strong |= crease < -_STRONG_CREASE * c.concavity
        if c.color_edge > 0:
            hint = _near(jump_x, jump_y, z.shape)
            # a sensor that smooths depth turns an occlusion edge into a ramp a few pixels wide, with no single
            # step above the limit: a colour edge counts there too
            hint |= _ramps(z, pf.valid, c.depth_jump, max(1, round(_RAMP_REACH / pf.stride)))
            gradient = _color_gradient(pf.color)
            edge = (gradient > c.color_edge) & hint
            boundary |= edge
            strong |= edge
        return boundary & candidates, strong & candidates, gradient

    # -- clean-up ------------------------------------------------------------------------------------------

    def _merge_fragments(self, pf: PreparedFrame, labels: torch.Tensor, count: int):
        """Fragments under min_area join the neighbour with the longest smooth shared border, or are dropped."""
        z = pf.depth
        for _ in range(2):
            area = region_areas(pf, labels, count)
            small = (area < self.cfg.min_area) | _thin_regions(labels, count)
            small[0] = False
            if not bool(small.any()):
                break
            border = _border_counts(labels, z, self.cfg.depth_jump * pf.stride, count)
            border[:, 0] = 0
            border[0, :] = 0
            border.fill_diagonal_(0)
            border[:, small] = 0  # merge into large regions only
            best = border.argmax(1)
            has = border.max(1).values > 0
            target = torch.arange(count + 1, device=labels.device)
            target[small] = torch.where(has[small], best[small], torch.zeros_like(best[small]))
            labels = target[labels]
        return _compact(labels)

    def _small_regions(self, pf: PreparedFrame, labels: torch.Tensor, count: int) -> torch.Tensor:
        """(count+1,) regions under _SLIVER_AREAS x min_area: small enough to be no object of their own."""
        small = region_areas(pf, labels, count) < _SLIVER_AREAS * self.cfg.min_area
        small[0] = False
        return small

    def _drop_edge_on_slivers(self, pf: PreparedFrame, labels: torch.Tensor, count: int):
        """Small regions (under _SLIVER_AREAS x min_area) most of whose pixels step in depth like a surface seen
        edge-on: the depth ramp a sensor smears across an object's silhouette (between the object and the table
        behind it) once boundaries cut it off the object. Not objects: they go. Measured on raw depth steps,
        not normals: a pen's normals are unreliable, the depth across it is not."""
        if count == 0:
            return labels, count
        small = self._small_regions(pf, labels, count)
        if not bool(small.any()):
            return labels, count
        edge_on, measured = _edge_on_pixels(pf, labels)
        share = torch.bincount(labels.view(-1), weights=edge_on.view(-1).float(), minlength=count + 1) / \
            torch.bincount(labels.view(-1), weights=measured.view(-1).float(), minlength=count + 1).clamp_min(1)
        sliver = small & (share > _EDGE_ON_SHARE)
        if not bool(sliver.any()):
            return labels, count
        return _compact(torch.where(sliver[labels], torch.zeros_like(labels), labels))

    def _drop_unsupported_pieces(self, surfaces: SurfaceResult, pf: PreparedFrame, labels: torch.Tensor,
                                 count: int):
        """Small regions (under _SLIVER_AREAS x min_area) that meet the table along no smooth border nor along a
        _TABLE_OUTLINE share of their outline, and stand less than _PIECE_RISE above the region they share the
        longest smooth border with: nothing holds them up.
        They are pieces of that region's object cut off by a crease or a colour edge, or its depth smeared beyond
        its silhouette, and go like the slivers (their points still count as obstacles for grasps). An object
        stacked on another stands on top of it."""
        if count == 0 or surfaces.heights is None:
            return labels, count
        small = self._small_regions(pf, labels, count)
        if not bool(small.any()):
            return labels, count
        # the table's pixels (unlabelled, not raised above the support) as one more region, so that the border
        # counts tell which regions touch it without a depth step
        heights = surfaces.heights
        table = (labels == 0) & pf.valid & ~surfaces.raised & (heights > -_TABLE_BELOW) & \
            (heights < self.cfg.max_height)
        table_id = count + 1
        border = _border_counts(torch.where(table, table_id, labels), pf.depth, self.cfg.depth_jump * pf.stride,
                                table_id)
        between = border[:table_id, :table_id].clone()
        between[:, 0] = 0
        between.fill_diagonal_(0)
        pieces = small & (border[:table_id, table_id] == 0) & (between.max(1).values > 0)
        drop = torch.zeros_like(pieces)
        for i in torch.nonzero(pieces).view(-1).tolist():
            piece = labels == i
            around = dilate(piece, 1) & ~piece
            # a flat object's outline meets the table across lost or stepping depth (its edges seen at a grazing
            # angle); a piece is held in its object's outline
            if float((around & table).sum()) >= _TABLE_OUTLINE * float(around.sum()):
                continue
            contact = (labels == int(between[i].argmax())) & around
            if bool(contact.any()):
                rise = heights[piece].median() - heights[contact].median()
                drop[i] = bool(rise < _PIECE_RISE)
        if not bool(drop.any()):
            return labels, count
        return _compact(torch.where(drop[labels], torch.zeros_like(labels), labels))

    def _keep_supported(self, surfaces: SurfaceResult, labels: torch.Tensor, count: int):
        """Keep regions standing mostly over the support's footprint. Raised things that continue beyond it
        (a robot arm reaching in, a shelf, a wall) are mostly outside and go; an object at the table's edge
        is mostly inside and stays whole."""
        if count == 0:
            return labels, 0
        inside = torch.bincount(labels.view(-1), weights=surfaces.labels.view(-1).eq(SURFACE_OBJECT).float(),
                                minlength=count + 1)
        total = torch.bincount(labels.view(-1), minlength=count + 1).float().clamp_min(1)
        keep = inside / total >= self.cfg.min_inside
        keep[0] = False
        labels = torch.where(keep[labels], labels, torch.zeros_like(labels))
        return _compact(labels)


def crop_frame(pf: PreparedFrame, box) -> PreparedFrame:
    y0, y1, x0, x1 = box
    cam = pf.camera
    camera = CameraModel(x1 - x0, y1 - y0, cam.fx, cam.fy, cam.cx - x0, cam.cy - y0)
    cut = lambda t: t[y0:y1, x0:x1].contiguous()  # noqa: E731
    normals = cut(pf.normals)
    surface_normals = normals if pf.surface_normals is pf.normals else cut(pf.surface_normals)
    return replace(pf, camera=camera, depth=cut(pf.depth), valid=cut(pf.valid), points=cut(pf.points),
                   normals=normals, color=cut(pf.color), surface_normals=surface_normals)


def crop_surfaces(surfaces: SurfaceResult, box) -> SurfaceResult:
    y0, y1, x0, x1 = box
    cut = lambda t: t[y0:y1, x0:x1].contiguous()  # noqa: E731
    return replace(surfaces, labels=cut(surfaces.labels), heights=cut(surfaces.heights), raised=cut(surfaces.raised))


def _merge_weak_borders(labels: torch.Tensor, count: int, strong: torch.Tensor, depth: torch.Tensor,
                        jump_per_m: float):
    """Merge neighbouring regions whose shared border carries little strong boundary evidence: noise in the
    normals closes small loops of weak crease pixels, real object contacts are strong along their length."""
    if count < 2:
        return labels, count
    n = count + 1
    total = torch.zeros(n * n, device=labels.device)
    evidence = torch.zeros(n * n, device=labels.device)
    for a, b, za, zb, sa, sb in ((labels[:, :-1], labels[:, 1:], depth[:, :-1], depth[:, 1:], strong[:, :-1],
                                  strong[:, 1:]),
                                 (labels[:-1], labels[1:], depth[:-1], depth[1:], strong[:-1], strong[1:])):
        smooth = (za - zb).abs() < jump_per_m * torch.minimum(za, zb).clamp_min(0.1)
        pair = (a != b) & (a > 0) & (b > 0) & smooth
        key = torch.minimum(a, b)[pair] * n + torch.maximum(a, b)[pair]
        total += torch.bincount(key, minlength=n * n).float()
        evidence += torch.bincount(key, weights=(sa | sb)[pair].float(), minlength=n * n)
    weak = (total >= 3) & (evidence < _WEAK_BORDER * total)
    pairs = torch.nonzero(weak).squeeze(1).tolist()
    if not pairs:
        return labels, count
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key in pairs:
        a, b = find(key // n), find(key % n)
        if a != b:
            parent[max(a, b)] = min(a, b)
    target = torch.tensor([find(i) for i in range(n)], device=labels.device)
    return _compact(target[labels])


def depth_steps(z: torch.Tensor, valid: torch.Tensor, jump_per_m: float, span: int = 1):
    """Occlusion edges between 4-neighbours (x: (H, W-1), y: (H-1, W)): a depth step across ``span`` pixels
    above ``jump_per_m`` x depth that is also well above the steps (across as many pixels) just before and after
    it; every neighbour pair inside it is an edge. A steep but smooth surface (a box side seen at a grazing angle,
    the side of a can) steps evenly and is no edge; missing depth is no edge either."""
    limit = jump_per_m * z.clamp_min(0.1)
    k = span

    def along(z_rows, lim_rows, valid_rows):
        """Edges along the last dimension."""
        pair = valid_rows[..., k:] & valid_rows[..., :-k]
        a = (z_rows[..., k:] - z_rows[..., :-k]).abs() * pair
        before = torch.zeros_like(a)
        after = torch.zeros_like(a)
        before[..., k:] = a[..., :-k]
        after[..., :-k] = a[..., k:]
        lim = torch.minimum(lim_rows[..., k:], lim_rows[..., :-k])
        return _pairs_inside(pair & (a > lim) & (a > _STEP_RATIO * torch.maximum(before, after)), k)

    return along(z, limit, valid), along(z.T, limit.T, valid.T).T


def _pairs_inside(steps: torch.Tensor, span: int) -> torch.Tensor:
    """Steps between pixels ``span`` apart along the last dimension (..., W - span) as the neighbour pairs
    inside them (..., W - 1)."""
    if span == 1:
        return steps
    pairs = torch.zeros(steps.shape[:-1] + (steps.shape[-1] + span - 1,), dtype=torch.bool, device=steps.device)
    for j in range(span):
        pairs[..., j:j + steps.shape[-1]] |= steps
    return pairs


def _ramps(z: torch.Tensor, valid: torch.Tensor, jump_per_m: float, reach: int) -> torch.Tensor:
    """Pixels in a depth ramp: the depth ``reach`` pixels before and after them (along x or y) differs by more than
    RAMP_STEPS single-step limits (``jump_per_m`` x depth); what a smoothing sensor makes of an occlusion edge."""
    limit = RAMP_STEPS * jump_per_m * z.clamp_min(0.1)
    out = torch.zeros_like(valid)
    k = reach
    if z.shape[1] > 2 * k:
        step = (z[:, 2 * k:] - z[:, :-2 * k]).abs()
        out[:, k:-k] |= (step > limit[:, k:-k]) & valid[:, 2 * k:] & valid[:, :-2 * k]
    if z.shape[0] > 2 * k:
        step = (z[2 * k:] - z[:-2 * k]).abs()
        out[k:-k] |= (step > limit[k:-k]) & valid[2 * k:] & valid[:-2 * k]
    return out


def _near(jump_x, jump_y, shape, grow: int = 2) -> torch.Tensor:
    """Pixels on either side of the given edges, grown by ``grow`` pixels."""
    out = torch.zeros(shape, dtype=torch.bool, device=jump_x.device)
    out[:, 1:] |= jump_x
    out[:, :-1] |= jump_x
    out[1:] |= jump_y
    out[:-1] |= jump_y
    return dilate(out, grow)


def _concavity(points: torch.Tensor, normals: torch.Tensor, k: int) -> torch.Tensor:
    """Most concave crease through each pixel: (n(+k) - n(-k)) . unit(p(+k) - p(-k)), along x and y; negative
    where the surface folds inwards (a valley between touching objects)."""
    h, w, _ = points.shape
    out = torch.zeros((h, w), dtype=points.dtype, device=points.device)
    known = normals.abs().sum(-1) > 0
    # along x
    dn = normals[:, 2 * k:] - normals[:, :-2 * k]
    dp = points[:, 2 * k:] - points[:, :-2 * k]
    val = dot3(dn, dp) / norm3(dp).clamp_min(1e-6)
    ok = known[:, 2 * k:] & known[:, :-2 * k]
    out[:, k:w - k] = torch.minimum(out[:, k:w - k], torch.where(ok, val, torch.zeros_like(val)))
    # along y
    dn = normals[2 * k:] - normals[:-2 * k]
    dp = points[2 * k:] - points[:-2 * k]
    val = dot3(dn, dp) / norm3(dp).clamp_min(1e-6)
    ok = known[2 * k:] & known[:-2 * k]
    out[k:h - k] = torch.minimum(out[k:h - k], torch.where(ok, val, torch.zeros_like(val)))
    return out


def _color_gradient(color: torch.Tensor) -> torch.Tensor:
    """Largest channel difference across each pixel (2 px apart) of a lightly smoothed image, 0-255 scale."""
    img = color.permute(2, 0, 1).float()[None]
    img = box_sum(img[0], 1) / 9.0  # keeps colour noise out
    gx = torch.zeros_like(img)
    gy = torch.zeros_like(img)
    gx[:, :, 1:-1] = (img[:, :, 2:] - img[:, :, :-2]).abs()
    gy[:, 1:-1] = (img[:, 2:] - img[:, :-2]).abs()
    return torch.maximum(gx, gy).amax(0)


def _edge_on_pixels(pf: PreparedFrame, labels: torch.Tensor):
    """(edge_on, measured) masks: pixels with a 4-neighbour of their own region (measured) whose depth step to
    one of them is that of a surface turned more than _EDGE_ON_DEG from facing the camera (edge_on)."""
    z, valid, cam = pf.depth, pf.valid, pf.camera
    steep = math.tan(math.radians(_EDGE_ON_DEG))
    edge_on = torch.zeros_like(valid)
    measured = torch.zeros_like(valid)
    every, head, tail = slice(None), slice(None, -1), slice(1, None)
    for a, b, focal in (((every, head), (every, tail), cam.fx), ((head, every), (tail, every), cam.fy)):
        same = (labels[a] == labels[b]) & valid[a] & valid[b]
        # the step over the pixel spacing (depth / focal length): the tangent of the surface's turn
        turned = same & ((z[b] - z[a]).abs() * focal > steep * torch.minimum(z[a], z[b]))
        for part in (a, b):
            measured[part] |= same
            edge_on[part] |= turned
    return edge_on, measured


def _border_counts(labels: torch.Tensor, depth: torch.Tensor, jump_per_m: float, count: int) -> torch.Tensor:
    """(count+1)^2 matrix: how many smooth 4-neighbour borders (depth step below the limit) each pair shares."""
    n = count + 1
    keys = []
    for a, b, za, zb in ((labels[:, :-1], labels[:, 1:], depth[:, :-1], depth[:, 1:]),
                         (labels[:-1], labels[1:], depth[:-1], depth[1:])):
        smooth = (za - zb).abs() < jump_per_m * torch.minimum(za, zb).clamp_min(0.1)
        pair = (a != b) & smooth
        keys.append(a[pair] * n + b[pair])
    one_way = torch.bincount(torch.cat(keys), minlength=n * n).float().view(n, n)
    return one_way + one_way.T  # a border of a with b is one of b with a


def _thin_regions(labels: torch.Tensor, count: int) -> torch.Tensor:
    """(count+1,) regions at most two pixels thick (under a fifth of their pixels have all four neighbours in
    the region): strips along an object's base or rim that boundaries cut off, not objects."""
    inner = torch.zeros_like(labels, dtype=torch.bool)
    c = labels[1:-1, 1:-1]
    inner[1:-1, 1:-1] = ((labels[:-2, 1:-1] == c) & (labels[2:, 1:-1] == c) & (labels[1:-1, :-2] == c)
                         & (labels[1:-1, 2:] == c))
    total = torch.bincount(labels.view(-1), minlength=count + 1).float()
    interior = torch.bincount(labels.view(-1), weights=inner.view(-1).float(), minlength=count + 1)
    return interior < _THIN_SHARE * total


def _compact(labels: torch.Tensor):
    """Renumber the labels in use to 1..count (0 stays 0), in O(pixels)."""
    counts = torch.bincount(labels.view(-1))
    present = counts > 0
    present[0] = False
    new_id = torch.cumsum(present.long(), 0) * present
    return new_id[labels], int(present.sum())


def order_left_to_right(labels: torch.Tensor, count: int):
    """Ids 1..N by centroid column, then row: stable while the scene does not change. Returns the new labels
    and, for each new id - 1, the old id."""
    if count == 0:
        return labels, torch.zeros(0, dtype=torch.int64, device=labels.device)
    h, w = labels.shape
    cols = torch.arange(w, device=labels.device, dtype=torch.float32).expand(h, w)
    rows = torch.arange(h, device=labels.device, dtype=torch.float32)[:, None].expand(h, w)
    n = torch.bincount(labels.view(-1), minlength=count + 1).float().clamp_min(1)
    cu = torch.bincount(labels.view(-1), weights=cols.reshape(-1), minlength=count + 1) / n
    cv = torch.bincount(labels.view(-1), weights=rows.reshape(-1), minlength=count + 1) / n
    key = cu[1:] * (h + 1) + cv[1:]
    order = torch.argsort(key)
    new_id = torch.zeros(count + 1, dtype=torch.int64, device=labels.device)
    new_id[order + 1] = torch.arange(1, count + 1, device=labels.device)
    return new_id[labels], order + 1

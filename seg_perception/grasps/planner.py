"""Parallel-jaw grasp candidates for objects on a support surface, collision-checked against the whole scene, in
torch (GPU when present).

Grasp frame (DESIGN.md): origin between the fingertips at the closing centre, x = approach (towards the
object), y = closing direction, z = x cross y; ``width`` is the opening the grasp needs, ``score`` is in [0, 1].

A camera sees one side of an object, so contacts are not sampled as pairs of opposite visible points: a hidden
far side has no points. Objects stand on the support, so the planner works in the support's frame:
1. closing directions: the normals of the longer sides of the object's outline seen from above (outline.py: the
   convex hull of its points projected on the support: a box's faces) and evenly spread ones (a can's round
   wall); closing lines through the outline's middle and beside it; a round outline (a can, a ball) is
   completed with its hidden far half (round_outline.py) unless the camera sees past where that half would be,
   and only lines near its axis are kept; a round
   outline wider than the hand (seen along at least 150 deg) gets no lines across it, only rim grasps if it is
   an open container;
2. per candidate, the object points in the finger slab give the opening (their extent along the closing line
   plus margin and clearance); an object no candidate fits between the fingers gets no grasp;
3. contact height: where the slab is widest (the height of its outermost points); the fingertips go down so
   that the fingers' middle meets it, never closer to the support than 1.5 margins, and the palm stays above
   the object;
4. antipodal quality at five heights along the fingers, not within 6 mm of the top: the outline's sides where
   the closing line crosses them (across) and how the side leans there (up and down: the outermost points
   move along a slanted face and recede on both sides of a ridge, hardly at a round one's widest part) must
   face along the line within the friction cone (``grasps.friction``; finger_levels.py); lines through the
   widest part of the outline are preferred (off-centre, a round wall meets the finger at a slant);
5. approaches straight down the support's normal and tilted about the closing axis up to half of
   ``approach_cone_deg``; finger and palm boxes inflated by ``collision_margin`` must hold no scene point
   (hand.py; neighbours included; the support is a surface the fingertips keep clear of), and the fingers must
   stay in space the camera saw as empty (visibility.py: not behind what it sees), except beyond an object's
   top edge, where a box or a can ends even if its side is hidden (a side hidden below its top edge is taken
   to flare out along the fingers as far as the seen side opposite does: the opening grows by that, and that
   side leans like the seen one); a jaw never closes where the object meets the image border or a neighbour at
   least 5 cm nearer the camera at the fingers' heights (it may go on out of view there);
6. score from antipodal quality (0.5), approach alignment (0.15), centring (0.1), contact sides seen rather than
   assumed (0.1) and clearance (0.15, twice the margin free); collision tests run best first until enough are
   free; non-maximum suppression, the best ``top_k`` per object.
An open container seen from above (a cup, a mug, a bowl: rim.py) also gets candidates across its rim, one finger
inside and one outside the wall, the hand leaning up to the approach cone so that a finger may follow a bowl's
flaring wall; they go through the same collision tests and scoring.

The objects of a frame are planned together: what is measured on sets of points (an object's outline, the points in
each finger slab, the scene points in the hand's way) is measured object by object, as their counts differ too
much to pad them to one size; what is tested point by point (heights above the support, the image border, nearer
neighbours) runs on all objects' points at once, and every other step on the candidates of all objects at once.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..config import GraspConfig
from ..geometry import plane_basis, quaternion_from_matrix
from ..types import CameraModel, GraspCandidate, ObjectCloud
from .finger_levels import flare, level_slopes, level_step, outermost_per_level
from .hand import hand_hits, hand_reach, palm_half_width
from .outline import chords, closing_directions, convex_hull, crossing_alignment, left, padded_hulls, widest_chords
from .rim import find_opening, rim_candidates
from .round_outline import round_outline
from .visibility import at_image_border, behind_neighbour, border_reach, fingers_seen, seen_through

_MAX_OBJECT_POINTS = 800
_SCENE_VOXEL = 0.006       # m: scene points used for collisions are thinned to this spacing
_JAW_BAND = 0.005          # m: object points this close to a jaw's extreme are its contacts
_SPACING_SHARE = 1.0       # share of the pixel spacing at the object added to the clearance
_CLEARANCE = 0.003         # m: opening added on each side besides the margin (voxel averaging pulls the
                           # outermost points up to half a voxel inwards)
_OFFSETS = (0.0, -0.1, 0.1, -0.2, 0.2, -0.3, 0.3)  # closing lines across the object, in outline extents
                                                    # from its middle
_TIP_CLEARANCE = 1.5       # fingertips stay this many collision margins above the support surface
_SUPPORT_POINTS = 2.0      # scene points up to this many margins above the support are the support itself
_TOP_EDGE = 0.006          # m: a jaw's outermost points this close below the top are the object's top edge
                           # (a voxel straddling the edge and depth noise put them a few millimetres lower)
_BELOW_TOP = 0.006         # m: contacts at least this far below the object's top
_NOISE = 0.002             # m: change of the outermost point between levels that sensor noise explains
_W_QUALITY, _W_APPROACH, _W_CENTRING, _W_OBSERVED, _W_CLEAR = 0.5, 0.15, 0.1, 0.1, 0.15   # score weights
_COLLISION_BATCH = 64      # candidates collision-tested at once, best first
_ENOUGH_FREE = 4           # stop testing once this many times top_k candidates are free
_ROUND_TOLERANCE = 0.002   # m: outline points this close to a fitted circle follow it (at least a pixel spacing)
_ROUND_OFFSET = 0.1        # closing lines of a round object stay this share of its diameter from the axis
_TIGHT_MARGIN = 0.5        # share of the collision margin the fingers keep from the object's own points when
                           # the hand opens fully for an object near its limit
_FINGER_MIDDLE = 0.5       # the widest section meets the fingers at this share of their length from the tips
_WIDE_ROUND_ARC_DEG = 150.0   # a round outline wider than the hand is trusted when seen along this arc
_SEEN_THROUGH = 0.4        # share of a round outline's completed far half the camera may see past (synthetic cans
                           # and balls up to 0.13, real cups and bowls with coarser circles up to 0.32; lying cans
                           # 0.85-1.0, most rocks 0.45 or more)


@dataclass(frozen=True, eq=False)
class GraspScene:
    """What the planner knows of the frame, on the grid the pipeline processed: the organized point map, its
    depth (metres, 0 = none) and instance labels, that grid's camera (None: no visibility test), the support's
    normal ``up`` (camera frame), the points' heights above the support surface and the voxel size of the
    object clouds (m; their outermost points lie up to a voxel inside the object's outline)."""
    points: torch.Tensor                   # (H, W, 3)
    depth: torch.Tensor                    # (H, W)
    labels: torch.Tensor                   # (H, W)
    camera: Optional[CameraModel]
    up: Optional[np.ndarray]
    support_height: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    cloud_voxel: float = 0.0


@dataclass(eq=False)
class _Seen:
    """One object as the planner works on it, in the support's frame: the heights ``h`` above the support and
    coordinates ``flat`` along it of its points (a round object's completed with its hidden far half, those marked
    ``completed``), the points where it may go on out of view (``cut``: at the image border or
    next to a nearer neighbour), its outline's ``hull`` and closing ``directions`` (None: only rim candidates),
    whether it is ``round``, the ``clearance`` added on each side of it (m), the points the hand must keep clear
    of (``scene``; the object's own marked ``own``), ``base`` (near the object, a point's height above the
    support is its dot product with up plus this) and its open rim's candidates (or None)."""
    index: int
    target: int
    h: torch.Tensor
    flat: torch.Tensor
    cut: torch.Tensor
    completed: torch.Tensor
    hull: Optional[torch.Tensor]
    directions: Optional[torch.Tensor]
    round: bool
    clearance: float
    scene: torch.Tensor
    own: torch.Tensor
    base: torch.Tensor
    rim: Optional[dict]


class GraspPlanner:
    """Plans the objects of a frame together: each object's points are measured on their own (their counts
    differ a lot), and the many small steps that follow run for every candidate of every object at once: the
    count of torch operations, which sets the time on a CPU and more so on a GPU, grows little with the count of
    objects."""

    def __init__(self, config: GraspConfig, device: torch.device):
        self.cfg = config
        self.device = device

    def plan(self, objects: Sequence[ObjectCloud], scene: 'GraspScene') -> List[GraspCandidate]:
        """Candidates for every object, best first."""
        return self.plan_with_reasons(objects, scene)[0]

    @torch.inference_mode()   # no autograd bookkeeping: about 9 % off the many small ops of planning
    def plan_with_reasons(self, objects: Sequence[ObjectCloud], scene: 'GraspScene'
                          ) -> Tuple[List[GraspCandidate], Dict[int, str]]:
        """Candidates for every object, best first, and for each object that got none, why (a short text)."""
        if not objects:
            return [], {}
        self._view = scene
        valid = scene.depth.to(self.device) > 0
        grid = scene.points.to(self.device).float()
        if scene.support_height is not None:
            # the support itself is a surface, not points: fingertips keep a clearance above it (below), and its
            # noisy points would otherwise block every grasp low on an object (tested on the whole grid: one
            # selection of the points instead of two)
            valid &= scene.support_height(grid) > _SUPPORT_POINTS * self.cfg.collision_margin
        points = grid[valid]
        labels = scene.labels.to(self.device)[valid].long()
        keep = _thin(points, _SCENE_VOXEL)
        points, labels = points[keep], labels[keep]
        up = torch.tensor(np.asarray(scene.up, float) if scene.up is not None else [0.0, -1.0, 0.0],
                          device=self.device, dtype=torch.float32)
        up = up / up.norm()
        basis = plane_basis(up)
        # why an object has no candidates: the last stage that left it without any says
        why: Dict[int, str] = {}
        for obj in objects:
            if len(obj.points) < 10:
                why[obj.instance_id] = f'too few points ({len(obj.points)})'
        planned = [obj for obj in objects if len(obj.points) >= 10]
        seen = self._prepare_all(planned, points, labels, up, basis, why) if planned else []
        grasps = self._choose(seen, self._candidates(seen, why), up, basis, why)
        grasps.sort(key=lambda g: -g.score)
        gripped = {g.object_id for g in grasps}
        reasons = {obj.instance_id: why.get(obj.instance_id, 'no candidate passed') for obj in objects
                   if obj.instance_id not in gripped}
        return grasps, reasons

    def _prepare_all(self, planned: Sequence[ObjectCloud], points: torch.Tensor, labels: torch.Tensor,
                     up: torch.Tensor, basis, why: Dict[int, str]) -> List[_Seen]:
        """The ``planned`` objects as the planner works on them (:meth:`_prepare`), with the scene's thinned
        ``points`` and their ``labels``; what is measured point by point (heights above the support, the image
        border, nearer neighbours) for all objects' points at once."""
        view = self._view
        # an object's own pixels are replaced by its filtered cloud (its opening was measured on it)
        counts = [len(obj.points) for obj in planned]
        every = torch.from_numpy(np.concatenate([obj.points for obj in planned])).to(self.device).float()
        owns = every.split(counts)
        # the pixel spacing at each object's depth (m), and how near the image border its points may be cut off
        spacings = [float(np.median(obj.points[:, 2])) / view.camera.fx if view.camera is not None else 0.0
                    for obj in planned]
        edges = [border_reach(spacing, view.cloud_voxel) for spacing in spacings]
        heights = view.support_height(every).split(counts) if view.support_height is not None else \
            [own @ up - (own @ up).min() for own in owns]
        sizes = torch.tensor(counts, device=self.device)
        owner = torch.repeat_interleave(torch.arange(len(owns), device=self.device), sizes)
        borders = at_image_border(view, every, torch.tensor(edges, device=self.device)[owner]).split(counts)
        # only what the hand can touch while gripping an object matters: the other objects' points near it
        centres = torch.zeros(len(owns), 3, device=self.device).index_add_(0, owner, every) / sizes[:, None]
        reaches = torch.zeros(len(owns), device=self.device).scatter_reduce_(
            0, owner, (every - centres[owner]).norm(dim=1), 'amax') + hand_reach(self.cfg)
        ids = torch.tensor([obj.instance_id for obj in planned], device=self.device)
        # squared distances from one product (a point within rounding of the reach is far from any hand pose)
        distance2 = (points * points).sum(1)[None] - 2 * centres @ points.T + (centres * centres).sum(1)[:, None]
        near = (labels[None] != ids[:, None]) & (distance2 < (reaches * reaches)[:, None])
        prepared = [self._prepare(obj.instance_id, own, h, at_border, spacing, points[mask], up, basis, why)
                    for obj, own, h, at_border, spacing, mask in zip(planned, owns, heights, borders, spacings, near)]
        self._mark_hidden_ends([(p[0], p[1], edge) for p, edge in zip(prepared, edges) if p is not None])
        seen = [p[0] for p in prepared if p is not None]
        for k, item in enumerate(seen):
            item.index = k
        return seen

    # -- each object on its own ------------------------------------------------------------------------------

    def _prepare(self, target: int, pts: torch.Tensor, h: torch.Tensor, at_border: torch.Tensor, spacing: float,
                 neighbours: torch.Tensor, up: torch.Tensor, basis,
                 why: Dict[int, str]) -> Optional[Tuple[_Seen, Optional[torch.Tensor]]]:
        """The object ``target`` with (N, 3) points ``pts`` at heights ``h`` above the support, those at the image
        border marked ``at_border``, seen at ``spacing`` m per pixel, to be gripped free of its own points and of
        the ``neighbours`` points near it, as the planner works on it (its ``cut`` so far marks the image border
        only; its ``index`` is set once all objects are prepared), and the points its outline was taken from (None
        when it has no outline); None (and why) when it can have no candidates."""
        g = self.cfg
        scene = torch.cat([neighbours, pts])
        own = torch.arange(scene.shape[0], device=scene.device) >= neighbours.shape[0]
        # support frame: 2-D coordinates along the support
        a, b = basis
        flat = torch.stack([pts @ a, pts @ b], 1)                                  # (N, 2)
        # the open-rim test on every point: its shares (rim points on the ring) sit near their limits on real
        # bowls, and a random subset tipped them one way or the other as a few pixels changed
        rim = None if bool(at_border.any()) or not g.rim_grasps else self._rim_candidates(pts, flat, h, spacing, up)
        if pts.shape[0] > _MAX_OBJECT_POINTS:
            gen = torch.Generator(device='cpu').manual_seed(g.seed)
            pick = torch.randperm(pts.shape[0], generator=gen)[:_MAX_OBJECT_POINTS].to(self.device)
            pts, h, flat, at_border = pts[pick], h[pick], flat[pick], at_border[pick]
        seen = pts.shape[0]
        circle = _round_circle(flat, spacing, g.max_opening, at_border)
        completion = _complete_round(pts, flat, a, b, circle)
        if circle is not None and \
                float(seen_through(self._view, completion[0][completion[1]]).float().mean()) > _SEEN_THROUGH:
            # the camera sees past where the hidden far half would be: the outline follows a circle along part of
            # it only (a lying can's, a rock's), and the object is not round
            circle, completion = None, _complete_round(pts, flat, a, b, None)
        clearance = self._clearance(spacing)
        if circle is not None and circle[1] > g.max_opening / 2:
            # round and wider than the hand in every direction (a big can, a ball, a bowl): the far half is
            # hidden, so lines across the seen half would close inside it; only an open rim can be gripped
            why[target] = (f'round, {200 * circle[1]:.1f} cm across: wider than the hand opens, and no open rim '
                           'was found')
            if rim is None:
                return None
            return _Seen(0, target, h, flat, at_border, torch.zeros_like(at_border), None, None, True, clearance,
                         scene, own, (h - pts @ up).mean(), rim), None
        pts, completed = completion
        if circle is not None:
            # the hidden far side is modelled: fingers must keep clear of it too
            scene = torch.cat([scene, pts[completed]])
            own = torch.cat([own, torch.ones_like(completed[completed])])
            at_border = torch.cat([at_border, torch.zeros_like(at_border)])
            # mirrored along the support: the same heights, unless the support surface is curved
            support_height = self._view.support_height
            h = torch.cat([h, support_height(pts[seen:]) if support_height is not None else h])
            flat = torch.cat([flat, torch.stack([pts[seen:] @ a, pts[seen:] @ b], 1)])
        hull = convex_hull(flat)
        if hull is None:
            why[target] = 'its points lie on a line seen from above'
            return None
        return _Seen(0, target, h, flat, at_border, completed, hull, closing_directions(hull, g.closing_directions),
                     circle is not None, clearance, scene, own, (h - pts @ up).mean(), rim), pts

    def _mark_hidden_ends(self, prepared: Sequence[Tuple[_Seen, Optional[torch.Tensor], int]]) -> None:
        """Like the image border, a nearer neighbour may hide where an object goes on: no jaw closes there. Marks
        in each object's ``cut`` its points (the second of each triple; None: none to test) within its border
        reach (the third, in pixels) of a nearer neighbour; all objects' points with one reach at once."""
        tested = [(item, pts, edge) for item, pts, edge in prepared if pts is not None]
        if not tested:
            return
        every = torch.cat([pts for _, pts, _ in tested])
        counts = [pts.shape[0] for _, pts, _ in tested]
        owner = torch.repeat_interleave(torch.arange(len(tested), device=self.device),
                                        torch.tensor(counts, device=self.device))
        target = torch.tensor([item.target for item, _, _ in tested], device=self.device)[owner]
        edge = torch.tensor([e for _, _, e in tested], device=self.device)[owner]
        behind = torch.zeros_like(edge, dtype=torch.bool)
        for reach in sorted({e for _, _, e in tested}):
            at = torch.nonzero(edge == reach).squeeze(1)
            behind[at] = behind_neighbour(self._view, every[at], target[at], reach)
        for (item, _, _), hidden in zip(tested, behind.split(counts)):
            item.cut = item.cut | hidden

    def _measure(self, item: _Seen, d: torch.Tensor, e: torch.Tensor,
                 o: torch.Tensor) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """What the object's points tell of its closing lines {p : p . e = o} along ``d`` (G each): for every
        line, the outermost points in the finger slab (``y_hi``, ``y_lo``), how many points the slab holds and
        whether the hand can hold what it holds (``measurable``: at least 3 points, not too wide); for the
        measurable lines, in order: the fingertips' height, whether the fingers touch the object and whether a
        jaw closes where it may go on out of view, the outermost points per level along the fingers, the
        object's top in the slab, and per jaw whether its extreme is the top edge, whether the side below it
        was seen, and whether it is on a round object's completed far side."""
        c = g = self.cfg
        flat, h = item.flat, item.h
        across = e @ flat.T                                                          # (G, N)
        along = d @ flat.T
        slab = (across - o[:, None]).abs() <= g.finger_width / 2 + c.collision_margin
        big = torch.full_like(along, 1e3)
        y_hi = torch.where(slab, along, -big).amax(1)
        y_lo = torch.where(slab, along, big).amin(1)
        count = slab.sum(1)
        # an object a little too wide for the full clearance is still held with the hand wide open (_opening)
        measurable = (count >= 3) & (y_hi - y_lo <= self._widest_held(item.clearance))
        every = {'y_hi': y_hi, 'y_lo': y_lo, 'count': count, 'measurable': measurable}
        # the costlier measures only where the hand can hold the object
        rows = torch.nonzero(measurable).squeeze(1)
        across, along, slab, big, y_hi, y_lo, o = (t[rows] for t in (across, along, slab, big, y_hi, y_lo, o))
        # contact height: where the slab is widest (the points at both extremes), as deep as the fingers reach
        hh = h[None].expand_as(along)
        # both jaws at once (2, G, N): the +along extreme's points, then the -along one's
        at_jaws = slab[None] & ((along[None] - torch.stack([y_hi, y_lo])[:, :, None]).abs() <= _JAW_BAND)
        jaw = at_jaws[0] | at_jaws[1]
        h_contact = torch.where(jaw, hh, torch.zeros_like(hh)).sum(1) / jaw.sum(1).clamp_min(1)
        palm = ((across - o[:, None]).abs() <= g.palm_height / 2) & \
            ((along - ((y_hi + y_lo) / 2)[:, None]).abs() <= palm_half_width(g))
        h_palm = torch.where(palm | slab, hh, -big).amax(1)
        tip = torch.maximum(h_contact - _FINGER_MIDDLE * g.finger_depth,
                            torch.full_like(h_contact, _TIP_CLEARANCE * c.collision_margin))
        tip = torch.maximum(tip, h_palm + 2.5 * c.collision_margin - g.finger_depth)  # palm clear of the top
        levels, seen, ext_hi, ext_lo, _ = outermost_per_level(slab, hh, along, tip, g.finger_depth)
        top = torch.where(slab, hh, -big).amax(1)
        completed = item.completed[None]
        below_top = hh <= top[:, None] - _BELOW_TOP
        return every, {
            'tip': tip,
            # what the fingers touch: the slab between the fingertips and the palm
            'touching': (slab & (hh >= tip[:, None])).sum(1) >= 3,
            # no jaw closes where the object leaves the view at the fingers' heights (below them, a tall object
            # cut off by the image border does not meet the fingers)
            'in_view': ~(jaw & item.cut[None] & (hh >= tip[:, None] - c.collision_margin)).any(1),
            'levels': levels, 'seen': seen, 'ext_hi': ext_hi, 'ext_lo': ext_lo, 'top': top,
            # a jaw whose outermost points are the object's top edge (a box or a can seen from above) marks
            # where the object ends even when its side below is hidden; one on a silhouette lower down (a ball,
            # a lying can) does not: the object may go on behind it (a small ball seen from low down can pass)
            'edges': (top[None] - torch.where(at_jaws, hh[None], 0.0).sum(2) / at_jaws.sum(2).clamp_min(1)
                      <= _TOP_EDGE).T,
            # the side below the top edge was seen at this jaw (not only assumed upright)
            'observed': (at_jaws & (~completed & below_top)[None]).any(2).T,
            # a jaw on the completed far side of a round object also knows where the object ends
            'far_side': (at_jaws & completed[None]).any(2).T}

    # -- every object's candidates at once -------------------------------------------------------------------

    def _candidates(self, objects: List[_Seen], why: Dict[int, str]) -> Optional[dict]:
        """Every object's candidates, object by object (its closing lines' first, then its rim's): closing
        direction ``d`` (2-D), closing ``centre`` (2-D), fingertip height ``tip`` above the support, the hand's
        ``lean``, ``width`` needed, ``own_margin``, antipodal ``quality`` in [0, 1], ``centring``, ``observed``
        and ``top_edge`` (see rim.py), and the object's index ``obj``; None when there are none."""
        lined = [item for item in objects if item.hull is not None]
        parts = [self._line_candidates(lined, why)] if lined else []
        parts += [dict(item.rim, obj=torch.full((item.rim['d'].shape[0],), item.index, device=self.device))
                  for item in objects if item.rim is not None]
        parts = [part for part in parts if part is not None]
        if not parts:
            return None
        cand = {key: torch.cat([part[key] for part in parts]) for key in parts[0]}
        by_object = torch.argsort(cand['obj'], stable=True)
        return {key: value[by_object] for key, value in cand.items()}

    def _line_candidates(self, objects: List[_Seen], why: Dict[int, str]) -> Optional[dict]:
        """Top-down candidates of the ``objects`` along closing lines across their outlines (see
        :meth:`_candidates`); for each object that gets none, why."""
        c = g = self.cfg
        dev = self.device
        n_off = len(_OFFSETS)
        per_object = [item.directions.shape[0] for item in objects]
        directions = torch.cat([item.directions for item in objects])                       # (D, 2)
        direction_of = torch.repeat_interleave(torch.arange(len(objects), device=dev),
                                               torch.tensor(per_object, device=dev))
        hulls = padded_hulls([item.hull for item in objects])
        # the line through the widest part of the outline per direction (a round object's centre; the middle
        # of the widest stretch for a box), then lines beside it
        middle = widest_chords(hulls[direction_of], directions)                             # (D,)
        d = directions.repeat_interleave(n_off, 0)                                          # (G, 2)
        line_of = direction_of.repeat_interleave(n_off)                                     # (G,) the object
        hull = hulls[line_of]                                                               # (G, V, 2)
        f = torch.tensor(_OFFSETS, device=dev).repeat(directions.shape[0])
        e = left(d)
        hull_e = torch.einsum('gvk,gk->gv', hull, e)
        o = middle.repeat_interleave(n_off) + f * (hull_e.amax(1) - hull_e.amin(1))
        # each object's points with its own lines (their counts differ); all lines together from there on
        bounds = np.cumsum([0] + [n * n_off for n in per_object]).tolist()
        measured = [self._measure(item, d[s:t], e[s:t], o[s:t]) for item, s, t in zip(objects, bounds, bounds[1:])]
        every = {key: torch.cat([part[0][key] for part in measured]) for key in measured[0][0]}
        m = {key: torch.cat([part[1][key] for part in measured]) for key in measured[0][1]}
        chords_all, chord = chords(hull, d, o)
        widest = chord.view(-1, n_off).amax(1).repeat_interleave(n_off)     # per direction, over all its lines
        # from here on only the lines that can hold their object (too few points or too wide: see _measure)
        held, measurable, middle_line = every['count'] >= 3, every['measurable'], f == 0
        every_verdict = torch.stack([held, held & middle_line, measurable, measurable & middle_line], 1)
        extent = every['y_hi'] - every['y_lo']
        line = torch.nonzero(measurable).squeeze(1)
        d, e, o, f, line_of, hull, widest, y_hi, y_lo = (
            t[line] for t in (d, e, o, f, line_of, hull, widest, every['y_hi'], every['y_lo']))
        crossings = tuple(t[line] for t in chords_all)
        tip, top, edges = m['tip'], m['top'], m['edges']
        limits = self._hand_limits([item.clearance for item in objects], line_of)
        touching = m['touching']
        in_view = touching & m['in_view']
        # antipodal: at one of the heights along the fingers, both contact sides face along the closing line:
        # across (the outline's sides where the line crosses them) and up and down (how the outermost points
        # move from one height to the next: a dome or a slanted face recedes)
        side_hi, side_lo, chord = crossing_alignment(hull, d, o, crossings)
        # through the widest part: off-centre lines meet a round object's wall at a slant
        through_middle = (chord / widest.clamp_min(1e-6)).clamp(0, 1) ** 2
        # a level within a few millimetres of the top meets an edge or a rounded top, not a side; below, a
        # side without points (hidden, or a camera straight above) is taken as upright
        usable = m['levels'][:, 1:] <= top[:, None] - _BELOW_TOP
        # ...but a side hidden below its top edge is taken to flare out as far as the seen side opposite does
        # along the fingers (a ball or a lying can seen from low down has its far silhouette near its top: the
        # hidden side bulges below it like the seen one); a box's upright sides do not flare
        # both jaws at once: the +along extremes, then the -along ones
        both_seen = m['seen'].repeat(2, 1)
        extremes = torch.cat([m['ext_hi'], m['ext_lo']])
        flares = flare(extremes[:, 1:], both_seen[:, 1:], _NOISE).chunk(2)
        widen_hi = torch.where(edges[:, 0], flares[1], torch.zeros_like(flares[1]))
        widen_lo = torch.where(edges[:, 1], flares[0], torch.zeros_like(flares[0]))
        fits, width, own_margin, centre_d = self._opening(y_hi + widen_hi, y_lo - widen_lo, limits)
        fitting = in_view & fits
        cos_fc = math.cos(math.atan(c.friction))
        slopes = level_slopes(extremes, both_seen, level_step(g.finger_depth), _NOISE).chunk(2)   # (G, L) each
        per_jaw = []
        for side, slope, mirror, widened in ((side_hi, slopes[0], slopes[1], widen_hi),
                                             (side_lo, slopes[1], slopes[0], widen_lo)):
            # a side taken to flare leans like its mirror image, the seen side opposite
            slope = torch.where((widened > 0)[:, None], mirror, slope)
            per_jaw.append(side[:, None] / torch.sqrt(1 + slope ** 2))
        alignment = torch.where(usable, torch.minimum(per_jaw[0], per_jaw[1]), torch.zeros_like(per_jaw[0]))
        antipodal = ((alignment.amax(1) - cos_fc) / (1 - cos_fc)).clamp(0, 1)
        holds = antipodal * through_middle
        # a round object: only lines near its axis meet the wall squarely, and the fitted axis is a few
        # millimetres uncertain
        round_object = torch.tensor([item.round for item in objects], device=dev)[line_of]
        holds = torch.where(round_object & (f.abs() > _ROUND_OFFSET), torch.zeros_like(holds), holds)
        quality = torch.where(fitting, holds, torch.zeros_like(holds))
        keep = quality > 0
        # for each object left without a line, why: one transfer of the lines' verdicts
        verdict = torch.stack([touching, in_view, fitting, keep, touching & ~m['in_view'] & fits & (holds > 0)],
                              1).cpu().numpy()
        every_verdict, extent = every_verdict.cpu().numpy(), extent.cpu().numpy()
        lines_kept = np.cumsum([0] + np.bincount(line_of.cpu().numpy(), minlength=len(objects)).tolist())
        for item, s, t, s_kept, t_kept in zip(objects, bounds, bounds[1:], lines_kept, lines_kept[1:]):
            reason = self._why_no_line(every_verdict[s:t], extent[s:t], verdict[s_kept:t_kept], item.clearance)
            if reason:
                why[item.target] = reason
        if not bool(keep.any()):
            return None
        centre = centre_d[:, None] * d + o[:, None] * e
        obj = torch.tensor([item.index for item in objects], device=dev)[line_of]
        return {'d': d[keep], 'centre': centre[keep], 'tip': tip[keep], 'width': width[keep],
                'quality': quality[keep], 'centring': (1 - 2 * f.abs())[keep], 'lean': torch.zeros_like(tip[keep]),
                'own_margin': own_margin[keep], 'observed': m['observed'].float().mean(1)[keep],
                'top_edge': (edges | m['far_side'])[keep], 'obj': obj[keep]}

    def _why_no_line(self, every_verdict: np.ndarray, extent: np.ndarray, verdict: np.ndarray,
                     clearance: float) -> str:
        """Why an object gets no candidate along its lines ('' when it gets one), from the verdicts on all its
        lines and the extent of its points on each (m), and those on the lines that can hold it (the columns
        stacked in :meth:`_line_candidates`)."""
        held, middle, measurable, measurable_middle = every_verdict.any(0)
        touching, in_view, fitting, kept, held_out_of_view = verdict.any(0) if len(verdict) else [False] * 5
        if kept:
            return ''
        g = self.cfg

        def too_wide(lines: np.ndarray, where: str = '') -> str:
            # a wide box still "fits" on lines across its corners: the lines through its middle say more
            narrowest, widest = _centimetres(float(extent[lines].min()), self._widest_held(clearance))
            return (f'too wide for the hand{where}: {narrowest} cm at the narrowest, at most {widest} cm fits its '
                    f'{100 * g.max_opening:.1f} cm opening')
        if not measurable:
            return (too_wide(every_verdict[:, 1]) if middle else too_wide(every_verdict[:, 0]) if held
                    else 'too few points along any closing line')
        if not touching:
            return 'no points between the fingertips and the palm'
        if not in_view:
            return 'it leaves the image or goes on behind a nearer object where the jaws would close'
        if not fitting:
            return 'too wide for the hand once its hidden sides are allowed for'
        if not measurable_middle and middle:
            return too_wide(every_verdict[:, 1], ' across its middle') + '; nearer its ends its sides slant'
        if held_out_of_view:
            # lines whose sides would face each other but whose jaws close where the object leaves the view
            return 'where its sides face each other, it leaves the image or goes on behind a nearer object'
        return 'no two sides face each other within the friction cone where the fingers reach'

    def _choose(self, objects: List[_Seen], cand: Optional[dict], up: torch.Tensor, basis,
                why: Dict[int, str]) -> List[GraspCandidate]:
        """The best collision-free grasps of each object among the candidates ``cand`` (see :meth:`_candidates`;
        the support's normal is ``up`` and its axes ``basis``), each tested against its object's scene points;
        for each object whose candidates all fail, why."""
        c = g = self.cfg
        if cand is None:
            return []
        a, b = basis
        dev = self.device
        # grasp frames: straight down the support normal (leaning towards -d by ``lean``: fingers along a bowl's
        # flaring wall), then tilted about the closing axis; the contact point (the fingers' middle on the
        # closing line) stays where it is
        horizontal = cand['d'][:, :1] * a + cand['d'][:, 1:] * b                    # (G, 3)
        cos_lean, sin_lean = torch.cos(cand['lean'])[:, None], torch.sin(cand['lean'])[:, None]
        down = -up * cos_lean - horizontal * sin_lean
        closing = horizontal * cos_lean - up * sin_lean
        across = torch.linalg.cross(down, closing)
        base = torch.stack([item.base for item in objects])[cand['obj']]
        contact = cand['centre'][:, :1] * a + cand['centre'][:, 1:] * b + \
            up * (cand['tip'] + _FINGER_MIDDLE * g.finger_depth - base)[:, None]
        # every tilt of every candidate at once, tilt by tilt: (T * G, ...)
        angles = torch.tensor(_tilts(c.approach_cone_deg, c.approach_steps), dtype=down.dtype, device=dev)
        n_tilts = angles.numel()
        cos_t, sin_t = torch.cos(angles)[:, None, None], torch.sin(angles)[:, None, None]
        x = (down[None] * cos_t + across[None] * sin_t).reshape(-1, 3)
        closing_t = closing.repeat(n_tilts, 1)
        rot = torch.stack([x, closing_t, torch.linalg.cross(x, closing_t)], 2)
        origin = contact.repeat(n_tilts, 1) + x * (_FINGER_MIDDLE * g.finger_depth)
        align = (cos_lean[:, 0][None] * cos_t[:, :, 0]).reshape(-1)
        cone = math.cos(math.radians(c.approach_cone_deg / 2))
        approach = ((align - cone) / max(1e-6, 1 - cone)).clamp(0, 1) if c.approach_cone_deg > 1 else align
        partial = (_W_QUALITY * cand['quality'] + _W_CENTRING * cand['centring']
                   + _W_OBSERVED * cand['observed']).repeat(n_tilts) + _W_APPROACH * approach
        poses = {'rot': rot, 'origin': origin, 'width': cand['width'].repeat(n_tilts),
                 'own_margin': cand['own_margin'].repeat(n_tilts), 'top_edge': cand['top_edge'].repeat(n_tilts, 1),
                 'obj': cand['obj'].repeat(n_tilts)}
        # each object's candidates, most promising first (a leaning and tilted hand may leave the cone)
        order = torch.argsort(partial, descending=True, stable=True)
        order = order[align[order] >= cone - 1e-6]
        order = order[torch.argsort(poses['obj'][order], stable=True)]
        queues = order.split(torch.bincount(poses['obj'][order], minlength=len(objects)).tolist())
        idx, clear = self._collision_free(objects, queues, poses, set(cand['obj'].tolist()), why)
        if idx.numel() == 0:
            return []
        score = (partial[idx] + _W_CLEAR * clear).clamp(0, 1).cpu().numpy()
        rot_np, origin_np = rot[idx].cpu().numpy(), origin[idx].cpu().numpy()
        width_np, obj_np = poses['width'][idx].cpu().numpy(), poses['obj'][idx].cpu().numpy()
        grasps: List[GraspCandidate] = []
        for k, item in enumerate(objects):
            mine = np.flatnonzero(obj_np == k)
            for i in mine[_nms(origin_np[mine], rot_np[mine], score[mine], c.nms_distance,
                               math.radians(c.nms_angle_deg), c.top_k)]:
                grasps.append(GraspCandidate(item.target, origin_np[i].astype(np.float64),
                                             quaternion_from_matrix(rot_np[i].astype(np.float64)),
                                             min(float(width_np[i]), c.max_opening), float(score[i])))
        return grasps

    def _collision_free(self, objects: List[_Seen], queues: Sequence[torch.Tensor], poses: Dict[str, torch.Tensor],
                        candidates_of: set, why: Dict[int, str]) -> Tuple[torch.Tensor, torch.Tensor]:
        """Collision and visibility tests of each object's ``queues`` of ``poses`` (indices, best first), a
        batch of each at a time, until enough of an object's are free: the free ones (each object's in their
        queue's order) and whether each also keeps twice the margin free (1.0) or not (0.0). Objects
        among ``candidates_of`` that keep none are told why."""
        c = g = self.cfg
        rot, origin, width, own_margin = poses['rot'], poses['origin'], poses['width'], poses['own_margin']
        target = torch.tensor([item.target for item in objects], device=self.device)[poses['obj']]
        margins = (c.collision_margin, 2 * c.collision_margin)
        found, clear_of_points = [0] * len(objects), [False] * len(objects)
        kept, clearances = [], []
        active = [k for k, queue in enumerate(queues) if queue.numel()]
        start = 0
        while active:
            batch = [queues[k][start:start + _COLLISION_BATCH] for k in active]
            hits = torch.cat([hand_hits(g, rot[i], origin[i], width[i], objects[k].scene, margins, objects[k].own,
                                        own_margin[i]) for k, i in zip(active, batch)], 1)   # (2, B)
            idx = torch.cat(batch)
            free = ~hits[0]
            good = free & fingers_seen(self._view, g, rot[idx], origin[idx], width[idx], poses['top_edge'][idx],
                                       target[idx])
            kept.append(idx[good])
            clearances.append((~hits[1][good]).float())
            tallies = torch.stack([free, good]).cpu().numpy()
            ends = np.cumsum([0] + [i.numel() for i in batch])
            for k, s, t in zip(active, ends, ends[1:]):
                clear_of_points[k] |= bool(tallies[0, s:t].any())
                found[k] += int(tallies[1, s:t].sum())
            start += _COLLISION_BATCH
            active = [k for k in active if found[k] < _ENOUGH_FREE * c.top_k and queues[k].numel() > start]
        for k, item in enumerate(objects):
            if k in candidates_of and not found[k]:
                why[item.target] = (
                    'no candidate approach lies within the approach cone' if queues[k].numel() == 0 else
                    'the fingers would go where the camera cannot see whether there is room' if clear_of_points[k]
                    else 'the fingers or the palm meet neighbouring objects (or the object) in every pose')
        if not kept:
            return torch.zeros(0, dtype=torch.long, device=self.device), torch.zeros(0, device=self.device)
        return torch.cat(kept), torch.cat(clearances)

    def _hand_limits(self, clearances: Sequence[float], line_of: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Per line, for an object of each of the ``clearances`` (``line_of``: the object of each line): the
        widest extent the hand holds, the two clearances together and the measurement's uncertainty (see
        :meth:`_opening`), each worked out in double precision and taken to float once."""
        margin = self.cfg.collision_margin
        table = torch.tensor([[self._widest_held(k), 2 * k, k - margin] for k in clearances], dtype=torch.float32,
                             device=self.device)
        return tuple(table[line_of].unbind(1))

    def _opening(self, y_hi: torch.Tensor, y_lo: torch.Tensor, limits: Tuple[torch.Tensor, ...]):
        """For jaws closing onto the outermost object points at ``y_hi`` and ``y_lo`` along the closing line:
        whether the hand can hold that, the opening it needs, the margin its fingers' inner faces keep from the
        object's own points, and the closing centre (``limits``: :meth:`_hand_limits` of the lines). An object a
        little too wide for the full clearance is still held with the hand wide open, as long as the
        measurement's uncertainty and part of the collision margin fit (the fingers' inner faces then keep only
        what is left of the margin from the object's own points)."""
        c = g = self.cfg
        widest, both_clearances, uncertainty = limits
        extent = y_hi - y_lo
        fits = extent <= widest
        width = (extent + both_clearances).clamp_max(g.max_opening)
        own_margin = ((width - extent) / 2 - uncertainty).clamp(_TIGHT_MARGIN * c.collision_margin,
                                                                c.collision_margin)
        return fits, width, own_margin, (y_hi + y_lo) / 2

    def _widest_held(self, clearance: float) -> float:
        """The widest object extent the hand holds: its opening less the measurement's uncertainty and the least
        margin the fingers keep, on both sides (see :meth:`_opening`)."""
        c = self.cfg
        return c.max_opening - 2 * (clearance - c.collision_margin + _TIGHT_MARGIN * c.collision_margin)

    def _clearance(self, pixel_spacing: float) -> float:
        """Opening added on each side of the outermost points: the outermost measured points lie up to a pixel
        spacing (and half a voxel) inside the true surface, and the collision margin."""
        return self.cfg.collision_margin + _CLEARANCE + _SPACING_SHARE * pixel_spacing

    def _rim_candidates(self, pts: torch.Tensor, flat: torch.Tensor, h: torch.Tensor, spacing: float,
                        up: torch.Tensor):
        """Candidates across the rim when the object is an open container seen from above (rim.py), else None.
        Only the points the camera saw count (not a round object's completed far side); ``flat``: their
        coordinates along the support, ``h``: their heights."""
        g = self.cfg
        camera_height = float((h - pts @ up).mean())      # the camera is the origin: its height above the support
        opening = find_opening(flat, h, camera_height)
        if opening is None:
            return None
        # leaning the hand up to the approach cone lets the inner finger follow a bowl's flaring wall
        half_cone = math.radians(min(g.approach_cone_deg, 178.0) / 2)
        leans = [half_cone * k / max(1, g.approach_steps - 1) for k in range(g.approach_steps)]
        return rim_candidates(flat, h, opening, g.finger_width, g.finger_depth, self._clearance(spacing),
                              g.max_opening, _TIP_CLEARANCE * g.collision_margin, g.friction, leans)



def _round_circle(flat: torch.Tensor, spacing: float, max_radius: float, at_border: torch.Tensor):
    """(centre (2,), radius) of the circle the object's outline seen from above (``flat``: its points'
    coordinates along the support) follows, or None. A circle wider than half ``max_radius`` must be seen along
    _WIDE_ROUND_ARC_DEG (the near half of an oval fits a large circle along a shorter arc). An object at the
    image border has none (its outline may be cut)."""
    if bool(at_border.any()):
        return None
    return round_outline(flat.detach().cpu().numpy(), max(_ROUND_TOLERANCE, spacing), max_radius,
                         large_radius=max_radius / 2, large_arc_deg=_WIDE_ROUND_ARC_DEG)


def _complete_round(pts: torch.Tensor, flat: torch.Tensor, a: torch.Tensor, b: torch.Tensor, circle):
    """The object's points and, when its outline is the ``circle`` (centre (2,), radius; or None) in the support
    axes ``a``, ``b`` (``flat``: the points' coordinates along them), their mirror images through the circle's
    axis (its hidden far side); and which points are such images."""
    none = torch.zeros(pts.shape[0], dtype=torch.bool, device=pts.device)
    if circle is None:
        return pts, none
    centre = torch.as_tensor(circle[0], dtype=pts.dtype, device=pts.device)
    to_axis = centre[None] - flat                                                        # (N, 2)
    mirrored = pts + 2 * (to_axis[:, :1] * a + to_axis[:, 1:] * b)
    return torch.cat([pts, mirrored]), torch.cat([none, torch.ones_like(none)])


def _centimetres(*lengths: float) -> List[str]:
    """Lengths (m) as centimetres to a millimetre, or to a tenth of one where that is needed to tell them apart
    ("6.5 cm at the narrowest, at most 6.5 cm fits" reads as a contradiction)."""
    tenths = [f'{100 * x:.1f}' for x in lengths]
    if len(set(tenths)) == len({round(x, 6) for x in lengths}):
        return tenths
    return [f'{100 * x:.2f}' for x in lengths]


def _tilts(cone_deg: float, steps: int) -> List[float]:
    """Approach angles from straight down (radians): 0, then +-k/steps of half the cone."""
    half = math.radians(min(cone_deg, 178.0) / 2)
    if half < 1e-3 or steps <= 1:
        return [0.0]
    out = [0.0]
    for k in range(1, steps):
        out += [half * k / (steps - 1), -half * k / (steps - 1)]
    return out


def _thin(points: torch.Tensor, voxel: float) -> torch.Tensor:
    """Indices of one point per occupied voxel (the first), for cheap collision checks."""
    if points.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=points.device)
    keys = torch.floor(points / voxel).long()
    keys -= keys.min(0).values
    span = keys.max(0).values + 1
    flat = (keys[:, 0] * span[1] + keys[:, 1]) * span[2] + keys[:, 2]
    _, first = np.unique(flat.cpu().numpy(), return_index=True)
    return torch.from_numpy(first).to(points.device)


def _nms(origin: np.ndarray, rot: np.ndarray, score: np.ndarray, distance: float, angle: float,
         top_k: int) -> List[int]:
    """Indices of the best candidates, skipping any within ``distance`` and ``angle`` of one already kept (ties
    in the order given)."""
    order = np.argsort(-score, kind='stable')
    o = origin[order]
    r = rot[order].reshape(len(order), 9)
    close = np.linalg.norm(o[:, None] - o[None], axis=-1) < distance
    # rotation angle between two frames: trace(Ri^T Rj) = 1 + 2 cos(theta)
    similar = (r @ r.T - 1) / 2 > math.cos(angle)
    duplicate = close & similar
    kept: List[int] = []
    for i in range(len(order)):
        if not any(duplicate[i, j] for j in kept):
            kept.append(i)
            if len(kept) == top_k:
                break
    return [int(order[i]) for i in kept]

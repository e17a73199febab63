"""Antipodal parallel-jaw grasp candidates, collision-checked against the whole scene, all in torch.

Grasp frame (DESIGN.md): origin between the fingertips at the closing centre, x = approach (towards the
object), y = closing direction, z = x cross y; ``width`` is the opening the grasp needs, ``score`` is in [0, 1].

A camera sees one side of an object, so contacts are not sampled as pairs of opposite visible points. Per object:
1. grasp frames: approaches straight down (the up vector reversed) and tilted by half of ``approach_cone_deg``,
   each turned about the approach; the closing plane passes through sampled object points;
2. the object's points in the finger slab give the opening needed (their extent along the closing direction plus
   clearance) and how deep the fingertips go (past the object's top, never below its lowest seen point);
   objects wider than ``max_opening`` in the slab get no grasp;
3. collision: scene points (table and neighbours included) inside the finger or palm boxes, inflated by
   ``collision_margin``, reject the candidate;
4. score: antipodal quality from the normals of the points at each jaw inside the friction cone
   (``grasps.friction``; a jaw on an unseen side adds nothing), points between the fingers, approach
   alignment, clearance; non-maximum suppression and the best ``top_k`` per object.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch

from ..config import GraspConfig
from ..geometry import quaternion_from_matrix
from ..types import GraspCandidate, ObjectCloud

_CLEARANCE = 0.004       # m: opening added on each side of the contacts
_CONTACT_DEPTH = 0.7     # fingertips go this many finger lengths past the object's top along the approach
_MIN_JAW_QUALITY = 0.5    # each jaw's contact must be at least this well inside the friction cone
_OUTLINE_BINS = 4        # strips across the finger width for the outline test
_JAW_BAND = 0.006        # m: object points this close to a jaw are its contacts
_MAX_OBJECT_POINTS = 600
_COLLISION_CHECKS = 48    # best-scoring candidates per object that get the (costly) collision test
_FILL_SATURATION = 40    # object points between the fingers that count as a full grip
_SCENE_VOXEL = 0.008     # m: scene points used for collisions are thinned to this spacing


@dataclass(frozen=True)
class _Gripper:
    max_opening: float
    finger_depth: float
    finger_width: float
    finger_thickness: float
    palm_depth: float
    palm_width: float
    palm_height: float


class GraspPlanner:
    def __init__(self, config: GraspConfig, device: torch.device):
        self.cfg = config
        self.device = device
        self.gripper = _Gripper(config.max_opening, config.finger_depth, config.finger_width,
                                config.finger_thickness, config.palm_depth, config.palm_width, config.palm_height)

    def plan(self, objects: Sequence[ObjectCloud], scene_points: torch.Tensor, up: Optional[np.ndarray],
             support_height=None) -> List[GraspCandidate]:
        """Candidates for every object, best first. ``scene_points``: (M, 3) camera-frame points of the frame;
        ``support_height``: a function giving points' height above the support surface (objects stand on it, so
        the fingers may reach down to just above it even where the camera saw only an object's top)."""
        self._support_height = support_height
        if not objects:
            return []
        scene = _thin(scene_points.to(self.device).float(), _SCENE_VOXEL)
        down = torch.tensor(-np.asarray(up, float) if up is not None else [0.0, 0.0, 1.0], device=self.device,
                            dtype=torch.float32)
        down = down / down.norm()
        generator = torch.Generator(device=self.device).manual_seed(self.cfg.seed)
        frames = _frames(down, self.cfg.approach_cone_deg, self.cfg.approach_steps, self.device)
        grasps: List[GraspCandidate] = []
        for obj in objects:
            if len(obj.points) < 10:
                continue
            grasps.extend(self._plan_object(obj, scene, down, frames, generator))
        grasps.sort(key=lambda g: -g.score)
        return grasps

    def _plan_object(self, obj: ObjectCloud, scene: torch.Tensor, down: torch.Tensor, frames: torch.Tensor,
                     generator):
        c, g = self.cfg, self.gripper
        pts = torch.from_numpy(obj.points).to(self.device).float()
        # only scene points the hand can reach while gripping this object matter for its collisions
        centre = pts.mean(0)
        radius = float((pts - centre).norm(dim=1).max()) + g.finger_depth + g.palm_depth + \
            max(g.palm_width, g.max_opening) / 2 + g.palm_height
        scene = scene[(scene - centre).norm(dim=1) < radius]
        nrm = torch.from_numpy(obj.normals).to(self.device).float()
        if pts.shape[0] > _MAX_OBJECT_POINTS:
            keep = torch.randperm(pts.shape[0], generator=generator, device=self.device)[:_MAX_OBJECT_POINTS]
            pts, nrm = pts[keep], nrm[keep]
        n = pts.shape[0]
        seeds = pts[torch.randint(n, (min(c.samples, n),), generator=generator, device=self.device)]
        # every (seed, frame): the closing line through the seed; object points in grasp coordinates
        rot = frames.repeat(seeds.shape[0], 1, 1)
        seed = seeds.repeat_interleave(rot.shape[0] // seeds.shape[0], 0)
        if rot.shape[0] > c.max_candidates:
            pick = torch.randperm(rot.shape[0], generator=generator, device=self.device)[:c.max_candidates]
            rot, seed = rot[pick], seed[pick]
        # plus grasps square to the object's upright box, closing through its centre line: what a person
        # would try first on boxes, cans and bottles standing on a table
        box_rot, box_seed = self._box_aligned(obj, down)
        rot, seed = torch.cat([box_rot, rot]), torch.cat([box_seed, seed])
        local = self._local(rot, seed, pts)                                  # (G, N, 3)
        slab = local[..., 2].abs() <= g.finger_width / 2 + 2 * c.collision_margin  # what the fingers sweep
        reach = local[..., 1].abs() <= g.max_opening                          # the object part this grasp can touch
        member = slab & reach
        big = torch.full_like(local[..., 0], 1e3)
        y_max = torch.where(member, local[..., 1], -big).amax(1)
        y_min = torch.where(member, local[..., 1], big).amin(1)
        x_top = torch.where(member, local[..., 0], big).amin(1)
        width = y_max - y_min + 2 * (_CLEARANCE + c.collision_margin)  # open fingers clear the object
        ok = (member.sum(1) >= 3) & (width <= g.max_opening)
        # the whole object slab must lie between the fingers, or the fingers would close on it elsewhere
        ok &= ~((slab & ~reach).any(1))
        if not bool(ok.any()):
            return []
        x_bottom = torch.where(member, local[..., 0], -big).amax(1)
        # the palm must stay above whatever of the object lies under it
        palm_half = max(g.palm_width, g.max_opening + 2 * g.finger_thickness) / 2
        under_palm = (local[..., 1].abs() <= palm_half) & (local[..., 2].abs() <= g.palm_height / 2)
        x_palm = torch.where(under_palm, local[..., 0], big).amin(1)[ok]
        rot, seed = rot[ok], seed[ok]
        y_mid = ((y_max + y_min) / 2)[ok]
        width, x_top, x_bottom = width[ok], x_top[ok], x_bottom[ok]
        # fingertips past the object's top, stopping short of the support surface (or, without one, of the
        # lowest seen point of the object)
        floor = x_bottom
        if self._support_height is not None:
            lowering = (rot[:, :, 0] * down).sum(-1).clamp_min(0.2)          # height lost per unit of approach
            floor = self._support_height(seed[:, None])[:, 0] / lowering
        # (sensor noise leaves table points a few millimetres above the fitted surface: keep 3 margins)
        depth = torch.minimum(x_top + _CONTACT_DEPTH * g.finger_depth, floor - 3 * c.collision_margin)
        depth = torch.minimum(depth, x_palm + g.finger_depth - 2 * c.collision_margin)
        origin = seed + rot[:, :, 0] * depth[:, None] + rot[:, :, 1] * y_mid[:, None]
        # score what needs no collision test first; test only the most promising candidates
        local = self._local(rot, origin, pts)
        quality_antipodal, fill, grip = self._contacts(local, nrm, rot, width)
        align = (rot[:, :, 0] * down).sum(-1)
        cone = math.cos(math.radians(c.approach_cone_deg))
        quality_approach = ((align - cone) / max(1e-6, 1 - cone)).clamp(0, 1)
        partial = 0.4 * quality_antipodal + 0.2 * (fill / _FILL_SATURATION).clamp(max=1) + 0.25 * quality_approach
        partial = torch.where((fill >= 3) & grip, partial, torch.full_like(partial, -1.0))
        best = torch.argsort(partial, descending=True)[:_COLLISION_CHECKS]
        best = best[partial[best] >= 0]
        if best.numel() == 0:
            return []
        rot, origin, width, partial = rot[best], origin[best], width[best], partial[best]
        free, clear = self._collision_free(rot, origin, width, scene)
        if not bool(free.any()):
            return []
        rot, origin, width = rot[free], origin[free], width[free]
        score = (partial[free] + 0.15 * clear[free]).clamp(0, 1)
        chosen = _nms(origin, rot, score, c.nms_distance, math.radians(c.nms_angle_deg), c.top_k)
        rot_np, origin_np = rot[chosen].cpu().numpy(), origin[chosen].cpu().numpy()
        return [GraspCandidate(obj.instance_id, origin_np[i].astype(np.float64),
                               quaternion_from_matrix(rot_np[i]), float(width[chosen[i]]), float(score[chosen[i]]))
                for i in range(len(chosen))]

    def _box_aligned(self, obj: ObjectCloud, down: torch.Tensor):
        """Straight-down frames closing along each horizontal axis of the object's box, with seeds spread along
        the other axis through the box centre."""
        axes = torch.from_numpy(obj.box_rotation).to(self.device).float()
        centre = torch.from_numpy(obj.box_center).to(self.device).float()
        extent = torch.from_numpy(obj.box_extent).to(self.device).float()
        horizontal = [axes[:, i] - (axes[:, i] @ down) * down for i in range(3)]
        order = sorted(range(3), key=lambda i: -float(horizontal[i].norm()))[:2]
        rots, seeds = [], []
        for closing, along in (order, order[::-1]):
            y = horizontal[closing] / horizontal[closing].norm().clamp_min(1e-9)
            z = torch.linalg.cross(down, y)
            rot = torch.stack([down, y, z], 1)
            for f in (-0.3, 0.0, 0.3):
                rots.append(rot)
                seeds.append(centre + axes[:, along] * extent[along] * f)
        return torch.stack(rots), torch.stack(seeds)

    def _local(self, rot, origin, points):
        return torch.einsum('gmk,gkj->gmj', points[None] - origin[:, None], rot)  # (G, M, 3) grasp coordinates

    def _collision_free(self, rot, origin, width, scene):
        """Candidates whose finger and palm volumes, inflated by the margin, hold no scene point; and a
        clearance term (1 where twice the margin is free too)."""
        g, m = self.gripper, self.cfg.collision_margin
        lx, ly, lz = self._local(rot, origin, scene).unbind(-1)              # (G, M) each
        ay, az = ly.abs(), lz.abs()
        half = width[:, None] / 2
        palm_half = max(g.palm_width, g.max_opening + 2 * g.finger_thickness) / 2
        hits = []
        for margin in (m, 2 * m):
            fingers = ((lx >= -g.finger_depth - margin) & (lx <= margin) & (az <= g.finger_width / 2 + margin)
                       & (ay >= half - margin) & (ay <= half + g.finger_thickness + margin))
            palm = ((lx >= -g.finger_depth - g.palm_depth - margin) & (lx <= -g.finger_depth + margin)
                    & (ay <= palm_half + margin) & (az <= g.palm_height / 2 + margin))
            hits.append((fingers | palm).any(1))
        return ~hits[0], (~hits[1]).float()


    def _contacts(self, local, nrm, rot, width):
        """Antipodal quality in [0, 1] per candidate, the number of object points between the fingers, and
        whether both jaws meet surfaces inside the friction cone.

        At each jaw the contact surface's direction comes from two sources: the normals of the points there
        (where that side is visible) and the outline of the object across the finger width: how the extreme
        points along the closing direction move across the finger (a face square to the jaw keeps them in line,
        a corner sweeps them sideways). The better of the two counts."""
        g = self.gripper
        between = ((local[..., 0] >= -g.finger_depth) & (local[..., 0] <= 0)
                   & (local[..., 2].abs() <= g.finger_width / 2) & (local[..., 1].abs() <= width[:, None] / 2))
        mu = self.cfg.friction
        cos_fc = math.cos(math.atan(mu))
        n_local = torch.einsum('nk,gkj->gnj', nrm, rot)                      # normals in grasp coordinates
        quality = torch.zeros_like(width)
        grip = torch.ones_like(width, dtype=torch.bool)
        edges = torch.linspace(-g.finger_width / 2, g.finger_width / 2, _OUTLINE_BINS + 1, device=width.device)
        centres = (edges[:-1] + edges[1:]) / 2
        for side in (1.0, -1.0):
            ys = local[..., 1] * side
            extreme = torch.where(between, ys, torch.full_like(ys, -1e3)).amax(1)
            at_jaw = between & ((ys - extreme[:, None]).abs() <= _JAW_BAND)
            agree = ((n_local[..., 1] * side - cos_fc) / (1 - cos_fc)).clamp(0, 1)
            from_normals = torch.where(at_jaw, agree, torch.zeros_like(agree)).sum(1) / at_jaw.sum(1).clamp_min(1)
            # outline: the extreme per strip across the finger, and its slope against the strip position
            per_bin = torch.stack([torch.where(between & (local[..., 2] >= lo) & (local[..., 2] < hi), ys,
                                               torch.full_like(ys, -1e3)).amax(1)
                                   for lo, hi in zip(edges[:-1], edges[1:])], 1)           # (G, bins)
            seen = per_bin > -1e2
            count = seen.sum(1).clamp_min(1)
            zc = torch.where(seen, centres, torch.zeros_like(per_bin))
            yc = torch.where(seen, per_bin, torch.zeros_like(per_bin))
            zm, ym = zc.sum(1) / count, yc.sum(1) / count
            var = torch.where(seen, (centres - zm[:, None]) ** 2, torch.zeros_like(per_bin)).sum(1)
            slope = torch.where(seen, (centres - zm[:, None]) * (per_bin - ym[:, None]), torch.zeros_like(per_bin))
            slope = slope.sum(1) / var.clamp_min(1e-9)
            from_outline = torch.where(seen.sum(1) >= 2, (1 - slope.abs() / mu).clamp(0, 1), torch.zeros_like(slope))
            jaw = torch.maximum(from_normals, from_outline)
            quality = quality + 0.5 * jaw
            grip &= jaw >= _MIN_JAW_QUALITY
        return quality, between.sum(1).float(), grip

def _frames(down: torch.Tensor, cone_deg: float, yaw_steps: int, device) -> torch.Tensor:
    """Grasp orientations [x y z]: approaches straight down and tilted by half the cone towards four sides,
    each turned about the approach in ``yaw_steps`` steps over half a turn (the jaws are symmetric)."""
    helper = torch.tensor([1.0, 0.0, 0.0], device=device)
    if float((down @ helper).abs()) > 0.9:
        helper = torch.tensor([0.0, 1.0, 0.0], device=device)
    u = torch.linalg.cross(down, helper)
    u = u / u.norm()
    v = torch.linalg.cross(down, u)
    tilt = math.radians(min(cone_deg / 2, 89.0))
    approaches = [down] + [math.cos(tilt) * down + math.sin(tilt) * (math.cos(a) * u + math.sin(a) * v)
                           for a in (0.0, math.pi / 2, math.pi, 3 * math.pi / 2)] if cone_deg > 1 else [down]
    frames = []
    for x in approaches:
        x = x / x.norm()
        a = torch.linalg.cross(x, helper if float((x @ helper).abs()) < 0.9 else torch.tensor(
            [0.0, 0.0, 1.0], device=device))
        a = a / a.norm()
        b = torch.linalg.cross(x, a)
        for k in range(yaw_steps):
            angle = math.pi * k / yaw_steps
            y = math.cos(angle) * a + math.sin(angle) * b
            frames.append(torch.stack([x, y, torch.linalg.cross(x, y)], 1))
    return torch.stack(frames)


def _thin(points: torch.Tensor, voxel: float) -> torch.Tensor:
    """One point per occupied voxel (the first), for cheap collision checks."""
    if points.shape[0] == 0:
        return points
    keys = torch.floor(points / voxel).long()
    keys -= keys.min(0).values
    span = keys.max(0).values + 1
    flat = (keys[:, 0] * span[1] + keys[:, 1]) * span[2] + keys[:, 2]
    _, first = np.unique(flat.cpu().numpy(), return_index=True)
    return points[torch.from_numpy(first).to(points.device)]


def _nms(origin, rot, score, distance, angle, top_k):
    """Indices of the best candidates, skipping any within ``distance`` and ``angle`` of one already kept."""
    order = torch.argsort(score, descending=True).tolist()
    kept: List[int] = []
    cos_limit = math.cos(angle)
    for i in order:
        close = False
        for j in kept:
            if float((origin[i] - origin[j]).norm()) < distance:
                # rotation angle between the two frames: trace(Ri^T Rj) = 1 + 2 cos(theta)
                cos_theta = (float((rot[i] * rot[j]).sum()) - 1) / 2
                if cos_theta > cos_limit:
                    close = True
                    break
        if not close:
            kept.append(i)
            if len(kept) == top_k:
                break
    return kept

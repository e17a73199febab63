"""Grasp quality judged against the true geometry of a synthetic scene (scene.json), not the noisy cloud.

A grasp is valid when, at some depth along its fingers, the closing segment enters and leaves the target
object's true surface inside the opening, the true face normals at both contacts lie within the friction cone
(mu = 0.5 by default), the opening fits the gripper, and neither finger nor the palm intersects any true object,
the table or a wall. An object can be held at all when a search over the planner's kind of grasps finds a valid
one on the true geometry (the upper bound of ``eval --grasp-upper-bound``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ..config import GraspConfig
from ..geometry import matrix_from_quaternion, quaternion_from_matrix
from ..synthetic.shapes import Mesh, shape_mesh
from .hand import palm_half_width

_DEPTHS = (0.15, 0.35, 0.55, 0.75, 0.95)   # along the fingers, in finger lengths behind the tips
NON_CONVEX = ('cup',)                        # shapes the half-space test below cannot judge
_BOX_SAMPLES = 5                            # points per box edge when testing volumes against solids


@dataclass(frozen=True, eq=False)
class _Solid:
    name: str
    instance_id: int
    normals: np.ndarray   # (F, 3) outward face normals, camera frame
    offsets: np.ndarray   # (F,) with n . p + d <= 0 inside
    vertices: np.ndarray

    def inside(self, points: np.ndarray, tol: float = 0.0) -> np.ndarray:
        return (points @ self.normals.T + self.offsets <= -tol).all(-1)


def _solid(name: str, instance_id: int, mesh: Mesh) -> _Solid:
    a, b, c = (mesh.vertices[mesh.triangles[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return _Solid(name, instance_id, n, -np.einsum('ij,ij->i', n, a), mesh.vertices)


def scene_solids(scene: dict) -> List[_Solid]:
    """Every body of a scene.json in the camera frame (objects with their instance ids, surfaces with 0)."""
    solids = []
    for entry in scene['objects'] + scene['surfaces']:
        if entry['shape'] in NON_CONVEX:
            raise ValueError(f"grasp evaluation judges convex bodies only; {entry['name']} is a {entry['shape']}")
        mesh = shape_mesh(entry).transformed(np.asarray(entry['pose_camera']))
        solids.append(_solid(entry['name'], int(entry.get('instance_id', 0)), mesh))
    return solids


def object_fits(entry: dict, max_opening: float, clearance: float = 0.008, directions: int = 90) -> bool:
    """Whether some horizontal-ish closing direction finds the object narrower than the opening."""
    v = shape_mesh(entry).transformed(np.asarray(entry['pose_world'])).vertices
    angles = np.linspace(0, np.pi, directions, endpoint=False)
    d = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], 1)
    widths = (v @ d.T).max(0) - (v @ d.T).min(0)
    return bool(widths.min() + clearance <= max_opening)


def _crossing(solid: _Solid, start: np.ndarray, direction: np.ndarray):
    """Where the line start + t * direction enters and leaves the convex solid: (t_in, entry face normal, t_out,
    exit face normal), or None when it misses."""
    denom = solid.normals @ direction
    num = -(solid.normals @ start + solid.offsets)
    parallel = np.abs(denom) < 1e-12
    if (parallel & (num < 0)).any():   # along a face, outside it
        return None
    t = np.where(parallel, np.nan, num / np.where(parallel, 1.0, denom))
    entering, leaving = ~parallel & (denom < 0), ~parallel & (denom > 0)
    if not entering.any() or not leaving.any():
        return None
    i = np.flatnonzero(entering)[np.argmax(t[entering])]
    o = np.flatnonzero(leaving)[np.argmin(t[leaving])]
    if t[i] >= t[o]:
        return None
    return t[i], solid.normals[i], t[o], solid.normals[o]


def _segment_contacts(solid: _Solid, start: np.ndarray, direction: np.ndarray, half: float, cos_fc: float) -> bool:
    """The line start + t * direction enters and leaves the convex solid with |t| <= half, and the faces it
    crosses are within the friction cone of the closing direction."""
    crossing = _crossing(solid, start, direction)
    if crossing is None:
        return False
    t_in, n_in, t_out, n_out = crossing
    if t_in < -half or t_out > half:
        return False
    return bool(-n_in @ direction >= cos_fc and n_out @ direction >= cos_fc)


def _gripper_points(R: np.ndarray, origin: np.ndarray, width: float, cfg: GraspConfig) -> np.ndarray:
    """Points filling the two fingers and the palm (camera frame)."""
    palm_half = palm_half_width(cfg)
    boxes = [((-cfg.finger_depth, 0), (width / 2, width / 2 + cfg.finger_thickness),
              (-cfg.finger_width / 2, cfg.finger_width / 2)),
             ((-cfg.finger_depth, 0), (-width / 2 - cfg.finger_thickness, -width / 2),
              (-cfg.finger_width / 2, cfg.finger_width / 2)),
             ((-cfg.finger_depth - cfg.palm_depth, -cfg.finger_depth), (-palm_half, palm_half),
              (-cfg.palm_height / 2, cfg.palm_height / 2))]
    pts = []
    for (x0, x1), (y0, y1), (z0, z1) in boxes:
        g = np.stack(np.meshgrid(np.linspace(x0, x1, _BOX_SAMPLES), np.linspace(y0, y1, _BOX_SAMPLES),
                                 np.linspace(z0, z1, _BOX_SAMPLES), indexing='ij'), -1).reshape(-1, 3)
        pts.append(g)
    return np.concatenate(pts) @ R.T + origin


def grasp_valid(position, quaternion, width: float, target: _Solid, solids: List[_Solid], cfg: GraspConfig,
                friction: float = 0.5) -> bool:
    if width > cfg.max_opening:
        return False
    R = matrix_from_quaternion(quaternion)
    x, y = R[:, 0], R[:, 1]
    cos_fc = math.cos(math.atan(friction))
    position = np.asarray(position, float)
    if not any(_segment_contacts(target, position - x * (s * cfg.finger_depth), y, width / 2, cos_fc)
               for s in _DEPTHS):
        return False
    hand = _gripper_points(R, position, width, cfg)
    palm_half = palm_half_width(cfg)
    for solid in solids:
        if solid.inside(hand, tol=1e-4).any():
            return False
        # thin parts of solids can pass between the sample points: their vertices must not be inside the hand
        local = (solid.vertices - position) @ R
        in_fingers = ((local[:, 0] > -cfg.finger_depth) & (local[:, 0] < 0)
                      & (np.abs(local[:, 2]) < cfg.finger_width / 2)
                      & (np.abs(local[:, 1]) > width / 2) & (np.abs(local[:, 1]) < width / 2 + cfg.finger_thickness))
        in_palm = ((local[:, 0] > -cfg.finger_depth - cfg.palm_depth) & (local[:, 0] < -cfg.finger_depth)
                   & (np.abs(local[:, 1]) < palm_half) & (np.abs(local[:, 2]) < cfg.palm_height / 2))
        if (in_fingers | in_palm).any():
            return False
    return True


_SEARCH_DIRECTIONS = 24                    # closing directions over half a turn (7.5 deg apart)
_SEARCH_OFFSETS = 7                        # closing lines across the object, evenly between its sides
_SEARCH_TIPS = 4                           # fingertip heights, from the object's foot up to just below its top
_SEARCH_CLEARANCES = (0.005, 0.01)         # m: opening beyond the object's extent on each side
_SEARCH_TILTS = (0.0, 0.5, -0.5, 1.0, -1.0)   # approach tilts about the closing axis, in half approach cones


def grasp_exists(target: _Solid, solids: List[_Solid], up: np.ndarray, cfg: GraspConfig,
                 friction: float = 0.5) -> bool:
    """Whether any grasp of the planner's kind holds on the true geometry (:func:`grasp_valid`): approached from
    above the support, tilted about the closing axis within the approach cone, over a grid of closing directions,
    lines across the object, fingertip heights (palm above the object's top) and openings. An upper bound for
    any planner that sees only the camera's side: an object boxed in by neighbours, or with no pair of faces
    within the friction cone at a height the fingers reach, has none."""
    up = np.asarray(up, float) / np.linalg.norm(up)
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 0.0, 1.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    heights = target.vertices @ up
    foot, top = heights.min(), heights.max()
    depth = cfg.finger_depth
    lowest, highest = max(0.002, top - foot - depth + 0.004), top - foot - 0.007
    if highest < lowest:   # too low for contacts between fingertips clear of the support and palm above the top
        return False
    tips = np.linspace(lowest, highest, _SEARCH_TIPS)
    half_cone = math.radians(min(cfg.approach_cone_deg, 178.0) / 2)
    for angle in np.linspace(0.0, math.pi, _SEARCH_DIRECTIONS, endpoint=False):
        d = math.cos(angle) * a + math.sin(angle) * b
        e = np.cross(up, d)
        across = target.vertices @ e
        for offset in np.linspace(across.min(), across.max(), _SEARCH_OFFSETS + 2)[1:-1]:
            for tip in tips:
                # where the object lies along the closing line at the heights the fingers span
                spans = [_crossing(target, offset * e + (foot + tip + s * depth) * up, d) for s in _DEPTHS]
                spans = [span for span in spans if span is not None]
                if not spans:
                    continue
                lo, hi = min(span[0] for span in spans), max(span[2] for span in spans)
                contact = (lo + hi) / 2 * d + offset * e + (foot + tip + depth / 2) * up
                for clearance in _SEARCH_CLEARANCES:
                    width = min(hi - lo + 2 * clearance, cfg.max_opening)
                    for tilt in _SEARCH_TILTS:
                        phi = tilt * half_cone
                        x = -up * math.cos(phi) + np.cross(d, -up) * math.sin(phi)
                        rotation = np.stack([x, d, np.cross(x, d)], 1)
                        # the fingers' middle stays on the contact line whatever the tilt
                        origin = contact + x * (depth / 2)
                        if grasp_valid(origin, quaternion_from_matrix(rotation), width, target, solids, cfg,
                                       friction):
                            return True
    return False


SHAPE_OUTCOMES = ('valid', 'fails', 'no_grasp', 'not_segmented')   # what became of a fitting object (by_shape)


def grasp_metrics(result, instances_gt: np.ndarray, scene: dict, cfg: GraspConfig,
                  min_gt_pixels: int = 50, upper_bound: bool = False) -> Dict[str, float]:
    """Per frame counts: objects that fit, of those with a grasp, with a valid top grasp and with any valid grasp
    among all of theirs (a motion planner that cannot reach the first tries the next), and objects that cannot fit
    but got a grasp (and of those, how many top grasps still hold on the true geometry: an object a
    little wider than the opening less 8 mm may be gripped with the hand wide open). With ``upper_bound``, also
    the fitting objects some grasp holds on at all (:func:`grasp_exists`; scene['camera']['up'] is needed) and of
    those, how many got a valid top grasp. ``by_shape``: per shape of scene.json, the fitting objects by outcome
    (SHAPE_OUTCOMES)."""
    solids = scene_solids(scene)
    by_id = {s.instance_id: s for s in solids if s.instance_id > 0}
    entries = {int(o['instance_id']): o for o in scene['objects'] if o['instance_id'] > 0}
    # predicted object -> ground-truth id under most of its pixels
    match: Dict[int, int] = {}
    labels = result.instances.labels
    for obj in result.objects:
        ids = instances_gt[labels == obj.instance_id]
        ids = ids[ids > 0]
        if ids.size:
            match[obj.instance_id] = int(np.bincount(ids).argmax())
    grasps_of: Dict[int, list] = {}
    for g in result.grasps:  # best first
        gt = match.get(g.object_id)
        if gt is not None:
            grasps_of.setdefault(gt, []).append(g)
    counts = {'fit': 0, 'fit_with_grasp': 0, 'fit_top1_valid': 0, 'fit_any_valid': 0, 'unfit': 0,
              'unfit_with_grasp': 0, 'unfit_top1_valid': 0}
    # what became of each fitting object, by its shape: a valid top grasp, a top grasp that fails, none, or no
    # object found mostly on it ("not segmented": merged into a neighbour, split into pieces none of which is
    # mostly it, or missed)
    by_shape: Dict[str, Dict[str, int]] = {}
    segmented = set(match.values())
    if upper_bound:
        if 'up' not in scene.get('camera', {}):
            raise ValueError("the grasp upper bound needs the up vector (scene.json: camera.up)")
        counts.update(fit_graspable=0, fit_graspable_top1_valid=0)
    visible = {i for i, c in zip(*np.unique(instances_gt, return_counts=True)) if i > 0 and c >= min_gt_pixels}
    for gid in visible:
        if gid not in entries:
            continue
        kind = 'fit' if object_fits(entries[gid], cfg.max_opening) else 'unfit'
        counts[kind] += 1
        g = grasps_of[gid][0] if gid in grasps_of else None
        valid = g is not None and grasp_valid(g.position, g.quaternion, g.width, by_id[gid], solids, cfg)
        if g is not None:
            counts[kind + '_with_grasp'] += 1
            counts[kind + '_top1_valid'] += valid
        if kind == 'fit':
            counts['fit_any_valid'] += valid or any(grasp_valid(o.position, o.quaternion, o.width, by_id[gid], solids,
                                                                cfg) for o in grasps_of.get(gid, [])[1:])
        if upper_bound and kind == 'fit' and (valid or grasp_exists(by_id[gid], solids, scene['camera']['up'], cfg)):
            counts['fit_graspable'] += 1
            counts['fit_graspable_top1_valid'] += valid
        if kind == 'fit':
            outcome = ('not_segmented' if gid not in segmented else 'no_grasp' if g is None
                       else 'valid' if valid else 'fails')
            shape = by_shape.setdefault(str(entries[gid].get('shape', 'unknown')), dict.fromkeys(SHAPE_OUTCOMES, 0))
            shape[outcome] += 1
    counts['by_shape'] = by_shape
    return counts


def summarize_grasps(counts: List[Dict[str, int]]) -> Dict[str, Optional[float]]:
    total = {k: sum(c[k] for c in counts) for k in counts[0] if k != 'by_shape'} if counts else {}
    by_shape: Dict[str, Dict[str, int]] = {}
    for c in counts:
        for shape, outcomes in c.get('by_shape', {}).items():
            into = by_shape.setdefault(shape, dict.fromkeys(SHAPE_OUTCOMES, 0))
            for outcome, n in outcomes.items():
                into[outcome] += n
    total['by_shape'] = dict(sorted(by_shape.items()))
    fit = total.get('fit', 0)
    summary = {**total,
               'coverage': total['fit_with_grasp'] / fit if fit else None,
               'top1_valid': total['fit_top1_valid'] / fit if fit else None,
               'top1_valid_of_grasped': total['fit_top1_valid'] / total['fit_with_grasp']
               if total.get('fit_with_grasp') else None,
               'any_valid': total['fit_any_valid'] / fit if fit else None}
    if 'fit_graspable' in total:
        graspable = total['fit_graspable']
        summary['graspable_share'] = graspable / fit if fit else None
        summary['top1_valid_of_graspable'] = total['fit_graspable_top1_valid'] / graspable if graspable else None
    return summary

"""Grasp quality judged against the true geometry of a synthetic scene (scene.json), not the noisy cloud.

A grasp is valid when, at some depth along its fingers, the closing segment enters and leaves the target
object's true surface inside the opening, the true face normals at both contacts lie within the friction cone
(mu = 0.5 by default), the opening fits the gripper, and neither finger nor the palm intersects any true object,
the table or a wall.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ..config import GraspConfig
from ..geometry import matrix_from_quaternion
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


def _segment_contacts(solid: _Solid, start: np.ndarray, direction: np.ndarray, half: float, cos_fc: float) -> bool:
    """The line start + t * direction enters and leaves the convex solid with |t| <= half, and the faces it
    crosses are within the friction cone of the closing direction."""
    denom = solid.normals @ direction
    num = -(solid.normals @ start + solid.offsets)
    t_in, t_out, n_in, n_out = -np.inf, np.inf, None, None
    for dn, nm, normal in zip(denom, num, solid.normals):
        if abs(dn) < 1e-12:
            if nm < 0:
                return False
            continue
        t = nm / dn
        if dn < 0 and t > t_in:
            t_in, n_in = t, normal
        elif dn > 0 and t < t_out:
            t_out, n_out = t, normal
    if n_in is None or n_out is None or t_in >= t_out or t_in < -half or t_out > half:
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
        in_fingers = ((local[:, 0] > -cfg.finger_depth) & (local[:, 0] < 0) & (np.abs(local[:, 2]) < cfg.finger_width / 2)
                      & (np.abs(local[:, 1]) > width / 2) & (np.abs(local[:, 1]) < width / 2 + cfg.finger_thickness))
        in_palm = ((local[:, 0] > -cfg.finger_depth - cfg.palm_depth) & (local[:, 0] < -cfg.finger_depth)
                   & (np.abs(local[:, 1]) < palm_half) & (np.abs(local[:, 2]) < cfg.palm_height / 2))
        if (in_fingers | in_palm).any():
            return False
    return True


def grasp_metrics(result, instances_gt: np.ndarray, scene: dict, cfg: GraspConfig,
                  min_gt_pixels: int = 50) -> Dict[str, float]:
    """Per frame counts: objects that fit, of those with a grasp and with a valid top grasp, and objects that
    cannot fit but got a grasp (and of those, how many top grasps still hold on the true geometry: an object a
    little wider than the opening less 8 mm may be gripped with the hand wide open)."""
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
    best: Dict[int, object] = {}
    for g in result.grasps:  # best first
        gt = match.get(g.object_id)
        if gt is not None and gt not in best:
            best[gt] = g
    counts = {'fit': 0, 'fit_with_grasp': 0, 'fit_top1_valid': 0, 'unfit': 0, 'unfit_with_grasp': 0,
              'unfit_top1_valid': 0}
    visible = {i for i, c in zip(*np.unique(instances_gt, return_counts=True)) if i > 0 and c >= min_gt_pixels}
    for gid in visible:
        if gid not in entries:
            continue
        kind = 'fit' if object_fits(entries[gid], cfg.max_opening) else 'unfit'
        counts[kind] += 1
        g = best.get(gid)
        if g is not None:
            counts[kind + '_with_grasp'] += 1
            counts[kind + '_top1_valid'] += grasp_valid(g.position, g.quaternion, g.width, by_id[gid], solids, cfg)
    return counts


def summarize_grasps(counts: List[Dict[str, int]]) -> Dict[str, Optional[float]]:
    total = {k: sum(c[k] for c in counts) for k in counts[0]} if counts else {}
    fit = total.get('fit', 0)
    return {**total,
            'coverage': total['fit_with_grasp'] / fit if fit else None,
            'top1_valid': total['fit_top1_valid'] / fit if fit else None,
            'top1_valid_of_grasped': total['fit_top1_valid'] / total['fit_with_grasp']
            if total.get('fit_with_grasp') else None}

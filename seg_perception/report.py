"""PerceptionResult -> plain JSON-ready dicts (``result.json``, logs, the node's summaries)."""
from __future__ import annotations

from typing import Dict, List, Optional

import numpy as np

from .geometry import backproject, oriented_box, quaternion_from_matrix
from .types import SURFACE_CLASS_NAMES, ObjectCloud, PerceptionResult


def _round(values, digits: int = 4) -> List[float]:
    return [round(float(v), digits) for v in np.asarray(values).reshape(-1)]


def object_summaries(result: PerceptionResult) -> List[Dict]:
    """Per object: id, class, score, pixel count, and from its filtered cloud (the one the node publishes, as
    boxes and centroids in its markers, and ``segment`` writes as PLY) the point count, centroid and upright 3-D
    box (camera frame, metres); with grasps planned, for an object without any, why (``no_grasp``). A result
    without clouds (labels only) measures the raw pixels instead; their flying pixels at depth edges can stretch
    a box by tens of centimetres."""
    labels = result.instances.labels
    if result.objects or result.instances.count == 0:
        # pixel counts of the full-resolution mask (instances.png), not of the processed grid
        pixels = np.bincount(labels.reshape(-1), minlength=result.instances.count + 1)
        return [_cloud_summary(obj, int(pixels[obj.instance_id]), result.grasp_notes.get(obj.instance_id))
                for obj in result.objects]
    frame = result.frame
    points = backproject(frame.depth, frame.camera)
    valid = frame.depth > 0
    up = result.surfaces.up
    out = []
    for i in range(1, result.instances.count + 1):
        mask = labels == i
        pts = points[mask & valid]
        entry = {'id': i, 'class': result.instances.class_names[i - 1],
                 'score': round(float(result.instances.scores[i - 1]), 4), 'pixel_count': int(mask.sum()),
                 'point_count': int(len(pts))}
        if len(pts) >= 3:
            center, extent, axes = oriented_box(pts, up)
            entry.update(centroid=_round(pts.mean(0)), box=_box(center, extent, axes))
        out.append(entry)
    return out


def _cloud_summary(obj: ObjectCloud, pixel_count: int, no_grasp: Optional[str]) -> Dict:
    entry = {'id': obj.instance_id, 'class': obj.class_name, 'score': round(float(obj.score), 4),
             'pixel_count': pixel_count, 'point_count': int(len(obj.points))}
    if len(obj.points):
        entry.update(centroid=_round(obj.centroid), box=_box(obj.box_center, obj.box_extent, obj.box_rotation))
    if no_grasp:
        entry['no_grasp'] = no_grasp   # why the planner found none (grasps planned, none for this object)
    return entry


def _box(center, extent, axes) -> Dict:
    return {'center': _round(center), 'extent': _round(extent), 'quaternion': _round(quaternion_from_matrix(axes), 5)}


def result_to_json(result: PerceptionResult) -> Dict:
    s = result.surfaces
    support = s.support_plane
    counts = np.bincount(s.labels.reshape(-1), minlength=len(SURFACE_CLASS_NAMES))
    return {
        'image_size': [result.frame.width, result.frame.height],
        'up': _round(s.up) if s.up is not None else None,
        'support_plane': None if support is None else {'normal': _round(support.normal),
                                                       'offset': round(float(support.offset), 5)},
        # convex outline of the support in view, on its plane, counter-clockwise seen from above (m, camera frame)
        'support_outline': [_round(v) for v in s.support_outline] if s.support_outline is not None else [],
        'surface_pixels': {name: int(counts[cls]) for cls, name in SURFACE_CLASS_NAMES.items()},
        'objects': object_summaries(result),
        'grasps': [{'object_id': g.object_id, 'position': _round(g.position), 'quaternion': _round(g.quaternion, 5),
                    'width': round(float(g.width), 4), 'score': round(float(g.score), 4)} for g in result.grasps],
        'timings_ms': {k: round(v, 2) for k, v in result.timings_ms.items()},
    }

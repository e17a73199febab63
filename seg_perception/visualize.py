"""Colours and overlays for label images (PNG outputs, the node's overlay topic)."""
from __future__ import annotations

import colorsys
from typing import Optional

import numpy as np

from .types import (SURFACE_FLOOR, SURFACE_OBJECT, SURFACE_OTHER, SURFACE_SUPPORT, SURFACE_UNKNOWN,
                    SURFACE_WALL)

SURFACE_COLORS = {
    SURFACE_UNKNOWN: (0, 0, 0),
    SURFACE_SUPPORT: (40, 110, 255),
    SURFACE_FLOOR: (150, 110, 60),
    SURFACE_WALL: (130, 200, 130),
    SURFACE_OBJECT: (255, 220, 0),
    SURFACE_OTHER: (150, 150, 150),
}


def instance_color(instance_id: int) -> tuple:
    """Distinct, stable colour per id (golden-ratio hue steps)."""
    hue = (instance_id * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def colorize_surfaces(labels: np.ndarray) -> np.ndarray:
    lut = np.zeros((256, 3), np.uint8)
    for cls, rgb in SURFACE_COLORS.items():
        lut[cls] = rgb
    return lut[labels]


def colorize_instances(labels: np.ndarray) -> np.ndarray:
    n = int(labels.max()) if labels.size else 0
    lut = np.zeros((n + 1, 3), np.uint8)
    for i in range(1, n + 1):
        lut[i] = instance_color(i)
    return lut[labels]


def _edges(labels: np.ndarray) -> np.ndarray:
    e = np.zeros(labels.shape, bool)
    e[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    e[1:] |= labels[1:] != labels[:-1]
    return e


def overlay(color: np.ndarray, surfaces: Optional[np.ndarray], instances: Optional[np.ndarray],
            alpha: float = 0.45) -> np.ndarray:
    """Colour image tinted by surface class, objects in their instance colours with outlines and ids.
    One tint image and one weight per pixel, blended in a single pass (the node draws this per frame)."""
    import cv2
    h, w = color.shape[:2]
    has_objects = instances is not None and bool(instances.any())
    n = int(instances.max()) if has_objects else 0
    # one colour table for surface classes (0-255) then instances (256 + id), one lookup per pixel
    lut = np.zeros((256 + n + 1, 3), np.uint8)
    lut[:256] = colorize_surfaces(np.arange(256))
    lut[256:] = colorize_instances(np.arange(n + 1))
    key = np.zeros((h, w), np.int32) if surfaces is None else surfaces.astype(np.int32)
    weight = np.zeros((h, w), np.float32)
    if surfaces is not None:
        surface_weight = np.full(256, alpha * 0.6, np.float32)
        surface_weight[[SURFACE_UNKNOWN, SURFACE_OBJECT]] = 0.0
        weight = surface_weight[surfaces]
    if has_objects:
        objects = instances > 0
        key = np.where(objects, instances.astype(np.int32) + 256, key)
        weight[objects] = alpha
        weight[_edges(instances) & objects] = 1.0
    tint = np.take(lut, key, axis=0)
    image = cv2.blendLinear(np.ascontiguousarray(color), tint, 1.0 - weight, weight)
    if has_objects:
        _draw_ids(image, instances)
    return image


def _draw_ids(image: np.ndarray, instances: np.ndarray) -> None:
    """Each instance's id at its pixels' centroid."""
    import cv2
    ys, xs = np.nonzero(instances)
    labels = instances[ys, xs].astype(np.int64)
    count = np.bincount(labels)
    ids = np.nonzero(count)[0]
    ids = ids[ids > 0]
    cx = np.bincount(labels, weights=xs)[ids] / count[ids]
    cy = np.bincount(labels, weights=ys)[ids] / count[ids]
    scale = max(0.4, image.shape[1] / 1600)
    for i, x, y in zip(ids, cx, cy):
        for thickness, col in ((3, (0, 0, 0)), (1, (255, 255, 255))):
            cv2.putText(image, str(int(i)), (int(x) - 6, int(y) + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, col,
                        thickness, cv2.LINE_AA)


def draw_grasps(image: np.ndarray, grasps, camera, limit: int = 30) -> np.ndarray:
    """Parallel-jaw glyphs projected into the image: two fingers and the palm bar, red (low score) to green."""
    import cv2
    from .geometry import matrix_from_quaternion, project
    out = image.copy()
    for g in list(grasps)[:limit][::-1]:  # best drawn last, on top
        R = matrix_from_quaternion(g.quaternion)
        ax, ay = R[:, 0], R[:, 1]
        half, depth = g.width / 2, 0.04
        tips = [g.position + ay * half, g.position - ay * half]
        bases = [t - ax * depth for t in tips]
        stem = [(bases[0] + bases[1]) / 2, (bases[0] + bases[1]) / 2 - ax * 0.03]
        pts = np.array(tips + bases + stem)
        if np.any(pts[:, 2] <= 0.01):
            continue
        uv = np.round(project(pts, camera)).astype(int)
        s = float(np.clip(g.score, 0, 1))
        color = (int(255 * (1 - s)), int(255 * s), 40)
        for a, b in ((0, 2), (1, 3), (2, 3), (4, 5)):
            cv2.line(out, tuple(uv[a]), tuple(uv[b]), color, 2, cv2.LINE_AA)
    return out


def draw_outline(image: np.ndarray, outline: Optional[np.ndarray], camera) -> np.ndarray:
    """The support surface's outline ((K, 3), camera frame) as a closed white line."""
    import cv2
    from .geometry import project
    if outline is None or len(outline) < 3 or np.any(outline[:, 2] <= 0.01):
        return image
    uv = project(np.asarray(outline), camera)
    if not np.isfinite(uv).all():   # beyond a lens model's calibrated field
        return image
    uv = np.round(uv).astype(np.int32)
    out = image.copy()
    cv2.polylines(out, [uv], True, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def result_overlay(result) -> np.ndarray:
    """A PerceptionResult drawn on its colour image: surfaces and objects tinted, the support's outline, the
    grasps (what `segment` saves and the node publishes on ~/overlay)."""
    image = overlay(result.frame.color, result.surfaces.labels, result.instances.labels)
    image = draw_outline(image, result.surfaces.support_outline, result.frame.camera)
    if result.grasps:
        image = draw_grasps(image, result.grasps, result.frame.camera)
    return image

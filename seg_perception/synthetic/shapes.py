"""Triangle meshes of the synthetic primitives, in numpy, with outward (counter-clockwise) winding.

A shape is described by a small JSON-friendly dict (``ShapeSpec``) so that scene.json is enough to rebuild the
exact geometry later (grasp evaluation judges against it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np
from scipy.spatial import ConvexHull

SHAPES = ('box', 'cylinder', 'sphere', 'convex', 'cup')


@dataclass(frozen=True, eq=False)
class Mesh:
    vertices: np.ndarray   # (V, 3) float64
    triangles: np.ndarray  # (T, 3) int64, counter-clockwise seen from outside

    def transformed(self, pose: np.ndarray) -> 'Mesh':
        return Mesh(self.vertices @ pose[:3, :3].T + pose[:3, 3], self.triangles)

    def signed_volume(self) -> float:
        a, b, c = (self.vertices[self.triangles[:, i]] for i in range(3))
        return float(np.einsum('ij,ij->i', a, np.cross(b, c)).sum() / 6.0)


def box_mesh(size) -> Mesh:
    sx, sy, sz = np.asarray(size, float) / 2
    v = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)])
    # vertex index = 4*ix + 2*iy + iz
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
    return _outward(Mesh(v, np.array(tris)))


def cylinder_mesh(radius: float, height: float, segments: int = 40) -> Mesh:
    """Axis along z, centred at the origin."""
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([radius * np.cos(ang), radius * np.sin(ang)], 1)
    h = height / 2
    v = np.concatenate([np.c_[ring, np.full(segments, -h)], np.c_[ring, np.full(segments, h)],
                        [[0, 0, -h], [0, 0, h]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    bottom_c, top_c = 2 * segments, 2 * segments + 1
    tris = np.concatenate([
        np.stack([i, j, j + segments], 1), np.stack([i, j + segments, i + segments], 1),   # side
        np.stack([np.full(segments, top_c), i + segments, j + segments], 1),               # top
        np.stack([np.full(segments, bottom_c), j, i], 1),                                  # bottom
    ])
    return _outward(Mesh(v, tris))


def cup_mesh(radius: float, height: float, wall: float, bottom: float, segments: int = 48) -> Mesh:
    """An open cylindrical cup (not convex): outer radius, height, wall and bottom thickness; axis along z,
    centred at the origin."""
    ang = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    unit = np.stack([np.cos(ang), np.sin(ang)], 1)
    h = height / 2
    rings = [(radius, -h), (radius, h), (radius - wall, h), (radius - wall, -h + bottom)]
    v = np.concatenate([np.c_[unit * r, np.full(segments, z)] for r, z in rings]
                       + [[[0.0, 0.0, -h], [0.0, 0.0, -h + bottom]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    tris, outward = [], []

    def band(lo: int, hi: int, facing):
        """Quads between rings lo and hi, with the direction their normals face at each ring vertex."""
        for t in (np.stack([i + lo * segments, j + lo * segments, j + hi * segments], 1),
                  np.stack([i + lo * segments, j + hi * segments, i + hi * segments], 1)):
            tris.append(t)
            outward.append(facing)

    def disc(centre: int, ring: int, facing):
        tris.append(np.stack([np.full(segments, centre), i + ring * segments, j + ring * segments], 1))
        outward.append(facing)

    radial = np.c_[unit, np.zeros(segments)]
    band(0, 1, radial)                                   # outer wall
    band(1, 2, np.tile([0.0, 0.0, 1.0], (segments, 1)))  # rim
    band(2, 3, -radial)                                  # inner wall
    disc(4 * segments + 1, 3, np.tile([0.0, 0.0, 1.0], (segments, 1)))   # inside floor
    disc(4 * segments, 0, np.tile([0.0, 0.0, -1.0], (segments, 1)))      # underside
    triangles = np.concatenate(tris)
    facing = np.concatenate(outward)
    a, b, c = (v[triangles[:, k]] for k in range(3))
    flip = np.einsum('ij,ij->i', np.cross(b - a, c - a), facing) < 0
    triangles[flip] = triangles[flip][:, ::-1]
    return Mesh(v, triangles)


def sphere_mesh(radius: float, rings: int = 16, segments: int = 32) -> Mesh:
    theta = np.linspace(0, np.pi, rings + 1)[1:-1]
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing='ij')
    body = radius * np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    v = np.concatenate([[[0, 0, radius]], body, [[0, 0, -radius]]])
    top, bottom = 0, len(v) - 1
    idx = lambda r, s: 1 + r * segments + (s % segments)  # noqa: E731
    tris: List[Tuple[int, int, int]] = []
    for s in range(segments):
        tris.append((top, idx(0, s), idx(0, s + 1)))
        tris.append((bottom, idx(rings - 2, s + 1), idx(rings - 2, s)))
        for r in range(rings - 2):
            tris.append((idx(r, s), idx(r + 1, s), idx(r + 1, s + 1)))
            tris.append((idx(r, s), idx(r + 1, s + 1), idx(r, s + 1)))
    return _outward(Mesh(v, np.array(tris)))


def convex_mesh(points) -> Mesh:
    hull = ConvexHull(np.asarray(points, float))
    v = hull.points[hull.vertices]
    remap = {old: new for new, old in enumerate(hull.vertices)}
    tris = np.vectorize(remap.get)(hull.simplices)
    # orient every facet with the hull's outward plane normal
    a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    flip = np.einsum('ij,ij->i', np.cross(b - a, c - a), hull.equations[:, :3]) < 0
    tris[flip] = tris[flip][:, ::-1]
    return Mesh(v, tris)


def _outward(mesh: Mesh) -> Mesh:
    """Flip every triangle whose normal points towards the centroid (all primitives here are convex)."""
    v, t = mesh.vertices, mesh.triangles.copy()
    a, b, c = v[t[:, 0]], v[t[:, 1]], v[t[:, 2]]
    n = np.cross(b - a, c - a)
    inward = np.einsum('ij,ij->i', n, (a + b + c) / 3 - v.mean(0)) < 0
    t[inward] = t[inward][:, ::-1]
    return Mesh(v, t)


def shape_mesh(spec: dict) -> Mesh:
    """Mesh in the object's own frame from a scene.json shape entry."""
    kind = spec['shape']
    if kind == 'box':
        return box_mesh(spec['size'])
    if kind == 'cylinder':
        return cylinder_mesh(spec['radius'], spec['height'])
    if kind == 'sphere':
        return sphere_mesh(spec['radius'])
    if kind == 'convex':
        return convex_mesh(spec['vertices'])
    if kind == 'cup':
        return cup_mesh(spec['radius'], spec['height'], spec['wall'], spec['bottom'])
    raise ValueError(f'unknown shape {kind!r}; expected one of {SHAPES}')

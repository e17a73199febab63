"""A static camera pose in a robot base frame: parsing it, and the geometry of a result (objects, grasps, the
support surface) expressed in that frame.

The pose is that of the camera's optical frame (the frame the images are stamped with) in the base frame, as
``[x, y, z, qx, qy, qz, qw]`` (metres, unit quaternion: what `ros2 run tf2_ros tf2_echo base camera_optical`
prints) or a row-major 4x4 matrix of 16 numbers.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from .geometry import matrix_from_quaternion, quaternion_from_matrix
from .types import GraspCandidate, ObjectCloud, PerceptionResult, Plane, SurfaceResult


def pose_matrix(values: Sequence[float]) -> np.ndarray:
    """4x4 camera-to-base transform from 7 numbers (x y z qx qy qz qw) or 16 (a row-major matrix)."""
    v = np.asarray(list(values), dtype=np.float64)
    if not np.isfinite(v).all():
        raise ValueError('camera pose has NaN or infinite entries')
    if v.size == 7:
        q = v[3:]
        norm = np.linalg.norm(q)
        if not 0.9 < norm < 1.1:
            raise ValueError(f'camera pose quaternion (qx qy qz qw) {q.tolist()} is not a unit quaternion '
                             f'(norm {norm:.3f})')
        T = np.eye(4)
        T[:3, :3] = matrix_from_quaternion(q / norm)
        T[:3, 3] = v[:3]
        return T
    if v.size == 16:
        T = v.reshape(4, 4)
        R = T[:3, :3]
        if not (np.allclose(T[3], [0, 0, 0, 1], atol=1e-6) and np.allclose(R @ R.T, np.eye(3), atol=1e-3)
                and np.linalg.det(R) > 0):
            raise ValueError('camera pose matrix is not a rigid transform (rotation and last row [0 0 0 1])')
        return T
    raise ValueError(f'camera pose needs 7 numbers (x y z qx qy qz qw) or 16 (a 4x4 matrix), got {v.size}')


def _object_in(obj: ObjectCloud, T: np.ndarray) -> ObjectCloud:
    R, t = T[:3, :3], T[:3, 3]
    return replace(obj, points=(obj.points @ R.T + t).astype(np.float32),
                   normals=(obj.normals @ R.T).astype(np.float32), centroid=R @ obj.centroid + t,
                   box_center=R @ obj.box_center + t, box_rotation=R @ obj.box_rotation)


def _grasp_in(grasp: GraspCandidate, T: np.ndarray) -> GraspCandidate:
    R = T[:3, :3] @ matrix_from_quaternion(grasp.quaternion)
    return replace(grasp, position=T[:3, :3] @ np.asarray(grasp.position) + T[:3, 3],
                   quaternion=quaternion_from_matrix(R))


def _plane_in(plane: Plane, T: np.ndarray) -> Plane:
    normal = T[:3, :3] @ plane.normal
    return replace(plane, normal=normal, offset=float(plane.offset - normal @ T[:3, 3]))


def _surfaces_in(surfaces: SurfaceResult, T: np.ndarray) -> SurfaceResult:
    """Up, planes and the support's outline in the base frame (the label image stays as it is)."""
    planes = tuple(_plane_in(p, T) for p in surfaces.planes)
    outline = surfaces.support_outline
    return replace(surfaces, planes=planes, support_plane=planes[0] if surfaces.support_plane is not None else None,
                   up=None if surfaces.up is None else T[:3, :3] @ surfaces.up,
                   support_outline=None if outline is None else outline @ T[:3, :3].T + T[:3, 3])


def result_in_base(result: PerceptionResult, camera_to_base: np.ndarray) -> PerceptionResult:
    """The result with its geometry in the base frame: object clouds, grasps, up, planes and the support's
    outline (label images stay image-aligned)."""
    T = np.asarray(camera_to_base, dtype=np.float64)
    return replace(result, surfaces=_surfaces_in(result.surfaces, T),
                   objects=tuple(_object_in(o, T) for o in result.objects),
                   grasps=tuple(_grasp_in(g, T) for g in result.grasps))

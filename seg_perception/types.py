"""The small, frozen data types that flow through the pipeline.

Conventions (see DESIGN.md): metres, radians, camera optical frame (REP 103: x right, y down,
z forward). Images are numpy arrays; depth is float32 metres with 0 marking an invalid pixel.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np

# Surface class ids, shared by labels, config, ROS outputs and README.
SURFACE_UNKNOWN = 0
SURFACE_SUPPORT = 1
SURFACE_FLOOR = 2
SURFACE_WALL = 3
SURFACE_OBJECT = 4
SURFACE_OTHER = 5
SURFACE_CLASS_NAMES: Dict[int, str] = {
    SURFACE_UNKNOWN: 'unknown',
    SURFACE_SUPPORT: 'support',
    SURFACE_FLOOR: 'floor',
    SURFACE_WALL: 'wall',
    SURFACE_OBJECT: 'object',
    SURFACE_OTHER: 'other',
}


@dataclass(frozen=True)
class CameraModel:
    """Intrinsics of the colour image that depth is aligned to: K and the lens distortion of its camera_info
    (ROS conventions; lens.py corrects the plumb_bob, rational_polynomial and equidistant models)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_model: str = ''
    distortion: Tuple[float, ...] = ()

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'camera size must be positive, got {self.width}x{self.height}')
        if not (np.isfinite(self.fx) and np.isfinite(self.fy) and self.fx > 0 and self.fy > 0):
            raise ValueError(f'camera focal lengths must be positive and finite, got fx={self.fx}, fy={self.fy}')

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def is_distorted(self) -> bool:
        return any(abs(c) > 1e-9 for c in self.distortion)


@dataclass(frozen=True, eq=False)
class RGBDFrame:
    """One synchronized colour + aligned depth frame.

    color: (H, W, 3) uint8 RGB. depth: (H, W) float32 metres, 0 where invalid.
    camera_to_base: optional 4x4 pose of the camera optical frame in a base frame (gives the up vector).
    """

    color: np.ndarray
    depth: np.ndarray
    camera: CameraModel
    stamp: float = 0.0
    frame_id: str = 'camera_color_optical_frame'
    camera_to_base: Optional[np.ndarray] = None

    def __post_init__(self):
        c, d = self.color, self.depth
        if c.ndim != 3 or c.shape[2] != 3 or c.dtype != np.uint8:
            raise ValueError(f'color must be an (H, W, 3) uint8 RGB array, got shape {c.shape} dtype {c.dtype}')
        if d.ndim != 2 or d.dtype != np.float32:
            raise ValueError(f'depth must be an (H, W) float32 array in metres, got shape {d.shape} dtype {d.dtype}')
        if c.shape[:2] != d.shape:
            raise ValueError(f'color and depth sizes differ: color {c.shape[1]}x{c.shape[0]}, '
                             f'depth {d.shape[1]}x{d.shape[0]} (depth must be aligned to color)')
        if (self.camera.height, self.camera.width) != d.shape:
            raise ValueError(f'camera_info size {self.camera.width}x{self.camera.height} differs from '
                             f'image size {d.shape[1]}x{d.shape[0]}')
        if self.camera_to_base is not None and np.asarray(self.camera_to_base).shape != (4, 4):
            raise ValueError('camera_to_base must be a 4x4 homogeneous transform')

    @property
    def height(self) -> int:
        return self.depth.shape[0]

    @property
    def width(self) -> int:
        return self.depth.shape[1]


@dataclass(frozen=True, eq=False)
class Plane:
    """A plane n . p + d = 0 in the camera frame, n unit length and pointing towards the camera."""

    normal: Any      # (3,) numpy array, or a torch tensor inside the pipeline
    offset: Any
    surface_class: int
    inlier_count: int

    def signed_distance(self, points: np.ndarray) -> np.ndarray:
        return points @ self.normal + self.offset


@dataclass(frozen=True, eq=False)
class SurfaceResult:
    """labels: (H, W) uint8 surface class ids; planes: fitted planes, support surface first if found;
    up: world up in the camera frame. Inside the pipeline arrays are torch tensors on its device (plus
    per-pixel ``heights`` above the support, its ``footprint`` and the ``raised`` pixels above it for the
    instance stage); the pipeline
    returns numpy arrays."""

    labels: Any
    planes: Tuple[Plane, ...]
    up: Any
    support_plane: Optional[Plane]
    heights: Any = None
    footprint: Any = None
    raised: Any = None
    support_model: Any = None
    support_outline: Any = None   # (K, 3) convex outline of the support in view, on its plane (surfaces.outline)


@dataclass(frozen=True, eq=False)
class InstanceResult:
    """labels: (H, W) uint16 (int64 tensor inside the pipeline), 0 = none, 1..N = object id;
    per-object metadata indexed by id - 1."""

    labels: Any
    class_names: Tuple[str, ...] = ()
    scores: Tuple[float, ...] = ()

    @property
    def count(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True, eq=False)
class ObjectCloud:
    """One object's points in the camera frame, with an oriented bounding box. ``pixel_count`` counts the mask's
    pixels on the grid the pipeline processed (every ``stride``-th pixel)."""

    instance_id: int
    class_name: str
    score: float
    pixel_count: int
    points: np.ndarray          # (N, 3) float32
    colors: np.ndarray          # (N, 3) uint8
    normals: np.ndarray         # (N, 3) float32, pointing towards the camera
    centroid: np.ndarray        # (3,)
    box_center: np.ndarray      # (3,)
    box_extent: np.ndarray      # (3,) full side lengths
    box_rotation: np.ndarray    # (3, 3) columns are the box axes


@dataclass(frozen=True, eq=False)
class GraspCandidate:
    """A parallel-jaw grasp: origin between the fingertips at the closing centre, x = approach,
    y = closing direction, z = x cross y; width = opening needed (m); score in [0, 1]."""

    object_id: int
    position: np.ndarray        # (3,)
    quaternion: np.ndarray      # (4,) x, y, z, w
    width: float
    score: float


@dataclass(frozen=True, eq=False)
class PerceptionResult:
    frame: RGBDFrame
    surfaces: SurfaceResult
    instances: InstanceResult
    objects: Tuple[ObjectCloud, ...] = ()
    grasps: Tuple[GraspCandidate, ...] = ()
    grasp_notes: Dict[int, str] = field(default_factory=dict)   # object id -> why it got no grasp
    timings_ms: Dict[str, float] = field(default_factory=dict)

"""Random tabletop scenes: a table, a floor, walls, distractors and 1-15 objects resting stably in clutter.

World frame: z up, floor at z = 0, table centred on the origin. Everything a frame's ground truth needs is
kept in :class:`Scene` and written to scene.json by :meth:`Scene.to_json`.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np
from scipy.spatial import ConvexHull

from ..types import SURFACE_FLOOR, SURFACE_OBJECT, SURFACE_OTHER, SURFACE_SUPPORT, SURFACE_WALL
from .shapes import shape_mesh

TEXTURES = ('plain', 'stripes', 'checker', 'noise')
_GAP = 0.0008  # smallest gap between neighbouring footprints: touching, but faceted meshes never intersect


@dataclass
class SceneConfig:
    width: int = 640
    height: int = 480
    fx: float = 615.0
    fy: float = 615.0
    min_objects: int = 1
    max_objects: int = 15
    min_object_size: float = 0.02
    max_object_size: float = 0.25
    min_distance: float = 0.4          # camera to table centre, m
    max_distance: float = 1.5
    min_elevation_deg: float = 25.0    # viewing angle below the horizon
    max_elevation_deg: float = 80.0
    max_walls: int = 2
    distractor_probability: float = 0.5  # a shelf or objects on the floor beside the table
    stack_probability: float = 0.15
    clutter: float = 0.6               # probability that an object is placed against another one
    tote: str = ''                     # '' none; 'upright' or 'moulded' (tapering walls with a lip): a tote's four
    #                                    walls stand on the table around its objects

    def __post_init__(self):
        if not 0 <= self.min_objects <= self.max_objects:
            raise ValueError(f'need 0 <= min_objects <= max_objects, got {self.min_objects}, {self.max_objects}')
        if not 0 < self.min_object_size <= self.max_object_size:
            raise ValueError('need 0 < min_object_size <= max_object_size')
        if self.width < 16 or self.height < 16:
            raise ValueError(f'image size {self.width}x{self.height} is too small')
        if not 0 < self.min_elevation_deg <= self.max_elevation_deg <= 90:
            raise ValueError('need 0 < min_elevation_deg <= max_elevation_deg <= 90 (degrees below the horizon, '
                             f'90 = straight down), got {self.min_elevation_deg}, {self.max_elevation_deg}')
        if not 0 < self.min_distance <= self.max_distance:
            raise ValueError(f'need 0 < min_distance <= max_distance, got {self.min_distance}, {self.max_distance}')
        if self.tote not in ('', 'upright', 'moulded'):
            raise ValueError(f"tote must be '', 'upright' or 'moulded', got {self.tote!r}")


@dataclass
class Body:
    """One rigid part of the scene with its appearance and ground-truth labels."""

    name: str
    shape: dict                 # scene.json shape entry (see shapes.shape_mesh)
    pose: np.ndarray            # 4x4 object -> world
    surface_class: int
    instance_id: int = 0        # 1..N for objects standing on the support surface
    top_class: Optional[int] = None  # class of its upward faces (the table top is support, its sides other)
    albedo: Tuple[float, float, float] = (0.5, 0.5, 0.5)
    albedo2: Tuple[float, float, float] = (0.5, 0.5, 0.5)
    texture: str = 'plain'
    texture_scale: float = 0.05
    resting_on: str = ''

    def world_mesh(self):
        return shape_mesh(self.shape).transformed(self.pose)


@dataclass
class Scene:
    seed: int
    bodies: List[Body]
    camera_to_world: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    light_direction: np.ndarray   # unit vector towards the light, world frame
    ambient: float
    table_size: Tuple[float, float]
    table_height: float
    extras: dict = field(default_factory=dict)

    @property
    def objects(self) -> List[Body]:
        return [b for b in self.bodies if b.name.startswith('object')]

    @property
    def world_to_camera(self) -> np.ndarray:
        return np.linalg.inv(self.camera_to_world)

    def up_in_camera(self) -> np.ndarray:
        return self.world_to_camera[:3, :3] @ np.array([0.0, 0.0, 1.0])

    def table_plane_in_camera(self) -> np.ndarray:
        """[nx, ny, nz, d] with n . p + d = 0 for the table top, n = up, in the camera frame."""
        n = self.up_in_camera()
        p = self.world_to_camera @ np.array([0.0, 0.0, self.table_height, 1.0])
        return np.r_[n, -n @ p[:3]]

    def to_json(self, visible_pixels: Optional[dict] = None) -> dict:
        w2c = self.world_to_camera
        objects, surfaces = [], []
        for b in self.bodies:
            entry = {'name': b.name, **b.shape, 'pose_world': b.pose.tolist(),
                     'pose_camera': (w2c @ b.pose).tolist(), 'surface_class': b.surface_class,
                     'color': [round(c, 4) for c in b.albedo], 'texture': b.texture}
            if b.name.startswith('object'):
                entry.update(instance_id=b.instance_id, on_support=b.instance_id > 0, resting_on=b.resting_on,
                             visible_pixels=int((visible_pixels or {}).get(b.name, 0)))
                objects.append(entry)
            else:
                surfaces.append(entry)
        return {
            'seed': self.seed,
            'camera': {'width': self.width, 'height': self.height, 'fx': self.fx, 'fy': self.fy,
                       'cx': self.cx, 'cy': self.cy, 'camera_to_world': self.camera_to_world.tolist(),
                       'up': self.up_in_camera().tolist()},
            'table': {'size': list(self.table_size), 'height': self.table_height,
                      'plane_camera': self.table_plane_in_camera().tolist()},
            'light': {'direction': self.light_direction.tolist(), 'ambient': self.ambient},
            'surfaces': surfaces,
            'objects': objects,
            **self.extras,
        }


# ---------------------------------------------------------------------------------------------
# small geometric helpers


def _rot_z(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking unit vector a onto unit vector b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    v, c = np.cross(a, b), float(a @ b)
    if c < -1 + 1e-9:  # opposite: turn half a revolution about any perpendicular axis
        axis = np.cross(a, [1.0, 0, 0]) if abs(a[0]) < 0.9 else np.cross(a, [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def look_at(eye: np.ndarray, target: np.ndarray, roll: float = 0.0,
            right: Optional[np.ndarray] = None) -> np.ndarray:
    """camera_to_world for an optical frame (z forward, x right, y down) at eye looking at target. Looking
    straight down or up, where the horizon does not say which way is right, ``right`` (horizontal) does."""
    z = target - eye
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    if np.linalg.norm(x) < 1e-9:
        if right is None:
            raise ValueError('looking straight down or up: give the image x direction (right)')
        x = np.asarray(right, float) - z * float(np.dot(right, z))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z], 1) @ np.array([[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0],
                                             [0, 0, 1]])
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, eye
    return T


def _pose(R: np.ndarray, t) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, t
    return T


def _polygon(points_2d: np.ndarray) -> np.ndarray:
    """Counter-clockwise convex hull of 2-D points."""
    hull = ConvexHull(points_2d)
    return points_2d[hull.vertices]


def _separated(p: np.ndarray, q: np.ndarray, gap: float = _GAP) -> bool:
    """Separating-axis test for convex polygons: True when they are at least ``gap`` apart on some axis."""
    for poly in (p, q):
        edges = np.roll(poly, -1, axis=0) - poly
        normals = np.stack([edges[:, 1], -edges[:, 0]], 1)
        normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
        pp, qq = p @ normals.T, q @ normals.T
        if np.any((pp.min(0) - qq.max(0) >= gap) | (qq.min(0) - pp.max(0) >= gap)):
            return True
    return False


def _inside(poly: np.ndarray, region: np.ndarray, margin: float = 0.0) -> bool:
    """All vertices of poly inside the convex CCW polygon region (by at least margin)."""
    edges = np.roll(region, -1, axis=0) - region
    inward = np.stack([-edges[:, 1], edges[:, 0]], 1)
    inward /= np.linalg.norm(inward, axis=1, keepdims=True)
    d = np.einsum('pkj,kj->pk', poly[:, None, :] - region[None, :, :], inward)
    return bool(np.all(d >= margin))


def _rect(cx: float, cy: float, hx: float, hy: float) -> np.ndarray:
    return np.array([[cx - hx, cy - hy], [cx + hx, cy - hy], [cx + hx, cy + hy], [cx - hx, cy + hy]])


def _random_color(rng, s=(0.2, 1.0), v=(0.25, 1.0)) -> Tuple[float, float, float]:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*s), rng.uniform(*v)))


# ---------------------------------------------------------------------------------------------
# objects


@dataclass
class _Resting:
    """An object shape in a stable resting orientation: its bottom at z = 0, centred in x, y."""

    shape: dict
    rotation: np.ndarray     # object frame -> resting frame
    offset: np.ndarray       # added after rotation so the bottom is at z = 0
    footprint: np.ndarray    # CCW polygon of the whole object projected on the floor (resting frame, yaw 0)
    top: Optional[np.ndarray]  # flat top polygon if one can carry another object
    height: float


def _log_uniform(rng, lo, hi):
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _convex_rest(points: np.ndarray, rng) -> np.ndarray:
    """Rotation putting a stable hull face down (the centre of mass projects inside that face)."""
    hull = ConvexHull(points)
    com = _solid_centroid(points[hull.vertices], hull)
    planes = np.unique(np.round(hull.equations, 6), axis=0)
    areas = []
    for eq in planes:
        on = points[np.abs(points @ eq[:3] + eq[3]) < 1e-6]
        areas.append(_face_area(on, eq[:3]))
    for idx in np.argsort(areas)[::-1]:
        eq = planes[idx]
        R = rotation_between(eq[:3], np.array([0.0, 0.0, -1.0]))
        face = (points[np.abs(points @ eq[:3] + eq[3]) < 1e-6] @ R.T)[:, :2]
        if len(face) >= 3 and _inside((com @ R.T)[None, :2], _polygon(face), margin=0.002):
            return R
    return rotation_between(planes[int(np.argmax(areas))][:3], np.array([0.0, 0.0, -1.0]))


def _face_area(on_plane: np.ndarray, normal: np.ndarray) -> float:
    if len(on_plane) < 3:
        return 0.0
    R = rotation_between(normal, np.array([0.0, 0.0, 1.0]))
    try:
        return float(ConvexHull((on_plane @ R.T)[:, :2]).volume)
    except Exception:  # degenerate (collinear) face
        return 0.0


def _solid_centroid(vertices: np.ndarray, hull: ConvexHull) -> np.ndarray:
    inner = vertices.mean(0)
    a, b, c = (hull.points[hull.simplices[:, i]] for i in range(3))
    vol = np.abs(np.einsum('ij,ij->i', a - inner, np.cross(b - inner, c - inner))) / 6
    return (vol[:, None] * (a + b + c + inner) / 4).sum(0) / vol.sum()


def sample_object(rng, cfg: SceneConfig, max_size: Optional[float] = None) -> _Resting:
    lo, hi = cfg.min_object_size, min(cfg.max_object_size, max_size or cfg.max_object_size)
    lo = min(lo, hi)
    kind = rng.choice(['box', 'cylinder', 'sphere', 'convex'], p=[0.35, 0.3, 0.1, 0.25])
    R = np.eye(3)
    if kind == 'box':
        size = [_log_uniform(rng, lo, hi) for _ in range(3)]
        shape = {'shape': 'box', 'size': size}
        up = rng.choice(3, p=[0.2, 0.2, 0.6])  # which object axis points up (all faces are stable)
        if up != 2:
            axis = np.eye(3)[up]
            R = rotation_between(axis, np.array([0.0, 0.0, 1.0]))
    elif kind == 'cylinder':
        radius = _log_uniform(rng, max(lo / 2, 0.01), max(lo / 2, 0.01, min(hi / 2, 0.06)))
        height = _log_uniform(rng, lo, hi)
        shape = {'shape': 'cylinder', 'radius': radius, 'height': height}
        if rng.random() < 0.3 and height > 2.2 * radius:  # lying on its side
            R = rotation_between(np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    elif kind == 'sphere':
        radius = _log_uniform(rng, max(lo / 2, 0.01), max(lo / 2, 0.01, min(hi / 2, 0.06)))
        shape = {'shape': 'sphere', 'radius': radius}
    else:
        axes = np.array([_log_uniform(rng, lo, hi) for _ in range(3)]) / 2
        pts = rng.normal(size=(int(rng.integers(8, 20)), 3))
        pts = pts / np.linalg.norm(pts, axis=1, keepdims=True) * rng.uniform(0.6, 1.0, (len(pts), 1)) * axes
        pts -= pts.mean(0)
        hull = ConvexHull(pts)
        pts = pts[hull.vertices]
        shape = {'shape': 'convex', 'vertices': pts.round(5).tolist()}
        R = _convex_rest(np.asarray(shape['vertices']), rng)
    mesh = shape_mesh(shape)
    v = mesh.vertices @ R.T
    centre_xy = (v[:, :2].max(0) + v[:, :2].min(0)) / 2
    offset = np.r_[-centre_xy, -v[:, 2].min()]
    v = v + offset
    top = None
    flat_top = kind == 'box' or (kind == 'cylinder' and abs(R[2, 2]) > 0.99)
    if flat_top:
        top_pts = v[v[:, 2] > v[:, 2].max() - 1e-6][:, :2]
        top = _polygon(top_pts) if len(top_pts) >= 3 else None
    return _Resting(shape, R, offset, _polygon(v[:, :2]), top, float(v[:, 2].max()))


def _place(resting: _Resting, xy, yaw: float, z: float):
    Rz = _rot_z(yaw)
    pose = _pose(Rz @ resting.rotation, Rz @ resting.offset + np.r_[xy, z])
    footprint = resting.footprint @ Rz[:2, :2].T + xy
    top = None if resting.top is None else resting.top @ Rz[:2, :2].T + xy
    return pose, footprint, top


# ---------------------------------------------------------------------------------------------
# the scene


def _appearance(rng, body: Body, palette: str = 'object') -> Body:
    if palette == 'object':
        body.albedo = _random_color(rng)
        body.albedo2 = _random_color(rng)
        body.texture = str(rng.choice(TEXTURES, p=[0.45, 0.2, 0.15, 0.2]))
        body.texture_scale = float(rng.uniform(0.008, 0.04))
    elif palette == 'table':
        body.albedo = _random_color(rng, s=(0.0, 0.5), v=(0.3, 0.95))
        body.albedo2 = tuple(float(np.clip(c * rng.uniform(0.7, 1.1), 0, 1)) for c in body.albedo)
        body.texture = str(rng.choice(TEXTURES, p=[0.35, 0.3, 0.1, 0.25]))
        body.texture_scale = float(rng.uniform(0.01, 0.08))
    else:  # floor, walls, furniture
        body.albedo = _random_color(rng, s=(0.0, 0.35), v=(0.35, 0.95))
        body.albedo2 = tuple(float(np.clip(c * rng.uniform(0.8, 1.0), 0, 1)) for c in body.albedo)
        body.texture = str(rng.choice(['plain', 'noise', 'checker'], p=[0.5, 0.35, 0.15]))
        body.texture_scale = float(rng.uniform(0.05, 0.3))
    return body


def _fill_surface(rng, cfg: SceneConfig, region: np.ndarray, z: float, count: int, prefix: str,
                  first_instance: int, resting_on: str, bodies: List[Body], stack: bool) -> int:
    """Place up to ``count`` objects on a convex region at height z; returns how many were placed."""
    placed_feet: List[np.ndarray] = []
    tops: List[Tuple[int, np.ndarray, float]] = []   # (body index, top polygon, top height)
    n_placed = 0
    for _ in range(count):
        resting = sample_object(rng, cfg)
        ok = False
        if stack and tops and rng.random() < cfg.stack_probability:
            base_index, top_poly, top_z = tops.pop(int(rng.integers(len(tops))))
            small = sample_object(rng, cfg, max_size=0.1)
            for _ in range(15):
                yaw = rng.uniform(0, 2 * np.pi)
                xy = top_poly.mean(0) + rng.normal(0, 0.01, 2)
                pose, foot, top = _place(small, xy, yaw, top_z)
                if _inside(foot, top_poly, margin=0.003):
                    name = f'{prefix}{len(bodies)}'
                    body = Body(name, small.shape, pose, SURFACE_OBJECT if first_instance else SURFACE_OTHER,
                                resting_on=bodies[base_index].name)
                    bodies.append(_appearance(rng, body))
                    ok = True
                    break
        if not ok:
            for attempt in range(40):
                yaw = rng.uniform(0, 2 * np.pi)
                if placed_feet and rng.random() < cfg.clutter:
                    neighbour = placed_feet[int(rng.integers(len(placed_feet)))]
                    direction = rng.normal(size=2)
                    direction /= np.linalg.norm(direction)
                    xy = _slide_against(resting, neighbour, direction, yaw, z, rng)
                else:
                    lo, hi = region.min(0), region.max(0)
                    xy = rng.uniform(lo, hi)
                pose, foot, top = _place(resting, xy, yaw, z)
                if _inside(foot, region, margin=0.005) and all(_separated(foot, f) for f in placed_feet):
                    name = f'{prefix}{len(bodies)}'
                    body = Body(name, resting.shape, pose, SURFACE_OBJECT if first_instance else SURFACE_OTHER,
                                resting_on=resting_on)
                    bodies.append(_appearance(rng, body))
                    placed_feet.append(foot)
                    if top is not None and resting.height < 0.15:
                        tops.append((len(bodies) - 1, top, z + resting.height))
                    ok = True
                    break
        n_placed += ok
    return n_placed


def _slide_against(resting: _Resting, neighbour: np.ndarray, direction: np.ndarray, yaw: float, z: float,
                   rng) -> np.ndarray:
    """Centre on the ray from the neighbour's centre along ``direction`` where the footprints just touch."""
    centre = neighbour.mean(0)
    lo, hi = 0.0, 0.6
    for _ in range(20):
        mid = (lo + hi) / 2
        _, foot, _ = _place(resting, centre + direction * mid, yaw, z)
        if _separated(foot, neighbour):
            hi = mid
        else:
            lo = mid
    return centre + direction * (hi + rng.uniform(0, 0.004))


def _sees(camera_to_world: np.ndarray, cfg: SceneConfig, point: np.ndarray, table_half: np.ndarray,
          table_height: float) -> bool:
    """The point projects into the central part of the image and the table top does not hide it."""
    eye = camera_to_world[:3, 3]
    p = np.linalg.inv(camera_to_world) @ np.r_[point, 1.0]
    if p[2] <= 0.1:
        return False
    u = p[0] / p[2] * cfg.fx + (cfg.width - 1) / 2
    v = p[1] / p[2] * cfg.fy + (cfg.height - 1) / 2
    if not (0.1 * cfg.width < u < 0.9 * cfg.width and 0.1 * cfg.height < v < 0.9 * cfg.height):
        return False
    if point[2] < table_height:  # below the table top: the ray must not cross the table
        t = (eye[2] - table_height) / (eye[2] - point[2])
        cross = eye[:2] + t * (point[:2] - eye[:2])
        if np.all(np.abs(cross) <= table_half):
            return False
    return True


@dataclass(frozen=True)
class ToteWalls:
    """A tote's walls: height and thickness (m), how far they lean out (degrees: moulded totes taper), the width
    of the lip round the rim (m, 0: none), the gap between the objects and the walls (m) and their colour."""
    height: float
    thickness: float
    draft_deg: float = 0.0
    lip: float = 0.0
    margin: float = 0.08
    colour: Tuple[float, float, float] = (0.2, 0.3, 0.6)


_SMALLEST_TOTE = (0.3, 0.2)   # m: inside, along its longer and its shorter side


def tote_walls(rng, kind: str) -> ToteWalls:
    """Random walls of an 'upright' or a 'moulded' tote (leaning out 3-8 degrees, with a 1-2.5 cm lip)."""
    height, thickness, margin = rng.uniform(0.06, 0.25), rng.uniform(0.004, 0.02), rng.uniform(0.06, 0.12)
    colour = tuple(float(c) for c in rng.uniform(0.1, 0.9, 3))
    if kind == 'moulded':
        return ToteWalls(height, thickness, rng.uniform(3.0, 8.0), rng.uniform(0.01, 0.025), margin, colour)
    return ToteWalls(height, thickness, margin=margin, colour=colour)


def add_tote(bodies: List[Body], table_height: float, table_size, walls: ToteWalls) -> Optional[list]:
    """Four ``walls`` on the table around the objects standing on it (objects straddling them go, with what rests
    on them); returns the tote's inside in the world's x, y ([lower corner, upper corner]), or None when no object
    stands on the table."""
    objects = [b for b in bodies if b.name.startswith('object') and b.resting_on == 'table']
    if not objects:
        return None
    xy = np.array([b.pose[:2, 3] for b in objects])
    half = np.array(table_size) / 2 - 0.02
    lo, hi = xy.min(0) - walls.margin, xy.max(0) + walls.margin
    # no smaller than a small tote (30 x 20 cm inside), within the table
    least = np.array(_SMALLEST_TOTE if hi[0] - lo[0] >= hi[1] - lo[1] else _SMALLEST_TOTE[::-1])
    grow = np.maximum(least - (hi - lo), 0.0) / 2
    lo, hi = np.maximum(lo - grow, -half), np.minimum(hi + grow, half)
    centre, size = (lo + hi) / 2, hi - lo
    lean, t, h = np.radians(walls.draft_deg), walls.thickness, walls.height
    for i, (x, y, sx, sy, out) in enumerate([(centre[0], lo[1], size[0], t, (0, -1)),
                                             (centre[0], hi[1], size[0], t, (0, 1)),
                                             (lo[0], centre[1], t, size[1], (-1, 0)),
                                             (hi[0], centre[1], t, size[1], (1, 0))]):
        outwards = np.array([*out, 0.0])
        # upright tilted outwards: the top leans away from the tote's inside
        rotation = rotation_between(np.array([0.0, 0.0, 1.0]), np.cos(lean) * np.array([0.0, 0.0, 1.0])
                                    + np.sin(lean) * outwards)
        centre_3d = np.array([x, y, table_height + h / 2]) + outwards * np.sin(lean) * h / 2
        # a wall's thickness longer at each end: the walls overlap at the corners
        extent = [sx + 2 * t, sy, h] if out[0] == 0 else [sx, sy + 2 * t, h]
        bodies.append(Body(f'tote_wall{i}', {'shape': 'box', 'size': extent},
                           _pose(rotation, centre_3d), SURFACE_WALL, albedo=walls.colour, albedo2=walls.colour))
        if walls.lip:
            lip_centre = np.array([x, y, table_height + h - 0.003]) + outwards * (np.sin(lean) * h + walls.lip / 2)
            extent = [sx + 2 * walls.lip if out[0] == 0 else walls.lip,
                      sy + 2 * walls.lip if out[1] == 0 else walls.lip, 0.006]
            bodies.append(Body(f'tote_lip{i}', {'shape': 'box', 'size': extent}, _pose(np.eye(3), lip_centre),
                               SURFACE_WALL, albedo=walls.colour, albedo2=walls.colour))
    gone = {b.name for b in objects if not (np.all(b.pose[:2, 3] > lo + 0.03) and np.all(b.pose[:2, 3] < hi - 0.03))}
    for b in bodies:                   # in placement order: what rests on a removed object goes too
        if b.resting_on in gone:
            gone.add(b.name)
    bodies[:] = [b for b in bodies if b.name not in gone]
    return [lo.tolist(), hi.tolist()]


def generate_scene(seed: int, cfg: Optional[SceneConfig] = None) -> Scene:
    cfg = cfg or SceneConfig()
    rng = np.random.default_rng(seed)
    sx, sy = rng.uniform(0.6, 1.6), rng.uniform(0.5, 1.0)
    h = rng.uniform(0.6, 0.9)
    thick = 0.03
    bodies: List[Body] = []
    bodies.append(_appearance(rng, Body('floor', {'shape': 'box', 'size': [12.0, 12.0, 0.02]},
                                        _pose(np.eye(3), [0, 0, -0.01]), SURFACE_FLOOR), 'room'))
    table = Body('table_top', {'shape': 'box', 'size': [sx, sy, thick]}, _pose(np.eye(3), [0, 0, h - thick / 2]),
                 SURFACE_OTHER, top_class=SURFACE_SUPPORT)
    bodies.append(_appearance(rng, table, 'table'))
    leg = 0.05
    for i, (px, py) in enumerate([(1, 1), (1, -1), (-1, 1), (-1, -1)]):
        bodies.append(_appearance(rng, Body(f'table_leg{i}', {'shape': 'box', 'size': [leg, leg, h - thick]},
                                            _pose(np.eye(3), [px * (sx / 2 - leg), py * (sy / 2 - leg),
                                                              (h - thick) / 2]), SURFACE_OTHER), 'room'))

    # camera: on a random side, looking down at the table centre
    azimuth = rng.uniform(0, 2 * np.pi)
    elevation = np.radians(rng.uniform(cfg.min_elevation_deg, cfg.max_elevation_deg))
    distance = rng.uniform(cfg.min_distance, cfg.max_distance)
    target = np.array([rng.uniform(-0.1, 0.1) * sx, rng.uniform(-0.1, 0.1) * sy, h])
    eye = target + distance * np.array([np.cos(elevation) * np.cos(azimuth),
                                        np.cos(elevation) * np.sin(azimuth), np.sin(elevation)])
    view = np.array([np.cos(azimuth), np.sin(azimuth)])  # from the table towards the camera
    # straight down, the image's right is where it is just short of that (the top of the image faces away)
    camera_to_world = look_at(eye, target, roll=rng.normal(0, np.radians(3)), right=[-view[1], view[0], 0.0])

    # objects on the table
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    table_region = _rect(0, 0, sx / 2, sy / 2)
    _fill_surface(rng, cfg, table_region, h, n, 'object', 1, 'table', bodies, stack=True)
    extras = {}
    if cfg.tote:
        inside = add_tote(bodies, h, (sx, sy), tote_walls(rng, cfg.tote))
        if inside is not None:
            extras['tote_inside'] = inside

    # distractors: a shelf at another height or objects on the floor, beyond the table's far edge (what
    # the camera sees past the table) or beside it
    sides = [np.array(sd) for sd in ([1, 0], [-1, 0], [0, 1], [0, -1])]
    sides.sort(key=lambda sd: float(sd @ view))      # sides[0]: the far side, seen across the table; [3]: near
    half = np.array([sx, sy]) / 2
    reserved = {}                                    # side index -> how far beyond the edge it is occupied
    if rng.random() < cfg.distractor_probability:
        kind = 'shelf' if rng.random() < 0.5 else 'floor_objects'
        w, d = (rng.uniform(0.3, 0.6), rng.uniform(0.25, 0.45)) if kind == 'shelf' else (0.6, 0.3)
        top = float(np.clip(h + rng.choice([-1, 1]) * rng.uniform(0.12, 0.35), 0.25, 1.3)) if kind == 'shelf' \
            else 0.0
        # a place the camera sees: in the image and not hidden under the table
        for attempt in range(20):
            k = 0 if attempt < 6 and rng.random() < 0.7 else int(rng.choice([0, 1, 2]))
            side, across = sides[k], 1 - np.abs(sides[k])
            gap = rng.uniform(0.08, 0.3)
            centre = side * (half + gap + d / 2) + across * rng.uniform(-0.6, 0.6) * half
            if _sees(camera_to_world, cfg, np.r_[centre, top + 0.03], half, h):
                break
        else:
            kind = None
        if kind is not None:
            size = [d, w] if side[0] != 0 else [w, d]
            region = _rect(centre[0], centre[1], size[0] / 2, size[1] / 2)
            extras['distractor'] = kind
            if kind == 'shelf':
                bodies.append(_appearance(rng, Body('shelf', {'shape': 'box', 'size': size + [top]},
                                                    _pose(np.eye(3), [centre[0], centre[1], top / 2]),
                                                    SURFACE_OTHER), 'room'))
            _fill_surface(rng, cfg, region, top, int(rng.integers(1, 4)), 'object', 0,
                          'shelf' if kind == 'shelf' else 'floor', bodies, False)
            reserved[k] = gap + d + (0.15 if kind == 'floor_objects' else 0.0)

    # walls behind the table, facing it
    for i in range(int(rng.integers(0, cfg.max_walls + 1))):
        side = sides[i]
        gap = max(rng.uniform(0.05, 0.8), reserved.get(i, 0.0) + 0.05)
        centre = side * (half + gap + 0.025)
        size = [0.05, 8.0, 3.0] if side[0] != 0 else [8.0, 0.05, 3.0]
        bodies.append(_appearance(rng, Body(f'wall{i}', {'shape': 'box', 'size': size},
                                            _pose(np.eye(3), [centre[0], centre[1], 1.5]), SURFACE_WALL), 'room'))

    # instance ids: objects on the support surface (directly or stacked), in placement order
    next_id = 1
    on_support = {'table'}
    for b in bodies:
        if b.name.startswith('object'):
            if b.resting_on in on_support:
                b.instance_id = next_id
                b.surface_class = SURFACE_OBJECT
                on_support.add(b.name)
                next_id += 1
            else:
                b.surface_class = SURFACE_OTHER

    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), 1.0])
    return Scene(seed=int(seed), bodies=bodies, camera_to_world=camera_to_world, fx=cfg.fx, fy=cfg.fy,
                 cx=(cfg.width - 1) / 2, cy=(cfg.height - 1) / 2, width=cfg.width, height=cfg.height,
                 light_direction=light / np.linalg.norm(light), ambient=float(rng.uniform(0.25, 0.45)),
                 table_size=(float(sx), float(sy)), table_height=float(h), extras=extras)

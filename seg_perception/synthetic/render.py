"""Ray-cast RGB-D rendering of a synthetic scene with a stereo/structured-light-like noise model.

open3d's RaycastingScene gives exact depth, the body hit per pixel and its normal; colour is Lambertian
shading of per-body albedo and procedural textures with cast shadows; depth noise follows what RealSense-like
sensors show: distance-dependent Gaussian error, 1 mm quantization, missing depth at grazing angles, stereo
occlusion bands beside object edges, dropouts on depth edges and random holes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import functools
import math

import cv2
import numpy as np

from ..types import SURFACE_UNKNOWN, CameraModel
from .scene import Scene

_TOP_NORMAL_Z = 0.9  # world-normal z above which a face of the table counts as its top


@dataclass(frozen=True)
class NoiseConfig:
    """Each effect is switched off by setting it to 0 (or False)."""

    depth_sigma_1m: float = 0.002      # Gaussian depth error at 1 m (m); grows with distance squared
    depth_correlated_sigma: float = 0.0007  # low-frequency "wavy plane" error (m)
    depth_quantization: float = 0.001  # m
    grazing_cos: float = 0.12          # missing depth where |cos(incidence)| is below this (ramps in over 2x)
    stereo_baseline: float = 0.05      # m; occlusion bands left of foreground edges (0 = off)
    edge_dropout: float = 0.35         # probability of losing a pixel on a depth discontinuity
    holes: float = 2.0                 # mean number of random holes per frame
    max_range: float = 6.0             # m; farther depth is missing
    color_sigma: float = 2.5           # colour noise (grey levels)
    shadows: bool = True               # cast shadows in the colour image
    edge_smear_px: float = 0.0         # depth smoothed across edges (a Gaussian of this many pixels over the valid
    #                                    depth, as filtered stereo depth shows: ramps instead of steps; 0 = off)

    @classmethod
    def off(cls) -> 'NoiseConfig':
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, float('inf'), 0.0, True)


@dataclass(frozen=True, eq=False)
class Rendered:
    color: np.ndarray       # (H, W, 3) uint8 RGB
    depth: np.ndarray       # (H, W) float32 m, sensor model applied, 0 = missing
    depth_true: np.ndarray  # (H, W) float32 m, exact, 0 = no surface
    surfaces: np.ndarray    # (H, W) uint8 surface classes (true geometry)
    instances: np.ndarray   # (H, W) uint16 instance ids (true geometry)
    normals: np.ndarray     # (H, W, 3) float32 camera-frame normals
    visible_pixels: Dict[str, int]


class Renderer:
    """Holds the ray-casting scene for one Scene; render() may be called repeatedly (fresh noise each time)."""

    def __init__(self, scene: Scene):
        import open3d as o3d  # lazily: only synthetic rendering needs it
        self._o3d = o3d
        self.scene = scene
        self._raycaster = o3d.t.geometry.RaycastingScene()
        self._body_of_geometry = []
        for body in scene.bodies:
            mesh = body.world_mesh()
            gid = self._raycaster.add_triangles(o3d.core.Tensor(mesh.vertices.astype(np.float32)),
                                                o3d.core.Tensor(mesh.triangles.astype(np.uint32)))
            assert gid == len(self._body_of_geometry)
            self._body_of_geometry.append(body)
        n = len(scene.bodies)
        self._class_lut = np.array([b.surface_class for b in scene.bodies] + [SURFACE_UNKNOWN], np.uint8)
        self._top_lut = np.array([b.top_class if b.top_class is not None else b.surface_class
                                  for b in scene.bodies] + [SURFACE_UNKNOWN], np.uint8)
        self._instance_lut = np.array([b.instance_id for b in scene.bodies] + [0], np.uint16)
        self._albedo_lut = np.array([b.albedo for b in scene.bodies] + [(0, 0, 0)], np.float32)
        self._albedo2_lut = np.array([b.albedo2 for b in scene.bodies] + [(0, 0, 0)], np.float32)
        self._n = n
        h, w = scene.height, scene.width
        self._rays_cam, self._unit_rays_cam = _pixel_rays(w, h, scene.fx, scene.fy, scene.cx, scene.cy)
        R, t = scene.camera_to_world[:3, :3], scene.camera_to_world[:3, 3]
        dirs_world = self._rays_cam.reshape(-1, 3) @ R.T.astype(np.float32)
        self._rays = np.concatenate([np.broadcast_to(t.astype(np.float32), dirs_world.shape), dirs_world], 1)
        self._rays = np.ascontiguousarray(self._rays, dtype=np.float32)
        self._rays_tensor = o3d.core.Tensor(self._rays)

    @staticmethod
    def camera_of(scene: Scene) -> CameraModel:
        return CameraModel(scene.width, scene.height, scene.fx, scene.fy, scene.cx, scene.cy)

    def render(self, rng: np.random.Generator, noise: NoiseConfig = NoiseConfig()) -> Rendered:
        s = self.scene
        h, w = s.height, s.width
        hit = self._raycaster.cast_rays(self._rays_tensor)
        t_hit = hit['t_hit'].numpy().reshape(h, w)
        gid = hit['geometry_ids'].numpy().reshape(h, w).astype(np.int64)
        valid = np.isfinite(t_hit)
        gid[~valid] = self._n  # the "no surface" slot of the look-up tables
        normals_world = hit['primitive_normals'].numpy().reshape(h, w, 3)
        depth_true = np.where(valid, t_hit, 0).astype(np.float32)

        surfaces = np.where(normals_world[..., 2] > _TOP_NORMAL_Z, self._top_lut[gid], self._class_lut[gid])
        instances = self._instance_lut[gid]
        R = s.camera_to_world[:3, :3].astype(np.float32)
        normals_cam = normals_world @ R  # world -> camera: R^T n, done row-wise
        color = self._shade(gid, valid, depth_true, normals_world, rng, noise)
        depth = self._sensor_depth(depth_true, normals_cam, rng, noise)
        counts = np.bincount(gid.reshape(-1), minlength=self._n + 1)[:self._n]
        visible = {body.name: int(c) for body, c in zip(self._body_of_geometry, counts) if c}
        return Rendered(color, depth, depth_true, surfaces.astype(np.uint8), instances.astype(np.uint16),
                        normals_cam.astype(np.float32), visible)

    # -- colour ------------------------------------------------------------------------------------------

    def _shade(self, gid, valid, depth, normals_world, rng, noise: NoiseConfig) -> np.ndarray:
        s = self.scene
        h, w = gid.shape
        flat_points = self._rays[:, :3] + self._rays[:, 3:] * depth.reshape(-1, 1)  # ray directions have z = 1
        # texture coordinates per body: pixels grouped by the body they hit (one sort, then slices)
        flat_gid = gid.reshape(-1)
        order = np.argsort(flat_gid, kind='stable')
        bounds = np.searchsorted(flat_gid[order], np.arange(len(self._body_of_geometry) + 1))
        weight = np.zeros(len(flat_gid), np.float32)
        for index, body in enumerate(self._body_of_geometry):
            if body.texture == 'plain' or bounds[index] == bounds[index + 1]:
                continue
            sel = order[bounds[index]:bounds[index + 1]]
            local = (flat_points[sel] - body.pose[:3, 3].astype(np.float32)) @ body.pose[:3, :3].astype(np.float32)
            weight[sel] = _texture(body.texture, local, body.texture_scale, index)
        base = self._albedo_lut[flat_gid]
        albedo = (base + weight[:, None] * (self._albedo2_lut[flat_gid] - base)).reshape(h, w, 3)
        light = s.light_direction.astype(np.float32)
        diffuse = np.clip(normals_world @ light, 0, None)
        if noise.shadows:
            # shadow rays from every second pixel in each direction: a quarter of the rays, shadow edges
            # 2 px coarse, which the colour noise hides
            sub_points = flat_points.reshape(h, w, 3)[::2, ::2]
            sub_normals = normals_world[::2, ::2]
            rays = np.empty(sub_points.shape[:2] + (6,), np.float32)
            rays[..., :3] = sub_points + sub_normals * np.float32(0.002)
            rays[..., 3:] = light
            occluded = self._raycaster.test_occlusions(self._o3d.core.Tensor(rays.reshape(-1, 6))).numpy()
            occluded = occluded.reshape(rays.shape[:2]).repeat(2, 0).repeat(2, 1)[:h, :w]
            diffuse[occluded] = 0
        shading = s.ambient + (1 - s.ambient) * diffuse
        image = albedo * shading[..., None] * 255.0
        image[~valid] = 0
        if noise.color_sigma > 0:
            image += _bank_noise(rng, image.shape) * np.float32(noise.color_sigma)
        return np.clip(image, 0, 255).astype(np.uint8)

    # -- depth -------------------------------------------------------------------------------------------

    def _sensor_depth(self, depth_true, normals_cam, rng, noise: NoiseConfig) -> np.ndarray:
        s = self.scene
        h, w = depth_true.shape
        z = depth_true.copy()
        valid = z > 0
        if noise.depth_sigma_1m > 0:
            z += _bank_noise(rng, z.shape) * np.float32(noise.depth_sigma_1m) * z * z
        if noise.depth_correlated_sigma > 0:
            z += _smooth_noise(rng, h, w, 24) * np.float32(noise.depth_correlated_sigma) * z
        drop = ~valid | (depth_true > noise.max_range)
        if noise.grazing_cos > 0:
            u = self._unit_rays_cam
            cos = np.abs(u[..., 0] * normals_cam[..., 0] + u[..., 1] * normals_cam[..., 1]
                         + u[..., 2] * normals_cam[..., 2])
            p_keep = np.clip((cos - noise.grazing_cos) / noise.grazing_cos, 0, 1)
            drop |= rng.random(z.shape) > p_keep
        if noise.stereo_baseline > 0:
            drop |= _stereo_occlusion(depth_true, s.fx * noise.stereo_baseline)
        if noise.edge_dropout > 0:
            edges = _depth_edges(depth_true, 0.02)
            drop |= edges & (rng.random(z.shape) < noise.edge_dropout)
        if noise.holes > 0:
            drop |= _holes(rng, h, w, noise.holes)
        if noise.edge_smear_px > 0:
            z = _smear(z, ~drop & (z > 0), noise.edge_smear_px)
        if noise.depth_quantization > 0:
            z = np.round(z / noise.depth_quantization) * noise.depth_quantization
        z[drop | (z <= 0)] = 0
        return z.astype(np.float32)


@functools.lru_cache(maxsize=4)
def _noise_bank(size: int) -> np.ndarray:
    """Standard normal samples drawn once per process (fixed seed, so renders stay reproducible)."""
    return np.random.default_rng(0x5E6).standard_normal(size + 65536, dtype=np.float32)


def _bank_noise(rng, shape) -> np.ndarray:
    """Per-pixel unit Gaussian noise read from a random offset of a shared bank, in random direction: sensor
    noise at a fraction of the cost of fresh draws (the renderer's target is 10 frames/s on 2 cores)."""
    n = int(np.prod(shape))
    bank = _noise_bank(max(n, 640 * 480 * 3))
    start = int(rng.integers(0, bank.size - n + 1))
    chunk = bank[start:start + n]
    return (chunk if rng.random() < 0.5 else chunk[::-1]).reshape(shape)


@functools.lru_cache(maxsize=8)
def _pixel_rays(width: int, height: int, fx: float, fy: float, cx: float, cy: float):
    """Camera-frame ray directions with z = 1 per pixel, and the same normalized (read-only, shared)."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], -1)
    unit = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    rays.flags.writeable = False
    unit.flags.writeable = False
    return rays, unit


def _texture(kind: str, local: np.ndarray, scale: float, salt: int) -> np.ndarray:
    """Blend weight in [0, 1] between a body's two colours, from coordinates in its own frame."""
    if kind == 'stripes':
        return 0.5 + 0.5 * np.sin(local[:, 0] / scale * 2 * np.pi + 0.7 * np.sin(local[:, 1] / (4 * scale)))
    if kind == 'checker':
        cells = np.floor(local / scale).astype(np.int64).sum(1)
        return (cells % 2).astype(np.float64)
    if kind == 'noise':
        cells = np.floor(local / scale).astype(np.int64)
        hashed = (cells[:, 0] * 73856093 ^ cells[:, 1] * 19349663 ^ cells[:, 2] * 83492791 ^ salt) % 1000
        return hashed / 999.0
    return np.zeros(len(local))


def _smooth_noise(rng, h, w, cell: int) -> np.ndarray:
    """Unit-variance noise that varies over about ``cell`` pixels (bilinear upsampling of a coarse grid)."""
    coarse = rng.standard_normal((h // cell + 2, w // cell + 2), dtype=np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_LINEAR)


def _stereo_occlusion(depth: np.ndarray, focal_baseline: float) -> np.ndarray:
    """Pixels the second imager (to the right) cannot see: some surface k pixels to the right has a disparity
    larger by more than k. Those are the missing bands left of foreground edges on stereo sensors.
    With g[u] = disparity[u] - u the test is max(g[u+1:]) > g[u], a reversed running maximum per row."""
    h, w = depth.shape
    disparity = np.where(depth > 0, focal_baseline / np.maximum(depth, 1e-6), 0).astype(np.float32)
    g = disparity - np.arange(w, dtype=np.float32)
    ahead = np.maximum.accumulate(g[:, ::-1], axis=1)[:, ::-1]   # max over g[u:]
    ahead_strict = np.full_like(g, -np.inf)
    ahead_strict[:, :-1] = ahead[:, 1:]
    return (ahead_strict > g + 0.5) & (depth > 0)


def _depth_edges(depth: np.ndarray, jump: float) -> np.ndarray:
    edges = np.zeros(depth.shape, bool)
    dy = np.abs(np.diff(depth, axis=0)) > jump
    dx = np.abs(np.diff(depth, axis=1)) > jump
    edges[1:] |= dy
    edges[:-1] |= dy
    edges[:, 1:] |= dx
    edges[:, :-1] |= dx
    return edges


def _smear(z: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """``z`` smoothed with a Gaussian of ``sigma`` pixels over its ``valid`` pixels only (missing depth does not
    pull the average to 0), as a stereo camera's edge-preserving filter fails to at large jumps."""
    size = 2 * int(math.ceil(3 * sigma)) + 1
    weight = valid.astype(np.float32)
    total = cv2.GaussianBlur(z * weight, (size, size), sigma, borderType=cv2.BORDER_REPLICATE)
    norm = cv2.GaussianBlur(weight, (size, size), sigma, borderType=cv2.BORDER_REPLICATE)
    return np.where(valid, total / np.maximum(norm, 1e-6), z).astype(np.float32)


def _holes(rng, h, w, mean_count: float) -> np.ndarray:
    mask = np.zeros((h, w), bool)
    scale = max(h, w) / 640
    for _ in range(rng.poisson(mean_count)):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(2, 14, 2) * scale
        y0, y1 = int(max(cy - ry, 0)), int(min(cy + ry + 1, h))
        x0, x1 = int(max(cx - rx, 0)), int(min(cx + rx + 1, w))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1] |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return mask


def render_scene(scene: Scene, seed: int, noise: NoiseConfig = NoiseConfig()) -> Rendered:
    return Renderer(scene).render(np.random.default_rng(seed), noise)


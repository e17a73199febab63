"""The classic tabletop segmentation a competent user would write with open3d, used as the benchmark's peer.

Per frame: back-project every valid pixel, voxel-downsample, fit the dominant plane with RANSAC, keep points
above it inside the convex outline of its inliers, cluster them with DBSCAN (Euclidean), and give every
full-resolution pixel above the table the label of its nearest clustered point, so the output is an instance
label image comparable with the pipeline's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial import ConvexHull, Delaunay, cKDTree

from .geometry import depth_to_metres, plane_basis
from .types import RGBDFrame


@dataclass(frozen=True)
class PeerConfig:
    voxel_size: float = 0.01          # m: downsampling before RANSAC and DBSCAN
    plane_distance: float = 0.01      # m: RANSAC inlier distance
    ransac_iterations: int = 500
    min_height: float = 0.01          # m above the plane: object points
    max_height: float = 0.6
    max_planes: int = 3               # planes extracted one after another; the table is chosen among them
    min_plane_share: float = 0.05     # a plane needs this share of the downsampled points
    cluster_eps: float = 0.015        # m: DBSCAN neighbourhood (best of 0.012-0.02 on synthetic frames)
    cluster_min_points: int = 10
    min_cluster_points: int = 15      # smaller clusters are noise


class ClassicTabletopPeer:
    def __init__(self, config: PeerConfig = PeerConfig(), seed: int = 0):
        import open3d as o3d
        self.o3d = o3d
        self.cfg = config
        o3d.utility.random.seed(seed)
        o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)

    def segment(self, frame: RGBDFrame) -> np.ndarray:
        """(H, W) uint16 instance labels, 0 = background."""
        c, o3d = self.cfg, self.o3d
        depth = depth_to_metres(frame.depth)
        valid = np.isfinite(depth) & (depth > 0)
        labels = np.zeros(depth.shape, np.uint16)
        rows, cols = np.nonzero(valid)
        z = depth[valid].astype(np.float64)
        cam = frame.camera
        points = np.stack([(cols - cam.cx) / cam.fx * z, (rows - cam.cy) / cam.fy * z, z], 1)
        if len(points) < 100:
            return labels
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points)).voxel_down_sample(c.voxel_size)
        down = np.asarray(cloud.points)
        if len(down) < 3:
            return labels
        normal, offset, inliers = self._table_plane(cloud)
        if normal is None:
            return labels
        u, v = (e.numpy() for e in plane_basis(torch.from_numpy(normal)))
        outline = down[inliers] @ np.stack([u, v], 1)
        try:
            hull = Delaunay(outline[ConvexHull(outline).vertices])
        except Exception:   # degenerate inliers (a line): no table footprint
            return labels

        def above(p):
            h = p @ normal + offset
            keep = (h > c.min_height) & (h < c.max_height)
            keep[keep] = hull.find_simplex(p[keep] @ np.stack([u, v], 1)) >= 0
            return keep

        candidates = above(down)
        if candidates.sum() < c.cluster_min_points:
            return labels
        objects = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(down[candidates]))
        clusters = np.asarray(objects.cluster_dbscan(c.cluster_eps, c.cluster_min_points))
        ids, counts = np.unique(clusters[clusters >= 0], return_counts=True)
        keep_ids = ids[counts >= c.min_cluster_points]
        if keep_ids.size == 0:
            return labels
        relabel = np.zeros(clusters.max() + 2, np.uint16)
        relabel[keep_ids] = np.arange(1, keep_ids.size + 1)
        cluster_labels = relabel[clusters]
        clustered = cluster_labels > 0
        tree = cKDTree(down[candidates][clustered])
        pixel_above = above(points)
        dist, nearest = tree.query(points[pixel_above], distance_upper_bound=2 * c.voxel_size)
        found = np.isfinite(dist)
        pixel_labels = np.zeros(len(points), np.uint16)
        rows = np.flatnonzero(pixel_above)[found]
        pixel_labels[rows] = cluster_labels[clustered][nearest[found]]
        labels[valid] = pixel_labels
        return labels

    def _table_plane(self, cloud):
        """Up to ``max_planes`` planes, largest first; the table is the nearest one that faces up in the image
        (a camera looking down at a table sees its normal pointing to image-up and towards the lens; the floor
        is parallel but farther, walls face the lens), else the largest. Returns (normal, offset, inliers)
        with the camera on the positive side."""
        c = self.cfg
        remaining = np.arange(len(cloud.points))
        found = []
        for _ in range(c.max_planes):
            if len(remaining) < max(3, c.min_plane_share * len(cloud.points)):
                break
            plane, inliers = cloud.select_by_index(remaining.tolist()).segment_plane(
                c.plane_distance, 3, c.ransac_iterations)
            if len(inliers) < c.min_plane_share * len(cloud.points):
                break
            normal, offset = np.asarray(plane[:3]), float(plane[3])
            scale = np.linalg.norm(normal)
            normal, offset = normal / scale, offset / scale
            if offset < 0:
                normal, offset = -normal, -offset
            found.append((normal, offset, remaining[np.asarray(inliers)]))
            remaining = np.delete(remaining, inliers)
        if not found:
            return None, None, None
        facing_up = [p for p in found if -p[0][1] > 0.3]
        return min(facing_up, key=lambda p: p[1]) if facing_up else found[0]

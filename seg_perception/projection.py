"""Instance masks -> one point cloud per object (camera frame), on the pipeline's device.

Per object: the masked points of the organized point map with their colours and normals, statistical outlier
removal (points whose mean distance to their k nearest neighbours is far above the object's typical one: flying
pixels at depth edges), voxel downsampling (points, colours and normals averaged per voxel), normals from the
organized map or, where it has none, from the neighbours' covariance, centroid and an oriented 3-D box (upright
when the up vector is known).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import torch

from .config import ProjectionConfig
from .geometry import oriented_box
from .types import ObjectCloud

_KNN_CHUNK = 2048  # rows of the pairwise-distance matrix computed at once


def remove_outliers(points: torch.Tensor, neighbours: int, std_ratio: float) -> torch.Tensor:
    """Mask of points kept: mean distance to the k nearest neighbours <= mean + std_ratio * std (over the cloud)."""
    n = points.shape[0]
    k = min(neighbours, n - 1)
    if k < 1 or std_ratio <= 0:
        return torch.ones(n, dtype=torch.bool, device=points.device)
    mean_d = torch.empty(n, dtype=points.dtype, device=points.device)
    for start in range(0, n, _KNN_CHUNK):
        d = torch.cdist(points[start:start + _KNN_CHUNK], points)
        mean_d[start:start + _KNN_CHUNK] = d.topk(k + 1, largest=False).values[:, 1:].mean(1)
    limit = mean_d.mean() + std_ratio * mean_d.std()
    return mean_d <= limit


def pca_normals(points: torch.Tensor, neighbours: int) -> torch.Tensor:
    """Unit normals from the covariance of each point's k nearest neighbours, oriented towards the camera."""
    n = points.shape[0]
    k = min(neighbours, n)
    out = torch.zeros_like(points)
    if k < 3:
        return out
    for start in range(0, n, _KNN_CHUNK):
        idx = torch.cdist(points[start:start + _KNN_CHUNK], points).topk(k, largest=False).indices
        nb = points[idx]                                   # (m, k, 3)
        centred = nb - nb.mean(1, keepdim=True)
        cov = centred.transpose(1, 2) @ centred
        _, vecs = torch.linalg.eigh(cov.double())
        normal = vecs[:, :, 0].to(points.dtype)
        flip = (normal * points[start:start + _KNN_CHUNK]).sum(1) > 0
        out[start:start + _KNN_CHUNK] = torch.where(flip[:, None], -normal, normal)
    return out


def voxel_downsample(points: torch.Tensor, voxel: float, *attributes: torch.Tensor):
    """Average of the points (and per-point attributes) in each occupied voxel of edge ``voxel`` metres."""
    if voxel <= 0 or points.shape[0] == 0:
        return (points, *attributes)
    keys = torch.floor(points / voxel).long()
    keys -= keys.min(0).values
    span = keys.max(0).values + 1
    flat = (keys[:, 0] * span[1] + keys[:, 1]) * span[2] + keys[:, 2]
    _, inverse = torch.unique(flat, return_inverse=True)
    m = int(inverse.max()) + 1
    count = torch.bincount(inverse, minlength=m).to(points.dtype)[:, None]

    def mean(values: torch.Tensor) -> torch.Tensor:
        total = torch.zeros((m, values.shape[1]), dtype=torch.float32, device=values.device)
        total.index_add_(0, inverse, values.float())
        return total / count

    return (mean(points).to(points.dtype), *(mean(a).to(a.dtype) if a.dtype.is_floating_point
                                             else mean(a).round().to(a.dtype) for a in attributes))


def project_instances(points: torch.Tensor, valid: torch.Tensor, normals: torch.Tensor, color: torch.Tensor,
                      labels: torch.Tensor, class_names, scores, config: ProjectionConfig,
                      up: Optional[np.ndarray] = None) -> List[ObjectCloud]:
    """One ObjectCloud per instance id 1..N of ``labels`` (organized maps of one size, any device)."""
    objects: List[ObjectCloud] = []
    for i in range(1, len(class_names) + 1):
        mask = labels == i
        pixel_count = int(mask.sum())
        sel = mask & valid
        pts, rgb, nrm = points[sel], color[sel], normals[sel]
        if pts.shape[0] >= config.min_points:
            keep = remove_outliers(pts, config.outlier_neighbors, config.outlier_std_ratio)
            pts, rgb, nrm = voxel_downsample(pts[keep], config.voxel_size, rgb[keep], nrm[keep])
            # the organized normal map has no normal across depth edges (small objects, rims): PCA there
            missing = nrm.norm(dim=1) < 0.5
            if bool(missing.any()):
                nrm[missing] = pca_normals(pts, config.outlier_neighbors)[missing]
            nrm = nrm / nrm.norm(dim=1, keepdim=True).clamp_min(1e-9)
        pts_np = pts.detach().cpu().numpy().astype(np.float32)
        if len(pts_np) >= 3:
            center, extent, axes = oriented_box(pts_np, up)
            centroid = pts_np.mean(0)
        else:
            centroid = center = pts_np.mean(0) if len(pts_np) else np.zeros(3)
            extent, axes = np.zeros(3), np.eye(3)
        objects.append(ObjectCloud(
            instance_id=i, class_name=class_names[i - 1], score=float(scores[i - 1]), pixel_count=pixel_count,
            points=pts_np, colors=rgb.detach().cpu().numpy().astype(np.uint8),
            normals=nrm.detach().cpu().numpy().astype(np.float32), centroid=np.asarray(centroid, np.float64),
            box_center=np.asarray(center, np.float64), box_extent=np.asarray(extent, np.float64),
            box_rotation=np.asarray(axes, np.float64)))
    return objects


def write_ply(path, cloud: ObjectCloud) -> None:
    """ASCII PLY with x y z, normals and colour (readable by open3d, MeshLab, CloudCompare)."""
    n = len(cloud.points)
    header = ['ply', 'format ascii 1.0', f'comment seg_perception object {cloud.instance_id} {cloud.class_name}',
              f'element vertex {n}', 'property float x', 'property float y', 'property float z',
              'property float nx', 'property float ny', 'property float nz',
              'property uchar red', 'property uchar green', 'property uchar blue', 'end_header']
    rows = np.concatenate([cloud.points.astype(np.float64), cloud.normals.astype(np.float64),
                           cloud.colors.astype(np.float64)], 1) if n else np.zeros((0, 9))
    with open(path, 'w') as fh:
        fh.write('\n'.join(header) + '\n')
        np.savetxt(fh, rows, fmt=['%.5f'] * 6 + ['%d'] * 3)

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

_KNN_CHUNK = 2048  # rows of the pairwise-distance matrix computed at once on a GPU


def nearest_neighbours(points: torch.Tensor, k: int):
    """(distances, indices) of each point's k nearest other points: a k-d tree on the CPU, batched distance
    matrices on a GPU."""
    if points.device.type == 'cpu':
        from scipy.spatial import cKDTree
        data = points.detach().numpy()
        dist, idx = cKDTree(data).query(data, k + 1)
        return torch.from_numpy(dist[:, 1:]).to(points.dtype), torch.from_numpy(idx[:, 1:])
    dists, idxs = [], []
    for start in range(0, points.shape[0], _KNN_CHUNK):
        found = torch.cdist(points[start:start + _KNN_CHUNK], points).topk(k + 1, largest=False)
        dists.append(found.values[:, 1:])
        idxs.append(found.indices[:, 1:])
    return torch.cat(dists), torch.cat(idxs)


def remove_outliers(distances: torch.Tensor, std_ratio: float) -> torch.Tensor:
    """Mask of points kept: mean distance to their nearest neighbours <= mean + std_ratio * std (over the cloud)."""
    mean_d = distances.mean(1)
    if std_ratio <= 0 or mean_d.numel() < 3:
        return torch.ones_like(mean_d, dtype=torch.bool)
    return mean_d <= mean_d.mean() + std_ratio * mean_d.std()


def pca_normals(points: torch.Tensor, rows: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """Unit normals of points[rows] from the covariance of each with its neighbours (indices into points),
    oriented towards the camera."""
    own = points[rows]
    nb = torch.cat([own[:, None], points[neighbours.to(points.device)]], 1)   # (n, k+1, 3)
    centred = nb - nb.mean(1, keepdim=True)
    _, vecs = torch.linalg.eigh(centred.transpose(1, 2) @ centred)
    normal = vecs[:, :, 0]
    return torch.where(((normal * own).sum(1) > 0)[:, None], -normal, normal)


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
    n = len(class_names)
    flat = labels.reshape(-1)
    # group the labelled pixels by id once (one sort), instead of one full-image mask per object
    pixels = torch.nonzero(flat > 0).squeeze(1)
    ids = flat[pixels]
    order = torch.argsort(ids, stable=True)
    pixels, ids = pixels[order], ids[order]
    bounds = torch.searchsorted(ids, torch.arange(1, n + 2, device=ids.device)).tolist()
    flat_valid = valid.reshape(-1)
    flat_points, flat_normals, flat_color = points.reshape(-1, 3), normals.reshape(-1, 3), color.reshape(-1, 3)
    for i in range(1, n + 1):
        own = pixels[bounds[i - 1]:bounds[i]]
        pixel_count = int(own.numel())
        own = own[flat_valid[own]]
        pts, rgb, nrm = flat_points[own], flat_color[own], flat_normals[own]
        if pts.shape[0] >= config.min_points:
            # voxels first: the neighbour search then runs on a few hundred points, not thousands
            pts, rgb, nrm = voxel_downsample(pts, config.voxel_size, rgb, nrm)
            k = min(config.outlier_neighbors, pts.shape[0] - 1)
            distances, neighbours = nearest_neighbours(pts, k)
            keep = remove_outliers(distances, config.outlier_std_ratio)
            # the organized normal map has no normal across depth edges (small objects, rims): PCA there
            missing = nrm.norm(dim=1) < 0.5
            if bool(missing.any()):
                nrm[missing] = pca_normals(pts, missing, neighbours[missing.cpu()])
            pts, rgb, nrm = pts[keep], rgb[keep], nrm[keep]
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

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
_GROUP_GAP = 1.0e3  # m: objects are set this far apart for one shared neighbour search (none finds another's)


def nearest_neighbours(points: torch.Tensor, k: int, groups: Optional[torch.Tensor] = None):
    """(distances, indices) of each point's k nearest other points: a k-d tree on the CPU, batched distance
    matrices on a GPU. With ``groups`` (N,) only points of the same group are neighbours (one search for every
    object of a frame); where a group has fewer than k + 1 points the missing neighbours have distance inf and
    index -1."""
    if points.shape[0] == 0:
        return torch.zeros((0, k), dtype=points.dtype), torch.zeros((0, k), dtype=torch.int64)
    if points.device.type == 'cpu':
        from scipy.spatial import cKDTree
        data = points.detach().numpy().astype(np.float64)
        if groups is not None:
            # far apart along x: the tree never reaches from one object to the next within k neighbours,
            # except in groups too small to have k of their own (masked below)
            data[:, 0] += groups.numpy() * _GROUP_GAP
        count = min(k + 1, data.shape[0])
        # the query, not the tree's build, is the cost: spread it over torch's threads
        dist, idx = cKDTree(data).query(data, count, workers=max(1, torch.get_num_threads()))
        dist, idx = dist.reshape(-1, count), idx.reshape(-1, count)
        dist = torch.from_numpy(dist[:, 1:]).to(points.dtype)
        idx = torch.from_numpy(idx[:, 1:])
    else:
        dists, idxs = [], []
        for start in range(0, points.shape[0], _KNN_CHUNK):
            d = torch.cdist(points[start:start + _KNN_CHUNK], points)
            if groups is not None:
                d = d.masked_fill(groups[start:start + _KNN_CHUNK, None] != groups[None], float('inf'))
            found = d.topk(min(k + 1, points.shape[0]), largest=False)
            dists.append(found.values[:, 1:])
            idxs.append(found.indices[:, 1:])
        dist, idx = torch.cat(dists), torch.cat(idxs)
    if dist.shape[1] < k:   # fewer than k + 1 points in all
        pad = k - dist.shape[1]
        dist = torch.cat([dist, dist.new_full((dist.shape[0], pad), float('inf'))], 1)
        idx = torch.cat([idx, idx.new_full((idx.shape[0], pad), -1)], 1)
    if groups is not None:
        other = groups.to(idx.device)[idx.clamp_min(0)] != groups.to(idx.device)[:, None]
        dist = dist.masked_fill(other | (idx < 0), float('inf'))
        idx = idx.masked_fill(other, -1)
    return dist, idx


def remove_outliers(distances: torch.Tensor, std_ratio: float, groups: Optional[torch.Tensor] = None
                    ) -> torch.Tensor:
    """Mask of points kept: mean distance to their nearest neighbours (inf = none) <= mean + std_ratio * std
    over the cloud, or over each of its ``groups`` (N,) (groups of fewer than 3 points keep every point)."""
    found = torch.isfinite(distances)
    mean_d = torch.where(found, distances, 0).sum(1) / found.sum(1).clamp_min(1)
    if std_ratio <= 0 or mean_d.numel() == 0:
        return torch.ones_like(mean_d, dtype=torch.bool)
    if groups is None:
        groups = torch.zeros(mean_d.shape[0], dtype=torch.int64, device=mean_d.device)
    count = torch.bincount(groups).to(mean_d.dtype)
    mean = torch.bincount(groups, weights=mean_d) / count.clamp_min(1)
    spread = torch.bincount(groups, weights=(mean_d - mean[groups]) ** 2)
    std = torch.sqrt(spread / (count - 1).clamp_min(1))
    return (mean_d <= (mean + std_ratio * std)[groups]) | (count[groups] < 3)


def pca_normals(points: torch.Tensor, rows: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
    """Unit normals of points[rows] from the covariance of each with its neighbours (indices into points, -1 =
    none), oriented towards the camera."""
    own = points[rows]
    neighbours = neighbours.to(points.device)
    found = torch.cat([torch.ones_like(neighbours[:, :1], dtype=torch.bool), neighbours >= 0], 1)   # (n, k+1)
    nb = torch.cat([own[:, None], points[neighbours.clamp_min(0)]], 1)                            # (n, k+1, 3)
    w = found.to(points.dtype)[..., None]
    mean = (nb * w).sum(1, keepdim=True) / w.sum(1, keepdim=True)
    centred = (nb - mean) * w
    _, vecs = torch.linalg.eigh(centred.transpose(1, 2) @ centred)
    normal = vecs[:, :, 0]
    return torch.where(((normal * own).sum(1) > 0)[:, None], -normal, normal)


def voxel_downsample(points: torch.Tensor, voxel: float, *attributes: torch.Tensor,
                     groups: Optional[torch.Tensor] = None):
    """Average of the points (and per-point attributes) in each occupied voxel of edge ``voxel`` metres; with
    ``groups`` (N,) (sorted ids) voxels of different groups stay apart, the averages come grouped in the same
    order and the groups of the averages are returned last."""
    if voxel <= 0 or points.shape[0] == 0:
        return (points, *attributes) + ((groups,) if groups is not None else ())
    keys = torch.floor(points / voxel).long()
    keys -= keys.min(0).values
    span = keys.max(0).values + 1
    flat = (keys[:, 0] * span[1] + keys[:, 1]) * span[2] + keys[:, 2]
    if groups is not None:
        flat = flat + groups * int(span.prod())
    unique, inverse = torch.unique(flat, return_inverse=True)
    m = unique.numel()
    count = torch.bincount(inverse, minlength=m).to(points.dtype)[:, None]

    def mean(values: torch.Tensor) -> torch.Tensor:
        total = torch.zeros((m, values.shape[1]), dtype=torch.float32, device=values.device)
        total.index_add_(0, inverse, values.float())
        return total / count

    averaged = (mean(points).to(points.dtype), *(mean(a).to(a.dtype) if a.dtype.is_floating_point
                                                 else mean(a).round().to(a.dtype) for a in attributes))
    if groups is None:
        return averaged
    return averaged + (torch.div(unique, int(span.prod()), rounding_mode='floor'),)


def project_instances(points: torch.Tensor, valid: torch.Tensor, normals: torch.Tensor, color: torch.Tensor,
                      labels: torch.Tensor, class_names, scores, config: ProjectionConfig,
                      up: Optional[np.ndarray] = None) -> List[ObjectCloud]:
    """One ObjectCloud per instance id 1..N of ``labels`` (organized maps of one size, any device). Every
    object is filtered at once (points grouped by id), then cut into its cloud."""
    n = len(class_names)
    if n == 0:
        return []
    flat = labels.reshape(-1)
    pixels = torch.nonzero(flat > 0).squeeze(1)
    ids = flat[pixels].long()
    order = torch.argsort(ids, stable=True)
    pixels, ids = pixels[order], ids[order]
    pixel_counts = torch.bincount(ids, minlength=n + 1).tolist()
    measured = valid.reshape(-1)[pixels]
    pixels, ids = pixels[measured], ids[measured]
    pts, rgb, nrm = (m.reshape(-1, 3)[pixels] for m in (points, color, normals))
    # objects with too few measured points are kept as measured; the others are filtered together
    filtered = torch.bincount(ids, minlength=n + 1)[ids] >= config.min_points
    raw = [t[~filtered] for t in (pts, rgb, nrm, ids)]
    pts, rgb, nrm, ids = (t[filtered] for t in (pts, rgb, nrm, ids))
    if ids.numel():
        # voxels first: the neighbour search then runs on a few hundred points per object, not thousands
        pts, rgb, nrm, ids = voxel_downsample(pts, config.voxel_size, rgb, nrm, groups=ids)
        distances, neighbours = nearest_neighbours(pts, config.outlier_neighbors, ids)
        keep = remove_outliers(distances, config.outlier_std_ratio, ids)
        # the organized normal map has no normal across depth edges (small objects, rims): PCA there
        missing = nrm.norm(dim=1) < 0.5
        if bool(missing.any()):
            nrm[missing] = pca_normals(pts, missing, neighbours[missing.cpu()])
        pts, rgb, nrm, ids = pts[keep], rgb[keep], nrm[keep], ids[keep]
        nrm = nrm / nrm.norm(dim=1, keepdim=True).clamp_min(1e-9)
    # back in id order, one contiguous run per object
    pts, rgb, nrm, ids = (torch.cat([a, b]) for a, b in zip((pts, rgb, nrm, ids), raw))
    order = torch.argsort(ids, stable=True)
    bounds = torch.searchsorted(ids[order], torch.arange(1, n + 2, device=ids.device)).tolist()
    pts_np, rgb_np, nrm_np = (t[order].detach().cpu().numpy() for t in (pts, rgb, nrm))
    pts_np, rgb_np, nrm_np = pts_np.astype(np.float32), rgb_np.astype(np.uint8), nrm_np.astype(np.float32)
    objects: List[ObjectCloud] = []
    for i in range(1, n + 1):
        own = slice(bounds[i - 1], bounds[i])
        cloud = pts_np[own]
        if len(cloud) >= 3:
            center, extent, axes = oriented_box(cloud, up)
            centroid = cloud.mean(0)
        else:
            centroid = center = cloud.mean(0) if len(cloud) else np.zeros(3)
            extent, axes = np.zeros(3), np.eye(3)
        objects.append(ObjectCloud(
            instance_id=i, class_name=class_names[i - 1], score=float(scores[i - 1]), pixel_count=pixel_counts[i],
            points=cloud, colors=rgb_np[own], normals=nrm_np[own], centroid=np.asarray(centroid, np.float64),
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

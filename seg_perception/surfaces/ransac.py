"""Multi-plane RANSAC on torch: one-point hypotheses from point normals, scored as a batch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import torch


@dataclass(frozen=True, eq=False)
class PlaneFit:
    normal: torch.Tensor   # (3,) unit, pointing towards the camera
    offset: torch.Tensor   # () with normal . p + offset = 0
    inliers: torch.Tensor  # (N,) bool over the sample it was fitted on
    count: int


def inlier_threshold(z: torch.Tensor, threshold_1m: float, floor: float = 0.004) -> torch.Tensor:
    """Distance threshold per point: grows with depth squared like stereo noise, never below ``floor``."""
    return (threshold_1m * z * z).clamp_min(floor)


def refine_plane(points: torch.Tensor, weights: torch.Tensor):
    """Least-squares plane through weighted points (smallest principal axis), normal towards the camera."""
    w = weights.to(points.dtype)
    total = w.sum().clamp_min(1.0)
    centroid = (points * w[:, None]).sum(0) / total
    centred = (points - centroid) * w[:, None].sqrt()
    cov = centred.T @ centred / total
    _, vecs = torch.linalg.eigh(cov)
    normal = vecs[:, 0]
    normal = torch.where((normal @ centroid) > 0, -normal, normal)
    return normal, -(normal @ centroid)


def _hypotheses(points, normals, seeds, count, generator):
    """Half one-point planes (a point and its normal: cheap, good where normals are), half classic
    three-point planes (exact through the data, immune to biased normals)."""
    one = count // 2
    pick = torch.multinomial(seeds.float(), one + 3 * (count - one), replacement=True, generator=generator)
    n1, p1 = normals[pick[:one]], points[pick[:one]]
    tri = points[pick[one:]].view(-1, 3, 3)
    n3 = torch.linalg.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n3 = n3 / n3.norm(dim=1, keepdim=True).clamp_min(1e-9)
    n3 = torch.where(((n3 * tri[:, 0]).sum(1) > 0)[:, None], -n3, n3)  # towards the camera
    n = torch.cat([n1, n3])
    p = torch.cat([p1, tri[:, 0]])
    return n, -(n * p).sum(1)


# Hypotheses are scored on this many of the sample points, picked at random: enough to rank planes that hold a
# few percent of the points, a quarter of the cost; the winner is refined on the whole sample.
_SCORING_POINTS = 1500
_RETRIES = 2                 # searches whose best plane is too small, tried again without its points
_REFINE_BANDS = (4.0, 2.0)   # the first refinements take inliers within these multiples of the threshold


def _inliers(points, normals, has_normal, normal, offset, threshold, normal_cos) -> torch.Tensor:
    close = (points @ normal + offset).abs() < threshold
    return close & (((normals @ normal).abs() > normal_cos) | ~has_normal)


def detect_planes(points: torch.Tensor, normals: torch.Tensor, *, max_planes: int, hypotheses: int,
                  threshold_1m: float, normal_cos: float, min_inliers: int,
                  generator: torch.Generator) -> List[PlaneFit]:
    """Largest planes first. A point belongs to a plane when it is within the depth-dependent distance and its
    normal agrees (or is unknown). The best hypothesis is refined by least squares until its inliers settle.
    Each found plane's inliers are removed before the next search; so are those of a best hypothesis that
    turned out smaller than ``min_inliers`` (up to _RETRIES times): a large plane whose points are few (a table
    that lost most of its depth) may rank below a patchwork of smaller things."""
    n = points.shape[0]
    # a random subset ranks the hypotheses (the sample may be every valid pixel in raster order)
    scoring = torch.randperm(n, generator=generator, device=points.device)[:_SCORING_POINTS]
    has_normal = normals.norm(dim=1) > 0.5
    threshold = inlier_threshold(points[:, 2], threshold_1m)
    remaining = torch.ones(n, dtype=torch.bool, device=points.device)
    s_points, s_normals, s_unknown, s_threshold = (points[scoring], normals[scoring], ~has_normal[scoring],
                                                   threshold[scoring])
    planes: List[PlaneFit] = []
    for _ in range(max_planes + _RETRIES):
        if len(planes) == max_planes:
            break
        seeds = remaining & has_normal
        if int(seeds.sum()) < min_inliers:
            break
        hyp_n, hyp_d = _hypotheses(points, normals, seeds, hypotheses, generator)
        dist = (hyp_n @ s_points.T + hyp_d[:, None]).abs()               # (H, scoring points)
        agree = ((hyp_n @ s_normals.T).abs() > normal_cos) | s_unknown[None]
        score = ((dist < s_threshold[None]) & agree & remaining[scoring][None]).sum(1)
        best = int(torch.argmax(score))
        normal, offset = hyp_n[best], hyp_d[best]
        # least-squares refinement, first on a wider band: a hypothesis a degree or two off a large (often
        # slightly warped) plane only holds the strip where it crosses it, and a fit to that strip stays tilted;
        # the wider band pivots it onto the plane's bulk, then the inliers are re-collected until they settle
        for widen in _REFINE_BANDS:
            inliers = _inliers(points, normals, has_normal, normal, offset, widen * threshold, normal_cos) & remaining
            normal, offset = refine_plane(points, inliers)
        inliers = _inliers(points, normals, has_normal, normal, offset, threshold, normal_cos) & remaining
        count = int(inliers.sum())
        for _ in range(4):
            normal, offset = refine_plane(points, inliers)
            inliers = _inliers(points, normals, has_normal, normal, offset, threshold, normal_cos) & remaining
            previous, count = count, int(inliers.sum())
            if abs(count - previous) <= max(2, count // 500):
                break
        if count < min_inliers:
            remaining &= ~inliers
            continue
        planes.append(PlaneFit(normal, offset, inliers, count))
        remaining &= ~inliers
    return planes

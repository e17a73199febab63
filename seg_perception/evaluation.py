"""Metrics: UOIS-style instance Overlap P/R/F and %>=75 (OCID/OSD protocol), per-class surface IoU."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np
from scipy.optimize import linear_sum_assignment

from .types import SURFACE_CLASS_NAMES, SURFACE_UNKNOWN

_PHANTOM_SHARE = 0.3   # a predicted object with less of its pixels on true objects is a phantom


def overlap_metrics(pred: np.ndarray, gt: np.ndarray, min_gt_pixels: int = 0) -> Dict[str, float]:
    """Masks matched one-to-one by Hungarian assignment on F-measure (as in UOIS / Xie et al.).

    precision = sum of matched intersections / predicted foreground; recall = the same / ground-truth foreground;
    F = harmonic mean; pct75 = share of ground-truth objects whose matched mask has F >= 0.75; phantoms =
    predicted objects with under 30 % of their pixels on ground-truth objects (found where no object is).
    Ground-truth objects with fewer than ``min_gt_pixels`` visible pixels are "don't care": they and the
    predicted pixels on them are left out of every count.
    """
    pred = np.asarray(pred).astype(np.int64)
    gt = np.asarray(gt).astype(np.int64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth {gt.shape} differ in size')
    if min_gt_pixels > 0:
        ids, counts = np.unique(gt[gt > 0], return_counts=True)
        tiny = np.isin(gt, ids[counts < min_gt_pixels])
        if tiny.any():
            gt = np.where(tiny, 0, gt)
            pred = np.where(tiny, 0, pred)
    gt_ids = np.unique(gt[gt > 0])
    pred_ids = np.unique(pred[pred > 0])
    n_gt, n_pred = len(gt_ids), len(pred_ids)
    if n_gt == 0 and n_pred == 0:
        return {'precision': 1.0, 'recall': 1.0, 'f': 1.0, 'pct75': 1.0, 'n_gt': 0, 'n_pred': 0, 'phantoms': 0}
    if n_gt == 0 or n_pred == 0:
        return {'precision': float(n_pred == 0), 'recall': float(n_gt == 0), 'f': 0.0, 'pct75': 0.0,
                'n_gt': n_gt, 'n_pred': n_pred, 'phantoms': n_pred}
    # intersections from one joint histogram
    g = np.searchsorted(gt_ids, gt[(gt > 0) & (pred > 0)])
    p = np.searchsorted(pred_ids, pred[(gt > 0) & (pred > 0)])
    inter = np.zeros((n_pred, n_gt))
    np.add.at(inter, (p, g), 1)
    pred_area = np.array([(pred == i).sum() for i in pred_ids], float)
    gt_area = np.array([(gt == i).sum() for i in gt_ids], float)
    prec = inter / pred_area[:, None]
    rec = inter / gt_area[None, :]
    f = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
    rows, cols = linear_sum_assignment(-f)
    matched = inter[rows, cols].sum()
    precision = matched / pred_area.sum()
    recall = matched / gt_area.sum()
    fmeasure = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    pct75 = float((f[rows, cols] >= 0.75).sum()) / n_gt
    phantoms = int((inter.sum(1) < _PHANTOM_SHARE * pred_area).sum())
    return {'precision': float(precision), 'recall': float(recall), 'f': float(fmeasure), 'pct75': pct75,
            'n_gt': n_gt, 'n_pred': n_pred, 'phantoms': phantoms}


def surface_iou(pred: np.ndarray, gt: np.ndarray, valid: Optional[np.ndarray] = None) -> Dict[str, float]:
    """IoU per surface class over pixels where the sensor had depth (``valid``); NaN for absent classes."""
    if valid is None:
        valid = np.ones(pred.shape, bool)
    out = {}
    for cls, name in SURFACE_CLASS_NAMES.items():
        if cls == SURFACE_UNKNOWN:
            continue
        p, g = (pred == cls) & valid, (gt == cls) & valid
        union = (p | g).sum()
        out[name] = float((p & g).sum() / union) if union else float('nan')
    return out

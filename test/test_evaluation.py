import numpy as np
import pytest

from seg_perception.evaluation import overlap_metrics, surface_iou


def _gt():
    gt = np.zeros((20, 30), np.uint16)
    gt[2:8, 2:10] = 1
    gt[10:18, 5:15] = 2
    gt[3:9, 20:28] = 3
    return gt


def test_perfect_and_relabelled_predictions_score_one():
    gt = _gt()
    assert overlap_metrics(gt, gt)['f'] == 1.0
    perm = np.array([0, 3, 1, 2])[gt]
    m = overlap_metrics(perm, gt)
    assert (m['precision'], m['recall'], m['f'], m['pct75']) == (1.0, 1.0, 1.0, 1.0)


def test_split_merge_and_missing_objects_cost():
    gt = _gt()
    split = gt.copy()
    split[10:18, 10:15] = 4                     # object 2 cut in half
    m = overlap_metrics(split, gt)
    assert m['precision'] < 1 and m['recall'] < 1 and m['pct75'] == pytest.approx(2 / 3)
    merged = np.where(gt == 3, 1, gt)           # objects 1 and 3 merged: one of them unmatched
    m = overlap_metrics(merged, gt)
    assert m['recall'] < 0.8 and m['n_pred'] == 2
    missing = np.where(gt == 2, 0, gt)
    m = overlap_metrics(missing, gt)
    assert m['precision'] == 1.0 and m['recall'] < 0.6
    assert overlap_metrics(np.zeros_like(gt), gt)['f'] == 0.0
    assert overlap_metrics(np.zeros_like(gt), np.zeros_like(gt))['f'] == 1.0


def test_objects_found_where_none_is_are_counted_as_phantoms():
    gt = _gt()
    assert overlap_metrics(gt, gt)['phantoms'] == 0
    pred = gt.copy()
    pred[12:19, 20:29] = 4                      # on the background only
    pred[0:2, 2:12] = 5                         # a strip along object 1: 3 of its 23 pixels on it
    pred[2, 2:5] = 5
    split = overlap_metrics(pred, gt)
    assert split['phantoms'] == 2 and split['n_pred'] == 5
    assert overlap_metrics(pred, np.zeros_like(gt))['phantoms'] == 5      # no true object at all


def test_tiny_ground_truth_objects_can_be_dont_care():
    gt = _gt()
    gt[0, 0] = 9                                # a 1-pixel object nobody can segment
    assert overlap_metrics(_gt(), gt)['recall'] < 1.0 or overlap_metrics(_gt(), gt)['pct75'] < 1
    assert overlap_metrics(_gt(), gt, min_gt_pixels=5)['f'] == 1.0


def test_surface_iou_ignores_pixels_without_depth():
    gt = np.ones((4, 4), np.uint8)
    pred = gt.copy()
    pred[0] = 5
    valid = np.ones((4, 4), bool)
    assert surface_iou(pred, gt, valid)['support'] == pytest.approx(0.75)
    valid[0] = False
    assert surface_iou(pred, gt, valid)['support'] == 1.0
    assert np.isnan(surface_iou(pred, gt, valid)['wall'])

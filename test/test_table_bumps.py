"""A patch of table that the depth lifts a little is no object when it keeps the table's colour
(instances/table_bumps.py); a small flat object of its own colour at the same height stays."""
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from seg_perception.config import load_config
from seg_perception.imageops import rgb_to_lab
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import NoiseConfig, SceneConfig, synthesize

SMALL = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)


def _lifted_patch(seed: int):
    """A synthetic frame whose depth on a 14 x 10 pixel patch of open table comes 1 cm nearer the camera (a stereo
    camera's error in a blob; 0.7-0.9 m away that is one to three noise bands above the table), and the patch."""
    scene = synthesize(seed, SMALL, NoiseConfig())
    frame, truth = scene.rgbd(), scene.rendered
    open_table = (truth.surfaces == 1) & (truth.depth > 0) & \
        (cv2.dilate((truth.instances > 0).astype(np.uint8), np.ones((41, 41), np.uint8)) == 0)
    ys, xs = np.nonzero(cv2.erode(open_table.astype(np.uint8), np.ones((21, 21), np.uint8)))
    cy, cx = ys[len(ys) // 2], xs[len(xs) // 2]
    patch = (slice(cy - 5, cy + 5), slice(cx - 7, cx + 7))
    depth = frame.depth.copy()
    depth[patch] = np.where(depth[patch] > 0, depth[patch] - 0.01, 0)
    return replace(frame, depth=depth), patch


@pytest.mark.parametrize('seed', [22, 23])
def test_a_lifted_patch_of_table_is_no_object_unless_it_has_a_colour_of_its_own(seed):
    frame, patch = _lifted_patch(seed)
    config = load_config(None)
    keep_all = replace(config, instances=replace(config.instances, drop_table_bumps=False))

    def objects_on_patch(cfg, color):
        labels = Pipeline(cfg).process(replace(frame, color=color)).instances.labels
        return set(np.unique(labels[patch]).tolist()) - {0}
    assert objects_on_patch(keep_all, frame.color)           # without the rule: a phantom object
    assert not objects_on_patch(config, frame.color)          # the table's colour: gone
    painted = frame.color.copy()
    painted[patch] = (200, 30, 30)                            # a small red object as high: stays
    assert objects_on_patch(config, painted)


def test_lab_colours():
    lab = rgb_to_lab(torch.tensor([[255, 255, 255], [255, 0, 0], [0, 0, 0], [128, 128, 128]], dtype=torch.uint8))
    expected = [[100.0, 0.0, 0.0], [53.24, 80.09, 67.20], [0.0, 0.0, 0.0], [53.59, 0.0, 0.0]]
    assert np.allclose(lab.numpy(), expected, atol=0.05), lab

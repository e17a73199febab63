"""Whether the depth is registered to the colour image: its occlusion edges on colour edges (registration.py), and
the watch that says so once for a stream (stream_watch.py)."""
import math

import cv2
import numpy as np
import torch

from seg_perception.registration import ALIGNED_LEAST, edge_alignment, misregistered_advice
from seg_perception.stream_watch import MedianWatch
from seg_perception.synthetic import NoiseConfig, SceneConfig, synthesize

SMALL = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)


def _unaligned(depth: np.ndarray) -> np.ndarray:
    """``depth`` as a depth camera with a wider field of view beside the colour camera sees it, left on the colour
    image's grid: scaled 0.63 about the centre and 6 px to the side (a RealSense's depth/image_rect_raw where its
    aligned_depth_to_color belongs)."""
    h, w = depth.shape
    warp = np.float32([[0.63, 0, 0.37 * w / 2 + 6], [0, 0.63, 0.37 * h / 2]])
    return cv2.warpAffine(depth, warp, (w, h), flags=cv2.INTER_NEAREST)


def test_registered_depth_lies_on_colour_edges_and_unaligned_depth_does_not():
    registered, unaligned = [], []
    for seed in range(100, 108):
        frame = synthesize(seed, SMALL, NoiseConfig()).rendered
        color = torch.from_numpy(frame.color)
        ratio, steps = edge_alignment(torch.from_numpy(frame.depth), color)
        assert steps >= 100
        registered.append(ratio)
        unaligned.append(edge_alignment(torch.from_numpy(_unaligned(frame.depth)), color)[0])
    # every registered frame says so; unaligned ones mostly do not (a clean synthetic image has so few colour
    # edges that chance overlaps can score high: the node judges a stream by the median of several frames)
    assert min(registered) > 2 * ALIGNED_LEAST, registered
    assert np.median(unaligned) < ALIGNED_LEAST, unaligned
    assert sum(u < ALIGNED_LEAST for u in unaligned) >= 5, unaligned


def test_a_frame_without_depth_steps_tells_nothing():
    flat = torch.full((120, 160), 0.8)
    ratio, steps = edge_alignment(flat, torch.randint(0, 255, (120, 160, 3), dtype=torch.uint8))
    assert math.isnan(ratio) and steps == 0
    assert misregistered_advice(ratio) is None


def test_misregistered_depth_is_advised_once_per_stream():
    assert misregistered_advice(ALIGNED_LEAST + 0.1) is None
    text = misregistered_advice(1.2, 3)
    assert text.startswith('the depth image does not look registered to the colour image') and '1.2 times' in text
    assert 'median over 3 frames' in text and 'aligned_depth_to_color' in text
    watch = MedianWatch(every=30, least=3)
    for ratio in (1.1, float('nan'), 1.4):       # NaN: a frame with too few depth steps, not counted
        assert watch.due()
        watch.record(ratio)
    assert watch.advice(misregistered_advice) is None          # two measurements: not yet
    watch.record(5.0)
    assert np.isclose(watch.median, 1.4)
    assert 'median over 3 frames' in watch.advice(misregistered_advice)
    watch.record(1.0)
    assert watch.advice(misregistered_advice) is None          # said once


def test_a_stream_that_tells_nothing_is_measured_only_now_and_then():
    watch = MedianWatch(every=10, least=3)
    due = []
    for _ in range(40):
        due.append(watch.due())
        if due[-1]:
            watch.record(float('nan'))    # an empty table: too few depth steps on every frame
    # the first 10 frames, then every 10th: not every frame of a 30 Hz stream
    assert [i for i, d in enumerate(due) if d] == list(range(10)) + [10, 20, 30]
    assert math.isnan(watch.median) and watch.advice(misregistered_advice) is None

"""The benchmark's classic peer is a working tabletop segmenter, not a straw man."""
import numpy as np

from seg_perception.evaluation import overlap_metrics
from seg_perception.peer import ClassicTabletopPeer
from seg_perception.synthetic import NoiseConfig, SceneConfig, frame_seed, synthesize

SMALL = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)


def test_peer_finds_separated_objects_on_the_table():
    # noise-free cluttered frames: objects come out as masks (touching ones merge: that is the method)
    scores = []
    for i in range(3):
        s = synthesize(frame_seed(55, i), SMALL, NoiseConfig.off())
        labels = ClassicTabletopPeer().segment(s.rgbd())
        assert labels.shape == (240, 320) and labels.dtype == np.uint16
        table = s.rendered.surfaces == 1
        assert (labels[table] == 0).mean() > 0.99          # the table itself is no object
        scores.append(overlap_metrics(labels, s.rendered.instances, 50)['f'])
    assert np.mean(scores) > 0.3 and min(scores) > 0.2


def test_peer_returns_nothing_without_depth():
    s = synthesize(frame_seed(55, 0), SMALL)
    frame = s.rgbd()
    from dataclasses import replace
    empty = replace(frame, depth=np.zeros_like(frame.depth))
    assert ClassicTabletopPeer().segment(empty).max() == 0

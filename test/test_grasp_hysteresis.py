"""Steady grasp ranking over a stream: same-grasp test, re-ranking rules, and on still synthetic scenes with fresh
sensor noise per frame, fewer jumps of each object's first grasp at no loss of valid first grasps."""
import dataclasses

import numpy as np
import pytest

from seg_perception.config import load_config
from seg_perception.geometry import quaternion_from_matrix
from seg_perception.grasps.evaluate import grasp_metrics
from seg_perception.grasps.hysteresis import GraspHysteresis, same_grasp
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import NoiseConfig, Renderer, SceneConfig, frame_seed, generate_scene
from seg_perception.synthetic.frames import SyntheticFrame
from seg_perception.types import GraspCandidate


def _turn_z(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])


def _grasp(object_id, x, score, turn_deg=0.0, rotation=None):
    R = _turn_z(turn_deg) if rotation is None else rotation
    return GraspCandidate(object_id, np.array([x, 0.0, 0.5]), quaternion_from_matrix(R), 0.05, score)


def test_same_grasp_allows_a_little_noise_and_swapped_fingers():
    a = _grasp(1, 0.0, 0.9)
    assert same_grasp(a, _grasp(1, 0.008, 0.5, turn_deg=15))
    assert not same_grasp(a, _grasp(1, 0.015, 0.9))            # moved 1.5 cm
    assert not same_grasp(a, _grasp(1, 0.0, 0.9, turn_deg=30))  # turned 30 deg
    # the fingers swapped (half a turn about the approach, x) is the same grasp
    swapped = np.diag([1.0, -1.0, -1.0])
    assert same_grasp(a, _grasp(1, 0.0, 0.9, rotation=swapped @ _turn_z(10)))


def test_an_objects_first_grasp_keeps_its_rank_until_beaten_by_the_margin():
    ranking = GraspHysteresis(0.1)
    # frame 1: object 1's best is at x = 0
    first = ranking.rank([_grasp(1, 0.0, 0.80), _grasp(1, 0.05, 0.75)])
    assert [g.position[0] for g in first] == [0.0, 0.05]
    # frame 2: noise puts the other candidate 0.06 ahead: the first stays first, scores untouched
    second = ranking.rank([_grasp(1, 0.051, 0.82), _grasp(1, 0.002, 0.76, turn_deg=5)])
    assert [round(g.position[0], 3) for g in second] == [0.002, 0.051]
    assert [g.score for g in second] == [0.76, 0.82]
    # frame 3: now 0.15 ahead: it takes over, and is the one kept from then on
    third = ranking.rank([_grasp(1, 0.05, 0.90), _grasp(1, 0.0, 0.75)])
    assert [g.position[0] for g in third] == [0.05, 0.0]
    fourth = ranking.rank([_grasp(1, 0.0, 0.85), _grasp(1, 0.05, 0.80)])
    assert [g.position[0] for g in fourth] == [0.05, 0.0]


def test_the_first_grasp_overall_stays_first_against_other_objects_within_the_margin():
    ranking = GraspHysteresis(0.1)
    ranking.rank([_grasp(1, 0.0, 0.80), _grasp(2, 0.2, 0.78)])
    # object 2's best (continued) is 0.08 ahead now: object 1's stays first overall
    assert [g.object_id for g in ranking.rank([_grasp(2, 0.2, 0.86), _grasp(1, 0.0, 0.78)])] == [1, 2]
    # 0.12 ahead: object 2 takes the first place
    assert [g.object_id for g in ranking.rank([_grasp(2, 0.2, 0.90), _grasp(1, 0.0, 0.78)])] == [2, 1]


def test_no_margin_ranks_by_score_and_reset_forgets():
    plain = GraspHysteresis(0.0)
    plain.rank([_grasp(1, 0.0, 0.8), _grasp(1, 0.05, 0.75)])
    assert [g.position[0] for g in plain.rank([_grasp(1, 0.05, 0.81), _grasp(1, 0.0, 0.8)])] == [0.05, 0.0]
    steady = GraspHysteresis(0.1)
    steady.rank([_grasp(1, 0.0, 0.8), _grasp(1, 0.05, 0.75)])
    steady.reset()
    assert [g.position[0] for g in steady.rank([_grasp(1, 0.05, 0.81), _grasp(1, 0.0, 0.8)])] == [0.05, 0.0]
    with pytest.raises(ValueError, match='margin'):
        GraspHysteresis(-0.1)


def _first_grasps_over_still_scenes(margin, scenes=6, renders=5):
    """(jumps of an object's first grasp between consecutive frames, object pairs compared, valid first grasps,
    objects that fit): still scenes, fresh sensor noise per frame; objects matched through the true labels."""
    cfg = load_config(None, {'device': 'cpu'})
    pipeline = Pipeline(cfg)
    jumps = pairs = valid = fit = 0
    for s in range(scenes):
        scene = generate_scene(frame_seed(31, s), SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
        renderer, rng = Renderer(scene), np.random.default_rng([31, s])
        ranking, previous = GraspHysteresis(margin), {}
        for _ in range(renders):
            frame = SyntheticFrame(scene, renderer.render(rng, NoiseConfig()))
            result = pipeline.process(frame.rgbd())
            result = dataclasses.replace(result, grasps=ranking.rank(result.grasps))
            truth = frame.rendered.instances
            counts = grasp_metrics(result, truth, frame.scene_json, cfg.grasps)
            valid, fit = valid + counts['fit_top1_valid'], fit + counts['fit']
            firsts = {}
            for g in result.grasps:
                ids = truth[result.instances.labels == g.object_id]
                ids = ids[ids > 0]
                if ids.size:
                    firsts.setdefault(int(np.bincount(ids).argmax()), g)
            for gid in firsts.keys() & previous.keys():
                pairs += 1
                jumps += not same_grasp(firsts[gid], previous[gid], 0.02, 30.0)
            previous = firsts
    return jumps, pairs, valid, fit


def test_on_a_still_scene_the_first_grasps_jump_less_and_hold_as_often():
    plain = _first_grasps_over_still_scenes(0.0)
    steady = _first_grasps_over_still_scenes(0.1)
    # measured: 12 of 37 jumps by score alone, 2 with the margin; valid first grasps 25 and 24 of 70
    assert plain[1] >= 30 and plain[0] >= 8            # noise alone moves first grasps on these scenes
    assert steady[0] <= 0.5 * plain[0]
    assert steady[3] == plain[3] and steady[2] >= plain[2] - 2


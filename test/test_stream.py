"""What carries over between the frames of a stream (the node): object ids that stay with their objects, and a
steady grasp ranking. Unit rules, then still synthetic scenes rendered again and again with fresh sensor noise:
fewer id changes, fewer jumps of each object's first grasp at no loss of valid first grasps."""
import dataclasses

import numpy as np
import pytest
import torch

from seg_perception.config import load_config
from seg_perception.evaluation import overlap_metrics
from seg_perception.geometry import quaternion_from_matrix
from seg_perception.grasps.evaluate import grasp_metrics
from seg_perception.grasps.hysteresis import GraspHysteresis, same_grasp
from seg_perception.instances.stable_ids import StableIds
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import NoiseConfig, Renderer, SceneConfig, frame_seed, generate_scene
from seg_perception.synthetic.frames import SyntheticFrame
from seg_perception.types import GraspCandidate, InstanceResult


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


def _still_scenes(scenes=6, renders=5, seed=31):
    """(scene index, frame): small still scenes, each rendered ``renders`` times with fresh sensor noise."""
    for s in range(scenes):
        scene = generate_scene(frame_seed(seed, s), SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
        renderer, rng = Renderer(scene), np.random.default_rng([seed, s])
        for _ in range(renders):
            yield s, SyntheticFrame(scene, renderer.render(rng, NoiseConfig()))


def _by_true_object(result, truth, ids):
    """{true object id: value} for the predicted ``ids`` (object ids of ``result``), each under the true object
    covering most of its pixels."""
    out = {}
    for i, value in ids:
        under = truth[result.instances.labels == i]
        under = under[under > 0]
        if under.size:
            out.setdefault(int(np.bincount(under).argmax()), value)
    return out


def _first_grasps_over_still_scenes(margin):
    """(jumps of an object's first grasp between consecutive frames, object pairs compared, valid first grasps,
    objects that fit); objects matched through the true labels."""
    cfg = load_config(None, {'device': 'cpu'})
    pipeline = Pipeline(cfg)
    jumps = pairs = valid = fit = 0
    last_scene, previous = None, {}
    for s, frame in _still_scenes():
        if s != last_scene:
            ranking, previous, last_scene = GraspHysteresis(margin), {}, s
        result = pipeline.process(frame.rgbd())
        result = dataclasses.replace(result, grasps=ranking.rank(result.grasps))
        truth = frame.rendered.instances
        counts = grasp_metrics(result, truth, frame.scene_json, cfg.grasps)
        valid, fit = valid + counts['fit_top1_valid'], fit + counts['fit']
        firsts = _by_true_object(result, truth, [(g.object_id, g) for g in result.grasps])
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


# -- object ids ------------------------------------------------------------------------------------------------

def _instances(rows, names=None):
    labels = torch.tensor(rows, dtype=torch.int64)
    count = int(labels.max())
    names = names or tuple(f'object{i}' for i in range(1, count + 1))
    return InstanceResult(labels, tuple(names), tuple(0.5 + 0.1 * i for i in range(count)))


def test_objects_keep_their_ids_when_a_new_one_appears_to_their_left():
    ids = StableIds()
    first = ids.relabel(_instances([[0, 1, 1, 0, 2, 2]], ('cup', 'box')))
    assert first.labels.tolist() == [[0, 1, 1, 0, 2, 2]]            # the first frame as it came
    # a new object at the left: left to right it is 1 and pushes the others to 2 and 3
    second = ids.relabel(_instances([[1, 2, 2, 0, 3, 3]], ('new', 'cup', 'box')))
    # the cup and the box keep 1 and 2, the new object takes the free 3; names and scores follow their objects
    assert second.labels.tolist() == [[3, 1, 1, 0, 2, 2]]
    assert second.class_names == ('cup', 'box', 'new') and second.scores == pytest.approx((0.6, 0.7, 0.5))
    # and the next frame goes on from there
    third = ids.relabel(_instances([[1, 2, 2, 0, 3, 3]], ('new', 'cup', 'box')))
    assert third.labels.tolist() == [[3, 1, 1, 0, 2, 2]]


def test_ids_stay_one_to_n_when_an_object_leaves():
    ids = StableIds()
    ids.relabel(_instances([[1, 1, 2, 2, 3, 3]], ('a', 'b', 'c')))
    # b is gone: a keeps 1, c cannot keep 3 among two objects and takes the free 2
    now = ids.relabel(_instances([[1, 1, 0, 0, 2, 2]], ('a', 'c')))
    assert now.labels.tolist() == [[1, 1, 0, 0, 2, 2]] and now.class_names == ('a', 'c')


def test_ids_follow_overlap_and_a_moved_view_or_another_grid_starts_afresh():
    before = [[1, 1, 1, 1, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0]]
    # the right object moved a little: it still covers most of its old pixels and keeps 2, the other takes 1
    ids = StableIds()
    ids.relabel(_instances(before))
    assert ids.relabel(_instances([[0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 2, 2]])).labels.tolist() == \
        [[0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 1, 1]]
    # moved so far that nothing overlaps its old pixels enough (IoU under 0.3): left to right, as for one frame
    ids = StableIds()
    ids.relabel(_instances(before))
    far = [[0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2]]
    assert ids.relabel(_instances(far)).labels.tolist() == far
    assert ids.relabel(_instances([[2, 1]])).labels.tolist() == [[2, 1]]   # another grid size


def _id_changes_over_still_scenes(stable: bool, seed: int):
    """(true objects whose predicted id changed between consecutive frames, true objects compared)."""
    pipeline = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': False}))
    changes = pairs = 0
    last_scene, previous = None, {}
    for s, frame in _still_scenes(seed=seed):
        if s != last_scene:
            ids, previous, last_scene = (StableIds() if stable else None), {}, s
        result, _ = pipeline.perceive(frame.rgbd(), ids=ids)
        now = _by_true_object(result, frame.rendered.instances, [(o.instance_id, o.instance_id)
                                                                 for o in result.objects])
        for gid in now.keys() & previous.keys():
            pairs += 1
            changes += now[gid] != previous[gid]
        previous = now
    return changes, pairs


def test_on_a_still_scene_objects_keep_their_ids():
    left_to_right = _id_changes_over_still_scenes(False, seed=4242)
    stable = _id_changes_over_still_scenes(True, seed=4242)
    # measured: 63 of 138 objects changed id between consecutive frames left to right (an object found in some
    # renders and not in others renumbers those to its right), 3 with stable ids. (On the scenes of seed 31 pieces
    # of objects coming and going did that to 12 of 69 until small regions resting on nothing went: 2 since.)
    assert left_to_right[1] >= 120 and left_to_right[0] >= 30
    assert stable[1] >= 120 and stable[0] <= 0.15 * left_to_right[0]


# -- splits carried over ---------------------------------------------------------------------------------------

_APART = [[1, 1, 1, 0, 2, 2, 2, 0, 0]]
_MERGED = [[1, 1, 1, 1, 1, 1, 1, 0, 0]]   # noise closed the gap: one region over both


def test_a_region_merging_objects_seen_apart_before_is_cut_along_their_old_outlines():
    ids = StableIds(keep_splits=10)
    ids.relabel(_instances(_APART, ('box', 'can')))
    now = ids.relabel(_instances(_MERGED, ('box+can',)))
    # the gap pixel goes to the nearest part (the larger id where both are as near: dilation's rule); the old ids
    # stay, and the part cut off carries the region's class name and score
    assert now.labels.tolist() == [[1, 1, 1, 2, 2, 2, 2, 0, 0]]
    assert now.class_names == ('box+can', 'box+can') and now.scores == pytest.approx((0.5, 0.5))
    # off (the default of the class, and keep_splits: 0): the merged region stays one object
    plain = StableIds()
    plain.relabel(_instances(_APART))
    assert plain.relabel(_instances(_MERGED)).labels.tolist() == _MERGED


def test_only_regions_made_of_old_objects_are_cut():
    ids = StableIds(keep_splits=10)
    ids.relabel(_instances([[1, 1, 0, 2, 2, 0, 0, 0, 0, 0]]))
    # the region is mostly new pixels (an object put down next to two old ones): it stays whole
    assert ids.relabel(_instances([[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]])).labels.tolist() == [[1] * 10]
    ids = StableIds(keep_splits=10)
    ids.relabel(_instances([[1, 1, 1, 1, 0, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0]]))
    # both moved (a moving camera): most of each old object's pixels lie outside the region, nothing is cut
    moved = [[0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]]
    assert ids.relabel(_instances(moved)).labels.tolist() == moved


def test_a_part_not_found_on_its_own_again_rejoins_after_keep_splits_frames():
    ids = StableIds(keep_splits=2)
    ids.relabel(_instances(_APART))
    carried = [[1, 1, 1, 2, 2, 2, 2, 0, 0]]
    assert ids.relabel(_instances(_MERGED)).labels.tolist() == carried    # carried 1 frame
    assert ids.relabel(_instances(_MERGED)).labels.tolist() == carried    # 2 frames
    assert ids.relabel(_instances(_MERGED)).labels.tolist() == _MERGED    # then the frames win
    # found on its own again, it is carried afresh
    ids.relabel(_instances(_APART))
    assert ids.relabel(_instances(_MERGED)).labels.tolist() == carried
    ids.reset()
    assert ids.relabel(_instances(_MERGED)).labels.tolist() == _MERGED


def test_on_still_scenes_touching_objects_flicker_less_at_no_loss_of_overlap():
    pipeline = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': False}))

    def count_changes_and_f(keep_splits):
        changes, scores, last_scene, counts = 0, [], None, []
        for s, frame in _still_scenes(scenes=12, renders=10):
            if s != last_scene:
                ids, last_scene, counts = StableIds(keep_splits), s, []
            result, _ = pipeline.perceive(frame.rgbd(), ids=ids)
            changes += bool(counts) and counts[-1] != len(result.objects)
            counts.append(len(result.objects))
            scores.append(overlap_metrics(result.instances.labels, frame.rendered.instances, 20)['f'])
        return changes, float(np.mean(scores))

    plain, kept = count_changes_and_f(0), count_changes_and_f(10)
    # measured: the object count changed between consecutive frames 22 times of 108 without, 11 with; F 0.934,
    # 0.934 (before small regions resting on nothing went: 27 and 11, F 0.934, 0.932)
    assert plain[0] >= 14 and kept[0] <= 0.6 * plain[0]
    assert kept[1] >= plain[1] - 0.002

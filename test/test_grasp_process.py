"""Grasp planning in a child process (what perception_node does on the CPU): the same grasps as planning in the
caller, errors reported per frame, Ctrl-C left to the parent, a dead child reported instead of hanging, nothing
left running after close."""
import os
import signal
import threading

import pytest
import torch

from seg_perception.config import load_config
from seg_perception.grasps.background import BackgroundGraspPlanner
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import SceneConfig, synthesize

pytestmark = pytest.mark.slow   # starts a Python interpreter with torch (~2 s)


@pytest.fixture(scope='module')
def perceived():
    pipeline = Pipeline(load_config(None, {'device': 'cpu', 'grasps.enabled': True}))
    frame = synthesize(141, SceneConfig(width=320, height=240, fx=307.5, fy=307.5)).rgbd()
    result, scene = pipeline.perceive(frame)
    return pipeline, result, scene


def _planned(planner, config, result, scene, timeout=60.0):
    done, out = threading.Event(), {}
    planner.submit(config, result, scene, lambda r, error: (out.update(result=r, error=error), done.set()))
    assert done.wait(timeout), 'no result from the grasp process'
    return out['result'], out['error']


def test_child_plans_the_same_grasps_and_survives_a_bad_frame(perceived):
    pipeline, result, scene = perceived
    expected = pipeline.plan_grasps(result, scene)
    assert expected.grasps and 'grasps' not in result.timings_ms
    # the support surface goes over as a copy on the CPU (the frame may have been segmented on a GPU)
    from seg_perception.grasps.background import _pack
    packed = _pack(scene).support_height
    assert packed.__self__ is not scene.support_height.__self__ and packed.__self__.normal.device.type == 'cpu'
    assert torch.equal(packed(scene.points[:100]), scene.support_height(scene.points[:100]))
    planner = BackgroundGraspPlanner()
    try:
        planned, error = _planned(planner, pipeline.config.grasps, result, scene)
        assert error is None
        assert [(g.object_id, g.width, g.score) for g in planned.grasps] == \
            [(g.object_id, g.width, g.score) for g in expected.grasps]
        assert planned.grasp_notes == expected.grasp_notes   # why some objects got none, from the child too
        assert planned.timings_ms['grasps'] > 0
        assert planned.timings_ms['total'] > result.timings_ms['total']
        # a frame the planner fails on is reported with its error, and the next frame is planned again
        broken = scene.__class__(scene.points[:, :, :2], scene.depth, scene.labels, scene.camera, scene.up,
                                 scene.support_height)
        failed, error = _planned(planner, pipeline.config.grasps, result, broken)
        assert failed.grasps == () and error and 'Error' in error
        again, error = _planned(planner, pipeline.config.grasps, result, scene)
        assert error is None and len(again.grasps) == len(expected.grasps)
        # Ctrl-C in a terminal reaches the child too: it leaves stopping to its parent (no traceback, no exit)
        os.kill(planner.pid, signal.SIGINT)
        after_interrupt, error = _planned(planner, pipeline.config.grasps, result, scene)
        assert error is None and len(after_interrupt.grasps) == len(expected.grasps)
    finally:
        planner.close()
    assert planner._process.poll() is not None     # the child is gone


def test_a_dead_child_is_reported_not_waited_for(perceived):
    pipeline, result, scene = perceived
    planner = BackgroundGraspPlanner()
    os.kill(planner.pid, signal.SIGKILL)
    planner._process.wait(10)
    for _ in range(100):                 # the result thread notices the closed socket
        if planner.failure is not None:
            break
        threading.Event().wait(0.1)
    with pytest.raises(RuntimeError, match='grasp planning process ended'):
        planner.submit(pipeline.config.grasps, result, scene, lambda r, e: None, timeout=10)
    planner.close()


def test_a_child_that_cannot_start_is_an_error(monkeypatch):
    import seg_perception.grasps.background as background
    monkeypatch.setattr(background.sys, 'executable', '/bin/false')   # exits at once, says nothing
    with pytest.raises(RuntimeError, match='did not start'):
        BackgroundGraspPlanner(start_timeout=10)

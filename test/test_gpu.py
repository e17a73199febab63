"""The CUDA path gives what the CPU path gives, learned backends run in fp16, and freeing the pipeline frees the
GPU memory. Skipped without CUDA (conftest); `make gpu-check` runs these on a GPU machine.

Frames are synthesized (open3d renders them); on a GPU machine without open3d, GPU_TEST_FRAMES names a folder of
the same frames written beforehand with `seg-perception synth --count 3 --seed 301 --width 320 --height 240`."""
import os
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from seg_perception.config import load_config
from seg_perception.evaluation import overlap_metrics
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import SceneConfig, frame_seed, synthesize

pytestmark = pytest.mark.gpu
SMALL = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)


@dataclass
class _Frame:
    rgbd: object        # RGBDFrame
    instances: np.ndarray


@pytest.fixture(scope='module')
def frames():
    folder = os.environ.get('GPU_TEST_FRAMES')
    if folder:
        from seg_perception.dataset import list_frames, read_frame, read_ground_truth
        return [_Frame(read_frame(f), read_ground_truth(f).instances) for f in list_frames(folder)]
    out = []
    for i in range(3):
        s = synthesize(frame_seed(301, i), SMALL)
        out.append(_Frame(s.rgbd(), s.rendered.instances))
    return out


def _run(device, frame, **overrides):
    return Pipeline(load_config(None, {'device': device, 'stride': 1, **overrides})).process(frame.rgbd)


def test_cuda_pipeline_agrees_with_cpu(frames):
    for frame in frames:
        cpu, gpu = _run('cpu', frame), _run('cuda', frame)
        assert gpu.surfaces.labels.shape == cpu.surfaces.labels.shape
        # the same surfaces on almost every pixel, the same objects (float sums differ in the last bits)
        assert (gpu.surfaces.labels == cpu.surfaces.labels).mean() > 0.98
        assert overlap_metrics(gpu.instances.labels, cpu.instances.labels)['f'] > 0.95
        truth = frame.instances
        assert abs(overlap_metrics(gpu.instances.labels, truth, 50)['f']
                   - overlap_metrics(cpu.instances.labels, truth, 50)['f']) < 0.05
        assert len(gpu.objects) == len(cpu.objects)
        for a, b in zip(sorted(gpu.objects, key=lambda o: tuple(o.centroid)),
                        sorted(cpu.objects, key=lambda o: tuple(o.centroid))):
            assert np.linalg.norm(a.centroid - b.centroid) < 0.005


def test_cuda_sharpens_depth_ramps_like_the_cpu(frames):
    """depth.sharpen_ramps on the GPU: the same pixels dropped and moved as on the CPU."""
    from scipy.ndimage import gaussian_filter
    from seg_perception.depth_edges import sharpen_depth_ramps
    rgbd = frames[0].rgbd
    valid = (rgbd.depth > 0).astype(np.float32)
    # smeared like a filtering stereo camera, over the measured pixels only
    smeared = gaussian_filter(rgbd.depth * valid, 1.5) / np.maximum(gaussian_filter(valid, 1.5), 1e-6) * valid
    depth, color = torch.from_numpy(smeared.astype(np.float32)), torch.from_numpy(rgbd.color)
    cpu = sharpen_depth_ramps(depth, color, 8, 0.012)
    gpu = sharpen_depth_ramps(depth.cuda(), color.cuda(), 8, 0.012).cpu()
    assert (cpu != depth).sum() > 100
    assert (torch.abs(gpu - cpu) > 1e-5).float().mean() < 1e-3


def test_cuda_grasps_are_planned_on_the_gpu(frames):
    result = _run('cuda', frames[0], **{'grasps.enabled': True})
    assert result.grasps and all(0.0 <= g.score <= 1.0 for g in result.grasps)
    assert 'grasps' in result.timings_ms


def test_a_gpu_segmented_frame_is_planned_by_the_cpu_child(frames):
    """perception_node plans grasps in a CPU child process beside the GPU's segmentation: a frame perceived on
    CUDA crosses over (its support surface included) and gets the grasps the GPU would plan."""
    import threading
    from seg_perception.grasps.background import BackgroundGraspPlanner
    pipeline = Pipeline(load_config(None, {'device': 'cuda', 'stride': 1, 'grasps.enabled': True}))
    result, scene = pipeline.perceive(frames[0].rgbd)
    on_gpu = pipeline.plan_grasps(result, scene)
    planner = BackgroundGraspPlanner()
    done, out = threading.Event(), {}
    try:
        planner.submit(pipeline.config.grasps, result, scene,
                       lambda r, error: (out.update(result=r, error=error), done.set()))
        assert done.wait(120), 'no result from the grasp process'
    finally:
        planner.close()
    assert out['error'] is None
    best = lambda grasps: {g.object_id: g.score for g in reversed(grasps)}   # noqa: E731  (best first)
    assert on_gpu.grasps and best(out['result'].grasps).keys() == best(on_gpu.grasps).keys()
    for object_id, score in best(on_gpu.grasps).items():
        assert abs(best(out['result'].grasps)[object_id] - score) < 0.05


def test_learned_backends_in_fp16_keep_the_contract(tmp_path, frames):
    from seg_perception.benchmark import random_weight_files
    models = random_weight_files(tmp_path)
    for fp16 in (False, True):
        result = _run('cuda', frames[0], fp16=fp16, **models)
        assert result.surfaces.labels.max() <= 5
        assert result.instances.labels.shape == (240, 320)
        assert len(result.instances.class_names) == len(result.instances.scores)


def test_dropping_the_pipeline_frees_gpu_memory(tmp_path, frames):
    from seg_perception.benchmark import random_weight_files
    models = random_weight_files(tmp_path)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    pipeline = Pipeline(load_config(None, {'device': 'cuda', **models}))
    pipeline.process(frames[0].rgbd)
    assert torch.cuda.memory_allocated() - before > 100 * 2 ** 20   # the two models' weights
    del pipeline
    import gc
    gc.collect()
    torch.cuda.empty_cache()
    assert torch.cuda.memory_allocated() - before < 8 * 2 ** 20

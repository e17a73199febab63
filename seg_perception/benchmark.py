"""`seg-perception bench`: per-stage latency of every available backend and device on the same synthetic frames,
the classic open3d peer on those frames too, and the Overlap F of each against the ground truth.

Learned backends are timed with randomly initialised weights (nothing can be downloaded; speed does not depend on
the weights, except that Mask R-CNN's mask head runs on as many detections as pass the score threshold: the bench
sets it to 0 so the head runs on its full detection budget, the slow case). Their Overlap F is not a quality
figure and is reported as such.
"""
from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .config import Config, load_config
from .evaluation import overlap_metrics
from .timing import summarize
from .types import RGBDFrame

log = logging.getLogger(__name__)
MIN_GT_PIXELS = 50
SEGMENTATION = 'segmentation'   # whole frame less grasp planning, per frame


@dataclass
class BenchRun:
    name: str              # e.g. 'geometric cuda fp32'
    size: str              # 'WxH'
    device: str
    precision: str
    random_weights: bool
    stages: Dict[str, Dict[str, float]]
    overlap_f: Optional[float]   # None: no frame had ground truth

    @property
    def total(self) -> Dict[str, float]:
        return self.stages['total']

    @property
    def segmentation_p50(self) -> float:
        return self.stages.get(SEGMENTATION, self.total)['p50_ms']


@dataclass
class BenchReport:
    runs: List[BenchRun] = field(default_factory=list)
    peer: Dict[str, Dict] = field(default_factory=dict)   # size -> {'stages': {...}, 'overlap_f': float or None}
    frames: int = 0
    torch_threads: int = 0
    failed: List[str] = field(default_factory=list)   # 'size name: error' of runs that raised
    default_device: str = 'cpu'                         # the device the configured pipeline would use

    def primary(self) -> BenchRun:
        """The default pipeline (geometric backends, the configured device) at the first size."""
        geometric = [r for r in self.runs if r.name.startswith('geometric')]
        preferred = [r for r in geometric if r.device == self.default_device]
        return (preferred or geometric or self.runs)[0]

    def speedup(self, run: BenchRun) -> Optional[float]:
        """How many times the peer's latency on the same frames the run's frame less grasp planning is."""
        peer = self.peer.get(run.size)
        return peer['stages']['total']['p50_ms'] / run.segmentation_p50 if peer else None

    def stage_names(self) -> List[str]:
        """Every run's stages in first-seen order, without the totals."""
        names: List[str] = []
        for r in self.runs:
            names += [s for s in r.stages if s not in names and s not in ('total', SEGMENTATION)]
        return names

    def to_json(self) -> dict:
        if not self.runs:
            return {'device': None, 'stages': {}, 'overlap_f': None, 'peer_overlap_f': None, 'speedup_vs_peer': None,
                    'failed': self.failed, 'runs': [], 'peer': {}}
        main = self.primary()
        peer = self.peer.get(main.size)
        return {'device': main.device, 'size': main.size, 'frames': self.frames, 'torch_threads': self.torch_threads,
                'stages': _stage_table(main.stages), 'overlap_f': main.overlap_f,
                'peer_overlap_f': peer['overlap_f'] if peer else None, 'speedup_vs_peer': self.speedup(main),
                'failed': self.failed,
                'runs': [dict(name=r.name, size=r.size, device=r.device, precision=r.precision,
                              random_weights=r.random_weights, stages=_stage_table(r.stages), overlap_f=r.overlap_f,
                              fps=r.total['fps'], speedup_vs_peer=self.speedup(r)) for r in self.runs],
                'peer': {size: dict(stages=_stage_table(p['stages']), overlap_f=p['overlap_f'],
                                    fps=p['stages']['total']['fps']) for size, p in self.peer.items()}}


def _stage_table(stages: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, float]]:
    return {name: {'p50_ms': s['p50_ms'], 'p95_ms': s['p95_ms'], 'fps': s['fps']} for name, s in stages.items()}


def synthetic_frames(count: int, width: int, height: int, seed: int) -> List[Tuple[RGBDFrame, np.ndarray]]:
    """``count`` cluttered frames with their ground-truth instance labels (the camera's focal length scales
    with the width so the field of view stays that of a 640x480 RealSense)."""
    from .synthetic import SceneConfig, frame_seed, synthesize
    cfg = SceneConfig(width=width, height=height, fx=615.0 * width / 640, fy=615.0 * width / 640)
    out = []
    for i in range(count):
        s = synthesize(frame_seed(seed, i), cfg)
        out.append((s.rgbd(), s.rendered.instances))
    return out


def recorded_frames(folder: Path, limit: int) -> Dict[str, List[Tuple[RGBDFrame, Optional[np.ndarray]]]]:
    """Frames of a folder-format dataset grouped by size ('WxH'), at most ``limit`` per size, each with its
    ground-truth instances, or None where it has no instances.png (timed, but not scored)."""
    from .dataset import list_frames, read_frame, read_ground_truth
    groups: Dict[str, List[Tuple[RGBDFrame, Optional[np.ndarray]]]] = {}
    for sub in list_frames(folder):
        frame = read_frame(sub)
        group = groups.setdefault(f'{frame.width}x{frame.height}', [])
        if len(group) < limit:
            group.append((frame, read_ground_truth(sub).instances))
    if not groups:
        raise FileNotFoundError(f'bench: no frame folders (camera.yaml, colour and depth images) under {folder}')
    return groups


def _mean_f(scores: List[float]) -> Optional[float]:
    """The mean Overlap F over the frames with ground truth, None when none had any."""
    return float(np.mean(scores)) if scores else None


def random_weight_files(folder: Path, surface_arch: str = 'deeplabv3_resnet50',
                        instance_arch: str = 'maskrcnn_resnet50_fpn_v2') -> Dict[str, str]:
    """State dicts of randomly initialised torchvision models (6 surface classes, 91 COCO labels), as a user's
    trained files would be, for timing the learned backends."""
    import torchvision
    torch.manual_seed(0)
    surfaces = folder / f'{surface_arch}_random.pth'
    instances = folder / f'{instance_arch}_random.pth'
    if not surfaces.exists():
        model = getattr(torchvision.models.segmentation, surface_arch)(weights=None, weights_backbone=None,
                                                                        num_classes=6, aux_loss=False)
        torch.save(model.state_dict(), surfaces)
    if not instances.exists():
        model = getattr(torchvision.models.detection, instance_arch)(weights=None, weights_backbone=None,
                                                                      num_classes=91)
        torch.save(model.state_dict(), instances)
    return {'surfaces.backend': 'torchvision', 'surfaces.model_arch': surface_arch,
            'surfaces.model_path': str(surfaces), 'surfaces.class_map': [0, 1, 2, 3, 4, 5],
            'instances.backend': 'torchvision', 'instances.model_arch': instance_arch,
            'instances.model_path': str(instances), 'instances.score_threshold': 0.0}


def variants(base: Config, devices: Sequence[str], learned_devices: Sequence[str], weights_dir: Optional[Path]
             ) -> List[Tuple[str, Config, bool]]:
    """(name, config, random_weights) for each backend x device x precision to time: the geometric backends,
    the learned ones with random weights where asked for, and a configuration's own learned backends (a user's
    trained models, ``configured``)."""
    from .config import flatten
    flat = flatten(base)
    own_models = base.surfaces.backend != 'planes' or base.instances.backend != 'clusters'
    out = []
    for device in devices:
        precisions = ('fp32', 'fp16') if device == 'cuda' else ('fp32',)
        out.append((f'geometric {device} fp32', load_config(None, {**flat, 'device': device, 'fp16': False,
                                                                   'surfaces.backend': 'planes',
                                                                   'instances.backend': 'clusters'}), False))
        # (label, model settings, random weights): the configuration's own models as they are, random ones
        learned = ([('configured', {}, False)] if own_models else []) + \
            ([('learned', random_weight_files(weights_dir), True)] if device in learned_devices else [])
        for label, models, random_weights in learned:
            for precision in precisions:
                out.append((f'{label} {device} {precision}',
                            load_config(None, {**flat, **models, 'device': device, 'fp16': precision == 'fp16'}),
                            random_weights))
    return out


def time_pipeline(config: Config, frames) -> Tuple[Dict[str, Dict[str, float]], Optional[float]]:
    """Per-stage latency summaries over ``frames`` (after one warm-up frame) and the mean Overlap F over those
    with ground truth (None: none had any)."""
    from .pipeline import Pipeline
    pipeline = Pipeline(config)
    pipeline.process(frames[0][0])
    stages: Dict[str, List[float]] = {}
    scores = []
    for frame, gt in frames:
        result = pipeline.process(frame)
        for name, ms in result.timings_ms.items():
            stages.setdefault(name, []).append(ms)
        # what the peer does too (it plans no grasps): the speed ratio compares this
        stages.setdefault(SEGMENTATION, []).append(result.timings_ms['total'] - result.timings_ms.get('grasps', 0.0))
        if gt is not None:
            scores.append(overlap_metrics(result.instances.labels, gt, MIN_GT_PIXELS)['f'])
    del pipeline
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {name: summarize(v) for name, v in stages.items()}, _mean_f(scores)


def time_peer(frames) -> Tuple[Dict[str, Dict[str, float]], Optional[float]]:
    from .peer import ClassicTabletopPeer
    peer = ClassicTabletopPeer()
    peer.segment(frames[0][0])
    times, scores = [], []
    for frame, gt in frames:
        start = time.perf_counter()
        labels = peer.segment(frame)
        times.append((time.perf_counter() - start) * 1000.0)
        if gt is not None:
            scores.append(overlap_metrics(labels, gt, MIN_GT_PIXELS)['f'])
    return {'total': summarize(times)}, _mean_f(scores)


def available_devices() -> List[str]:
    return ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


def peer_available() -> bool:
    import importlib.util
    return importlib.util.find_spec('open3d') is not None


def run_benchmark(base: Config, frame_sets: Dict[str, List[Tuple[RGBDFrame, Optional[np.ndarray]]]],
                  devices: Sequence[str], learned_devices: Sequence[str], peer: bool = True,
                  progress=print) -> BenchReport:
    """``frame_sets``: size ('WxH') -> frames with their ground-truth instances (None: timed only); learned
    backends are timed on ``learned_devices`` (random weights)."""
    from .prepare import resolve_device
    report = BenchReport(frames=max(len(f) for f in frame_sets.values()), torch_threads=torch.get_num_threads())
    configured = resolve_device(base.device).type if base.device != 'cuda' or torch.cuda.is_available() else 'cpu'
    report.default_device = configured if configured in devices else devices[0]
    with tempfile.TemporaryDirectory(prefix='seg_perception_bench_') as tmp:
        configs = variants(base, devices, learned_devices, Path(tmp))
        for size, frames in frame_sets.items():
            for name, config, random_weights in configs:
                progress(f'  {size} {name} ...')
                try:
                    stages, f = time_pipeline(config, frames)
                except Exception as exc:   # one broken backend must not hide the others' figures
                    report.failed.append(f'{size} {name}: {type(exc).__name__}: {exc}')
                    progress(f'  {size} {name} FAILED: {type(exc).__name__}: {exc}')
                    continue
                report.runs.append(BenchRun(name, size, name.split()[1], name.split()[2], random_weights, stages, f))
            if peer:
                progress(f'  {size} classic peer (open3d RANSAC + DBSCAN, cpu) ...')
                stages, f = time_peer(frames)
                report.peer[size] = {'stages': stages, 'overlap_f': f}
    return report


def format_report(report: BenchReport) -> str:
    stage_names = report.stage_names()
    head = f"{'size':<9} {'run':<22} " + ' '.join(f'{s:>12}' for s in stage_names) + \
        f" {'total p50/p95':>15} {'frames/s':>8} {'no grasps':>9} {'Overlap F':>9} {'x peer':>7}"
    lines = [f'{report.frames} frames per size, torch threads {report.torch_threads}; stage cells: p50/p95 ms; '
             '"no grasps": p50 of the frame less grasp planning, which the peer does not do (x peer compares it)',
             head]
    for r in report.runs:
        cells = ' '.join(f"{r.stages[s]['p50_ms']:5.1f}/{r.stages[s]['p95_ms']:<6.1f}" if s in r.stages
                         else f"{'-':>12}" for s in stage_names)
        speedup = report.speedup(r)
        ratio = f'{speedup:7.1f}' if speedup is not None else f"{'-':>7}"
        quality = _f_cell(r.overlap_f) + ('*' if r.random_weights else ' ')
        lines.append(f"{r.size:<9} {r.name:<22} {cells} {r.total['p50_ms']:7.1f}/{r.total['p95_ms']:<7.1f} "
                     f"{r.total['fps']:8.1f} {r.segmentation_p50:9.1f} {quality}{ratio}")
    for size, p in report.peer.items():
        t = p['stages']['total']
        lines.append(f"{size:<9} {'classic peer cpu':<22} " + ' '.join(f"{'-':>12}" for _ in stage_names) +
                     f" {t['p50_ms']:7.1f}/{t['p95_ms']:<7.1f} {t['fps']:8.1f} {t['p50_ms']:9.1f} "
                     f"{_f_cell(p['overlap_f'])}  {'1.0':>6}")
    for failure in report.failed:
        lines.append(f'FAILED {failure}')
    if any(r.random_weights for r in report.runs):
        lines.append('* random weights: timing only, the Overlap F says nothing about a trained model')
    if any(r.overlap_f is None for r in report.runs):
        lines.append('Overlap F -: no frame had ground truth (instances.png), timing only')
    return '\n'.join(lines)


def _f_cell(f: Optional[float]) -> str:
    return f'{f:9.3f}' if f is not None else f"{'-':>9}"


def plot_report(report: BenchReport, path: Path) -> None:
    """Horizontal stacked bars: per-stage p50 latency of every run and the peer's total, one panel per size."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    sizes = list(dict.fromkeys([r.size for r in report.runs] + list(report.peer)))
    stage_names = report.stage_names()
    colours = plt.get_cmap('tab10')
    fig, axes = plt.subplots(len(sizes), 1, figsize=(10.5, 1.2 + 0.55 * (len(report.runs) + len(sizes)) + 0.6),
                             squeeze=False)
    for ax, size in zip(axes[:, 0], sizes):
        rows = [r for r in report.runs if r.size == size]
        labels = [r.name for r in rows]
        for i, r in enumerate(rows):
            left = 0.0
            for k, s in enumerate(stage_names):
                value = r.stages.get(s, {}).get('p50_ms', 0.0)
                ax.barh(i, value, left=left, color=colours(k), label=s if i == 0 else None)
                left += value
            ax.text(left, i, f" {r.total['p50_ms']:.1f} ms", va='center', fontsize=8)
        if size in report.peer:
            t = report.peer[size]['stages']['total']['p50_ms']
            ax.barh(len(rows), t, color='0.6', label='classic peer (total)')
            ax.text(t, len(rows), f' {t:.1f} ms', va='center', fontsize=8)
            labels.append('classic peer cpu')
        longest = max([r.total['p50_ms'] for r in rows] + [report.peer.get(size, {}).get('stages', {}).get(
            'total', {}).get('p50_ms', 0.0)])
        ax.set_xlim(0, longest * 1.15)
        ax.set_yticks(range(len(labels)), labels)
        ax.invert_yaxis()
        ax.set_title(f'{size}: p50 latency per stage', fontsize=10)
        ax.set_xlabel('ms')
        ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

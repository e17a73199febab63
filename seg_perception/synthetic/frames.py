"""Synthetic frames and datasets: scene + rendering + ground truth, written in the folder format."""
from __future__ import annotations

import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..dataset import write_frame
from ..types import RGBDFrame
from .render import NoiseConfig, Rendered, Renderer
from .scene import Scene, SceneConfig, generate_scene


def frame_seed(seed: int, index: int) -> int:
    """Independent, reproducible seed of frame ``index`` in a dataset made with ``seed``."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@dataclass(frozen=True, eq=False)
class SyntheticFrame:
    scene: Scene
    rendered: Rendered

    @property
    def scene_json(self) -> dict:
        return self.scene.to_json(self.rendered.visible_pixels)

    def rgbd(self, with_extrinsics: bool = False) -> RGBDFrame:
        r = self.rendered
        return RGBDFrame(r.color, r.depth, Renderer.camera_of(self.scene),
                         camera_to_base=self.scene.camera_to_world if with_extrinsics else None)


def synthesize(seed: int, scene_cfg: Optional[SceneConfig] = None,
               noise: NoiseConfig = NoiseConfig()) -> SyntheticFrame:
    scene = generate_scene(seed, scene_cfg)
    rendered = Renderer(scene).render(np.random.default_rng([seed, 1]), noise)
    return SyntheticFrame(scene, rendered)


def write_synthetic_frame(folder: Path, seed: int, scene_cfg: Optional[SceneConfig] = None,
                          noise: NoiseConfig = NoiseConfig()) -> float:
    """Render and write one frame; returns the milliseconds spent making it (scene + render, not writing)."""
    start = time.perf_counter()
    frame = synthesize(seed, scene_cfg, noise)
    elapsed = (time.perf_counter() - start) * 1000.0
    r = frame.rendered
    write_frame(folder, r.color, r.depth, Renderer.camera_of(frame.scene), r.surfaces, r.instances,
                frame.scene_json)
    return elapsed


def _write_one(args) -> float:
    return write_synthetic_frame(*args)


def write_dataset(out: Path, count: int, seed: int, scene_cfg: Optional[SceneConfig] = None,
                  noise: NoiseConfig = NoiseConfig(), workers: int = 1) -> List[float]:
    """Frames out/000000 ... out/<count-1>; returns per-frame milliseconds (scene + render)."""
    out = Path(out)
    jobs = [(out / f'{i:06d}', frame_seed(seed, i), scene_cfg, noise) for i in range(count)]
    if workers <= 1:
        return [_write_one(job) for job in jobs]
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_write_one, jobs, chunksize=max(1, count // (4 * workers))))

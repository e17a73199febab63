"""The offline command line: ``seg-perception <command> ...``."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import List, Optional

import numpy as np

from .timing import format_header, format_row, summarize

log = logging.getLogger('seg_perception')


# ---------------------------------------------------------------------------------------------- synth

def _add_synth(sub) -> None:
    p = sub.add_parser('synth', help='write a synthetic RGB-D dataset in the folder format (or benchmark it)')
    p.add_argument('--count', type=int, default=10, help='number of frames (default 10)')
    p.add_argument('--seed', type=int, default=0, help='dataset seed; frame i uses a seed derived from it')
    p.add_argument('--out', type=Path, help='output folder (one sub-folder per frame)')
    p.add_argument('--width', type=int, default=640)
    p.add_argument('--height', type=int, default=480)
    p.add_argument('--fx', type=float, default=None, help='focal length in pixels (default 615 at 640 wide, scaled)')
    p.add_argument('--fy', type=float, default=None)
    p.add_argument('--min-objects', type=int, default=1)
    p.add_argument('--max-objects', type=int, default=15)
    p.add_argument('--no-noise', action='store_true', help='exact depth and colour: no sensor effects')
    p.add_argument('--workers', type=int, default=1,
                   help='processes writing frames (rendering already uses every core; default 1)')
    p.add_argument('--benchmark', action='store_true',
                   help='time scene generation and rendering without writing files; prints p50/p95 and frames/s')
    p.set_defaults(func=cmd_synth)


def _scene_config(args):
    from .synthetic import SceneConfig
    scale = args.width / 640.0
    return SceneConfig(width=args.width, height=args.height, fx=args.fx or 615.0 * scale,
                       fy=args.fy or args.fx or 615.0 * scale, min_objects=args.min_objects,
                       max_objects=args.max_objects)


def cmd_synth(args) -> int:
    from .synthetic import NoiseConfig, Renderer, frame_seed, generate_scene, write_dataset
    cfg = _scene_config(args)
    noise = NoiseConfig.off() if args.no_noise else NoiseConfig()
    if args.benchmark:
        return _synth_benchmark(args, cfg, noise)
    if args.out is None:
        raise SystemExit('synth: --out DIR is required (or use --benchmark)')
    start = time.perf_counter()
    per_frame = write_dataset(args.out, args.count, args.seed, cfg, noise, workers=args.workers)
    wall = time.perf_counter() - start
    stats = summarize(per_frame)
    print(f'wrote {args.count} frames to {args.out} in {wall:.1f} s '
          f'({args.count / wall:.1f} frames/s with {args.workers} worker(s), writing included)')
    print(f"scene + render per frame: p50 {stats['p50_ms']:.1f} ms, p95 {stats['p95_ms']:.1f} ms")
    return 0


def _synth_benchmark(args, cfg, noise) -> int:
    from .synthetic import Renderer, frame_seed, generate_scene
    gen, build, render, rerender = [], [], [], []
    Renderer(generate_scene(frame_seed(args.seed, 2**31), cfg)).render(np.random.default_rng(0), noise)  # warm-up
    for i in range(args.count):
        t0 = time.perf_counter()
        scene = generate_scene(frame_seed(args.seed, i), cfg)
        t1 = time.perf_counter()
        renderer = Renderer(scene)
        t2 = time.perf_counter()
        renderer.render(np.random.default_rng(i), noise)
        t3 = time.perf_counter()
        renderer.render(np.random.default_rng(i + 1), noise)  # same scene, fresh noise (the camera node)
        t4 = time.perf_counter()
        gen.append((t1 - t0) * 1e3), build.append((t2 - t1) * 1e3)
        render.append((t3 - t2) * 1e3), rerender.append((t4 - t3) * 1e3)
    print(f'synthetic rendering, {cfg.width}x{cfg.height}, {args.count} scenes, noise '
          f"{'off' if args.no_noise else 'on'}, 1 process")
    print(format_header())
    print(format_row('scene generation', summarize(gen)))
    print(format_row('ray-casting scene build', summarize(build)))
    print(format_row('render (colour+depth+GT)', summarize(render)))
    print(format_row('re-render, fresh noise', summarize(rerender)))
    print(format_row('new scene per frame', summarize(np.add(np.add(gen, build), render))))
    return 0


# ---------------------------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='seg-perception', description=__doc__)
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', required=True)
    _add_synth(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    return int(args.func(args) or 0)


if __name__ == '__main__':
    sys.exit(main())

"""The offline command line: ``seg-perception <command> ...``."""
from __future__ import annotations

import argparse
import logging
import math
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
    p.add_argument('--elevation', type=float, nargs=2, default=(25.0, 80.0), metavar=('MIN', 'MAX'),
                   help='camera angle below the horizon in degrees, drawn per frame between MIN and MAX (default '
                        '25 80; 90 = straight down, as a camera on the wrist above the table)')
    p.add_argument('--distance', type=float, nargs=2, default=(0.4, 1.5), metavar=('MIN', 'MAX'),
                   help='camera to the middle of the table in metres, drawn per frame (default 0.4 1.5)')
    p.add_argument('--tote', choices=('upright', 'moulded'), default='',
                   help="stand a tote's four walls (6-25 cm high) on the table around its objects: 'upright', or "
                        "'moulded' (leaning out 3-8 degrees, with a 1-2.5 cm lip), as bin picking sees them")
    p.add_argument('--depth-noise', type=float, default=None, metavar='METRES',
                   help='depth noise (sigma) at 1 m, growing with distance squared (default 0.002)')
    p.add_argument('--no-noise', action='store_true', help='exact depth and colour: no sensor effects')
    p.add_argument('--edge-smear', type=float, default=0.0, metavar='PIXELS',
                   help='smooth the depth across edges with a Gaussian of this many pixels, as filtered stereo '
                        'depth (RealSense) shows: ramps instead of steps at silhouettes (default 0 = sharp)')
    p.add_argument('--workers', type=int, default=1,
                   help='processes writing frames (rendering already uses every core; default 1)')
    p.add_argument('--benchmark', action='store_true',
                   help='time scene generation and rendering without writing files; prints p50/p95 and frames/s')
    p.set_defaults(func=cmd_synth)


def _scene_config(args):
    from .synthetic import SceneConfig
    scale = args.width / 640.0
    try:
        return SceneConfig(width=args.width, height=args.height, fx=args.fx or 615.0 * scale,
                           fy=args.fy or args.fx or 615.0 * scale, min_objects=args.min_objects,
                           max_objects=args.max_objects, min_elevation_deg=args.elevation[0],
                           max_elevation_deg=args.elevation[1], min_distance=args.distance[0],
                           max_distance=args.distance[1], tote=args.tote)
    except ValueError as error:
        raise SystemExit(f'synth: {error}')


def cmd_synth(args) -> int:
    from .synthetic import NoiseConfig, write_dataset
    cfg = _scene_config(args)
    noise = NoiseConfig.off() if args.no_noise else NoiseConfig()
    from dataclasses import replace
    if args.edge_smear > 0:
        noise = replace(noise, edge_smear_px=args.edge_smear)
    if args.depth_noise is not None:
        noise = replace(noise, depth_sigma_1m=args.depth_noise)
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


# ------------------------------------------------------------------------------------- shared options

def _add_config_options(p) -> None:
    p.add_argument('--config', type=Path, action='append',
                   help='YAML configuration (the node\'s params file or a plain tree); repeatable, later files win '
                        '(e.g. config/seg_perception.yaml then one of your own)')
    p.add_argument('--gripper', metavar='NAME|FILE',
                   help='gripper preset applied after the --config files: franka_hand (the defaults) or '
                        'robotiq_2f85, or a parameters file with grasps.*')
    p.add_argument('--set', dest='overrides', action='append', default=[], metavar='KEY=VALUE',
                   help='override one parameter, e.g. --set instances.min_height=0.01 (repeatable)')


def _load_config(args):
    import yaml
    from .config import ConfigError, gripper_file, load_config
    overrides = {}
    for item in args.overrides:
        if '=' not in item:
            raise ConfigError(f'--set expects KEY=VALUE, got {item!r}')
        key, value = item.split('=', 1)
        overrides[key.strip()] = yaml.safe_load(value)
    files = list(args.config or [])
    if args.gripper:
        files.append(gripper_file(args.gripper))
    return load_config(files, overrides)


# ------------------------------------------------------------------------------------------- segment

def _add_segment(sub) -> None:
    p = sub.add_parser('segment', help='segment one saved RGB-D frame into label PNGs, overlay and result.json')
    p.add_argument('--color', type=Path, required=True, help='colour image (PNG or JPEG)')
    p.add_argument('--depth', type=Path, required=True,
                   help='aligned depth: uint16 PNG (value x --depth-scale = metres) or float32 .npy in metres')
    cam = p.add_mutually_exclusive_group(required=True)
    cam.add_argument('--camera-info', type=Path, help='ROS camera_info YAML of the colour camera')
    cam.add_argument('--intrinsics', help='fx,fy,cx,cy in pixels')
    p.add_argument('--depth-scale', type=float, default=0.001, help='metres per depth PNG unit (default 0.001)')
    p.add_argument('--out', type=Path, required=True, help='output folder')
    _add_config_options(p)
    p.set_defaults(func=cmd_segment)


def _read_input_frame(args):
    from .dataset import load_color, load_depth
    from .geometry import camera_from_intrinsics, load_camera_info_yaml
    from .types import RGBDFrame
    color = load_color(args.color)
    depth = load_depth(args.depth, args.depth_scale)
    if color.shape[:2] != depth.shape:
        raise ValueError(f'colour {args.color} is {color.shape[1]}x{color.shape[0]} but depth {args.depth} is '
                         f'{depth.shape[1]}x{depth.shape[0]}: depth must be aligned to colour at the same size')
    if args.camera_info is not None:
        camera = load_camera_info_yaml(args.camera_info)   # warns about a lens model the pipeline cannot correct
    else:
        try:
            fx, fy, cx, cy = (float(v) for v in args.intrinsics.split(','))
        except ValueError:
            raise ValueError(f'--intrinsics expects fx,fy,cx,cy, got {args.intrinsics!r}') from None
        camera = camera_from_intrinsics(fx, fy, cx, cy, depth.shape[1], depth.shape[0])
    return RGBDFrame(color, depth, camera)


def write_result(out: Path, result) -> dict:
    """The segment outputs: instances.png, surfaces.png, overlay.png, result.json, object_NNN.ply."""
    import json

    import cv2

    from .report import result_to_json
    from .visualize import result_overlay
    out.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out / 'instances.png'), result.instances.labels.astype(np.uint16))
    cv2.imwrite(str(out / 'surfaces.png'), result.surfaces.labels.astype(np.uint8))
    cv2.imwrite(str(out / 'overlay.png'), result_overlay(result)[:, :, ::-1])
    summary = result_to_json(result)
    (out / 'result.json').write_text(json.dumps(summary, indent=1))
    from .projection import write_ply
    for obj in result.objects:
        write_ply(out / f'object_{obj.instance_id:03d}.ply', obj)
    return summary


def cmd_segment(args) -> int:
    from .depth_edges import smoothed_depth_advice
    from .registration import misregistered_advice
    from .pipeline import Pipeline
    from .prepare import depth_out_of_range
    from .surfaces.outline import outline_area
    config = _load_config(args)
    frame = _read_input_frame(args)
    problem = depth_out_of_range(frame.depth, config.depth.min, config.depth.max)
    if problem:
        print(f'warning: {problem}', file=sys.stderr)
    pipeline = Pipeline(config)
    for advice in (smoothed_depth_advice(pipeline.depth_edge_spread(frame), config.depth.sharpen_ramps),
                   misregistered_advice(pipeline.depth_colour_alignment(frame))):
        if advice:
            print(f'warning: {advice}', file=sys.stderr)
    result = pipeline.process(frame)
    summary = write_result(args.out, result)
    support = 'NOT found'
    if summary['support_plane']:
        support = f"found ({outline_area(result.surfaces.support_outline):.2f} m² in view)"
    print(f"{len(summary['objects'])} objects, {len(result.grasps)} grasps, support surface {support}; "
          f"{result.timings_ms['total']:.0f} ms on {pipeline.device}; wrote {args.out}")
    for entry in summary['objects']:
        if 'no_grasp' in entry:
            print(f"  object {entry['id']}: no grasp: {entry['no_grasp']}")
    return 0


# ---------------------------------------------------------------------------------------------- eval

def _add_eval(sub) -> None:
    p = sub.add_parser('eval', help='instance Overlap P/R/F, %%>=75 and surface IoU over a folder of frames')
    p.add_argument('--data', type=Path, required=True, help='a frame folder or a folder of frame folders')
    p.add_argument('--json', type=Path, help='also write per-frame and mean metrics here')
    p.add_argument('--limit', type=int, default=0, help='evaluate only the first N frames')
    p.add_argument('--min-gt-pixels', type=int, default=50,
                   help='ground-truth objects with fewer visible pixels are "don\'t care" (default 50)')
    p.add_argument('--use-extrinsics', action='store_true',
                   help='give the pipeline the true camera pose from scene.json (up vector known)')
    p.add_argument('--grasp-upper-bound', action='store_true',
                   help='also search the true geometry of every fitting object for any grasp that holds (an upper '
                        'bound for any planner; about a second per object that has none)')
    _add_config_options(p)
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    import json
    import re
    from collections import Counter
    from .dataset import list_frames, read_frame, read_ground_truth
    from .depth_edges import smoothed_depth_advice
    from .registration import misregistered_advice
    from .evaluation import overlap_metrics, surface_iou
    from .pipeline import Pipeline
    pipeline = Pipeline(_load_config(args))
    folders = list_frames(args.data)
    if args.limit:
        folders = folders[:args.limit]
    if not folders:
        raise SystemExit(f'eval: no frame folders under {args.data}')
    rows, times = [], []
    segmented, no_grasp = 0, Counter()
    for folder in folders:
        frame = read_frame(folder, with_extrinsics=args.use_extrinsics)
        gt = read_ground_truth(folder)
        result = pipeline.process(frame)
        times.append(result.timings_ms['total'])
        segmented += len(result.objects)
        # why objects got no grasp, tallied with the numbers in the texts (sizes) left out
        no_grasp.update(re.sub(r'\d+(?:\.\d+)?', 'N', text) for text in result.grasp_notes.values())
        # None (JSON null): too few edges to tell
        spread, alignment = pipeline.depth_edge_spread(frame), pipeline.depth_colour_alignment(frame)
        row = {'frame': folder.name, 'depth_edge_spread_px': None if math.isnan(spread) else spread,
               'depth_colour_alignment': None if math.isnan(alignment) else alignment}
        if gt.instances is not None:
            row.update(overlap_metrics(result.instances.labels, gt.instances, args.min_gt_pixels))
        if gt.surfaces is not None:
            row['surface_iou'] = surface_iou(result.surfaces.labels, gt.surfaces, frame.depth > 0)
        if pipeline.config.grasps.enabled and gt.scene is not None and gt.instances is not None:
            from .grasps.evaluate import grasp_metrics
            row['grasps'] = grasp_metrics(result, gt.instances, gt.scene, pipeline.config.grasps,
                                          args.min_gt_pixels, upper_bound=args.grasp_upper_bound)
        rows.append(row)
    summary = _eval_summary(rows)
    if pipeline.config.grasps.enabled:
        summary['objects'] = segmented
        summary['no_grasp_reasons'] = dict(no_grasp.most_common())
    summary['frames'] = len(rows)
    summary['latency_ms'] = summarize(times)
    spreads = [r['depth_edge_spread_px'] for r in rows if r['depth_edge_spread_px'] is not None]
    summary['depth_edge_spread_px'] = float(np.median(spreads)) if spreads else None
    alignments = [r['depth_colour_alignment'] for r in rows if r['depth_colour_alignment'] is not None]
    summary['depth_colour_alignment'] = float(np.median(alignments)) if alignments else None
    print(f"{len(rows)} frames from {args.data}, device {pipeline.device}")
    print(f"{'instances':<22} {'precision':>9} {'recall':>9} {'F':>9} {'%>=75':>9}")
    if 'f' in summary:
        print(f"{'overlap':<22} {summary['precision']:9.3f} {summary['recall']:9.3f} {summary['f']:9.3f} "
              f"{summary['pct75']:9.3f}")
        print(f"objects found where no object is (under 30 % of their pixels on one): {summary['phantoms']} of "
              f"{summary['predicted']}")
    if 'surface_iou' in summary:
        print('surface IoU (pixels with depth): ' +
              ', '.join(f'{k} {v:.3f}' for k, v in summary['surface_iou'].items() if v == v))
    if 'grasps' in summary:
        g = summary['grasps']
        fmt = lambda v: 'n/a' if v is None else f'{v:.3f}'  # noqa: E731
        print(f"grasps (true geometry): objects that fit {g['fit']}: with a grasp {fmt(g['coverage'])}, "
              f"top-1 valid {fmt(g['top1_valid'])} (of grasped {fmt(g['top1_valid_of_grasped'])}), "
              f"one of its grasps valid {fmt(g['any_valid'])}; "
              f"objects that cannot fit {g['unfit']}, with a grasp {g['unfit_with_grasp']} "
              f"(top grasp valid anyway {g['unfit_top1_valid']})")
        if g['by_shape']:
            print('objects that fit, by shape: top grasp valid / top grasp fails / no grasp / not segmented')
            for shape, n in g['by_shape'].items():
                print(f"  {shape:14s} {n['valid']:5d} {n['fails']:5d} {n['no_grasp']:5d} {n['not_segmented']:5d}")
        if 'fit_graspable' in g:
            print(f"grasp upper bound (search on the true geometry): {g['fit_graspable']} of the {g['fit']} objects "
                  f"that fit can be held at all ({fmt(g['graspable_share'])}); top-1 valid for "
                  f"{fmt(g['top1_valid_of_graspable'])} of those")
    if no_grasp:
        print(f"segmented objects without a grasp: {sum(no_grasp.values())} of {segmented}; most often:")
        for text, count in no_grasp.most_common(4):
            print(f"  {count:5d}  {text}")
    lat = summary['latency_ms']
    print(f"latency per frame: p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms")
    if spreads:
        print(f"depth edges spread over {summary['depth_edge_spread_px']:.1f} px (median over {len(spreads)} frames; "
              "sharp depth: 1-2.5)")
        advice = smoothed_depth_advice(summary['depth_edge_spread_px'], pipeline.config.depth.sharpen_ramps,
                                       len(spreads))
        if advice:
            print(f'warning: {advice}', file=sys.stderr)
    if alignments:
        print(f"depth steps on colour edges: {summary['depth_colour_alignment']:.1f} times as often as shifted ones "
              f"(median over {len(alignments)} frames; registered: 2.2 or more)")
        advice = misregistered_advice(summary['depth_colour_alignment'], len(alignments))
        if advice:
            print(f'warning: {advice}', file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({'summary': summary, 'per_frame': rows}, indent=1))
    return 0


def _eval_summary(rows) -> dict:
    summary = {}
    for key in ('precision', 'recall', 'f', 'pct75'):
        values = [r[key] for r in rows if key in r]
        if values:
            summary[key] = float(np.mean(values))
    for key, total in (('phantoms', 'phantoms'), ('n_pred', 'predicted')):
        if any(key in r for r in rows):
            summary[total] = int(sum(r.get(key, 0) for r in rows))
    grasp_rows = [r['grasps'] for r in rows if 'grasps' in r]
    if grasp_rows:
        from .grasps.evaluate import summarize_grasps
        summary['grasps'] = summarize_grasps(grasp_rows)
    ious = [r['surface_iou'] for r in rows if 'surface_iou' in r]
    if ious:
        summary['surface_iou'] = {k: float(np.nanmean([i[k] for i in ious])) if any(i[k] == i[k] for i in ious)
                                  else float('nan') for k in ious[0]}
    return summary


# --------------------------------------------------------------------------------------------- bench

def _add_bench(sub) -> None:
    p = sub.add_parser('bench', help='per-stage latency p50/p95, frames/s and Overlap F of every available backend '
                       'and device, and of the classic open3d peer, on the same synthetic frames')
    p.add_argument('--frames', type=int, default=30, help='timed frames per size (default 30, plus a warm-up)')
    p.add_argument('--sizes', default='640x480,1280x720', help='comma-separated WxH (default 640x480,1280x720)')
    p.add_argument('--devices', default='available',
                   help="comma-separated devices, or 'available' (cpu, and cuda when present; default)")
    p.add_argument('--learned', nargs='?', const='all', default='', metavar='DEVICES',
                   help="also time the learned backends (DeepLabV3 + Mask R-CNN v2, random weights; fp32 and fp16 on "
                        "cuda) on every device, or on the comma-separated DEVICES only (e.g. --learned cuda)")
    p.add_argument('--data', type=Path, help='time recorded frames in the folder format instead of synthetic ones '
                   '(scored where they hold instances.png, timed only where not); --frames limits each size')
    p.add_argument('--no-peer', action='store_true', help='skip the classic open3d peer')
    p.add_argument('--seed', type=int, default=4242, help='seed of the synthetic frames')
    p.add_argument('--json', type=Path, help='write the figures here (keys speedup_vs_peer, overlap_f, '
                   'peer_overlap_f, stages, device, runs, peer)')
    p.add_argument('--plot', type=Path, help='PNG of the per-stage latency (default: next to --json)')
    _add_config_options(p)
    p.set_defaults(func=cmd_bench)


def _parse_sizes(text: str):
    sizes = []
    for item in text.split(','):
        try:
            w, h = (int(v) for v in item.lower().split('x'))
        except ValueError:
            raise ValueError(f'--sizes: expected WxH, got {item!r}') from None
        if w < 64 or h < 48:
            raise ValueError(f'--sizes: {item} is too small (at least 64x48)')
        sizes.append((w, h))
    return sizes


def cmd_bench(args) -> int:
    import json
    from .benchmark import (available_devices, format_report, peer_available, plot_report, recorded_frames,
                            run_benchmark, synthetic_frames)
    config = _load_config(args)
    have = available_devices()
    devices = have if args.devices == 'available' else [d.strip() for d in args.devices.split(',')]
    for d in devices:
        if d not in ('cpu', 'cuda'):
            raise ValueError(f"--devices: unknown device {d!r} (cpu, cuda)")
    if 'cuda' in devices and 'cuda' not in have:
        print('bench: CUDA is not available here: the cuda runs are skipped')
        devices = [d for d in devices if d != 'cuda']
    if not devices:
        raise ValueError('bench: no device left to run on')
    if args.frames < 1:
        raise ValueError('--frames must be at least 1')
    learned = devices if args.learned == 'all' else [d.strip() for d in args.learned.split(',') if d.strip()]
    for d in learned:
        if d not in devices:
            print(f'bench: learned backends on {d} skipped ({d} is not among the devices timed here)')
    peer = not args.no_peer
    if peer and not peer_available():
        print('bench: open3d is not installed here: the classic peer is skipped')
        peer = False
    if args.data:
        frame_sets = recorded_frames(args.data, args.frames)
    else:
        frame_sets = {f'{w}x{h}': synthetic_frames(args.frames, w, h, args.seed) for w, h in _parse_sizes(args.sizes)}
    report = run_benchmark(config, frame_sets, devices, learned, peer=peer)
    print(format_report(report))
    data = report.to_json()
    if data.get('speedup_vs_peer') is not None:
        quality = (f", Overlap F {data['overlap_f']:.3f} vs peer {data['peer_overlap_f']:.3f}"
                   if data['overlap_f'] is not None and data['peer_overlap_f'] is not None else '')
        print(f"default pipeline ({data['device']}, {data['size']}): {data['speedup_vs_peer']:.1f}x the peer's speed"
              + quality)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    plot = args.plot or (args.json.with_suffix('.png') if args.json else None)
    if plot:
        plot_report(report, plot)
        print(f'latency plot: {plot}')
    return 1 if report.failed else 0


# -------------------------------------------------------------------------------------------- config

def _add_config(sub) -> None:
    p = sub.add_parser('config', help='print the default configuration as a ROS params file')
    p.set_defaults(func=cmd_config)


def cmd_config(args) -> int:
    from .config import defaults_yaml
    print(defaults_yaml(), end='')
    return 0


# ---------------------------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='seg-perception', description=__doc__)
    parser.add_argument('-v', '--verbose', action='store_true', help='debug logging')
    sub = parser.add_subparsers(dest='command', required=True)
    _add_synth(sub)
    _add_segment(sub)
    _add_eval(sub)
    _add_bench(sub)
    _add_config(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    from .config import ConfigError
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format='%(levelname)s %(name)s: %(message)s')
    try:
        return int(args.func(args) or 0)
    except (ConfigError, ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f'seg-perception {args.command}: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())

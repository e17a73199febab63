"""The main job with no hardware (`make demo`): synthetic_camera and perception_node as two processes over DDS,
and this recorder subscribed to every output; overlay PNGs are saved and a summary printed. Exits non-zero when the
outputs did not flow."""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _environment() -> dict:
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(random.randint(10, 99)))
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('ROS_LOG_DIR', tempfile.mkdtemp(prefix='seg_perception_demo_'))
    profile = Path(__file__).resolve().parents[2] / 'config' / 'fastdds_large_data.xml'
    if not profile.is_file():
        try:
            from ament_index_python.packages import get_package_share_directory
            profile = Path(get_package_share_directory('seg_perception')) / 'config' / 'fastdds_large_data.xml'
        except Exception:
            profile = None
    if profile is not None and profile.is_file():
        env.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(profile))
    return env


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='seg-perception-demo', description=__doc__)
    parser.add_argument('--seconds', type=float, default=20.0, help='how long outputs are recorded (default 20)')
    parser.add_argument('--out', type=Path, default=Path('demo_output'), help='folder for the overlay PNGs')
    parser.add_argument('--rate', type=float, default=30.0, help='synthetic camera rate in Hz (default 30)')
    parser.add_argument('--device', default='auto', help='perception_node device (auto, cpu, cuda)')
    parser.add_argument('--no-grasps', action='store_true', help='switch grasp planning off in the node')
    parser.add_argument('--new-scene-every', type=int, default=90,
                        help='camera frames per synthetic scene (default 90; 0 keeps one scene)')
    parser.add_argument('--scenes', type=int, default=8,
                        help='synthetic scenes rendered before the camera starts, then cycled (default 8; 0 renders '
                             'new ones while publishing, which takes CPU from the node on a small machine)')
    parser.add_argument('--size', default='640x480', metavar='WxH',
                        help='synthetic camera image size (default 640x480; fx scales with the width)')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='extra perception_node parameter, e.g. --param grasp_process:=false (repeatable)')
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split('x'))
    except ValueError:
        parser.error(f'--size must be WIDTHxHEIGHT, got {args.size!r}')
    env = _environment()
    os.environ.update(env)  # this process joins the same domain with the same transport settings
    children = [
        subprocess.Popen([sys.executable, '-m', 'seg_perception.ros.synthetic_camera', '--ros-args', '-p',
                          f'rate:={args.rate}', '-p', f'width:={width}', '-p', f'height:={height}',
                          '-p', f'new_scene_every:={args.new_scene_every}',
                          '-p', f'scene_count:={args.scenes}'], env=env),
        subprocess.Popen([sys.executable, '-m', 'seg_perception.ros.node', '--ros-args', '-p',
                          f'device:={args.device}', '-p', f'grasps.enabled:={str(not args.no_grasps).lower()}']
                         + [a for p in args.param for a in ('-p', p)], env=env),
    ]
    try:
        return _record(args, children[1].pid)
    finally:
        for child in children:
            child.send_signal(2)
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()


def child_pids(pid: int) -> list:
    """The processes a process started (Linux /proc): perception_node's grasp planning process."""
    try:
        return [int(c) for t in Path(f'/proc/{pid}/task').iterdir() for c in (t / 'children').read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux /proc), NaN where it cannot be read."""
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float('nan')


def _record(args, node_pid: int) -> int:
    import cv2
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseArray
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image, PointCloud2

    from ..grasps.hysteresis import same_grasp
    from ..types import GraspCandidate
    from .convert import image_to_numpy, pointcloud2_to_numpy, stamp_to_sec

    rclpy.init()
    node = rclpy.create_node('demo_recorder')

    def counters():  # what is measured; reset once the first output arrived
        return {'in': 0, 'out': 0, 'objects': [], 'grasps': [], 'latency': [], 'grasp_latency': [], 'out_times': [],
                'first_grasp': None, 'first_moved': []}

    stats = {**counters(), 'saved': 0}
    diagnostics = []
    args.out.mkdir(parents=True, exist_ok=True)

    def age_ms(header):  # from the input stamp to now
        return (node.get_clock().now().nanoseconds * 1e-9 - stamp_to_sec(header.stamp)) * 1e3

    def on_labels(msg):
        stats['out'] += 1
        stats['out_times'].append(time.monotonic())
        stats['latency'].append(age_ms(msg.header))
        stats['objects'].append(int(image_to_numpy(msg).max()))

    # one overlay per synthetic scene at most (a scene lasts new_scene_every frames), of a frame with objects
    scene_seconds = args.new_scene_every / args.rate if args.new_scene_every else 0.0
    last_saved = [-float('inf')]

    def on_overlay(msg):
        now = time.monotonic()
        if stats['saved'] < 5 and stats['out'] >= 10 and stats['objects'] and stats['objects'][-1] > 0 \
                and now - last_saved[0] >= scene_seconds:
            cv2.imwrite(str(args.out / f'overlay_{stats["saved"]:02d}.png'), image_to_numpy(msg)[:, :, ::-1])
            stats['saved'] += 1
            last_saved[0] = now

    # input counted on camera_info (sent with every frame): deserializing the images here would take CPU from
    # the node being measured
    node.create_subscription(CameraInfo, 'color/camera_info', lambda m: stats.__setitem__('in', stats['in'] + 1),
                             qos_profile_sensor_data)
    node.create_subscription(Image, '/perception_node/instances/labels', on_labels, 10)
    node.create_subscription(Image, '/perception_node/overlay', on_overlay, 10)
    def on_grasps(msg):
        stats['grasps'].append(len(msg.poses))
        stats['grasp_latency'].append(age_ms(msg.header))
        if msg.poses:   # does the first grasp stay put from frame to frame (grasps.hysteresis)?
            p, q = msg.poses[0].position, msg.poses[0].orientation
            first = GraspCandidate(0, np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w]), 0.0, 0.0)
            if stats['first_grasp'] is not None:
                stats['first_moved'].append(not same_grasp(first, stats['first_grasp'], 0.02, 30.0))
            stats['first_grasp'] = first

    node.create_subscription(PoseArray, '/perception_node/grasps', on_grasps, 10)
    node.create_subscription(PointCloud2, '/perception_node/objects/points', lambda m: pointcloud2_to_numpy(m), 10)
    node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    # wait for the first output (model warm-up, discovery), then record for the requested time
    deadline = time.monotonic() + 60.0
    while stats['out'] == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    stats.update(counters())

    def node_rss():  # the node with its grasp planning process
        return rss_mb(node_pid) + sum(rss_mb(child) for child in child_pids(node_pid))

    rss_start = node_rss()
    rss_samples = []                      # (seconds since start, MiB) every 30 s: growth or a plateau
    start = time.monotonic()
    end = start + args.seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
        if time.monotonic() - start >= 30 * (len(rss_samples) + 1):
            rss_samples.append((time.monotonic() - start, node_rss()))
    rss_end = node_rss()
    node.destroy_node()
    rclpy.shutdown()
    times = stats['out_times']
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    lat, grasp_lat = (np.percentile(v, [50, 95]) if v else [float('nan')] * 2
                      for v in (stats['latency'], stats['grasp_latency']))
    node_said = {kv.key: kv.value for d in diagnostics[-1:] for s in d.status for kv in s.values}
    dropped = node_said.get('frames_dropped', 'n/a')
    print(f'demo: {args.seconds:.0f} s recorded; frames in {stats["in"]} ({stats["in"] / args.seconds:.1f} Hz), '
          f'frames out {stats["out"]} ({rate:.1f} Hz), dropped by the node (total) {dropped}')
    print(f'demo: objects per frame mean {np.mean(stats["objects"]) if stats["objects"] else 0:.1f}, '
          f'grasps per frame mean {np.mean(stats["grasps"]) if stats["grasps"] else 0:.1f}')
    counts = stats['objects']
    if len(counts) > 1:   # on a still scene, each change is flicker (instances.keep_splits)
        changed = sum(a != b for a, b in zip(counts, counts[1:]))
        print(f'demo: the object count changed between consecutive frames {changed} times of {len(counts) - 1}'
              + (f' (a new scene every {scene_seconds:.0f} s changes it too)' if scene_seconds else ''))
    if stats['first_moved']:
        moved = stats['first_moved']
        print(f'demo: the first grasp moved (over 2 cm or 30 deg) between consecutive frames {sum(moved)} times of '
              f'{len(moved)}'
              + (f' (a new scene every {scene_seconds:.0f} s moves it too)' if scene_seconds else ''))
    print(f'demo: end-to-end latency from the input stamp: labels received p50 {lat[0]:.0f} ms, p95 {lat[1]:.0f} ms; '
          f'grasps received p50 {grasp_lat[0]:.0f} ms, p95 {grasp_lat[1]:.0f} ms')
    if 'labels_latency_p50_ms' in node_said:   # its last 100 frames, as it published them
        print(f"demo: the node's own figures (last 100 frames, at publishing): labels p50 "
              f"{node_said['labels_latency_p50_ms']} ms, p95 {node_said['labels_latency_p95_ms']} ms; whole frame "
              f"p50 {node_said['latency_p50_ms']} ms, p95 {node_said['latency_p95_ms']} ms")
    print(f'demo: perception_node memory (RSS, with its grasp process) {rss_start:.0f} MiB after warm-up, '
          f'{rss_end:.0f} MiB at the end'
          + (' (every 30 s: ' + ', '.join(f'{mib:.0f}' for _, mib in rss_samples) + ')' if rss_samples else ''))
    print(f'demo: {stats["saved"]} overlay PNGs in {args.out}/')
    if stats['out'] == 0:
        print('demo: FAILED: no output arrived from perception_node', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

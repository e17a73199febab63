"""perception_node over real DDS: synthetic camera in, every output out with the input header."""
import json
from pathlib import Path

import pytest

from ros_helpers import SCRIPTS, report_while_running, start, stop, wait_output
from seg_perception.ros.demo import child_pids

pytestmark = [pytest.mark.ros, pytest.mark.slow]
CONFIG_FILE = Path(__file__).resolve().parents[1] / 'config' / 'seg_perception.yaml'


def _outputs_of_node(ros_env, node_params, receiver_args=(), params_file=False):
    """The synthetic camera (320x240, 5 Hz, seed 7), perception_node with ``node_params`` ('name:=value'; after
    config/seg_perception.yaml with ``params_file``) and the output receiver: (its JSON report, everything the
    node printed)."""
    camera = ['-m', 'seg_perception.ros.synthetic_camera', '--ros-args', '-p', 'width:=320', '-p', 'height:=240',
              '-p', 'rate:=5.0', '-p', 'noise_variants:=2', '-p', 'seed:=7']
    report, out, (_, node_out) = report_while_running(
        [camera, _node(*node_params, params_file=params_file)],
        [SCRIPTS / 'receive_outputs.py', 60, 3, '/perception_node', *receiver_args], ros_env, 90)
    return report, f'{out}\nnode:\n{node_out}'


def _node(*params, params_file=False):
    """perception_node's command line on the CPU with extra 'name:=value' parameters."""
    defaults = ['--params-file', str(CONFIG_FILE)] if params_file else []
    return ['-m', 'seg_perception.ros.node', '--ros-args', *defaults,
            *[arg for p in ['device:=cpu', *params] for arg in ('-p', p)]]


def test_outputs_flow_with_the_input_header(ros_env):
    # started as README says, with the parameters file (its empty lists mean 'unset')
    report, node_out = _outputs_of_node(ros_env, ['grasps.enabled:=true'], params_file=True)
    assert report['counts']['instances/labels'] >= 3, node_out
    assert report['frame_id'] == 'camera_color_optical_frame'
    # labels, clouds and grasps of one frame all carry that frame's header
    assert report['outputs_with_same_header'] == ['grasps', 'grasps/candidates', 'objects/boxes', 'objects/points',
                                                  'support/polygon', 'surfaces/labels']
    # one box per object of the frame, each with the points the cloud holds of it
    assert report['boxes']['instances'] == list(range(1, report['instances']['max'] + 1))
    assert sum(report['boxes']['point_counts']) == report['points']['count']
    assert report['support_vertices'] >= 3
    assert report['instances']['encoding'] == 'mono16' and report['instances']['shape'] == [240, 320]
    assert report['surfaces']['encoding'] == 'mono8' and 1 in report['surfaces']['classes']
    assert report['points']['fields'] == ['x', 'y', 'z', 'rgb', 'instance', 'class_id']
    assert report['instances']['max'] >= 1 and max(report['points']['instances']) <= report['instances']['max']
    assert report['overlay'] == {'encoding': 'rgb8', 'shape': [240, 320]}  # someone subscribed: published
    assert {'output_rate_hz', 'frames_dropped', 'latency_p50_ms', 'device'} <= set(report['diagnostic_keys'])


def test_parameters_are_validated_and_lifecycle_stops_and_resumes(ros_env):
    camera = ['-m', 'seg_perception.ros.synthetic_camera', '--ros-args', '-p', 'width:=320', '-p', 'height:=240',
              '-p', 'rate:=5.0', '-p', 'noise_variants:=1']
    report, _, (_, node_out) = report_while_running([camera, _node()], [SCRIPTS / 'node_client.py', 60], ros_env, 180)
    assert report['first_output'], node_out
    ok, reason = report['params']['bad']
    assert not ok and 'instances.min_height' in reason and '-1.0' in reason
    assert report['params']['good'] is True
    assert report['params']['read_only'] is False            # device needs a reconfigure
    ok, reason = report['params']['transport']
    assert not ok and 'transport.depth must be one of raw, compressedDepth, compressed' in reason
    box = report['workspace']
    assert box['frame_base'] and box['frame_camera'] and box['camera_box'], box
    assert box['box_without_pose'][0] is False and 'extrinsics.camera_pose' in box['box_without_pose'][1]
    assert report['state_before'] == 'active'
    assert report['deactivate']['success'] and report['deactivate']['state'] == 'inactive'
    assert report['deactivate']['outputs_while_inactive'] == 0
    assert report['activate']['success'] and report['activate']['outputs_after'] >= 1
    # cleanup and configure again (grasp process closed and started anew): grasps flow again
    again = report['reconfigure']
    assert all(again[k] for k in ('deactivate', 'cleanup', 'configure', 'activate')), again
    assert again['state'] == 'active' and again['grasp_outputs_after'] >= 1, (again, node_out)


def test_bad_input_is_warned_about_and_the_node_keeps_going(ros_env):
    report, _, (_, node_out) = report_while_running(
        [[SCRIPTS / 'publish_bad_inputs.py'], _node()], [SCRIPTS / 'receive_outputs.py', 60, 2, '/perception_node'],
        ros_env, 90)
    assert report['counts']['instances/labels'] >= 2, node_out   # good frames after the bad ones
    assert "unsupported image encoding 'yuv422'" in node_out
    assert 'color and depth sizes differ' in node_out
    assert 'no valid pixel' in node_out
    assert 'no depth value lies within depth.min..depth.max (0.1-3 m)' in node_out and 'Wrong units?' in node_out
    # colour without depth, then depth whose stamps never match: the node says which, instead of going quiet
    assert 'colour images arrive but no depth images to pair them with' in node_out, node_out
    assert 'colour and depth stamps are 60 ms apart at the closest, more than sync.slop (20 ms)' in node_out, node_out
    # time going back (a recording replayed in a loop) starts the pairing afresh; stamps that stay 0 are named
    assert 'image stamps jumped back by' in node_out and 'a recording replayed in a loop?' in node_out, node_out
    assert 'an image stamped 0.000 s is not newer than the last pair taken' in node_out, node_out
    diag = report['diagnostic_values']   # and /diagnostics counts them
    assert int(diag['images_unpaired']) > 0 and int(diag['images_stale']) > 0 and int(diag['stamp_jumps_back']) >= 1
    # how far the depth spreads its edges (the synthetic camera's are sharp: 1.0 px; NaN until measured)
    assert 0.9 < float(diag['depth_edge_spread_px']) < 2.0, diag
    assert 'depth edges spread over' not in node_out
    # and whether its depth is registered to its colour (the synthetic camera's is; NaN until measured)
    assert float(diag['depth_colour_alignment']) > 2.2, diag
    assert 'does not look registered' not in node_out
    # throttled: each problem is reported a few times at most over the 2 s it lasts
    assert node_out.count("'yuv422'") <= 2
    # a distorting lens is corrected, and said once for that camera model
    assert node_out.count('correcting lens distortion (plumb_bob): it moves the image border by up to') == 1, node_out


def test_depth_not_registered_to_the_colour_is_warned_about(ros_env, tmp_path):
    import cv2
    from seg_perception.cli import main
    from test_registration import _unaligned
    # four scenes replayed with the depth an unaligned depth camera gives (a RealSense's depth/image_rect_raw where
    # its aligned depth belongs): the outputs go on, and the node says what to check, once
    frames = tmp_path / 'frames'
    assert main(['synth', '--count', '4', '--seed', '5', '--out', str(frames), '--width', '320',
                 '--height', '240']) == 0
    for depth in frames.glob('*/depth.png'):
        cv2.imwrite(str(depth), _unaligned(cv2.imread(str(depth), cv2.IMREAD_UNCHANGED)))
    camera = ['-m', 'seg_perception.ros.frames_camera', '--ros-args', '-p', f'path:={frames}', '-p', 'rate:=5.0']
    report, out, (_, node_out) = report_while_running(
        [camera, _node('grasps.enabled:=false')], [SCRIPTS / 'receive_outputs.py', 60, 8, '/perception_node'],
        ros_env, 90)
    assert report['counts']['instances/labels'] >= 8, f'{out}\nnode:\n{node_out}'
    assert node_out.count('the depth image does not look registered to the colour image') == 1, node_out
    assert float(report['diagnostic_values']['depth_colour_alignment']) < 1.8, report['diagnostic_values']


def test_compressed_images_in_give_the_outputs_of_raw_ones(ros_env):
    """Colour and depth through image_transport's compressed and compressedDepth plugins (lossless PNG): the same
    objects as the frame gives raw. Remapping the raw topics moves their sub-topics along, as with image_transport."""
    from seg_perception.config import load_config
    from seg_perception.pipeline import Pipeline
    from seg_perception.synthetic import SceneConfig, synthesize
    frame = synthesize(11, SceneConfig(width=320, height=240, fx=307.5, fy=307.5)).rgbd()
    objects = int(Pipeline(load_config(None, {'device': 'cpu'})).process(frame).instances.labels.max())
    report, _, (_, node_out) = report_while_running(
        [[SCRIPTS / 'publish_compressed.py'],
         _node('transport.color:=compressed', 'transport.depth:=compressedDepth')
         + ['-r', 'color/image_raw:=rgb/image_rect', '-r', 'depth/image_raw:=depth_registered/image']],
        [SCRIPTS / 'receive_outputs.py', 60, 2, '/perception_node'], ros_env, 90)
    assert report['counts']['instances/labels'] >= 2, node_out
    assert objects >= 2 and report['instances']['max'] == objects, (objects, report['instances'], node_out)
    assert 'bad input' not in node_out


def test_extrinsics_give_base_frame_outputs(ros_env):
    import numpy as np
    from seg_perception.synthetic import SceneConfig, frame_seed, generate_scene
    # the synthetic camera's true pose of its first scene (seed 7) as the static extrinsics
    scene = generate_scene(frame_seed(7, 0), SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
    T = scene.camera_to_world
    pose = '[' + ', '.join(f'{v:.9f}' for v in T.reshape(-1)) + ']'
    # and a workspace box in that frame (list parameters on the command line): the scene's objects lie at world
    # x from -0.44 to -0.21 m; the box keeps x >= -0.27 m only
    report, node_out = _outputs_of_node(ros_env, ['extrinsics.base_frame:=world', f'extrinsics.camera_pose:={pose}',
                                                  'workspace.frame:=base', 'workspace.min:=[-0.27, -1.0, 0.0]',
                                                  'workspace.max:=[1.0, 1.0, 2.0]'], [json.dumps(T.tolist())])
    assert report['base']['frame_id'] == 'world' and report['base']['points_frame_id'] == 'world', node_out
    assert report['base']['grasps_compared'] >= 1 and report['base']['max_error'] < 1e-4
    assert np.isfinite(report['base']['max_error'])
    # the table's outline in the robot's frame lies at the table's height
    assert report['base']['support_frame_id'] == 'world' and len(report['base']['support_z']) >= 3
    assert np.abs(np.asarray(report['base']['support_z']) - scene.table_height).max() < 0.01, node_out
    # the objects' boxes stand upright on it
    bottoms = np.asarray(report['base']['box_bottoms'])
    assert len(bottoms) >= 1 and np.all(np.asarray(report['base']['box_up_z']) > 0.999)
    assert np.all((bottoms > scene.table_height - 0.01) & (bottoms < scene.table_height + 0.015)), bottoms
    low, high = report['base']['points_x_range']
    assert low >= -0.27 - 0.015 and high > -0.25, node_out   # a grid cell of outline beyond the box at most


def test_input_faster_than_processing_drops_frames_without_growing(ros_env):
    """30 Hz of 640x480 frames into a node that manages a few per second on this machine: the worker takes the
    newest pair and counts the rest as dropped, so latency and memory stay flat instead of queueing up."""
    import os
    import time
    from seg_perception.ros.demo import rss_mb
    camera = start(['-m', 'seg_perception.ros.synthetic_camera', '--ros-args', '-p', 'rate:=30.0',
                    '-p', 'noise_variants:=2', '-p', 'seed:=3'], ros_env)
    node = start(_node(), ros_env)
    receiver = None
    try:
        first = start([SCRIPTS / 'receive_outputs.py', 60, 1, '/perception_node'], ros_env)
        wait_output(first, timeout=90)                      # warmed up and producing
        rss_early = rss_mb(node.pid)
        time.sleep(20)
        receiver = start([SCRIPTS / 'receive_outputs.py', 30, 5, '/perception_node'], ros_env)
        out = wait_output(receiver, timeout=60)
        rss_late = rss_mb(node.pid)
        grasp_process = child_pids(node.pid)
    finally:
        node_out = stop(node)
        stop(camera)
    assert len(grasp_process) == 1 and not os.path.exists(f'/proc/{grasp_process[0]}'), grasp_process  # no orphan
    report = json.loads(out.strip().splitlines()[-1])
    diag = report['diagnostic_values']
    frames_in, frames_out, dropped = (int(diag[k]) for k in ('frames_in', 'frames_out', 'frames_dropped'))
    assert dropped > 0 and frames_out < frames_in, node_out          # input outpaced processing
    assert float(diag['latency_p95_ms']) < 3000, diag                 # no backlog: latency stays bounded
    assert rss_late - rss_early < 60, (rss_early, rss_late)           # MiB over ~25 s at 30 Hz input


def test_grasps_go_on_when_the_grasp_process_dies(ros_env):
    """On the CPU grasps are planned in a child process; if it dies the node says so and plans them itself."""
    import os
    import signal
    camera = start(['-m', 'seg_perception.ros.synthetic_camera', '--ros-args', '-p', 'width:=320', '-p',
                    'height:=240', '-p', 'rate:=5.0', '-p', 'noise_variants:=1', '-p', 'seed:=7'], ros_env)
    node = start(_node(), ros_env)
    try:
        wait_output(start([SCRIPTS / 'receive_outputs.py', 60, 1, '/perception_node'], ros_env), timeout=90)
        children = child_pids(node.pid)
        assert len(children) == 1, children
        os.kill(children[0], signal.SIGKILL)
        out = wait_output(start([SCRIPTS / 'receive_outputs.py', 60, 4, '/perception_node'], ros_env), timeout=90)
    finally:
        node_out = stop(node)
        stop(camera)
    report = json.loads(out.strip().splitlines()[-1])
    # of 4 frames: the one being planned when the child died has no grasps, the last one's may come after the
    # receiver stopped
    assert report['counts']['grasps'] >= 2, node_out
    assert 'grasps are planned in the node process from now on' in node_out

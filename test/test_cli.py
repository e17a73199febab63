"""The offline commands users check their recordings with: synth, segment, eval, config."""
import json

import cv2
import numpy as np
import pytest

from seg_perception.cli import main
from seg_perception.geometry import matrix_from_quaternion


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth')
    assert main(['synth', '--count', '3', '--seed', '9', '--out', str(out), '--width', '320', '--height', '240']) == 0
    return out


def test_synth_writes_the_folder_format(dataset):
    frames = sorted(p for p in dataset.iterdir())
    assert [p.name for p in frames] == ['000000', '000001', '000002']
    names = sorted(p.name for p in frames[0].iterdir())
    assert names == ['camera.yaml', 'color.png', 'depth.png', 'instances.png', 'scene.json', 'surfaces.png']
    assert cv2.imread(str(frames[0] / 'depth.png'), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_synth_edge_smear_renders_the_same_scene_with_ramps(dataset, tmp_path):
    out = tmp_path / 'smeared'
    assert main(['synth', '--count', '1', '--seed', '9', '--out', str(out), '--width', '320', '--height', '240',
                 '--edge-smear', '2']) == 0
    sharp = cv2.imread(str(dataset / '000000' / 'depth.png'), cv2.IMREAD_UNCHANGED).astype(int)
    smeared = cv2.imread(str(out / '000000' / 'depth.png'), cv2.IMREAD_UNCHANGED).astype(int)
    assert (cv2.imread(str(out / '000000' / 'color.png')) == cv2.imread(str(dataset / '000000' / 'color.png'))).all()
    # the same sensor noise and holes; the depth moves by centimetres at the silhouettes only
    assert ((sharp > 0) == (smeared > 0)).all()
    moved = np.abs(smeared - sharp) > 10
    assert 0.005 < moved[sharp > 0].mean() < 0.2
    near_step = np.zeros_like(moved)
    near_step[:, 1:] |= np.abs(np.diff(sharp, axis=1)) > 50
    near_step = cv2.dilate(near_step.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert moved[~near_step].mean() < 0.01


def test_segment_warns_when_the_depth_is_smoothed_across_edges(dataset, tmp_path, capsys):
    smeared = tmp_path / 'smeared'
    assert main(['synth', '--count', '1', '--seed', '9', '--out', str(smeared), '--width', '320', '--height', '240',
                 '--edge-smear', '2']) == 0
    capsys.readouterr()
    for frame, settings in ((dataset / '000000', []), (smeared / '000000', []),
                            (smeared / '000000', ['--set', 'depth.sharpen_ramps=8'])):
        assert main(['segment', '--color', str(frame / 'color.png'), '--depth', str(frame / 'depth.png'),
                     '--camera-info', str(frame / 'camera.yaml'), '--out', str(tmp_path / 'out')] + settings) == 0
        err = capsys.readouterr().err
        # the same scene: said for its smeared depth (5.8 px), not for its sharp depth (1.0 px) nor once sharpened
        warned = 'warning: depth edges spread over' in err
        assert warned == (frame.parent == smeared and not settings), (frame, settings, err)
        assert not warned or 'depth.sharpen_ramps: 8' in err


def test_segment_warns_when_the_depth_is_not_registered_to_the_colour(dataset, tmp_path, capsys):
    from test_registration import _unaligned
    frame = dataset / '000000'
    unaligned = tmp_path / 'unaligned.png'   # the same scene's depth as an unaligned depth camera gives it
    cv2.imwrite(str(unaligned), _unaligned(cv2.imread(str(frame / 'depth.png'), cv2.IMREAD_UNCHANGED)))
    for depth in (frame / 'depth.png', unaligned):
        assert main(['segment', '--color', str(frame / 'color.png'), '--depth', str(depth),
                     '--camera-info', str(frame / 'camera.yaml'), '--out', str(tmp_path / 'out')]) == 0
        err = capsys.readouterr().err
        # registered: its depth steps on colour edges 6.6 times as often as shifted ones; unaligned 1.6
        warned = 'warning: the depth image does not look registered to the colour image' in err
        assert warned == (depth == unaligned), (depth, err)
        assert not warned or 'aligned_depth_to_color' in err


def test_synth_camera_elevation_and_distance(tmp_path):
    out = tmp_path / 'top_down'
    assert main(['synth', '--count', '2', '--seed', '3', '--out', str(out), '--width', '160', '--height', '120',
                 '--elevation', '90', '90', '--distance', '0.5', '0.6']) == 0
    for frame in sorted(out.iterdir()):
        scene = json.loads((frame / 'scene.json').read_text())
        pose = np.array(scene['camera']['camera_to_world'])
        assert np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-9)
        assert pose[2, 2] < -0.99                          # looking straight down
        assert 0.5 <= pose[2, 3] - scene['table']['height'] <= 0.6 + 1e-9
    with pytest.raises(SystemExit, match='straight down'):
        main(['synth', '--count', '1', '--out', str(tmp_path / 'bad'), '--elevation', '95', '90'])


def test_synth_totes_stand_round_the_objects(tmp_path):
    out = tmp_path / 'totes'
    assert main(['synth', '--count', '2', '--seed', '5', '--out', str(out), '--width', '160', '--height', '120',
                 '--tote', 'moulded', '--depth-noise', '0.004']) == 0
    for frame in sorted(out.iterdir()):
        scene = json.loads((frame / 'scene.json').read_text())
        (x0, y0), (x1, y1) = scene['tote_inside']
        walls = [s for s in scene['surfaces'] if s['name'].startswith('tote_wall')]
        lips = [s for s in scene['surfaces'] if s['name'].startswith('tote_lip')]
        assert len(walls) == 4 and len(lips) == 4
        on_table = [body for body in scene['objects'] if body['instance_id'] > 0]
        assert on_table
        for body in on_table:                              # every object on the table stands inside
            x, y = np.array(body['pose_world'])[:2, 3]
            assert x0 < x < x1 and y0 < y < y1
    with pytest.raises(SystemExit):
        main(['synth', '--count', '1', '--out', str(tmp_path / 'bad'), '--tote', 'crate'])


def test_segment_outputs(dataset, tmp_path, capsys):
    f = dataset / '000001'
    out = tmp_path / 'seg'
    assert main(['segment', '--color', str(f / 'color.png'), '--depth', str(f / 'depth.png'),
                 '--camera-info', str(f / 'camera.yaml'), '--out', str(out)]) == 0
    inst = cv2.imread(str(out / 'instances.png'), cv2.IMREAD_UNCHANGED)
    surf = cv2.imread(str(out / 'surfaces.png'), cv2.IMREAD_UNCHANGED)
    overlay = cv2.imread(str(out / 'overlay.png'))
    assert inst.dtype == np.uint16 and surf.dtype == np.uint8 and inst.shape == surf.shape == (240, 320)
    assert overlay.shape == (240, 320, 3)
    result = json.loads((out / 'result.json').read_text())
    assert len(result['objects']) == int(inst.max()) > 0
    obj = result['objects'][0]
    assert {'id', 'class', 'score', 'pixel_count', 'centroid', 'box'} <= set(obj)
    assert obj['pixel_count'] == int((inst == 1).sum())
    assert 0.2 < obj['centroid'][2] < 3.0
    assert {'prepare', 'surfaces', 'instances', 'total'} <= set(result['timings_ms'])
    # the support's outline lies on its plane
    outline, plane = np.asarray(result['support_outline']), result['support_plane']
    assert outline.shape[0] >= 3 and outline.shape[1] == 3
    assert np.abs(outline @ plane['normal'] + plane['offset']).max() < 1e-3
    assert 'support surface found (' in capsys.readouterr().out    # with the area in view
    # an object without a grasp says why; one with grasps does not
    with_grasps = {g['object_id'] for g in result['grasps']}
    assert all(('no_grasp' in entry) == (entry['id'] not in with_grasps) for entry in result['objects'])
    # each object's centroid and box are those of its filtered cloud (its PLY, the node's markers), not of raw
    # pixels with their flying pixels
    for entry in result['objects']:
        text = (out / f"object_{entry['id']:03d}.ply").read_text()
        points = np.loadtxt(text.split('end_header\n')[1].splitlines(), ndmin=2)[:, :3]
        assert entry['point_count'] == len(points)
        assert np.allclose(entry['centroid'], points.mean(0), atol=2e-4)
        box = entry['box']
        rotation = matrix_from_quaternion(box['quaternion'])
        local = (points - box['center']) @ rotation
        assert np.all(np.abs(local) <= np.asarray(box['extent']) / 2 + 2e-4)


def test_segment_with_intrinsics_and_npy_depth(dataset, tmp_path):
    f = dataset / '000000'
    depth = cv2.imread(str(f / 'depth.png'), cv2.IMREAD_UNCHANGED).astype(np.float32) / 1000.0
    np.save(tmp_path / 'depth.npy', depth)
    out = tmp_path / 'seg'
    assert main(['segment', '--color', str(f / 'color.png'), '--depth', str(tmp_path / 'depth.npy'),
                 '--intrinsics', '307.5,307.5,159.5,119.5', '--out', str(out)]) == 0
    assert (out / 'instances.png').is_file()


def test_segment_names_a_depth_scale_that_puts_every_pixel_out_of_range(dataset, tmp_path, capsys):
    f = dataset / '000000'
    assert main(['segment', '--color', str(f / 'color.png'), '--depth', str(f / 'depth.png'), '--depth-scale', '1',
                 '--intrinsics', '307.5,307.5,159.5,119.5', '--out', str(tmp_path / 'mm')]) == 0
    captured = capsys.readouterr()
    assert 'Wrong units?' in captured.err and '--depth-scale' in captured.err
    assert captured.out.startswith('0 objects')


def test_segment_rejects_mismatched_sizes(dataset, tmp_path, capsys):
    f = dataset / '000000'
    small = tmp_path / 'small.png'
    cv2.imwrite(str(small), cv2.imread(str(f / 'color.png'))[:200, :300])
    code = main(['segment', '--color', str(small), '--depth', str(f / 'depth.png'),
                 '--intrinsics', '307.5,307.5,159.5,119.5', '--out', str(tmp_path / 'x')])
    assert code == 2
    err = capsys.readouterr().err
    assert '300x200' in err and '320x240' in err and 'aligned' in err


def test_eval_prints_and_writes_metrics(dataset, tmp_path, capsys):
    out = tmp_path / 'metrics.json'
    assert main(['eval', '--data', str(dataset), '--json', str(out)]) == 0
    captured = capsys.readouterr()
    text = captured.out
    assert 'overlap' in text and 'support' in text
    data = json.loads(out.read_text())
    assert data['summary']['frames'] == 3 and len(data['per_frame']) == 3
    assert 0.0 <= data['summary']['f'] <= 1.0 and 'support' in data['summary']['surface_iou']
    assert 0 <= data['summary']['phantoms'] <= data['summary']['predicted']
    assert data['summary']['phantoms'] == sum(r['phantoms'] for r in data['per_frame'])
    assert 'objects found where no object is' in text
    # the synthetic camera's depth edges are sharp: said, not warned about
    spreads = [r['depth_edge_spread_px'] for r in data['per_frame']]
    assert all(s is None or 0.9 < s < 2.5 for s in spreads) and any(s is not None for s in spreads), spreads
    assert 0.9 < data['summary']['depth_edge_spread_px'] < 2.5
    assert 'depth edges spread over' in text and 'depth edges spread over' not in captured.err
    # and registered to the colour image
    assert data['summary']['depth_colour_alignment'] > 2.2
    assert 'depth steps on colour edges:' in text and 'does not look registered' not in captured.err


def test_config_command_prints_the_shipped_defaults(capsys):
    from seg_perception.config import default_config_path
    assert main(['config']) == 0
    assert capsys.readouterr().out == default_config_path().read_text()


def test_bad_parameter_is_a_clear_error(dataset, tmp_path, capsys):
    code = main(['eval', '--data', str(dataset), '--set', 'instances.min_height=-1'])
    assert code == 2
    assert 'instances.min_height' in capsys.readouterr().err


def test_gripper_option_loads_a_preset_by_name_or_a_file(dataset, tmp_path, capsys):
    from seg_perception.cli import _load_config, build_parser
    parse = build_parser().parse_args
    args = ['segment', '--color', 'c.png', '--depth', 'd.png', '--intrinsics', '1,1,1,1', '--out', 'o']
    assert _load_config(parse(args + ['--gripper', 'robotiq_2f85'])).grasps.max_opening == 0.085
    own = tmp_path / 'my_gripper.yaml'
    own.write_text('perception_node:\n  ros__parameters:\n    grasps:\n      max_opening: 0.11\n')
    # the gripper comes after the --config files, --set last
    loaded = _load_config(parse(args + ['--gripper', str(own), '--set', 'grasps.finger_depth=0.05']))
    assert (loaded.grasps.max_opening, loaded.grasps.finger_depth) == (0.11, 0.05)
    assert main(['eval', '--data', str(dataset), '--gripper', 'robotiq']) == 2
    err = capsys.readouterr().err
    assert "unknown gripper 'robotiq'" in err and 'franka_hand, robotiq_2f85' in err


def test_bench_compares_stages_sizes_and_the_peer(tmp_path, capsys):
    out = tmp_path / 'bench.json'
    assert main(['bench', '--frames', '2', '--sizes', '160x120,192x144', '--devices', 'cpu,cuda',
                 '--learned', 'cuda', '--json', str(out)]) == 0
    text = capsys.readouterr().out
    assert 'classic peer' in text and 'surfaces' in text and 'instances' in text
    data = json.loads(out.read_text())
    assert {'speedup_vs_peer', 'overlap_f', 'peer_overlap_f', 'stages', 'device'} <= set(data)
    assert data['device'] == 'cpu'
    for stage in ('prepare', 'surfaces', 'instances', 'clouds', 'total'):
        assert 0 < data['stages'][stage]['p50_ms'] <= data['stages'][stage]['p95_ms']
    assert 0 <= data['peer_overlap_f'] <= 1 and 0 <= data['overlap_f'] <= 1
    # the speed ratio is the peer's p50 over ours without grasp planning (the peer plans none), same frames
    assert data['stages']['segmentation']['p50_ms'] < data['stages']['total']['p50_ms']
    assert data['speedup_vs_peer'] == pytest.approx(data['peer']['160x120']['stages']['total']['p50_ms']
                                                    / data['stages']['segmentation']['p50_ms'])
    assert [r['size'] for r in data['runs']] == ['160x120', '192x144']
    import torch
    if not torch.cuda.is_available():   # the cuda runs are skipped with a message, not an error
        assert 'CUDA is not available' in text and all(r['device'] == 'cpu' for r in data['runs'])
    png = out.with_suffix('.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 5000


def test_bench_times_recorded_frames_and_rejects_bad_sizes(dataset, tmp_path, capsys):
    out = tmp_path / 'bench.json'
    assert main(['bench', '--data', str(dataset), '--frames', '2', '--no-peer', '--json', str(out)]) == 0
    data = json.loads(out.read_text())
    assert data['frames'] == 2 and data['speedup_vs_peer'] is None and data['peer_overlap_f'] is None
    assert main(['bench', '--sizes', '640by480']) == 2
    assert 'WxH' in capsys.readouterr().err


def test_bench_times_the_configured_models_beside_the_geometric_pipeline(tmp_path):
    """A configuration with a learned backend (a user's own exported model) is timed as configured, its weights
    not replaced by random ones; the default geometric pipeline stays the reference."""
    import torch
    model = tmp_path / 'surfaces.pt'
    torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 3, 1)), str(model))
    mine = tmp_path / 'mine.yaml'
    mine.write_text(f'surfaces:\n  backend: torchscript\n  model_path: {model}\n  class_map: [1, 1, 1]\n')
    out = tmp_path / 'bench.json'
    assert main(['bench', '--config', str(mine), '--frames', '1', '--sizes', '160x120', '--devices', 'cpu',
                 '--no-peer', '--json', str(out)]) == 0
    data = json.loads(out.read_text())
    runs = {r['name']: r for r in data['runs']}
    assert set(runs) == {'geometric cpu fp32', 'configured cpu fp32'}
    assert not runs['configured cpu fp32']['random_weights']
    assert runs['configured cpu fp32']['stages']['surfaces']['p50_ms'] > 0
    assert data['stages'] == runs['geometric cpu fp32']['stages']


def test_bench_times_recordings_without_ground_truth(dataset, tmp_path, capsys):
    """A user's own frames (colour, depth, camera.yaml, no labels) are timed, the peer too; Overlap F is unknown,
    not made up."""
    import shutil
    recordings = tmp_path / 'recordings'
    for frame in sorted(dataset.iterdir())[:2]:
        target = recordings / frame.name
        target.mkdir(parents=True)
        for name in ('camera.yaml', 'color.png', 'depth.png'):
            shutil.copy(frame / name, target / name)
    out = tmp_path / 'bench.json'
    assert main(['bench', '--data', str(recordings), '--frames', '2', '--json', str(out)]) == 0
    text = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data['frames'] == 2 and data['stages']['total']['p50_ms'] > 0
    assert data['overlap_f'] is None and data['peer_overlap_f'] is None
    assert data['speedup_vs_peer'] > 0 and "the peer's speed" in text
    assert 'no frame had ground truth' in text
    # a folder with no frame folders in it says so
    (tmp_path / 'empty').mkdir()
    assert main(['bench', '--data', str(tmp_path / 'empty'), '--no-peer']) == 2
    assert 'no frame folders' in capsys.readouterr().err


def test_eval_reports_grasp_metrics_when_grasps_are_on(dataset, tmp_path):
    out = tmp_path / 'metrics.json'
    assert main(['eval', '--data', str(dataset), '--json', str(out), '--set', 'grasps.enabled=true']) == 0
    g = json.loads(out.read_text())['summary']['grasps']
    assert {'fit', 'fit_with_grasp', 'fit_top1_valid', 'fit_any_valid', 'unfit', 'unfit_with_grasp',
            'unfit_top1_valid', 'coverage', 'top1_valid', 'any_valid'} <= set(g)
    assert g['fit_top1_valid'] <= g['fit_any_valid'] <= g['fit_with_grasp'] <= g['fit']
    assert 'fit_graspable' not in g     # the upper bound's search only runs when asked for
    # what became of the fitting objects, by shape, adds up to them all and to the grasp counts
    shapes = g['by_shape']
    assert set(shapes) <= {'box', 'cylinder', 'sphere', 'convex'} and shapes
    assert sum(sum(n.values()) for n in shapes.values()) == g['fit']
    assert sum(n['valid'] for n in shapes.values()) == g['fit_top1_valid']
    assert sum(n['valid'] + n['fails'] for n in shapes.values()) == g['fit_with_grasp']
    # why the segmented objects without a grasp have none, numbers left out so that like reasons add up
    data = json.loads(out.read_text())
    reasons = data['summary']['no_grasp_reasons']
    assert 0 < sum(reasons.values()) <= data['summary']['objects']
    assert all(not any(ch.isdigit() for ch in text) for text in reasons)


def test_eval_grasp_upper_bound_counts_the_objects_that_can_be_held(dataset, tmp_path, capsys):
    out = tmp_path / 'metrics.json'
    assert main(['eval', '--data', str(dataset), '--json', str(out), '--limit', '2', '--grasp-upper-bound']) == 0
    assert 'grasp upper bound' in capsys.readouterr().out
    g = json.loads(out.read_text())['summary']['grasps']
    # every valid top grasp proves its object can be held; the search finds more than the planner's choice
    assert g['fit_top1_valid'] == g['fit_graspable_top1_valid'] <= g['fit_graspable'] <= g['fit']
    assert g['fit_graspable'] > 0 and g['top1_valid_of_graspable'] == g['fit_top1_valid'] / g['fit_graspable']

"""synthetic_camera publishes colour, depth and camera_info with equal stamps to another process."""

import pytest

from ros_helpers import SCRIPTS, report_while_running

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.mark.parametrize('encoding', ['16UC1', '32FC1'])
def test_three_topics_arrive_with_equal_stamps(ros_env, encoding):
    camera = ['-m', 'seg_perception.ros.synthetic_camera', '--ros-args', '-p', 'width:=320', '-p', 'height:=240',
              '-p', 'rate:=15.0', '-p', f'depth_encoding:={encoding}', '-p', 'noise_variants:=2', '-p', 'seed:=4']
    report, out, (cam_out,) = report_while_running([camera], [SCRIPTS / 'receive_camera.py', 40, 10], ros_env, 60)
    assert report['triples'] >= 10, f'{out}\ncamera:\n{cam_out}'
    assert report['color_encoding'] == 'rgb8' and report['depth_encoding'] == encoding
    assert report['size'] == report['depth_size'] == report['info_size'] == [320, 240]
    assert report['fx'] == pytest.approx(307.5)
    assert report['frame_ids'] == ['camera_color_optical_frame']
    assert 0.5 < report['depth_valid_fraction'] <= 1.0 and 0.2 < report['depth_median'] < 5.0
    assert report['color_mean'] > 10
    assert report['rate'] > 7  # 15 Hz requested; generous for a loaded 2-core CI machine


def test_prerendered_scenes_are_cycled(ros_env):
    """scene_count renders the scenes before publishing, then cycles them every new_scene_every frames; here as
    a camera on the wrist sees them, 0.5-0.6 m straight above the table."""
    camera = ['-m', 'seg_perception.ros.synthetic_camera', '--ros-args', '-p', 'width:=160', '-p', 'height:=120',
              '-p', 'rate:=20.0', '-p', 'noise_variants:=2', '-p', 'seed:=4', '-p', 'scene_count:=2',
              '-p', 'new_scene_every:=4', '-p', 'min_elevation_deg:=90.0', '-p', 'max_elevation_deg:=90.0',
              '-p', 'min_distance:=0.5', '-p', 'max_distance:=0.6']
    report, out, (cam_out,) = report_while_running([camera], [SCRIPTS / 'receive_camera.py', 40, 14], ros_env, 60)
    assert report['triples'] >= 14, f'{out}\ncamera:\n{cam_out}'
    depths = report['scene_depths_mm']
    scenes = []                  # distinct scenes, told apart by their median depth
    for d in depths:
        if not any(abs(d - s) < 3 for s in scenes):
            scenes.append(d)
    assert len(scenes) == 2, depths
    assert all(480 < d < 650 for d in depths), depths   # mostly the table, seen from 0.5-0.6 m
    changes = sum(abs(a - b) >= 3 for a, b in zip(depths, depths[1:]))
    assert changes >= 2, depths  # back and forth, not one switch to a freshly rendered scene

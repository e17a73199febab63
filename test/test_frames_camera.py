"""frames_camera replays a frame folder or a rosbag2 as colour, depth and camera_info with equal stamps."""

import numpy as np
import pytest

from ros_helpers import SCRIPTS, report_while_running

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def _receive(ros_env, camera_args):
    camera = ['-m', 'seg_perception.ros.frames_camera', '--ros-args', *camera_args]
    report, out, (cam_out,) = report_while_running([camera], [SCRIPTS / 'receive_camera.py', 40, 5], ros_env, 60)
    assert report['triples'] >= 5, f'{out}\ncamera:\n{cam_out}'
    return report


def test_replays_a_frame_folder(ros_env, tmp_path):
    from seg_perception.cli import main
    assert main(['synth', '--count', '2', '--seed', '3', '--out', str(tmp_path / 'frames'), '--width', '160',
                 '--height', '120']) == 0
    report = _receive(ros_env, ['-p', f'path:={tmp_path / "frames"}', '-p', 'rate:=15.0'])
    assert report['size'] == report['depth_size'] == report['info_size'] == [160, 120]
    assert report['color_encoding'] == 'rgb8' and report['depth_encoding'] == '16UC1'
    assert report['depth_valid_fraction'] > 0.5


def _write_bag(path, topics, messages_at):
    """A rosbag2 of 10 frames at 10 Hz: ``topics`` {name: (topic, message type)}, ``messages_at(header)`` the
    frame's {name: message}; a 160x120 camera_info (stamped alike) on /camera/color/camera_info."""
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    from seg_perception.geometry import camera_from_intrinsics
    from seg_perception.ros.camera_publisher import camera_info_message
    from seg_perception.ros.convert import make_header

    cam = camera_from_intrinsics(150, 150, 79.5, 59.5, 160, 120)
    typestore = get_typestore(Stores.ROS2_HUMBLE)
    topics = dict(topics, info=('/camera/color/camera_info', 'sensor_msgs/msg/CameraInfo'))
    with Writer(path, version=8) as writer:
        conns = {name: writer.add_connection(topic, msgtype, typestore=typestore)
                 for name, (topic, msgtype) in topics.items()}
        for k in range(10):
            t = 1_000_000_000 + k * 100_000_000
            header = make_header(t * 1e-9, 'cam')
            for name, msg in dict(messages_at(header), info=camera_info_message(cam, header)).items():
                writer.write(conns[name], t, serialize_message(msg))


def test_replays_a_rosbag2(ros_env, tmp_path):
    from seg_perception.ros.camera_publisher import depth_message
    from seg_perception.ros.convert import numpy_to_image

    bag = tmp_path / 'bag'
    _write_bag(bag, {'color': ('/camera/color/image_raw', 'sensor_msgs/msg/Image'),
                     'depth': ('/camera/aligned_depth_to_color/image_raw', 'sensor_msgs/msg/Image')},
               lambda header: {'color': numpy_to_image(np.full((120, 160, 3), 60, np.uint8), 'rgb8', header),
                               'depth': depth_message(np.full((120, 160), 0.8, np.float32), '16UC1', header)})
    report = _receive(ros_env, ['-p', f'path:={bag}', '-p', 'speed:=2.0'])
    assert report['size'] == [160, 120] and report['frame_ids'] == ['cam']
    assert report['depth_median'] == pytest.approx(0.8, abs=1e-3)


def test_replays_a_rosbag2_of_compressed_images(ros_env, tmp_path):
    """A bag recorded through image_transport (jpeg colour, compressedDepth png) beside a raw topic of no use:
    the compressed streams are found by their formats and published decoded."""
    import cv2
    from sensor_msgs.msg import CompressedImage

    from seg_perception.ros.convert import numpy_to_image

    bgr = np.full((120, 160, 3), (40, 90, 200), np.uint8)     # red 200, green 90, blue 40
    jpeg = cv2.imencode('.jpg', bgr)[1].tobytes()
    depth_png = bytes(12) + cv2.imencode('.png', np.full((120, 160), 800, np.uint16))[1].tobytes()
    bag = tmp_path / 'bag'
    _write_bag(bag, {'ir': ('/camera/infra1/image_rect_raw', 'sensor_msgs/msg/Image'),
                     'color': ('/camera/color/image_raw/compressed', 'sensor_msgs/msg/CompressedImage'),
                     'depth': ('/camera/aligned_depth_to_color/image_raw/compressedDepth',
                               'sensor_msgs/msg/CompressedImage')},
               lambda header: {
                   'ir': numpy_to_image(np.zeros((120, 160), np.uint16), 'mono16', header),
                   'color': CompressedImage(header=header, format='rgb8; jpeg compressed bgr8', data=jpeg),
                   'depth': CompressedImage(header=header, format='16UC1; compressedDepth png', data=depth_png)})
    report = _receive(ros_env, ['-p', f'path:={bag}', '-p', 'speed:=2.0'])
    assert report['size'] == report['depth_size'] == [160, 120] and report['frame_ids'] == ['cam']
    assert report['color_encoding'] == 'bgr8' and report['depth_encoding'] == '16UC1'
    assert report['depth_median'] == pytest.approx(0.8, abs=1e-3)
    assert report['color_mean'] == pytest.approx((200 + 90 + 40) / 3, abs=3)

"""Two processes over real DDS: a 640x480 rgb8 image and a 16UC1 depth image arrive intact."""
import json

import pytest

from ros_helpers import SCRIPTS, start, stop, wait_output

pytestmark = [pytest.mark.ros]


def test_large_images_cross_process(ros_env):
    receiver = start([SCRIPTS / 'receive_image_pair.py', 20], ros_env)
    publisher = start([SCRIPTS / 'publish_image_pair.py'], ros_env)
    try:
        out = wait_output(receiver, timeout=40)
    finally:
        pub_out = stop(publisher)
    report = json.loads(out.strip().splitlines()[-1])
    assert report['received'] == ['color', 'depth'], f'{out}\npublisher:\n{pub_out}'
    assert report['size'] == [640, 480]
    assert (report['color_encoding'], report['depth_encoding']) == ('rgb8', '16UC1')
    assert report['color_equal'] and report['depth_equal']
    assert receiver.returncode == 0

"""Receive the pair published by publish_image_pair.py; exit 0 when both arrive bit-exact."""
import json
import sys
import time

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from image_pattern import pattern
from seg_perception.ros.convert import image_to_numpy


def main():
    rclpy.init()
    node = rclpy.create_node('image_pair_receiver')
    received = {}
    node.create_subscription(Image, 'color/image_raw', lambda m: received.setdefault('color', m),
                             qos_profile_sensor_data)
    node.create_subscription(Image, 'depth/image_raw', lambda m: received.setdefault('depth', m),
                             qos_profile_sensor_data)
    deadline = time.monotonic() + float(sys.argv[1])
    while len(received) < 2 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    color, depth = pattern()
    report = {'received': sorted(received)}
    if len(received) == 2:
        c, d = received['color'], received['depth']
        report.update(color_encoding=c.encoding, depth_encoding=d.encoding,
                      color_equal=bool(np.array_equal(image_to_numpy(c), color)),
                      depth_equal=bool(np.array_equal(image_to_numpy(d), depth)),
                      size=[c.width, c.height])
    print(json.dumps(report), flush=True)
    sys.exit(0 if report.get('color_equal') and report.get('depth_equal') else 1)


if __name__ == '__main__':
    main()

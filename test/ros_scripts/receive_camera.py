"""Subscribe to a camera's colour, depth and camera_info; report what arrived as JSON.

usage: receive_camera.py SECONDS MIN_TRIPLES
"""
import json
import sys
import time
from collections import defaultdict

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from seg_perception.ros.convert import color_image_to_rgb, depth_image_to_metres


def main():
    seconds, min_triples = float(sys.argv[1]), int(sys.argv[2])
    rclpy.init()
    node = rclpy.create_node('camera_receiver')
    stamps = defaultdict(dict)   # stamp -> topic -> message
    arrivals = []

    def keep(topic):
        def callback(msg):
            key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
            stamps[key][topic] = msg
            if topic == 'color':
                arrivals.append(time.monotonic())
        return callback

    node.create_subscription(Image, 'color/image_raw', keep('color'), qos_profile_sensor_data)
    node.create_subscription(Image, 'depth/image_raw', keep('depth'), qos_profile_sensor_data)
    node.create_subscription(CameraInfo, 'color/camera_info', keep('info'), qos_profile_sensor_data)
    deadline = time.monotonic() + seconds
    complete = lambda: [k for k, v in stamps.items() if len(v) == 3]  # noqa: E731
    while time.monotonic() < deadline and len(complete()) < min_triples:
        rclpy.spin_once(node, timeout_sec=0.05)
    triples = sorted(complete())
    report = {'triples': len(triples), 'stamps_seen': len(stamps)}
    if triples:
        last = stamps[triples[-1]]
        color, depth = color_image_to_rgb(last['color']), depth_image_to_metres(last['depth'])
        report.update(
            color_encoding=last['color'].encoding, depth_encoding=last['depth'].encoding,
            size=[last['color'].width, last['color'].height], depth_size=[last['depth'].width, last['depth'].height],
            info_size=[last['info'].width, last['info'].height], fx=last['info'].k[0],
            frame_ids=sorted({m.header.frame_id for m in last.values()}),
            depth_valid_fraction=float((depth > 0).mean()), depth_median=float(depth[depth > 0].mean()),
            color_mean=float(color.mean()),
            # a scene's signature (sensor noise moves it by far less than a millimetre): one per triple, in order
            scene_depths_mm=[round(float(np.median(d[d > 0])) * 1000, 1)
                             for d in (depth_image_to_metres(stamps[k]['depth']) for k in triples)],
            rate=(len(arrivals) - 1) / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else 0.0)
    print(json.dumps(report), flush=True)


if __name__ == '__main__':
    main()

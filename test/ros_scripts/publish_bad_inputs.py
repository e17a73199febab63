"""Publish phases of bad input (wrong encoding, colour/depth size mismatch, empty depth, 32FC1 depth in millimetres,
no depth, depth stamped 60 ms after its colour image, stamps 100 s back as when a recording starts over, stamps
that stay 0), then good frames (their camera_info first with lens distortion, then without)."""
import time
from dataclasses import replace

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rclpy.duration import Duration
from std_msgs.msg import Header

from seg_perception.ros.camera_publisher import RGBDPublisher, camera_info_message, depth_message
from seg_perception.ros.convert import numpy_to_image
from seg_perception.synthetic import SceneConfig, synthesize


def main():
    rclpy.init()
    node = rclpy.create_node('bad_input_publisher')
    out = RGBDPublisher(node)
    f = synthesize(11, SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
    color, depth, cam = f.rendered.color, f.rendered.depth, f.rgbd().camera
    distorted = replace(cam, distortion_model='plumb_bob', distortion=(-0.05, 0.0, 0.0, 0.0, 0.0))
    # the phases start once the node listens (it may still be loading on a busy machine)
    while rclpy.ok() and (out.color.get_subscription_count() == 0 or out.depth.get_subscription_count() == 0):
        rclpy.spin_once(node, timeout_sec=0.1)
    time.sleep(0.5)
    start = time.monotonic()
    while rclpy.ok():
        t = time.monotonic() - start
        now = node.get_clock().now()
        if 14 <= t < 16:     # time goes back 100 s
            now = now - Duration(seconds=100)
        header = Header(frame_id='camera_color_optical_frame', stamp=Time() if 16 <= t < 18 else now.to_msg())
        out.info.publish(camera_info_message(distorted if 18 <= t < 20 else cam, header))
        if t < 2:      # an encoding the node does not read
            out.color.publish(numpy_to_image(np.zeros((240, 160), np.uint16), 'mono16', header).__class__(
                header=header, height=240, width=320, encoding='yuv422', step=640, data=bytes(240 * 640)))
            out.depth.publish(depth_message(depth, '16UC1', header))
        elif t < 4:    # colour and depth of different sizes
            out.color.publish(numpy_to_image(color[:200], 'rgb8', header))
            out.depth.publish(depth_message(depth, '16UC1', header))
        elif t < 6:    # no valid depth at all
            out.color.publish(numpy_to_image(color, 'rgb8', header))
            out.depth.publish(depth_message(np.zeros_like(depth), '16UC1', header))
        elif t < 8:    # 32FC1 depth in millimetres instead of metres
            out.color.publish(numpy_to_image(color, 'rgb8', header))
            out.depth.publish(depth_message(depth * 1000.0, '32FC1', header))
        elif t < 11:   # colour only: the depth topic is silent
            out.color.publish(numpy_to_image(color, 'rgb8', header))
        elif t < 14:   # depth stamped 60 ms after its colour image
            out.color.publish(numpy_to_image(color, 'rgb8', header))
            late = header.stamp.sec * 10 ** 9 + header.stamp.nanosec + 60_000_000
            out.depth.publish(depth_message(depth, '16UC1', Header(
                frame_id=header.frame_id, stamp=Time(sec=late // 10 ** 9, nanosec=late % 10 ** 9))))
        else:          # good frames
            out.color.publish(numpy_to_image(color, 'rgb8', header))
            out.depth.publish(depth_message(depth, '16UC1', header))
        rclpy.spin_once(node, timeout_sec=0.2)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        pass

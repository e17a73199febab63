"""Publish one synthetic frame (seed 11, 320x240) as image_transport's plugins would over a network, under names
of a camera driver's own: colour on rgb/image_rect/compressed (PNG, lossless), depth on
depth_registered/image/compressedDepth, camera_info on color/camera_info; 5 Hz."""
import struct

import cv2
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage
from std_msgs.msg import Header

from seg_perception.ros.camera_publisher import camera_info_message
from seg_perception.synthetic import SceneConfig, synthesize


def main():
    rclpy.init()
    node = rclpy.create_node('compressed_publisher')
    qos = qos_profile_sensor_data
    color_pub = node.create_publisher(CompressedImage, 'rgb/image_rect/compressed', qos)
    depth_pub = node.create_publisher(CompressedImage, 'depth_registered/image/compressedDepth', qos)
    info_pub = node.create_publisher(CameraInfo, 'color/camera_info', qos)
    f = synthesize(11, SceneConfig(width=320, height=240, fx=307.5, fy=307.5))
    color = cv2.imencode('.png', f.rendered.color[..., ::-1])[1].tobytes()
    depth_mm = (f.rendered.depth * 1000).round().astype('uint16')
    depth = struct.pack('<iff', 0, 0.0, 0.0) + cv2.imencode('.png', depth_mm)[1].tobytes()
    camera = f.rgbd().camera
    while rclpy.ok():
        header = Header(frame_id='camera_color_optical_frame', stamp=node.get_clock().now().to_msg())
        info_pub.publish(camera_info_message(camera, header))
        color_pub.publish(CompressedImage(header=header, format='rgb8; png compressed bgr8', data=color))
        depth_pub.publish(CompressedImage(header=header, format='16UC1; compressedDepth png', data=depth))
        rclpy.spin_once(node, timeout_sec=0.2)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        pass

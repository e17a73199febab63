"""Publish one 640x480 rgb8 image and one 16UC1 depth image with the same stamp, every 100 ms."""
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from image_pattern import pattern
from seg_perception.ros.convert import make_header, numpy_to_image


def main():
    rclpy.init()
    node = rclpy.create_node('image_pair_publisher')
    color_pub = node.create_publisher(Image, 'color/image_raw', qos_profile_sensor_data)
    depth_pub = node.create_publisher(Image, 'depth/image_raw', qos_profile_sensor_data)
    color, depth = pattern()

    def tick():
        header = make_header(node.get_clock().now().nanoseconds * 1e-9, 'camera_color_optical_frame')
        color_pub.publish(numpy_to_image(color, 'rgb8', header))
        depth_pub.publish(numpy_to_image(depth, '16UC1', header))

    node.create_timer(0.1, tick)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass


if __name__ == '__main__':
    main()

"""Publishes colour, aligned depth and camera_info with identical headers, as a camera driver does."""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from ..types import CameraModel
from .convert import numpy_to_image

DEPTH_OUTPUT_ENCODINGS = ('16UC1', '32FC1')


def camera_info_message(camera: CameraModel, header) -> CameraInfo:
    info = CameraInfo()
    info.header = header
    info.width, info.height = camera.width, camera.height
    info.distortion_model = camera.distortion_model or 'plumb_bob'
    info.d = list(camera.distortion) or [0.0] * 5
    info.k = camera.K.reshape(-1).tolist()
    info.r = np.eye(3).reshape(-1).tolist()
    info.p = [camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def depth_message(depth_m: np.ndarray, encoding: str, header) -> Image:
    """16UC1 in millimetres (what RealSense drivers publish) or 32FC1 in metres with NaN for missing."""
    if encoding == '16UC1':
        return numpy_to_image(np.clip(np.round(depth_m * 1000.0), 0, 65535).astype(np.uint16), '16UC1', header)
    if encoding == '32FC1':
        return numpy_to_image(np.where(depth_m > 0, depth_m, np.nan).astype(np.float32), '32FC1', header)
    raise ValueError(f"depth encoding must be one of {DEPTH_OUTPUT_ENCODINGS}, got '{encoding}'")


class RGBDPublisher:
    """The three input topics of perception_node, relative to the publishing node's namespace."""

    def __init__(self, node: Node, qos: QoSProfile = qos_profile_sensor_data):
        self.color = node.create_publisher(Image, 'color/image_raw', qos)
        self.depth = node.create_publisher(Image, 'depth/image_raw', qos)
        self.info = node.create_publisher(CameraInfo, 'color/camera_info', qos)

    def publish(self, header, color_rgb: np.ndarray, depth_m: np.ndarray, camera: CameraModel,
                depth_encoding: str = '16UC1') -> None:
        self.info.publish(camera_info_message(camera, header))
        self.depth.publish(depth_message(depth_m, depth_encoding, header))
        self.color.publish(numpy_to_image(color_rgb, 'rgb8', header))

"""frames_camera: replays recorded RGB-D frames as a camera would publish them.

``path`` is either a folder in the frame folder format (one sub-folder per frame: color.png, depth.png,
camera.yaml; see README) or a rosbag2 (directory or .mcap/.db3 file, read with ``rosbags``; its images raw or as
image_transport's ``compressed`` / ``compressedDepth``, decoded as they are published). Publishes
``color/image_raw``, ``depth/image_raw`` and ``color/camera_info`` (relative to the node's namespace) with
identical headers. Folders play at ``rate`` Hz; bags keep their recorded timing (times ``speed``). With
``restamp`` (default) headers carry the current time, so a perception node sees fresh frames; otherwise the
recorded stamps are kept. ``loop`` starts over at the end.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import List, Optional, Tuple

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header

from ..dataset import list_frames, read_frame
from .camera_publisher import DEPTH_OUTPUT_ENCODINGS, RGBDPublisher
from .convert import COLOR_ENCODINGS, DEPTH_ENCODINGS, compressed_to_image
from .spin import spin_node


def read_bag(path: Path, color_topic: str = '', depth_topic: str = '', info_topic: str = ''
             ) -> List[Tuple[int, str, object]]:
    """(recorded time ns, 'color' | 'depth' | 'info', message) in recorded order; compressed images stay
    compressed (decoded when published). Topics left empty are chosen by type and encoding: a colour image, a depth
    image and the first camera_info topic of the bag; of several, one named for its stream ("color" or "rgb",
    "depth") and a raw one before a compressed one."""
    from rosbags.highlevel import AnyReader
    out = []
    with AnyReader([Path(path)]) as reader:
        types = {c.topic: CompressedImage if c.msgtype == 'sensor_msgs/msg/CompressedImage' else Image
                 for c in reader.connections if c.msgtype in _IMAGE_TYPES}
        images = sorted((c for c in reader.connections if c.topic in types), key=lambda c: types[c.topic] is not Image)
        infos = [c for c in reader.connections if c.msgtype == 'sensor_msgs/msg/CameraInfo']
        roles = {}
        for conn in images:
            if conn.topic in (color_topic, depth_topic):
                roles[conn.topic] = 'color' if conn.topic == color_topic else 'depth'
        candidates = {'color': [], 'depth': []}
        for conn in images if not color_topic or not depth_topic else []:
            raw = next((r for _, _, r in reader.messages(connections=[conn])), None)
            role = None if raw is None else _image_role(deserialize_message(raw, types[conn.topic]))
            if role and role not in roles.values():
                candidates[role].append(conn.topic)
        for role, topics in candidates.items():
            # a topic named for its stream first (a RealSense bag's 16-bit infrared is no depth), raw before
            # compressed
            named = [t for t in topics if any(word in t.lower() for word in _NAMES[role])]
            if (named or topics) and role not in roles.values():
                roles[(named or topics)[0]] = role
        info = info_topic or (infos[0].topic if infos else '')
        if info:
            roles[info] = 'info'
        missing = {'color', 'depth', 'info'} - set(roles.values())
        if missing:
            raise ValueError(f'{path}: no {", ".join(sorted(missing))} topic found (topics: '
                             f'{sorted(c.topic for c in reader.connections)})')
        wanted = [c for c in reader.connections if c.topic in roles]
        for conn, timestamp, raw in reader.messages(connections=wanted):
            kind = roles[conn.topic]
            message_type = CameraInfo if kind == 'info' else types[conn.topic]
            out.append((timestamp, kind, deserialize_message(raw, message_type)))
    return out


_IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
_NAMES = {'color': ('color', 'rgb'), 'depth': ('depth',)}


def _image_role(msg) -> Optional[str]:
    """'color' or 'depth' for an image of a bag by its encoding (a compressed one's format: "rgb8; jpeg compressed
    bgr8", "16UC1; compressedDepth png"), None for neither."""
    if isinstance(msg, CompressedImage):
        published = msg.format.split(';')[0].strip()
        if 'compresseddepth' in msg.format.lower() or published in DEPTH_ENCODINGS:
            return 'depth'
        return 'color' if published in COLOR_ENCODINGS or published.lower() in ('jpeg', 'jpg', 'png') else None
    return 'color' if msg.encoding in COLOR_ENCODINGS else 'depth' if msg.encoding in DEPTH_ENCODINGS else None


class FramesCameraNode(Node):
    def __init__(self, **kwargs):
        super().__init__('frames_camera', **kwargs)
        p = self._param
        self.path = Path(p('path', '', 'frame folder (folder format) or rosbag2 to replay'))
        self.rate = p('rate', 10.0, 'frames per second for frame folders')
        self.speed = p('speed', 1.0, 'playback speed factor for bags')
        self.loop = p('loop', True, 'start over at the end')
        self.restamp = p('restamp', True, 'stamp headers with the current time')
        self.frame_id = p('frame_id', 'camera_color_optical_frame', 'header frame_id for frame folders')
        self.depth_encoding = p('depth_encoding', '16UC1',
                                f'depth encoding for frame folders: {DEPTH_OUTPUT_ENCODINGS}')
        topics = [p(f'{k}_topic', '', f'bag topic of the {k} stream (empty: found by type)')
                  for k in ('color', 'depth', 'info')]
        if not str(self.path) or not self.path.exists():
            raise ValueError(f"frames_camera: parameter 'path' must name a frame folder or a rosbag2, got "
                             f"'{self.path}'")
        if self.rate <= 0 or self.speed <= 0 or self.depth_encoding not in DEPTH_OUTPUT_ENCODINGS:
            raise ValueError('frames_camera: rate and speed must be > 0 and depth_encoding one of '
                             f'{DEPTH_OUTPUT_ENCODINGS}')
        self.out = RGBDPublisher(self)
        self._bag: Optional[list] = None
        self._folders: List[Path] = []
        if self.path.is_dir() and list_frames(self.path):
            self._folders = list_frames(self.path)
            self.get_logger().info(f'replaying {len(self._folders)} frames from {self.path} at {self.rate:g} Hz')
        else:
            self._bag = read_bag(self.path, *topics)
            self.get_logger().info(f'replaying {len(self._bag)} messages from bag {self.path} x{self.speed:g}')
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def _param(self, name, default, description):
        return self.declare_parameter(name, default, ParameterDescriptor(description=description)).value

    def _play(self):
        while not self._stop.is_set() and rclpy.ok():
            if self._folders:
                self._play_folders()
            else:
                self._play_bag()
            if not self.loop:
                break

    def _play_folders(self):
        period = 1.0 / self.rate
        for folder in self._folders:
            if self._stop.is_set():
                return
            start = time.monotonic()
            try:
                frame = read_frame(folder)
            except (OSError, ValueError) as exc:
                self.get_logger().warning(f'skipping {folder}: {exc}')
                continue
            header = Header(frame_id=self.frame_id, stamp=self.get_clock().now().to_msg())
            self.out.publish(header, frame.color, frame.depth, frame.camera, self.depth_encoding)
            self._stop.wait(max(0.0, period - (time.monotonic() - start)))

    def _play_bag(self):
        publishers = {'color': self.out.color, 'depth': self.out.depth, 'info': self.out.info}
        restamped = {}
        t0_bag, t0 = self._bag[0][0], time.monotonic()
        for timestamp, kind, msg in self._bag:
            if self._stop.is_set():
                return
            self._stop.wait(max(0.0, (timestamp - t0_bag) * 1e-9 / self.speed - (time.monotonic() - t0)))
            if self.restamp:  # messages that shared a stamp keep sharing the new one
                key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
                if key not in restamped:
                    if len(restamped) > 64:
                        restamped.clear()
                    restamped[key] = self.get_clock().now().to_msg()
                msg.header.stamp = restamped[key]
            if isinstance(msg, CompressedImage):
                try:
                    msg = compressed_to_image(msg)
                except ValueError as exc:
                    self.get_logger().warning(f'skipping a {kind} image: {exc}', throttle_duration_sec=5.0)
                    continue
            publishers[kind].publish(msg)

    def destroy_node(self):
        self._stop.set()
        self._thread.join(timeout=5)
        return super().destroy_node()


def main(args=None):
    spin_node(FramesCameraNode, args)


if __name__ == '__main__':
    main()

"""synthetic_camera: a stand-in RGB-D camera publishing rendered tabletop scenes.

Publishes ``color/image_raw`` (rgb8), ``depth/image_raw`` (16UC1 mm or 32FC1 m) and ``color/camera_info`` with
identical headers at ``rate`` Hz. Rendering runs in a background thread: each scene is rendered
``noise_variants`` times (fresh sensor noise each) and the timer cycles through those, so the publish rate does
not depend on the render speed. With ``new_scene_every`` > 0 the scene changes every that many frames: to a new
scene rendered meanwhile, or with ``scene_count`` > 0 to the next of that many scenes rendered before the first
frame is published (then the camera costs only what publishing costs, like a hardware camera's driver, and leaves
the CPU to the node being measured).
"""
from __future__ import annotations

import threading
from typing import List, Optional

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from std_msgs.msg import Header

from ..synthetic import NoiseConfig, Renderer, SceneConfig, frame_seed, generate_scene
from .camera_publisher import DEPTH_OUTPUT_ENCODINGS, RGBDPublisher
from .spin import spin_node


class SyntheticCameraNode(Node):
    def __init__(self, **kwargs):
        super().__init__('synthetic_camera', **kwargs)
        p = self._param
        self.rate = p('rate', 30.0, 'publish rate in Hz')
        width, height = p('width', 640, 'image width in pixels'), p('height', 480, 'image height in pixels')
        focal = p('focal_length', 615.0 * width / 640.0, 'fx = fy in pixels (D435-like by default)')
        self.seed = p('seed', 0, 'scene seed; scene k uses a seed derived from it')
        self.new_scene_every = p('new_scene_every', 0, 'frames between scene changes; 0 keeps one scene')
        self.variants = max(1, p('noise_variants', 8, 'renders per scene with fresh sensor noise'))
        self.frame_id = p('frame_id', 'camera_color_optical_frame', 'header frame_id (optical frame)')
        self.depth_encoding = p('depth_encoding', '16UC1', f'one of {DEPTH_OUTPUT_ENCODINGS}')
        self.scene_count = p('scene_count', 0, 'scenes rendered before publishing starts, then cycled; '
                                               '0 renders new scenes while publishing')
        noise = p('noise', True, 'simulate sensor noise (off: exact depth and colour)')
        self.scene_cfg = SceneConfig(
            width=width, height=height, fx=focal, fy=focal,
            min_objects=p('min_objects', 1, 'fewest objects on the table'),
            max_objects=p('max_objects', 15, 'most objects on the table'),
            min_elevation_deg=p('min_elevation_deg', 25.0, 'least camera angle below the horizon (deg)'),
            max_elevation_deg=p('max_elevation_deg', 80.0, 'largest camera angle below the horizon (deg; 90 = '
                                                           'straight down, a camera on the wrist)'),
            min_distance=p('min_distance', 0.4, 'least distance from the camera to the table middle (m)'),
            max_distance=p('max_distance', 1.5, 'largest distance from the camera to the table middle (m)'))
        if self.depth_encoding not in DEPTH_OUTPUT_ENCODINGS or self.rate <= 0 or self.scene_count < 0:
            raise ValueError(f'synthetic_camera: depth_encoding must be one of {DEPTH_OUTPUT_ENCODINGS}, '
                             f'rate > 0 and scene_count >= 0 (got {self.depth_encoding!r}, {self.rate}, '
                             f'{self.scene_count})')
        self.noise = NoiseConfig() if noise else NoiseConfig.off()
        self.out = RGBDPublisher(self)
        self._lock = threading.Lock()
        self._current: Optional[List] = None     # [(color, depth)] of the scene being published
        self._camera = None
        self._next: Optional[tuple] = None       # (camera, frames) rendered ahead
        self._library: List[tuple] = []          # every (camera, frames) when scene_count > 0
        self._scene_index = 0
        self._published = 0
        self._stop = threading.Event()
        self._want_next = threading.Event()
        self._want_next.set()
        self._worker = threading.Thread(target=self._render_loop, daemon=True)
        self._worker.start()
        self.create_timer(1.0 / self.rate, self._tick)
        self.get_logger().info(f'synthetic camera {width}x{height} at {self.rate:g} Hz, seed {self.seed}, '
                               f'{"fixed scene" if not self.new_scene_every else f"new scene every {self.new_scene_every} frames"}')

    def _param(self, name, default, description):
        return self.declare_parameter(name, default, ParameterDescriptor(description=description)).value

    def _render(self, index: int) -> tuple:
        scene = generate_scene(frame_seed(self.seed, index), self.scene_cfg)
        renderer = Renderer(scene)
        rng = np.random.default_rng([self.seed, index])
        frames = []
        for _ in range(self.variants):
            r = renderer.render(rng, self.noise)
            frames.append((r.color, r.depth))
        return Renderer.camera_of(scene), frames

    def _render_loop(self):
        if self.scene_count:
            library = []
            for index in range(self.scene_count):
                if self._stop.is_set():
                    return
                library.append(self._render(index))
            with self._lock:
                self._library = library
            self.get_logger().info(f'{len(library)} scenes rendered; publishing')
            return
        while not self._stop.is_set():
            if not self._want_next.wait(0.1):
                continue
            self._want_next.clear()
            rendered = self._render(self._scene_index)
            with self._lock:
                self._next = rendered
            self._scene_index += 1

    def _tick(self):
        with self._lock:
            if self._library:  # pre-rendered scenes, in turn
                scene = self._published // self.new_scene_every if self.new_scene_every else 0
                self._camera, self._current = self._library[scene % len(self._library)]
            elif self._next is not None and (
                    self._current is None or
                    (self.new_scene_every and self._published % self.new_scene_every == 0)):
                self._camera, self._current = self._next
                self._next = None
                if self.new_scene_every:
                    self._want_next.set()
            if self._current is None:
                return
            color, depth = self._current[self._published % len(self._current)]
            camera = self._camera
        header = Header(frame_id=self.frame_id, stamp=self.get_clock().now().to_msg())
        self.out.publish(header, color, depth, camera, self.depth_encoding)
        self._published += 1

    def destroy_node(self):
        self._stop.set()
        self._worker.join(timeout=5)
        return super().destroy_node()


def main(args=None):
    spin_node(SyntheticCameraNode, args)


if __name__ == '__main__':
    main()

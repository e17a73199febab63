"""perception_node: the ROS 2 shell around Pipeline (a lifecycle node; no algorithm lives here).

configure: parameters -> validated Config -> Pipeline (models loaded, warmed up), publishers.
activate: subscriptions to color/image_raw, depth/image_raw, color/camera_info; a worker thread processes the
latest synchronized pair (never a growing queue; frames replaced while busy are counted as dropped).
deactivate: subscriptions go, the worker stops. cleanup: the pipeline goes (GPU memory freed).
"""
from __future__ import annotations

import threading
import time
import typing
from dataclasses import replace
from collections import deque
from typing import Optional, Tuple

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PolygonStamped, PoseArray
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor, SetParametersResult
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.exceptions import ParameterUninitializedException
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from ..config import Config, ConfigError, flatten, from_flat, parameter_specs
from ..depth_edges import smoothed_depth_advice
from ..extrinsics import pose_matrix, result_in_base
from ..lens import distortion_shift, distortion_warning
from ..prepare import depth_out_of_range
from ..registration import misregistered_advice
from ..stream_watch import MedianWatch
from ..types import RGBDFrame
from .convert import (camera_info_to_model, color_image_to_rgb, compressed_to_image, depth_image_to_metres,
                      stamp_to_sec)
from .outputs import (grasp_cloud, grasp_markers, grasp_poses, label_images, object_boxes, object_cloud,
                      object_markers, overlay_image, support_polygon)
from .sync import ApproximateTimeSync
from .spin import spin_node

NODE_PARAMETERS = {  # ROS-only settings, beside the config tree
    'autostart': (True, 'Configure and activate on start.'),
    'sync.slop': (0.02, 'Largest stamp difference (s) between paired colour and depth images.'),
    'sync.queue_size': (10, 'Messages kept per input stream while waiting for a partner.'),
    'qos.reliable': (False, 'Subscribe reliable instead of sensor-data (best effort).'),
    'max_frame_age': (1.0, 'Frames older than this (s, against the node clock) are skipped as stale; 0 = off.'),
    'extrinsics.base_frame': ('', 'Robot base frame id. With extrinsics.camera_pose set, objects and grasps are '
                                  'also published in this frame (~/base/...), and the pose gives the up vector.'),
    'cpu_threads': (1, 'torch threads on the CPU (0 = torch default), in the worker and in the grasp process. One '
                       'leaves the other cores to the message callbacks, the grasp process and the camera driver: '
                       'on a 2-core machine running the synthetic camera too, 8.9 Hz against 4.6-5.3 Hz with two '
                       '(measured with grasps planned in the worker).'),
    'transport.color': ('raw', "How colour arrives: 'raw' (color/image_raw) or 'compressed' (image_transport's JPEG "
                               "or PNG on color/image_raw/compressed, as over a network). Takes effect at activation."),
    'transport.depth': ('raw', "How depth arrives: 'raw' (depth/image_raw), 'compressedDepth' (image_transport's "
                               "compressedDepth PNG on depth/image_raw/compressedDepth) or 'compressed' (a 16-bit PNG "
                               "on depth/image_raw/compressed). Takes effect at activation."),
    'grasp_process': (True, 'Plan grasps on the CPU in a child process, beside the next frame\'s segmentation '
                            '(another core; a thread would wait for the GIL; about 500 MiB more memory), also when '
                            'segmenting on a GPU, where the many small planning operations gain nothing. Off: in the '
                            'worker thread on the pipeline\'s device, after the object clouds. Takes effect at '
                            'configure, and only when grasps.enabled is true then.'),
}
_TRANSPORTS = {'color': ('raw', 'compressed'), 'depth': ('raw', 'compressedDepth', 'compressed')}


def _transport_problem(stream: str, value) -> Optional[str]:
    """Why ``value`` is no transport for the colour or depth ``stream``, or None when it is one."""
    if value in _TRANSPORTS[stream]:
        return None
    return f"transport.{stream} must be one of {', '.join(_TRANSPORTS[stream])}, got '{value}'"


_WARN_PERIOD = 5.0
_GRASP_TIMEOUT = 30.0   # s a frame waits for the previous one's grasp planning before the child counts as hung
_ARRAY_TYPES = {float: Parameter.Type.DOUBLE_ARRAY, str: Parameter.Type.STRING_ARRAY, int: Parameter.Type.INTEGER_ARRAY}


def _declared(spec):
    """What a configuration key is declared with: its default, except that an empty list is declared by its
    array type without a value (rclpy would type [] as a byte array and refuse [0.0, -1.0, 0.0]; a params file
    cannot hold an empty list either: the key is then left unset and means the default)."""
    if isinstance(spec.default, list) and not spec.default:
        return _ARRAY_TYPES[typing.get_args(spec.type)[0]]
    return spec.default


class PerceptionNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__('perception_node', **kwargs)
        for spec in parameter_specs():
            self.declare_parameter(spec.name, _declared(spec), self._descriptor(spec))
        for name, (default, text) in NODE_PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=text))
        # a typed parameter without a default: unset means no extrinsics
        self.declare_parameter('extrinsics.camera_pose', Parameter.Type.DOUBLE_ARRAY, ParameterDescriptor(
            description='Static pose of the camera optical frame in extrinsics.base_frame: [x, y, z, qx, qy, qz, '
                        'qw] (m, unit quaternion) or a row-major 4x4 matrix (16 numbers). Unset: camera frame only.',
            read_only=True))
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.pipeline = None
        self._camera_to_base, self._base_frame = None, ''
        self._subs = []
        self._topics = ('color/image_raw', 'depth/image_raw')   # the image topics subscribed to (transport.*)
        self._latest: Optional[tuple] = None
        self._camera_info = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: Optional[threading.Thread] = None
        self._grasp_process = None                # BackgroundGraspPlanner, when grasps are planned in a child
        self._child_failed_gpu_frame = False      # the child could not plan a GPU-segmented frame: plan here
        self._last_stamp = float('-inf')
        self._sync: Optional[ApproximateTimeSync] = None   # made at activation
        self._warned = {}
        self._cameras_checked = set()            # camera models already checked for lens distortion
        self.frames_in = self.frames_out = self.frames_dropped = 0
        self._latency = deque(maxlen=100)          # input stamp -> whole frame out (grasps included), ms
        self._labels_latency = deque(maxlen=100)   # input stamp -> label images out, ms
        self._out_times = deque(maxlen=100)
        self._stage_ms = {}
        if self.get_parameter('autostart').value:
            if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                self.trigger_activate()

    # -- parameters ------------------------------------------------------------------------------------------

    @staticmethod
    def _descriptor(spec) -> ParameterDescriptor:
        text = spec.description + (f" One of: {', '.join(map(str, spec.choices))}." if spec.choices else '')
        d = ParameterDescriptor(description=text, read_only=spec.read_only)
        if spec.type is float and spec.min is not None and spec.max is not None:
            d.floating_point_range = [FloatingPointRange(from_value=float(spec.min), to_value=float(spec.max))]
        elif spec.type is int and spec.min is not None and spec.max is not None:
            d.integer_range = [IntegerRange(from_value=int(spec.min), to_value=int(spec.max), step=0)]
        return d

    def _config_values(self, overrides=None) -> dict:
        values = {}
        for name, default in flatten(Config()).items():
            try:
                values[name] = self.get_parameter(name).value
            except ParameterUninitializedException:   # an empty list: unset
                values[name] = default
        values.update(overrides or {})
        return {k: (list(v) if isinstance(v, (tuple, np.ndarray)) or type(v).__name__ == 'array' else v)
                for k, v in values.items()}

    def _validate_parameters(self, params) -> SetParametersResult:
        for p in params:
            stream = p.name[len('transport.'):] if p.name.startswith('transport.') else None
            problem = _transport_problem(stream, p.value) if stream in _TRANSPORTS else None
            if problem:
                return SetParametersResult(successful=False, reason=problem)
        changes = {p.name: p.value for p in params if p.name in flatten(Config())}
        if not changes:
            return SetParametersResult(successful=True)
        try:
            config = from_flat(self._config_values(changes))
            if self.pipeline is not None:   # configured: the camera pose is known
                from ..workspace import WorkspaceBox
                WorkspaceBox.from_config(config.workspace, self._camera_to_base)
        except (ConfigError, ValueError) as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if self.pipeline is not None:  # thresholds take effect on the next frame
            self.pipeline.update(config)
        return SetParametersResult(successful=True)

    # -- lifecycle -------------------------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        from ..grasps.hysteresis import GraspHysteresis
        from ..instances.stable_ids import StableIds
        from ..pipeline import Pipeline
        from ..workspace import WorkspaceBox
        threads = int(self.get_parameter('cpu_threads').value)
        if threads > 0:
            import torch
            torch.set_num_threads(threads)
        try:
            self._camera_to_base, self._base_frame = self._extrinsics()
            config = from_flat(self._config_values())
            WorkspaceBox.from_config(config.workspace, self._camera_to_base)   # a base-frame box needs the pose
            self.pipeline = Pipeline(config)
            self.pipeline.warm_up()
        except Exception as exc:  # a bad parameter or model file: say why and stay unconfigured
            self.get_logger().error(f'configure failed: {exc}')
            self.pipeline = None
            return TransitionCallbackReturn.FAILURE
        if self.get_parameter('grasp_process').value and self.pipeline.config.grasps.enabled:
            from ..grasps.background import BackgroundGraspPlanner
            try:
                self._child_failed_gpu_frame = False
                self._grasp_process = BackgroundGraspPlanner(threads=max(1, threads))
            except (OSError, RuntimeError) as exc:
                self.get_logger().warning(f'grasps are planned in the node process: {exc}')
        self.pub = {
            'surfaces': self.create_publisher(Image, '~/surfaces/labels', 5),
            'instances': self.create_publisher(Image, '~/instances/labels', 5),
            'overlay': self.create_publisher(Image, '~/overlay', 5),
            'support': self.create_publisher(PolygonStamped, '~/support/polygon', 5),
            'points': self.create_publisher(PointCloud2, '~/objects/points', 5),
            'boxes': self.create_publisher(PointCloud2, '~/objects/boxes', 5),
            'object_markers': self.create_publisher(MarkerArray, '~/objects/markers', 5),
            'grasps': self.create_publisher(PoseArray, '~/grasps', 5),
            'candidates': self.create_publisher(PointCloud2, '~/grasps/candidates', 5),
            'grasp_markers': self.create_publisher(MarkerArray, '~/grasps/markers', 5),
            'diagnostics': self.create_publisher(DiagnosticArray, '/diagnostics', 5),
        }
        if self._camera_to_base is not None:
            self.pub.update({
                'base_support': self.create_publisher(PolygonStamped, '~/base/support/polygon', 5),
                'base_points': self.create_publisher(PointCloud2, '~/base/objects/points', 5),
                'base_boxes': self.create_publisher(PointCloud2, '~/base/objects/boxes', 5),
                'base_grasps': self.create_publisher(PoseArray, '~/base/grasps', 5),
                'base_candidates': self.create_publisher(PointCloud2, '~/base/grasps/candidates', 5),
            })
        self._classes = {}
        # what carries over from frame to frame of one camera: object ids, the grasps' ranking
        self._ids = StableIds(self.pipeline.config.instances.keep_splits)
        self._ranking = GraspHysteresis(self.pipeline.config.grasps.hysteresis)
        self._stream_frame_id = None
        # whether the camera smooths depth across object edges and whether its depth is registered to its colour:
        # setup matters, each said once per configuration and camera
        self._edge_watch, self._alignment_watch = MedianWatch(), MedianWatch()
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics)
        self.get_logger().info(f'configured on {self.pipeline.device}')
        return TransitionCallbackReturn.SUCCESS

    def _extrinsics(self):
        """(camera_to_base 4x4 or None, base frame id) from the extrinsics parameters; ValueError says what is
        wrong with them."""
        try:
            pose = self.get_parameter('extrinsics.camera_pose').value
        except ParameterUninitializedException:   # not set: the camera frame only
            pose = None
        base = str(self.get_parameter('extrinsics.base_frame').value)
        if pose is None or len(pose) == 0:
            if base:
                raise ValueError(f"extrinsics.base_frame is '{base}' but extrinsics.camera_pose is not set")
            return None, ''
        if not base:
            raise ValueError('extrinsics.camera_pose is set but extrinsics.base_frame is empty')
        try:
            return pose_matrix(pose), base
        except ValueError as exc:
            raise ValueError(f'extrinsics.camera_pose: {exc}') from None

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        qos = qos_profile_sensor_data
        if self.get_parameter('qos.reliable').value:
            qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._sync = ApproximateTimeSync(2, float(self.get_parameter('sync.slop').value),
                                         int(self.get_parameter('sync.queue_size').value), self._on_pair)
        try:
            (color_type, color_topic), (depth_type, depth_topic) = self._image_topics()
            self._topics = (color_topic, depth_topic)
        except ValueError as exc:
            self.get_logger().error(f'activate failed: {exc}')
            return TransitionCallbackReturn.FAILURE
        self._subs = [
            self.create_subscription(color_type, color_topic, lambda m: self._on_image(0, m), qos),
            self.create_subscription(depth_type, depth_topic, lambda m: self._on_image(1, m), qos),
            self.create_subscription(CameraInfo, 'color/camera_info', self._on_info, qos),
        ]
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, daemon=True)
        self._worker.start()
        return super().on_activate(state)

    def _image_topics(self):
        """(message type, topic) of the colour and the depth images, as transport.color / transport.depth say
        (image_transport's names: the raw topic, or its /compressed or /compressedDepth sub-topic, after the raw
        topic's remapping, so that remapping color/image_raw and depth/image_raw is all a launch file does)."""
        out = []
        for stream in ('color', 'depth'):
            transport = str(self.get_parameter(f'transport.{stream}').value)
            problem = _transport_problem(stream, transport)
            if problem:
                raise ValueError(problem)
            topic = f'{stream}/image_raw'
            if transport == 'raw':
                out.append((Image, topic))
            else:
                out.append((CompressedImage, f'{self.resolve_topic_name(topic)}/{transport}'))
        return out

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        for sub in self._subs:
            self.destroy_subscription(sub)
        self._subs = []
        self._stop_worker()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._close_grasp_process()
        for pub in getattr(self, 'pub', {}).values():
            self.destroy_publisher(pub)
        self.pub = {}
        if getattr(self, '_diag_timer', None) is not None:
            self.destroy_timer(self._diag_timer)
        self.pipeline = None
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_worker()
        self._close_grasp_process()
        return TransitionCallbackReturn.SUCCESS

    def destroy_node(self):
        self._stop_worker()
        self._close_grasp_process()
        return super().destroy_node()

    def _close_grasp_process(self):
        if self._grasp_process is not None:
            self._grasp_process.close()
        self._grasp_process = None

    def _stop_worker(self):
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self._worker = None

    # -- inputs ----------------------------------------------------------------------------------------------

    def _warn(self, key: str, text: str):
        """One warning per problem every few seconds: bad streams must not flood the log."""
        now = time.monotonic()
        if now - self._warned.get(key, -1e9) >= _WARN_PERIOD:
            self._warned[key] = now
            self.get_logger().warning(text)

    def _on_info(self, msg: CameraInfo):
        self._camera_info = msg

    def _on_image(self, stream: int, msg):   # an Image, or a CompressedImage (transport.*)
        stats = self._sync.stats
        overflow, stale, jumps = stats.dropped_overflow, stats.dropped_stale, stats.time_jumps
        stamp = stamp_to_sec(msg.header.stamp)
        self._sync.add(stream, stamp, msg)
        if stats.dropped_overflow > overflow:   # a full queue lost a message that never found a partner
            self._warn(*self._unpaired())
        if stats.dropped_stale > stale:
            self._warn('sync:stale', f'an image stamped {stamp:.3f} s is not newer than the last pair taken: '
                                     'dropped (images are paired by stamp; stamps must advance)')
        if stats.time_jumps > jumps:     # a recording replayed in a loop: go on with the new run
            self._last_stamp = float('-inf')
            self.get_logger().warning(f'image stamps jumped back by {stats.last_jump:.1f} s (a recording replayed '
                                      'in a loop?): pairing starts afresh')

    def _unpaired(self) -> Tuple[str, str]:
        """Why colour and depth do not pair (a warning key and text): one of them does not arrive, or their stamps
        differ by more than the slop."""
        waiting, spread = self._sync.pending(), self._sync.stats.closest_spread
        if 0 in waiting or spread is None:
            missing, present = ('depth', 'colour') if waiting[1] == 0 else ('colour', 'depth')
            topic = self._topics[1] if missing == 'depth' else self._topics[0]
            return 'sync:' + missing, (
                f'{present} images arrive but no {missing} images to pair them with: check that {topic} is remapped '
                f"to the camera's {'aligned depth' if missing == 'depth' else 'colour'} topic and that it publishes "
                '(QoS: qos.reliable)')
        return 'sync:stamps', (
            f'colour and depth stamps are {1000 * spread:.0f} ms apart at the closest, more than sync.slop '
            f'({1000 * self._sync.slop:.0f} ms): no pairs. Use depth aligned to the colour image (matching stamps) '
            'or raise sync.slop')

    def _on_pair(self, messages, stamps):
        color_msg, depth_msg = messages
        self.frames_in += 1
        if self._camera_info is None:
            self._warn('info', 'no camera_info received yet on color/camera_info: frames are skipped')
            return
        stamp = stamps[0]
        if stamp <= self._last_stamp:
            self._warn('order', f'frame stamp {stamp:.3f} is not newer than the last one ({self._last_stamp:.3f}): '
                                'skipped (stamps out of order)')
            return
        max_age = float(self.get_parameter('max_frame_age').value)
        age = self.get_clock().now().nanoseconds * 1e-9 - stamp
        if max_age > 0 and age > max_age:
            self._warn('stale', f'frame is {age:.2f} s old (max_frame_age {max_age} s): skipped as stale')
            return
        self._last_stamp = stamp
        # converting costs milliseconds per image: only the pair the worker takes is converted (in the worker)
        with self._lock:
            if self._latest is not None:
                self.frames_dropped += 1  # replaced before the worker took it
            self._latest = (color_msg, depth_msg, self._camera_info, stamp)
        self._wake.set()

    def _frame(self, color_msg, depth_msg, info, stamp) -> Optional[RGBDFrame]:
        """The messages as an RGBDFrame, or None (with a throttled warning) when they are unusable."""
        try:
            if isinstance(color_msg, CompressedImage):   # decoded here: only the pair the worker takes
                color_msg = compressed_to_image(color_msg)
            if isinstance(depth_msg, CompressedImage):
                depth_msg = compressed_to_image(depth_msg)
            color = color_image_to_rgb(color_msg)
            depth = depth_image_to_metres(depth_msg)
            camera = camera_info_to_model(info)
            frame = RGBDFrame(color, depth, camera, stamp=stamp, frame_id=color_msg.header.frame_id,
                              camera_to_base=self._camera_to_base)
        except ValueError as exc:  # wrong encoding, size mismatch, uncalibrated camera_info
            self._warn('input:' + str(exc)[:24], f'bad input frame skipped: {exc}')  # throttled per problem
            return None
        if camera not in self._cameras_checked:   # once per camera model: it is a setup matter, not a frame's
            self._cameras_checked.add(camera)
            text = distortion_warning(camera)
            if text:
                self.get_logger().warning(text)
            elif camera.is_distorted:
                self.get_logger().info(f'correcting lens distortion ({camera.distortion_model}): it moves the image '
                                       f'border by up to {distortion_shift(camera):.0f} px')
        if not (depth > 0).any():
            self._warn('depth', 'depth image has no valid pixel (all zero / NaN): frame skipped')
            return None
        depth_range = self.pipeline.config.depth
        problem = depth_out_of_range(depth, depth_range.min, depth_range.max)
        if problem:
            self._warn('depth range', f'{problem}: frame skipped')
            return None
        return frame

    # -- processing ------------------------------------------------------------------------------------------

    def _work(self):
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            with self._lock:
                item, self._latest = self._latest, None
            if item is None or self.pipeline is None:
                continue
            color_msg = item[0]
            frame = self._frame(*item)
            if frame is None:
                continue
            header = color_msg.header
            if header.frame_id != self._stream_frame_id:   # another camera: nothing carries over
                self._ids.reset()
                self._ranking.reset()
                self._edge_watch, self._alignment_watch = MedianWatch(), MedianWatch()
                self._stream_frame_id = header.frame_id
            ids = self._ids if self.pipeline.config.instances.stable_ids else None
            try:
                # labels, then object clouds go out as soon as they are ready; grasps follow for the same header
                result, scene = self.pipeline.perceive(frame, on_stage=lambda stage, r: self._publish_safely(
                    self._publish_labels if stage == 'labels' else self._publish_objects, r, header), ids=ids)
            except Exception as exc:  # keep the node alive; say what happened
                self._warn('process', f'processing failed: {type(exc).__name__}: {exc}')
                continue
            if result.surfaces.support_plane is None:
                self._warn('support', 'no support surface in view: no objects reported for this frame (a camera '
                           'turned about its optical axis needs surfaces.image_up, or the extrinsics)')
            if self._plan_grasps(result, scene, header) is False:
                return
            self._check_depth_setup(frame)

    def _check_depth_setup(self, frame) -> None:
        """How wide the stream's depth edges are and whether its depth is registered to its colour, measured on a
        few frames after their outputs went (about 15 ms at 640x480, once a second at 30 Hz); advice once."""
        reach = self.pipeline.config.depth.sharpen_ramps
        for watch, measure, advise in (
                (self._edge_watch, self.pipeline.depth_edge_spread,
                 lambda spread, frames: smoothed_depth_advice(spread, reach, frames)),
                (self._alignment_watch, self.pipeline.depth_colour_alignment, misregistered_advice)):
            if watch.due():
                watch.record(measure(frame))
                advice = watch.advice(advise)
                if advice:
                    self.get_logger().warning(advice)

    def _plan_grasps(self, result, scene, header):
        """Grasps of the frame's objects, then the frame's last outputs: in the child process when there is one
        (published from its result thread while the worker goes on), else here. False once rclpy shut down."""
        config = self.pipeline.config.grasps
        if self._child_failed_gpu_frame and self._grasp_process is not None:
            self.get_logger().error('the grasp process failed on a frame segmented on the GPU: grasps are planned '
                                    'in the node process from now on')
            self._close_grasp_process()
        if config.enabled and self._grasp_process is not None:
            try:
                self._grasp_process.submit(config, result, scene, lambda r, error: self._on_planned(r, error, header),
                                           timeout=_GRASP_TIMEOUT)
                return True
            except (RuntimeError, TimeoutError) as exc:   # the child died or hangs: plan here from now on
                self.get_logger().error(f'{exc}: grasps are planned in the node process from now on')
                self._close_grasp_process()
        if config.enabled:
            try:
                result = self.pipeline.plan_grasps(result, scene)
            except Exception as exc:
                self._warn('grasps', f'grasp planning failed: {type(exc).__name__}: {exc}')
                return True
        return self._publish_safely(self._publish_grasps, result, header)

    def _on_planned(self, result, error, header):
        if error is not None:
            self._warn('grasps', f'grasp planning failed: {error}')
            # the child plans on the CPU what the worker segmented on the GPU; should that ever not cross over,
            # the worker plans on its own device from the next frame on (as it did before the child took GPU frames)
            self._child_failed_gpu_frame = self.pipeline is not None and self.pipeline.device.type != 'cpu'
            return
        self._publish_safely(self._publish_grasps, result, header)

    def _publish_safely(self, publish, result, header):
        """Publishing errors are warned about, never fatal; False once rclpy shut down (Ctrl-C)."""
        try:
            publish(result, header)
        except Exception as exc:
            if not rclpy.ok():  # shutting down: the publishers are gone
                return False
            self._warn('publish', f'publishing failed: {type(exc).__name__}: {exc}')
        return True

    def _class_id(self, name: str) -> int:
        return self._classes.setdefault(name, len(self._classes))

    def _age_ms(self, stamp: float) -> float:
        return (self.get_clock().now().nanoseconds * 1e-9 - stamp) * 1000.0

    def _base_header(self, header) -> Header:
        return Header(stamp=header.stamp, frame_id=self._base_frame)

    def _publish_labels(self, result, header):
        surfaces, instances = label_images(result, header)
        self.pub['surfaces'].publish(surfaces)
        self.pub['instances'].publish(instances)
        self.pub['support'].publish(support_polygon(result, header))
        if self._camera_to_base is not None:
            based = result_in_base(result, self._camera_to_base)
            self.pub['base_support'].publish(support_polygon(based, self._base_header(header)))
        self._labels_latency.append(self._age_ms(result.frame.stamp))

    def _publish_objects(self, result, header):
        """Object clouds and boxes (camera and base frame) and, for someone watching, their markers."""
        pub = self.pub
        pub['points'].publish(object_cloud(result, header, self._class_id))
        pub['boxes'].publish(object_boxes(result, header, self._class_id))
        if self._camera_to_base is not None:
            based, base_header = result_in_base(result, self._camera_to_base), self._base_header(header)
            pub['base_points'].publish(object_cloud(based, base_header, self._class_id))
            pub['base_boxes'].publish(object_boxes(based, base_header, self._class_id))
        if pub['object_markers'].get_subscription_count():
            pub['object_markers'].publish(object_markers(result, header))

    def _publish_grasps(self, result, header):
        """Grasps (camera and base frame), their markers and the overlay, which draws them; the frame is out.
        The grasps go out in the steady ranking (grasps.hysteresis) over the frames of one camera."""
        self._ranking.margin = self.pipeline.config.grasps.hysteresis   # may change at run time
        result = replace(result, grasps=self._ranking.rank(result.grasps))
        pub = self.pub
        pub['grasps'].publish(grasp_poses(result, header))
        pub['candidates'].publish(grasp_cloud(result, header))
        if self._camera_to_base is not None:
            # the clouds went out in the base frame already: only the grasps are transformed here
            based = result_in_base(replace(result, objects=()), self._camera_to_base)
            base_header = self._base_header(header)
            pub['base_grasps'].publish(grasp_poses(based, base_header))
            pub['base_candidates'].publish(grasp_cloud(based, base_header))
        if pub['overlay'].get_subscription_count():
            pub['overlay'].publish(overlay_image(result, header))
        if pub['grasp_markers'].get_subscription_count():
            pub['grasp_markers'].publish(grasp_markers(result, header, self.pipeline.config.grasps.finger_depth))
        self.frames_out += 1
        self._latency.append(self._age_ms(result.frame.stamp))
        self._out_times.append(time.monotonic())
        self._stage_ms = dict(result.timings_ms)

    def _publish_diagnostics(self):
        if self.pipeline is None:
            return
        status = DiagnosticStatus(name='seg_perception: perception_node', hardware_id=str(self.pipeline.device))
        times = list(self._out_times)
        rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
        lat, labels_lat = (np.percentile(d, [50, 95]) if d else (float('nan'),) * 2
                           for d in (self._latency, self._labels_latency))
        values = {'output_rate_hz': f'{rate:.2f}', 'frames_in': str(self.frames_in),
                  'frames_out': str(self.frames_out), 'frames_dropped': str(self.frames_dropped),
                  'latency_p50_ms': f'{lat[0]:.1f}', 'latency_p95_ms': f'{lat[1]:.1f}',
                  'labels_latency_p50_ms': f'{labels_lat[0]:.1f}', 'labels_latency_p95_ms': f'{labels_lat[1]:.1f}',
                  'device': str(self.pipeline.device), 'depth_edge_spread_px': f'{self._edge_watch.median:.2f}',
                  'depth_colour_alignment': f'{self._alignment_watch.median:.2f}'}
        values.update({f'stage_{k}_ms': f'{v:.1f}' for k, v in self._stage_ms.items()})
        sync = self._sync
        if sync is not None:   # since the last activation: images that found no partner, came too late, time jumps
            values.update(images_unpaired=str(sync.stats.dropped_overflow + sync.stats.dropped_unmatched),
                          images_stale=str(sync.stats.dropped_stale), stamp_jumps_back=str(sync.stats.time_jumps))
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        status.level = DiagnosticStatus.OK if self.frames_out else DiagnosticStatus.WARN
        status.message = 'running' if self.frames_out else 'waiting for synchronized colour, depth and camera_info'
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub['diagnostics'].publish(msg)


def main(args=None):
    # the executor's callbacks only file the newest pair; the worker thread processes it
    spin_node(PerceptionNode, args)


if __name__ == '__main__':
    main()

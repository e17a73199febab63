"""Pipeline(config).process(frame): surfaces -> instances (-> clouds -> grasps), each stage timed."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Callable, Dict, Optional, Tuple

import numpy as np
import torch

from .config import Config, validate
from .depth_edges import edge_spread, sharpen_depth_ramps
from .instances import make_instance_segmenter
from .instances.stable_ids import StableIds
from .grasps import GraspPlanner, GraspScene
from .imageops import bounding_box, dilate, neighbour_max_at, repeat_pixels
from .lens import rays_tensor
from .projection import project_instances
from .prepare import PreparedFrame, clip_depth, prepare_frame, processing_stride, resolve_device
from .registration import edge_alignment
from .surfaces import make_surface_segmenter
from .surfaces.bin_walls import label_bin_walls
from .surfaces.outline import support_outline
from .surfaces.planes import raised_above_support
from .types import (SURFACE_OBJECT, SURFACE_OTHER, SURFACE_SUPPORT, SURFACE_WALL, InstanceResult, PerceptionResult,
                    Plane, RGBDFrame, SurfaceResult)
from .unmeasured import label_unmeasured
from .workspace import WorkspaceBox

log = logging.getLogger(__name__)


class Pipeline:
    """Configured once (models loaded, device chosen); ``process`` runs one frame."""

    def __init__(self, config: Config = None):
        self.config = validate(config or Config())
        self.device = resolve_device(self.config.device)
        self.surfaces = make_surface_segmenter(self.config)
        self.instances = make_instance_segmenter(self.config)
        self.grasp_planner = GraspPlanner(self.config.grasps, self.device)

    def update(self, config: Config) -> None:
        """New thresholds for the next frame (read-only settings such as backends and models stay): geometric
        stages are rebuilt (cheap), learned ones keep their loaded models."""
        from .instances.clusters import ClusterInstanceSegmenter
        from .surfaces.planes import PlaneSurfaceSegmenter
        config = validate(config)
        self.config = config
        if isinstance(self.surfaces, PlaneSurfaceSegmenter):
            self.surfaces = PlaneSurfaceSegmenter(config)
        else:
            self.surfaces.cfg, self.surfaces.geometry = config.surfaces, PlaneSurfaceSegmenter(config)
        if isinstance(self.instances, ClusterInstanceSegmenter):
            self.instances = ClusterInstanceSegmenter(config)
        else:
            self.instances.cfg, self.instances.clusters = config.instances, ClusterInstanceSegmenter(config)
        self.grasp_planner = GraspPlanner(config.grasps, self.device)

    def warm_up(self, height: int = 480, width: int = 640) -> None:
        """One run on a synthetic flat frame so the first real frame is not slowed by lazy initialisation."""
        from .types import CameraModel
        cam = CameraModel(width, height, 0.96 * width, 0.96 * width, width / 2, height / 2)
        depth = np.full((height, width), 0.8, np.float32)
        # a workspace box in the base frame needs a camera pose: any does for a frame without objects
        pose = np.eye(4) if self.config.workspace.frame == 'base' else None
        self.process(RGBDFrame(np.zeros((height, width, 3), np.uint8), depth, cam, camera_to_base=pose))

    def process(self, frame: RGBDFrame,
                on_stage: Optional[Callable[[str, PerceptionResult], None]] = None) -> PerceptionResult:
        """Surfaces and instances (labels), object clouds, then grasps. ``on_stage``, when given, receives the
        partial result as soon as each part is complete: ``('labels', result)`` with the label images,
        ``('objects', result)`` with the object clouds too, so that outputs need not wait for the later stages
        (the node publishes them then); the returned result adds the grasps."""
        result, scene = self.perceive(frame, on_stage)
        if self.config.grasps.enabled:
            result = self.plan_grasps(result, scene)
        return result

    @torch.inference_mode()   # no autograd bookkeeping: 5-10 % off every small op on the CPU
    def perceive(self, frame: RGBDFrame, on_stage: Optional[Callable[[str, PerceptionResult], None]] = None,
                 ids: Optional[StableIds] = None) -> Tuple[PerceptionResult, GraspScene]:
        """``process`` without the grasps: the result up to the object clouds and what grasp planning needs of
        the frame (for ``plan_grasps`` here, or a planner elsewhere: see grasps.background). ``ids``: in a stream,
        keeps each object's id from the frame before (see instances.stable_ids)."""
        timings: Dict[str, float] = {}
        total = time.perf_counter()
        stride = processing_stride(self.config.stride, frame.camera.fx, self.device)
        with self._timed(timings, 'prepare'):
            pf = prepare_frame(self._sharpened(frame), self.device, self.config.depth.min, self.config.depth.max,
                               self.config.surfaces.up_vector or None, stride)
        with self._timed(timings, 'surfaces'):
            surfaces = self.surfaces.segment(pf)
            if self.config.surfaces.bin_walls:
                surfaces = label_bin_walls(surfaces, pf.points, self.config.surfaces.bin_wall_length,
                                           self.config.surfaces.seed)
            workspace = WorkspaceBox.from_config(self.config.workspace, frame.camera_to_base)
            if workspace is not None:
                surfaces = workspace.restrict(surfaces, pf.points)
        with self._timed(timings, 'instances'):
            instances = self.instances.segment(pf, surfaces)
            if ids is not None:
                instances = ids.relabel(instances)
        with self._timed(timings, 'outputs'):
            if stride > 1:
                # the frame's depth and colour on every pixel, uploaded once for the steps below
                depth = torch.from_numpy(pf.frame.depth).to(self.device)
                measured, color = self._measured(depth), None
                full_surfaces, full_instances = self._full_resolution(pf, surfaces, instances, depth, measured)
            else:   # the grid is every pixel: its depth and colour are the frame's, already on the device
                measured, color = pf.valid, pf.color
                labels = surfaces.labels.clone()
                _agree(labels, instances.labels)
                full_surfaces, full_instances = replace(surfaces, labels=labels), instances
            if self.config.instances.label_unmeasured:
                if color is None:
                    color = torch.from_numpy(pf.frame.color).to(self.device)
                inst, taken = label_unmeasured(full_instances.labels, measured, color)
                full_surfaces.labels[taken] = SURFACE_OBJECT
                full_instances = replace(full_instances, labels=inst)
            host_surfaces, host_instances = _to_host(full_surfaces, full_instances)
            support = (surfaces.labels == SURFACE_SUPPORT) & pf.valid
            host_surfaces = replace(host_surfaces, support_outline=support_outline(
                pf.points, support, host_surfaces.support_plane))
        result = PerceptionResult(frame, host_surfaces, host_instances, timings_ms=timings)
        if on_stage is not None:
            on_stage('labels', replace(result, timings_ms=dict(timings)))
        with self._timed(timings, 'clouds'):
            up = None if surfaces.up is None else surfaces.up.detach().cpu().numpy().astype(np.float64)
            objects = project_instances(pf.points, pf.valid, pf.normals, pf.color, instances.labels,
                                        instances.class_names, instances.scores, self.config.projection, up)
        result = replace(result, objects=tuple(objects))
        if on_stage is not None:
            on_stage('objects', replace(result, timings_ms=dict(timings)))
        model = surfaces.support_model
        scene = GraspScene(pf.points, pf.depth, instances.labels, pf.camera, up,
                           None if model is None else model.heights, self.config.projection.voxel_size)
        timings['total'] = (time.perf_counter() - total) * 1000.0
        return result, scene

    def plan_grasps(self, result: PerceptionResult, scene: GraspScene) -> PerceptionResult:
        """``result`` with the grasps of its objects; its total time grows by the planning time."""
        timings = dict(result.timings_ms)
        with self._timed(timings, 'grasps'):
            grasps, notes = self.grasp_planner.plan_with_reasons(result.objects, scene)
        timings['total'] = timings.get('total', 0.0) + timings['grasps']
        return replace(result, grasps=tuple(grasps), grasp_notes=notes, timings_ms=timings)

    def _full_resolution(self, pf: PreparedFrame, surfaces: SurfaceResult, instances: InstanceResult,
                         raw: torch.Tensor, valid: torch.Tensor):
        """Labels of the strided grid back on every pixel (``raw``: the frame's depth on the device, ``valid``:
        the pixels with depth): each pixel takes its cell's label; then, around the object cells, the support
        surface model decides exactly which pixels stand above it, are on it, or belong to the objects (so
        outlines at the table are as fine as the input). Elsewhere a pixel keeps its cell's label, so only the
        objects' bounding box is worked on."""
        frame, factor = pf.frame, pf.stride
        h, w = raw.shape
        labels = repeat_pixels(surfaces.labels, factor, h, w) * valid
        inst = repeat_pixels(instances.labels.to(torch.int32), factor, h, w)
        model = surfaces.support_model
        object_cells = (surfaces.labels == SURFACE_OBJECT) | (instances.labels > 0)
        if model is None or not bool(object_cells.any()):
            _agree(labels, inst)
            return replace(surfaces, labels=labels, heights=None, raised=None), replace(instances, labels=inst)
        # one cell of margin: the outlines' pixels next to the object cells
        r0, r1, c0, c1 = bounding_box(object_cells, margin=1)
        y0, y1, x0, x1 = r0 * factor, min(h, r1 * factor), c0 * factor, min(w, c1 * factor)
        cam = frame.camera
        camera = replace(cam, width=x1 - x0, height=y1 - y0, cx=cam.cx - x0, cy=cam.cy - y0)
        # views: what is set on them is set on the whole image
        depth = clip_depth(raw[y0:y1, x0:x1], self.config.depth.min, self.config.depth.max)
        valid, box_labels = valid[y0:y1, x0:x1], labels[y0:y1, x0:x1]
        c = self.config
        rays = rays_tensor(frame.camera, self.device)   # None: pinhole pixels
        heights = model.heights_image(depth, camera, rays=None if rays is None else rays[y0:y1, x0:x1])
        tol = model.tolerance(depth)
        raised = raised_above_support(heights, depth, valid, tol, c.instances.min_height, c.instances.max_height)
        raised &= box_labels != SURFACE_WALL
        coarse_objects = box_labels == SURFACE_OBJECT
        on_support = valid & (heights.abs() < tol) & ((box_labels == SURFACE_SUPPORT) | coarse_objects)
        # objects: raised pixels in or next to the coarse grid's object cells (the footprint was applied there)
        objects = raised & dilate(coarse_objects, 1)
        box_labels[coarse_objects & ~objects] = SURFACE_OTHER
        box_labels[objects] = SURFACE_OBJECT
        box_labels[on_support] = SURFACE_SUPPORT
        # the fine step refines outlines: an object's inner cells keep it whatever their measured height (a bowl's
        # floor a few millimetres above the table: inner_parts.py), their pixels without depth too (a depth hole
        # the grid filled, as at stride 1); at its outline only raised pixels do, and
        # raised pixels of no instance next to one join it (the coarse cell of an outline pixel may be table)
        coarse = instances.labels[r0:r1, c0:c1]
        # inner cells: the largest and the smallest label around them are their own
        inner = (dilate(coarse, 1) == coarse) & (-dilate(-coarse, 1) == coarse) & (coarse > 0)
        inner = repeat_pixels(inner, factor, y1 - y0, x1 - x0)
        box_inst = torch.where(raised | inner, inst[y0:y1, x0:x1], 0)
        inst[y0:y1, x0:x1] = neighbour_max_at(box_inst, raised & (box_inst == 0))
        _agree(box_labels, inst[y0:y1, x0:x1])   # no object label or instance lies outside the box
        return replace(surfaces, labels=labels, heights=None, raised=None), replace(instances, labels=inst)

    def _measured(self, raw: torch.Tensor) -> torch.Tensor:
        """(H, W) pixels of the depth image ``raw`` with depth within depth.min..depth.max."""
        # as clip_depth would leave it (NaN fails both tests), without writing a clipped copy of the whole image
        return (raw >= max(self.config.depth.min, 1e-6)) & (raw <= self.config.depth.max)

    def depth_edge_spread(self, frame: RGBDFrame) -> float:
        """How many pixels the frame's occlusion edges spread over (median; NaN when it has too few edges):
        1-2.5 for sharp depth, more for a sensor that smooths across edges (depth_edges.py). Measured on the host,
        off the frame's stages (a few milliseconds at 640x480)."""
        return edge_spread(self._host_depth(frame), self.config.instances.depth_jump)[0]

    def depth_colour_alignment(self, frame: RGBDFrame) -> float:
        """How well the frame's depth steps lie on its colour edges, against shifted ones (NaN when too few
        steps): 2.2 or more when the depth is registered to the colour image, under 1.8 when it is not
        (registration.py). Measured on the host, off the frame's stages (7-9 ms at 640x480 and 1280x720)."""
        return edge_alignment(self._host_depth(frame), torch.from_numpy(np.ascontiguousarray(frame.color)))[0]

    def _host_depth(self, frame: RGBDFrame) -> torch.Tensor:
        """The frame's depth on the host, NaN and values outside depth.min..depth.max set to 0 (missing)."""
        return clip_depth(torch.from_numpy(np.asarray(frame.depth, np.float32)), self.config.depth.min,
                          self.config.depth.max)

    def _sharpened(self, frame: RGBDFrame) -> RGBDFrame:
        """The frame whose depth every stage works on: as measured, or with the ramps a smoothing sensor made of
        occlusion edges cut sharp by colour (``depth.sharpen_ramps``; depth_edges.py)."""
        reach = self.config.depth.sharpen_ramps
        if reach <= 0:
            return frame
        # NaN fails clip_depth's range test: missing
        depth = clip_depth(torch.from_numpy(frame.depth).to(self.device), self.config.depth.min, self.config.depth.max)
        color = torch.from_numpy(np.ascontiguousarray(frame.color)).to(self.device)
        sharp = sharpen_depth_ramps(depth, color, reach, self.config.instances.depth_jump)
        return replace(frame, depth=sharp.cpu().numpy())

    @contextmanager
    def _timed(self, timings: Dict[str, float], name: str):
        start = time.perf_counter()
        yield
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
        timings[name] = (time.perf_counter() - start) * 1000.0


def _agree(labels: torch.Tensor, inst: torch.Tensor) -> None:
    """Surface labels (changed in place) agree with the instances: object pixels no instance kept become
    'other', instance pixels are objects."""
    labels[(labels == SURFACE_OBJECT) & (inst == 0)] = SURFACE_OTHER
    labels[inst > 0] = SURFACE_OBJECT


def _to_host(surfaces: SurfaceResult, instances: InstanceResult):
    """Final outputs to numpy."""
    labels, inst = surfaces.labels, instances.labels

    def plane(p: Plane) -> Plane:
        return Plane(_np(p.normal), float(p.offset), p.surface_class, p.inlier_count)

    planes = tuple(plane(p) for p in surfaces.planes)
    support = planes[0] if surfaces.support_plane is not None else None
    host_surfaces = SurfaceResult(labels.cpu().numpy().astype(np.uint8), planes,
                                  _np(surfaces.up) if surfaces.up is not None else None, support)
    host_instances = InstanceResult(inst.cpu().numpy().astype(np.uint16), instances.class_names, instances.scores)
    return host_surfaces, host_instances


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64) if isinstance(t, torch.Tensor) else np.asarray(t)

"""PerceptionResult -> the node's output messages (DESIGN.md's table), each with the input frame's header."""
from __future__ import annotations

from typing import List

import numpy as np
from geometry_msgs.msg import Point, Point32, Pose, PoseArray, PolygonStamped
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from ..geometry import matrix_from_quaternion, quaternion_from_matrix
from ..types import PerceptionResult
from ..visualize import instance_color, result_overlay
from .convert import numpy_to_image, numpy_to_pointcloud2

OBJECT_POINT_DTYPE = np.dtype([('x', np.float32), ('y', np.float32), ('z', np.float32), ('rgb', np.float32),
                               ('instance', np.uint16), ('class_id', np.uint16)])
OBJECT_BOX_DTYPE = np.dtype([('x', np.float32), ('y', np.float32), ('z', np.float32), ('qx', np.float32),
                             ('qy', np.float32), ('qz', np.float32), ('qw', np.float32), ('size_x', np.float32),
                             ('size_y', np.float32), ('size_z', np.float32), ('instance', np.uint16),
                             ('class_id', np.uint16), ('score', np.float32), ('point_count', np.uint32)])
GRASP_POINT_DTYPE = np.dtype([('x', np.float32), ('y', np.float32), ('z', np.float32), ('qx', np.float32),
                              ('qy', np.float32), ('qz', np.float32), ('qw', np.float32), ('width', np.float32),
                              ('score', np.float32), ('object_id', np.uint16)])


def label_images(result: PerceptionResult, header):
    surfaces = numpy_to_image(result.surfaces.labels.astype(np.uint8), 'mono8', header)
    instances = numpy_to_image(result.instances.labels.astype(np.uint16), 'mono16', header)
    return surfaces, instances


def overlay_image(result: PerceptionResult, header):
    return numpy_to_image(result_overlay(result), 'rgb8', header)


def _packed_rgb(colors: np.ndarray) -> np.ndarray:
    """PCL / RViz packed colour: 0x00RRGGBB stored in a float32."""
    c = colors.astype(np.uint32)
    return ((c[:, 0] << 16) | (c[:, 1] << 8) | c[:, 2]).view(np.float32)


def object_cloud(result: PerceptionResult, header, class_ids) -> object:
    """All object points: x y z rgb instance class_id (class_id indexes the node's class list)."""
    parts = []
    for obj in result.objects:
        n = len(obj.points)
        if n == 0:
            continue
        rec = np.zeros(n, OBJECT_POINT_DTYPE)
        rec['x'], rec['y'], rec['z'] = obj.points[:, 0], obj.points[:, 1], obj.points[:, 2]
        rec['rgb'] = _packed_rgb(obj.colors)
        rec['instance'] = obj.instance_id
        rec['class_id'] = class_ids(obj.class_name)
        parts.append(rec)
    cloud = np.concatenate(parts) if parts else np.zeros(0, OBJECT_POINT_DTYPE)
    return numpy_to_pointcloud2(cloud, header)


def support_polygon(result: PerceptionResult, header) -> PolygonStamped:
    """The support surface's outline in view: vertices on its plane, counter-clockwise seen from above; no
    points when no support surface was found."""
    msg = PolygonStamped(header=header)
    outline = result.surfaces.support_outline
    if outline is not None:
        msg.polygon.points = [Point32(x=float(x), y=float(y), z=float(z)) for x, y, z in outline]
    return msg


def object_boxes(result: PerceptionResult, header, class_ids):
    """One record per object: its box (centre, orientation, full side lengths along the box axes), id, class id,
    score and cloud size: what a planning scene needs of each object."""
    rec = np.zeros(len(result.objects), OBJECT_BOX_DTYPE)
    for i, obj in enumerate(result.objects):
        rec[i] = (*obj.box_center, *quaternion_from_matrix(obj.box_rotation), *obj.box_extent, obj.instance_id,
                  class_ids(obj.class_name), obj.score, len(obj.points))
    return numpy_to_pointcloud2(rec, header)


def _pose(position, quaternion) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    (pose.orientation.x, pose.orientation.y, pose.orientation.z,
     pose.orientation.w) = (float(v) for v in quaternion)
    return pose


def grasp_poses(result: PerceptionResult, header) -> PoseArray:
    msg = PoseArray()
    msg.header = header
    msg.poses = [_pose(g.position, g.quaternion) for g in result.grasps]
    return msg


def grasp_cloud(result: PerceptionResult, header):
    rec = np.zeros(len(result.grasps), GRASP_POINT_DTYPE)
    for i, g in enumerate(result.grasps):
        rec[i] = (*g.position, *g.quaternion, g.width, g.score, g.object_id)
    return numpy_to_pointcloud2(rec, header)


def object_markers(result: PerceptionResult, header) -> MarkerArray:
    """The support surface's outline, and per object its box, a label text and its centroid; a DELETEALL first
    clears the last frame's."""
    markers: List[Marker] = [Marker(header=header, action=Marker.DELETEALL)]
    outline = result.surfaces.support_outline
    if outline is not None and len(outline) >= 3:
        edge = Marker(header=header, ns='support', id=0, type=Marker.LINE_STRIP, action=Marker.ADD)
        edge.pose.orientation.w = 1.0
        edge.scale.x = 0.004
        edge.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=0.8)
        edge.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in (*outline, outline[0])]
        markers.append(edge)
    for obj in result.objects:
        r, g, b = (c / 255.0 for c in instance_color(obj.instance_id))
        box = Marker(header=header, ns='objects', id=obj.instance_id, type=Marker.CUBE, action=Marker.ADD)
        box.pose = _pose(obj.box_center, quaternion_from_matrix(obj.box_rotation))
        box.scale.x, box.scale.y, box.scale.z = (max(float(v), 0.002) for v in obj.box_extent)
        box.color = ColorRGBA(r=r, g=g, b=b, a=0.35)
        text = Marker(header=header, ns='labels', id=obj.instance_id, type=Marker.TEXT_VIEW_FACING,
                      action=Marker.ADD, text=f'{obj.instance_id} {obj.class_name} {obj.score:.2f}')
        # above the box in the image (optical y points down)
        text.pose = _pose(obj.box_center + np.array([0.0, -0.6 * float(obj.box_extent.max()), 0.0]), (0, 0, 0, 1))
        text.scale.z = 0.02
        text.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
        centroid = Marker(header=header, ns='centroids', id=obj.instance_id, type=Marker.SPHERE, action=Marker.ADD)
        centroid.pose = _pose(obj.centroid, (0, 0, 0, 1))
        centroid.scale.x = centroid.scale.y = centroid.scale.z = 0.01
        centroid.color = ColorRGBA(r=r, g=g, b=b, a=1.0)
        markers += [box, text, centroid]
    return MarkerArray(markers=markers)


def grasp_markers(result: PerceptionResult, header, finger_depth: float) -> MarkerArray:
    """Gripper glyphs (two fingers and the palm bar as a line list), red (low score) to green (high); at each
    object that got none, why (a text)."""
    markers: List[Marker] = [Marker(header=header, action=Marker.DELETEALL)]
    for obj in result.objects:
        why = result.grasp_notes.get(obj.instance_id)
        if why:
            text = Marker(header=header, ns='no_grasp', id=obj.instance_id, type=Marker.TEXT_VIEW_FACING,
                          action=Marker.ADD, text=f'{obj.instance_id}: no grasp: {why}')
            text.pose = _pose(obj.centroid, (0, 0, 0, 1))
            text.scale.z = 0.012
            text.color = ColorRGBA(r=1.0, g=0.6, b=0.1, a=1.0)
            markers.append(text)
    for i, g in enumerate(result.grasps):
        R = matrix_from_quaternion(g.quaternion)
        ax, ay = R[:, 0], R[:, 1]
        tips = [g.position + ay * g.width / 2, g.position - ay * g.width / 2]
        bases = [t - ax * finger_depth for t in tips]
        mid = (bases[0] + bases[1]) / 2
        segments = [tips[0], bases[0], tips[1], bases[1], bases[0], bases[1], mid, mid - ax * 0.03]
        m = Marker(header=header, ns='grasps', id=i, type=Marker.LINE_LIST, action=Marker.ADD)
        m.pose.orientation.w = 1.0
        m.scale.x = 0.003
        s = float(np.clip(g.score, 0, 1))
        m.color = ColorRGBA(r=1.0 - s, g=s, b=0.1, a=1.0)
        m.points = [Point(x=float(p[0]), y=float(p[1]), z=float(p[2])) for p in segments]
        markers.append(m)
    return MarkerArray(markers=markers)

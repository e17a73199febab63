"""The node's output messages built from a result (no DDS needed)."""
from dataclasses import replace

import numpy as np

from seg_perception.geometry import matrix_from_quaternion, quaternion_from_matrix
from seg_perception.ros.convert import pointcloud2_to_numpy
from seg_perception.ros.outputs import grasp_markers, object_boxes, object_markers, support_polygon
from seg_perception.types import (CameraModel, GraspCandidate, InstanceResult, ObjectCloud, PerceptionResult, Plane,
                                  RGBDFrame, SurfaceResult)
from std_msgs.msg import Header
from visualization_msgs.msg import Marker


def _object(instance_id, centre):
    pts = np.asarray([centre], np.float32)
    return ObjectCloud(instance_id, 'unknown', 1.0, 1, pts, np.zeros((1, 3), np.uint8), np.zeros((1, 3), np.float32),
                       np.asarray(centre, float), np.asarray(centre, float), np.full(3, 0.05), np.eye(3))


def test_grasp_markers_show_the_grippers_and_why_an_object_has_none():
    frame = RGBDFrame(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32), CameraModel(4, 4, 2.0, 2.0, 2.0, 2.0))
    grasp = GraspCandidate(1, np.array([0.0, 0.0, 1.0]), quaternion_from_matrix(np.eye(3)), 0.05, 0.8)
    result = PerceptionResult(frame, SurfaceResult(np.zeros((4, 4), np.uint8), (), None, None),
                              InstanceResult(np.zeros((4, 4), np.uint16)),
                              (_object(1, [0.0, 0.0, 1.0]), _object(2, [0.1, 0.0, 1.0])), (grasp,),
                              grasp_notes={2: 'too wide for the hand'})
    markers = grasp_markers(result, Header(frame_id='camera_color_optical_frame'), 0.045).markers
    assert markers[0].action == Marker.DELETEALL
    glyphs = [m for m in markers if m.ns == 'grasps']
    notes = [m for m in markers if m.ns == 'no_grasp']
    assert len(glyphs) == 1 and len(glyphs[0].points) == 8
    assert [(m.id, m.text) for m in notes] == [(2, '2: no grasp: too wide for the hand')]
    assert abs(notes[0].pose.position.x - 0.1) < 1e-9 and notes[0].header.frame_id == 'camera_color_optical_frame'


def test_support_outline_goes_out_as_a_polygon_and_a_closed_line():
    frame = RGBDFrame(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32), CameraModel(4, 4, 2.0, 2.0, 2.0, 2.0))
    table = Plane(np.array([0.0, -0.7071, -0.7071]), 0.8, 1, 100)
    outline = np.array([[-0.3, 0.2, 1.0], [0.3, 0.2, 1.0], [0.3, -0.2, 1.4], [-0.3, -0.2, 1.4]])
    header = Header(frame_id='camera_color_optical_frame')
    found = PerceptionResult(frame, SurfaceResult(np.zeros((4, 4), np.uint8), (table,), table.normal, table,
                                                  support_outline=outline), InstanceResult(np.zeros((4, 4), np.uint16)))
    polygon = support_polygon(found, header)
    assert polygon.header.frame_id == 'camera_color_optical_frame'
    assert np.allclose([[p.x, p.y, p.z] for p in polygon.polygon.points], outline)
    edge = [m for m in object_markers(found, header).markers if m.ns == 'support']
    assert len(edge) == 1 and edge[0].type == Marker.LINE_STRIP
    assert len(edge[0].points) == 5 and edge[0].points[0] == edge[0].points[-1]    # closed
    # no support surface: an empty polygon (the planner's table goes), no line
    nothing = SurfaceResult(np.zeros((4, 4), np.uint8), (), None, None, support_outline=np.zeros((0, 3)))
    none = PerceptionResult(frame, nothing, InstanceResult(np.zeros((4, 4), np.uint16)))
    assert len(support_polygon(none, header).polygon.points) == 0
    assert not [m for m in object_markers(none, header).markers if m.ns == 'support']


def test_object_boxes_carry_each_objects_box_id_and_class():
    frame = RGBDFrame(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32), CameraModel(4, 4, 2.0, 2.0, 2.0, 2.0))
    turned = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])     # 90 degrees about z
    objects = (_object(1, [0.0, 0.0, 1.0]), replace(_object(2, [0.1, 0.0, 1.0]), class_name='cup', score=0.7,
                                                     box_extent=np.array([0.08, 0.06, 0.1]), box_rotation=turned))
    result = PerceptionResult(frame, SurfaceResult(np.zeros((4, 4), np.uint8), (), None, None),
                              InstanceResult(np.zeros((4, 4), np.uint16)), objects)
    classes = {'unknown': 0, 'cup': 41}
    boxes = pointcloud2_to_numpy(object_boxes(result, Header(frame_id='camera_color_optical_frame'), classes.get))
    assert list(boxes['instance']) == [1, 2] and list(boxes['class_id']) == [0, 41]
    cup = boxes[1]
    assert np.allclose([cup['x'], cup['y'], cup['z']], [0.1, 0.0, 1.0])
    assert np.allclose([cup['size_x'], cup['size_y'], cup['size_z']], [0.08, 0.06, 0.1])
    assert np.allclose(matrix_from_quaternion([cup['qx'], cup['qy'], cup['qz'], cup['qw']]), turned, atol=1e-6)
    assert abs(cup['score'] - 0.7) < 1e-6 and cup['point_count'] == 1

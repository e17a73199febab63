"""The node's output messages built from a result (no DDS needed)."""
import numpy as np

from seg_perception.geometry import quaternion_from_matrix
from seg_perception.ros.outputs import grasp_markers
from seg_perception.types import (CameraModel, GraspCandidate, InstanceResult, ObjectCloud, PerceptionResult,
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

"""Static camera extrinsics: parsing the pose parameter and objects, grasps and the support in the base frame."""
import numpy as np
import pytest

from seg_perception.extrinsics import pose_matrix, result_in_base
from seg_perception.geometry import matrix_from_quaternion, quaternion_from_matrix
from seg_perception.types import (CameraModel, GraspCandidate, InstanceResult, ObjectCloud, PerceptionResult,
                                  Plane, RGBDFrame, SurfaceResult)


def test_pose_from_seven_or_sixteen_numbers():
    q = np.array([0.0, np.sin(np.pi / 8), 0.0, np.cos(np.pi / 8)])     # 45 degrees about y
    T = pose_matrix([0.1, 0.2, 0.3, *q])
    assert np.allclose(T[:3, 3], [0.1, 0.2, 0.3]) and np.allclose(T[:3, :3], matrix_from_quaternion(q))
    assert np.allclose(pose_matrix(T.reshape(-1)), T)
    for bad, words in (([1, 2, 3], '7 numbers'), ([0, 0, 0, 0, 0, 0, 3], 'unit quaternion'),
                       (list(np.diag([1, 1, -1, 1.0]).reshape(-1)), 'rigid'), ([0, 0, np.nan, 0, 0, 0, 1], 'NaN')):
        with pytest.raises(ValueError, match=words):
            pose_matrix(bad)


def test_objects_grasps_and_the_support_move_to_the_base_frame():
    cam = CameraModel(4, 4, 2.0, 2.0, 2.0, 2.0)
    frame = RGBDFrame(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), np.float32), cam)
    pts = np.array([[0.0, 0.0, 1.0], [0.1, 0.0, 1.0]], np.float32)
    obj = ObjectCloud(1, 'unknown', 1.0, 2, pts, np.zeros((2, 3), np.uint8), np.tile([0, 0, -1.0], (2, 1)),
                      pts.mean(0), pts.mean(0), np.array([0.1, 0.01, 0.01]), np.eye(3))
    grasp = GraspCandidate(1, np.array([0.05, 0.0, 1.0]), quaternion_from_matrix(np.eye(3)), 0.05, 0.9)
    # the floor 1 m in front of the camera: n . p + d = 0 with n towards the camera
    floor = Plane(np.array([0.0, 0.0, -1.0]), 1.0, 1, 100)
    outline = np.array([[-0.5, -0.5, 1.0], [0.5, -0.5, 1.0], [0.5, 0.5, 1.0]])
    surfaces = SurfaceResult(np.zeros((4, 4), np.uint8), (floor,), np.array([0.0, 0.0, -1.0]), floor,
                             support_outline=outline)
    result = PerceptionResult(frame, surfaces, InstanceResult(np.zeros((4, 4), np.uint16)), (obj,), (grasp,))
    # camera 1 m above the base looking straight down: optical z = base -z, optical x = base x
    T = np.eye(4)
    T[:3, :3] = [[1, 0, 0], [0, -1, 0], [0, 0, -1]]
    T[:3, 3] = [0.0, 0.0, 1.0]
    based = result_in_base(result, T)
    assert np.allclose(based.objects[0].points, [[0, 0, 0], [0.1, 0, 0]], atol=1e-6)   # on the base's floor
    assert np.allclose(based.objects[0].normals, [[0, 0, 1]] * 2)                       # facing up
    assert np.allclose(based.grasps[0].position, [0.05, 0, 0])
    R = matrix_from_quaternion(based.grasps[0].quaternion)
    assert np.allclose(R[:, 0], [1, 0, 0]) and np.allclose(R[:, 2], [0, 0, -1])         # approach kept, z flipped
    assert np.allclose(based.surfaces.up, [0, 0, 1]) and np.allclose(based.surfaces.support_outline[:, 2], 0)
    assert np.allclose(based.surfaces.support_outline[:, :2], [[-0.5, 0.5], [0.5, 0.5], [0.5, -0.5]])
    plane = based.surfaces.support_plane    # z = 0: n = up, offset 0
    assert plane is based.surfaces.planes[0] and np.allclose(plane.normal, [0, 0, 1]) and abs(plane.offset) < 1e-9
    assert based.instances is result.instances and result.objects[0].points is pts      # labels and input unchanged
    assert result.surfaces.support_outline is outline

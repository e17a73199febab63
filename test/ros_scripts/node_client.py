"""Drive a running perception_node: parameter validation and lifecycle transitions. Prints a JSON report."""
import json
import sys
import time

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters, SetParametersAtomically
from geometry_msgs.msg import PoseArray
from sensor_msgs.msg import Image


def main():
    rclpy.init()
    node = rclpy.create_node('node_client')
    frames = []
    node.create_subscription(Image, '/perception_node/instances/labels', lambda m: frames.append(time.monotonic()), 10)
    grasps = []
    node.create_subscription(PoseArray, '/perception_node/grasps', lambda m: grasps.append(time.monotonic()), 10)

    def call(client, request, timeout=20.0):
        assert client.wait_for_service(timeout_sec=timeout), client.srv_name
        future = client.call_async(request)
        rclpy.spin_until_future_complete(node, future, timeout_sec=timeout)
        return future.result()

    def spin_for(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)

    def set_double(name, value):
        p = Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=value))
        return call(node.create_client(SetParameters, '/perception_node/set_parameters'),
                    SetParameters.Request(parameters=[p])).results[0]

    def set_string(name, value):
        p = Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value))
        return call(node.create_client(SetParameters, '/perception_node/set_parameters'),
                    SetParameters.Request(parameters=[p])).results[0]

    def set_boxes_atomically(lower, upper):
        p = [Parameter(name=name, value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE_ARRAY,
                                                       double_array_value=value))
             for name, value in (('workspace.min', lower), ('workspace.max', upper))]
        return call(node.create_client(SetParametersAtomically, '/perception_node/set_parameters_atomically'),
                    SetParametersAtomically.Request(parameters=p)).result

    report = {}
    deadline = time.monotonic() + float(sys.argv[1])
    while not frames and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    report['first_output'] = bool(frames)
    bad = set_double('instances.min_height', -1.0)
    good = set_double('instances.min_height', 0.01)
    ro = set_string('device', 'cuda')
    transport = set_string('transport.depth', 'jpeg')
    report['params'] = {'bad': [bad.successful, bad.reason], 'good': good.successful, 'read_only': ro.successful,
                        'transport': [transport.successful, transport.reason]}
    # a workspace box in the base frame of a node without extrinsics: refused, saying why; in the camera frame: fine
    base = set_string('workspace.frame', 'base').successful
    no_pose = set_boxes_atomically([-1.0, -1.0, 0.0], [1.0, 1.0, 2.0])
    camera = set_string('workspace.frame', 'camera').successful
    box = set_boxes_atomically([-5.0, -5.0, 0.0], [5.0, 5.0, 5.0]).successful
    report['workspace'] = {'frame_base': base, 'box_without_pose': [no_pose.successful, no_pose.reason],
                           'frame_camera': camera, 'camera_box': box}
    change = node.create_client(ChangeState, '/perception_node/change_state')
    state = node.create_client(GetState, '/perception_node/get_state')
    report['state_before'] = call(state, GetState.Request()).current_state.label
    ok = call(change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_DEACTIVATE))).success
    spin_for(3.0)  # let in-flight frames land (a busy machine takes a while per frame)
    before = len(frames)
    spin_for(2.0)
    report['deactivate'] = {'success': ok, 'outputs_while_inactive': len(frames) - before,
                            'state': call(state, GetState.Request()).current_state.label}
    ok = call(change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_ACTIVATE))).success
    before = len(frames)
    end = time.monotonic() + 20.0
    while len(frames) == before and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    report['activate'] = {'success': ok, 'outputs_after': len(frames) - before}
    # a full cycle: deactivate, cleanup (pipeline and grasp process go), configure (both anew), activate
    steps = {}
    for name in ('DEACTIVATE', 'CLEANUP', 'CONFIGURE', 'ACTIVATE'):
        steps[name.lower()] = call(change, ChangeState.Request(
            transition=Transition(id=getattr(Transition, f'TRANSITION_{name}'))), timeout=60.0).success
    before = len(grasps)
    end = time.monotonic() + 30.0
    while len(grasps) == before and time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    report['reconfigure'] = {**steps, 'grasp_outputs_after': len(grasps) - before,
                             'state': call(state, GetState.Request()).current_state.label}
    print(json.dumps(report), flush=True)


if __name__ == '__main__':
    main()

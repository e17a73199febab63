"""Subscribe to perception_node's outputs; report types, headers and sizes as JSON.

usage: receive_outputs.py SECONDS MIN_FRAMES NODE_NAMESPACE_PREFIX [CAMERA_TO_BASE_JSON]
With CAMERA_TO_BASE_JSON (a 4x4 matrix), the base-frame outputs are checked against the camera-frame ones.
"""
import json
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PolygonStamped, PoseArray
from sensor_msgs.msg import Image, PointCloud2
from visualization_msgs.msg import MarkerArray

from seg_perception.ros.convert import image_to_numpy, pointcloud2_to_numpy

TOPICS = {'surfaces/labels': Image, 'instances/labels': Image, 'overlay': Image, 'objects/points': PointCloud2,
          'objects/markers': MarkerArray, 'grasps': PoseArray, 'grasps/candidates': PointCloud2,
          'grasps/markers': MarkerArray, 'base/grasps': PoseArray, 'base/objects/points': PointCloud2,
          'support/polygon': PolygonStamped, 'base/support/polygon': PolygonStamped, 'objects/boxes': PointCloud2,
          'base/objects/boxes': PointCloud2}


def main():
    seconds, min_frames, prefix = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rclpy.init()
    node = rclpy.create_node('output_receiver')
    got = {name: [] for name in TOPICS}
    diagnostics = []
    for name, mtype in TOPICS.items():
        node.create_subscription(mtype, f'{prefix}/{name}', lambda m, n=name: got[n].append(m), 10)
    node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (len(got['instances/labels']) < min_frames or not diagnostics):
        rclpy.spin_once(node, timeout_sec=0.05)
    settle = time.monotonic() + 1.0          # the later outputs (grasps) of the last frames arrive too
    while time.monotonic() < settle:
        rclpy.spin_once(node, timeout_sec=0.05)
    report = {'counts': {k: len(v) for k, v in got.items()}, 'diagnostics': len(diagnostics)}

    def stamp_of(msg):
        return (msg.header.stamp.sec, msg.header.stamp.nanosec)

    def header(msg):
        return None if isinstance(msg, MarkerArray) else stamp_of(msg) + (msg.header.frame_id,)

    same_frame = ('surfaces/labels', 'support/polygon', 'objects/points', 'objects/boxes', 'grasps',
                  'grasps/candidates')
    if got['instances/labels']:
        last = got['instances/labels'][-1]
        # the first frame published after every subscription here was matched (each topic is discovered on
        # its own: an earlier frame's cloud may have gone out before its subscription was), else the first
        matched = max((stamp_of(got[name][0]) for name in same_frame if got[name]), default=(0, 0))
        first = next((m for m in got['instances/labels'] if stamp_of(m) >= matched), got['instances/labels'][0])
        stamp = header(first)
        report['frame_id'] = stamp[2]
        report['outputs_with_same_header'] = sorted(
            name for name in same_frame if any(header(m) == stamp for m in got[name]))
        # the newest frame whose object cloud and boxes arrived too (they go out one after the other: the last
        # frame's boxes may still be on their way when this stops listening)
        pairs = [(m, c) for m in reversed(got['instances/labels']) for c in got['objects/points']
                 if header(c) == header(m) and any(header(b) == header(m) for b in got['objects/boxes'])]
        if pairs:
            last = pairs[0][0]
        inst = image_to_numpy(last)
        report['instances'] = {'encoding': last.encoding, 'shape': list(inst.shape), 'max': int(inst.max())}
        surf = got['surfaces/labels'][-1]
        report['surfaces'] = {'encoding': surf.encoding, 'shape': [surf.height, surf.width],
                              'classes': sorted(set(image_to_numpy(surf).reshape(-1).tolist()))}
        pts = [m for m in got['objects/points'] if header(m) == header(last)]
        if pts:
            cloud = pointcloud2_to_numpy(pts[0])
            report['points'] = {'fields': list(cloud.dtype.names), 'count': int(len(cloud)),
                                'instances': sorted(set(cloud['instance'].tolist()))}
        boxes = [m for m in got['objects/boxes'] if header(m) == header(last)]
        if boxes:
            boxes = pointcloud2_to_numpy(boxes[0])
            report['boxes'] = {'instances': boxes['instance'].tolist(), 'point_counts': boxes['point_count'].tolist()}
        if got['support/polygon']:
            report['support_vertices'] = len(got['support/polygon'][-1].polygon.points)
        if got['overlay']:
            report['overlay'] = {'encoding': got['overlay'][-1].encoding,
                                 'shape': [got['overlay'][-1].height, got['overlay'][-1].width]}
    if len(sys.argv) > 4 and got['base/grasps']:
        import numpy as np
        T = np.asarray(json.loads(sys.argv[4]), dtype=float)
        errors = []
        for based in got['base/grasps']:
            for cam in got['grasps']:
                if header(cam)[:2] == header(based)[:2] and len(cam.poses) == len(based.poses):
                    for a, b in zip(cam.poses, based.poses):
                        p = T[:3, :3] @ [a.position.x, a.position.y, a.position.z] + T[:3, 3]
                        errors.append(float(np.linalg.norm(p - [b.position.x, b.position.y, b.position.z])))
        base_x = [pointcloud2_to_numpy(m)['x'] for m in got['base/objects/points']]
        base_x = np.concatenate(base_x) if base_x else np.zeros(0)
        report['base'] = {'frame_id': header(got['base/grasps'][0])[2], 'grasps_compared': len(errors),
                          'max_error': max(errors) if errors else None,
                          'points_x_range': [float(base_x.min()), float(base_x.max())] if base_x.size else None,
                          'points_frame_id': header(got['base/objects/points'][0])[2]
                          if got['base/objects/points'] else None,
                          'support_z': [p.z for m in got['base/support/polygon'] for p in m.polygon.points],
                          'box_bottoms': [float(b['z'] - b['size_z'] / 2) for m in got['base/objects/boxes']
                                          for b in pointcloud2_to_numpy(m)],
                          'box_up_z': [float(1 - 2 * (b['qx'] ** 2 + b['qy'] ** 2)) for m in got['base/objects/boxes']
                                       for b in pointcloud2_to_numpy(m)],
                          'support_frame_id': header(got['base/support/polygon'][0])[2]
                          if got['base/support/polygon'] else None}
    if diagnostics:
        status = diagnostics[-1].status[0]
        report['diagnostic_keys'] = sorted(kv.key for kv in status.values)
        report['diagnostic_values'] = {kv.key: kv.value for kv in status.values}
    print(json.dumps(report), flush=True)


if __name__ == '__main__':
    main()

"""Synthetic scenes staged by a test: a generated room, table and camera with chosen objects placed on the table."""
import numpy as np

from seg_perception.synthetic import NoiseConfig, Renderer, SceneConfig, frame_seed, generate_scene
from seg_perception.synthetic.frames import SyntheticFrame
from seg_perception.synthetic.scene import Body
from seg_perception.types import SURFACE_OBJECT, SURFACE_WALL


def staged_scene(seed, objects):
    """A generated room, table and camera with the given objects instead of random ones: (shape entry, dx, dy,
    yaw, height of the centre above the table) around the table point the camera looks at."""
    scene = generate_scene(seed, SceneConfig())
    scene.bodies = [b for b in scene.bodies if not b.name.startswith('object')]
    ray, eye = scene.camera_to_world[:3, 2], scene.camera_to_world[:3, 3]
    centre = eye + (scene.table_height - eye[2]) / ray[2] * ray
    for i, (shape, dx, dy, yaw, z) in enumerate(objects):
        pose = np.eye(4)
        pose[:3, :3] = [[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]]
        pose[:3, 3] = [centre[0] + dx, centre[1] + dy, scene.table_height + z]
        scene.bodies.append(Body(f'object{i}', shape, pose, SURFACE_OBJECT, instance_id=i + 1,
                                 albedo=(0.8, 0.3 + 0.2 * i, 0.2), resting_on='table'))
    rendered = Renderer(scene).render(np.random.default_rng(seed), NoiseConfig())
    return scene, rendered


def tote_frame(seed, scene_cfg, wall_height=0.12, draft_deg=0.0, lip=0.0, noise=NoiseConfig()):
    """A generated scene with a tote's four walls (1 cm thick, ``wall_height`` high, leaning out by ``draft_deg``
    as moulded totes taper, with a ``lip`` (m) wide flange round the rim, if any) on the table around the objects
    on it, the objects near the walls removed; returns the frame and the tote's inside (world x, y lower and upper
    corners)."""
    scene = generate_scene(frame_seed(seed, 0), scene_cfg)
    h = scene.table_height
    inside = [b for b in scene.objects if b.instance_id > 0]
    xy = np.array([b.pose[:2, 3] for b in inside])
    half = np.array(scene.table_size) / 2 - 0.02
    lo, hi = np.maximum(xy.min(0) - 0.08, -half), np.minimum(xy.max(0) + 0.08, half)
    centre, size = (lo + hi) / 2, hi - lo
    lean = np.radians(draft_deg)
    colour = (0.2, 0.3, 0.6)
    for i, (x, y, sx, sy, out) in enumerate([(centre[0], lo[1], size[0], 0.01, (0, -1)),
                                             (centre[0], hi[1], size[0], 0.01, (0, 1)),
                                             (lo[0], centre[1], 0.01, size[1], (-1, 0)),
                                             (hi[0], centre[1], 0.01, size[1], (1, 0))]):
        outwards = np.array([*out, 0.0])
        axis = np.cross([0.0, 0.0, 1.0], outwards)           # tilting about it moves the top outwards
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        pose = np.eye(4)
        pose[:3, :3] = np.eye(3) + np.sin(lean) * k + (1 - np.cos(lean)) * k @ k
        pose[:3, 3] = [x, y, h + wall_height / 2] + outwards * np.sin(lean) * wall_height / 2
        # 2 cm longer: the walls overlap at the corners, closing them
        scene.bodies.append(Body(f'tote_wall{i}', {'shape': 'box', 'size': [sx + 0.02, sy + 0.02, wall_height]}, pose,
                                 SURFACE_WALL, albedo=colour, albedo2=colour))
        if lip:
            flange = np.eye(4)
            flange[:3, 3] = [x, y, h + wall_height - 0.003] + outwards * (np.sin(lean) * wall_height + lip / 2)
            extent = [sx + 2 * lip if out[0] == 0 else lip, sy + 2 * lip if out[1] == 0 else lip, 0.006]
            scene.bodies.append(Body(f'tote_lip{i}', {'shape': 'box', 'size': extent}, flange, SURFACE_WALL,
                                     albedo=colour, albedo2=colour))
    scene.bodies[:] = [b for b in scene.bodies if not (b.instance_id > 0 and not (
        np.all(b.pose[:2, 3] > lo + 0.03) and np.all(b.pose[:2, 3] < hi - 0.03)))]
    rendered = Renderer(scene).render(np.random.default_rng(seed), noise)
    return SyntheticFrame(scene, rendered), lo, hi

"""Synthetic scenes staged by a test: a generated room, table and camera with chosen objects placed on the table."""
import numpy as np

from seg_perception.synthetic import NoiseConfig, Renderer, SceneConfig, frame_seed, generate_scene
from seg_perception.synthetic.frames import SyntheticFrame
from seg_perception.synthetic.scene import Body, add_tote
from seg_perception.types import SURFACE_OBJECT


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


def tote_frame(seed, scene_cfg, walls, noise=NoiseConfig()):
    """A generated scene with a tote's ``walls`` (synthetic.scene.ToteWalls) on the table around its objects;
    returns the frame and the tote's inside (world x, y lower and upper corners)."""
    scene = generate_scene(frame_seed(seed, 0), scene_cfg)
    lo, hi = add_tote(scene.bodies, scene.table_height, scene.table_size, walls)
    rendered = Renderer(scene).render(np.random.default_rng(seed), noise)
    return SyntheticFrame(scene, rendered), np.asarray(lo), np.asarray(hi)

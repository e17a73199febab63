"""Synthetic RGB-D tabletop scenes with exact ground truth (rendering needs open3d, imported lazily)."""
from .frames import SyntheticFrame, frame_seed, synthesize, write_dataset, write_synthetic_frame
from .render import NoiseConfig, Rendered, Renderer
from .scene import Scene, SceneConfig, generate_scene

__all__ = ['NoiseConfig', 'Rendered', 'Renderer', 'Scene', 'SceneConfig', 'SyntheticFrame', 'frame_seed',
           'generate_scene', 'synthesize', 'write_dataset', 'write_synthetic_frame']

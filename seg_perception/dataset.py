"""The RGB-D frame folder format the whole project reads and writes, plus loading single images.

One folder per frame::

    color.png       8-bit RGB (PNG; JPEG accepted on read)
    depth.png       uint16 depth in millimetres, 0 = missing (REP 118 units)
    camera.yaml     ROS camera_info YAML (camera_calibration_parsers layout)
    surfaces.png    uint8 surface class per pixel (ground truth, optional)
    instances.png   uint16 instance id per pixel, 0 = none (ground truth, optional)
    scene.json      scene description and ground truth (synthetic frames, optional)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Union

import cv2
import numpy as np

from .geometry import camera_info_yaml, depth_to_metres, load_camera_info_yaml
from .types import CameraModel, RGBDFrame

PathLike = Union[str, Path]
COLOR_FILE, DEPTH_FILE, CAMERA_FILE = 'color.png', 'depth.png', 'camera.yaml'
SURFACES_FILE, INSTANCES_FILE, SCENE_FILE = 'surfaces.png', 'instances.png', 'scene.json'


@dataclass(frozen=True, eq=False)
class GroundTruth:
    surfaces: Optional[np.ndarray]   # (H, W) uint8
    instances: Optional[np.ndarray]  # (H, W) uint16
    scene: Optional[dict]


def load_color(path: PathLike) -> np.ndarray:
    """(H, W, 3) uint8 RGB from a PNG or JPEG (grey images are expanded, alpha dropped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'colour image not found: {path}')
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'cannot read colour image {path} (expected PNG or JPEG)')
    if image.dtype != np.uint8:
        raise ValueError(f'colour image {path} must be 8-bit, got {image.dtype}')
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, 2::-1])  # BGR(A) -> RGB


def load_depth(path: PathLike, scale: float = 0.001) -> np.ndarray:
    """float32 metres (0 = missing) from a uint16 PNG (value * scale) or a float32 .npy in metres."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f'depth image not found: {path}')
    if path.suffix == '.npy':
        depth = np.load(path, allow_pickle=False)
        if not np.issubdtype(depth.dtype, np.floating):
            raise ValueError(f'{path}: a .npy depth must hold float metres, got {depth.dtype}')
        return depth_to_metres(depth)
    depth = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if depth is None:
        raise ValueError(f'cannot read depth image {path} (expected a uint16 PNG or a float32 .npy)')
    if depth.ndim != 2 or depth.dtype != np.uint16:
        raise ValueError(f'depth image {path} must be single-channel uint16, got shape {depth.shape} '
                         f'dtype {depth.dtype}')
    return depth_to_metres(depth, scale=scale)


def write_frame(folder: PathLike, color: np.ndarray, depth: np.ndarray, camera: CameraModel,
                surfaces: Optional[np.ndarray] = None, instances: Optional[np.ndarray] = None,
                scene: Optional[dict] = None) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _imwrite(folder / COLOR_FILE, np.ascontiguousarray(color[:, :, ::-1]))
    depth_mm = np.clip(np.round(np.nan_to_num(depth) * 1000.0), 0, 65535).astype(np.uint16)
    _imwrite(folder / DEPTH_FILE, depth_mm)
    (folder / CAMERA_FILE).write_text(camera_info_yaml(camera))
    if surfaces is not None:
        _imwrite(folder / SURFACES_FILE, surfaces.astype(np.uint8))
    if instances is not None:
        _imwrite(folder / INSTANCES_FILE, instances.astype(np.uint16))
    if scene is not None:
        (folder / SCENE_FILE).write_text(json.dumps(scene, indent=1))
    return folder


def _imwrite(path: Path, image: np.ndarray) -> None:
    # fast zlib level: frames are written at camera rates; files stay lossless
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 1]):
        raise OSError(f'could not write {path}')


def read_frame(folder: PathLike, with_extrinsics: bool = False) -> RGBDFrame:
    """An RGBDFrame from a frame folder. ``with_extrinsics`` takes the camera pose from scene.json."""
    folder = Path(folder)
    camera = load_camera_info_yaml(folder / CAMERA_FILE)
    color = load_color(_first_existing(folder, ('color.png', 'color.jpg', 'color.jpeg')))
    depth = load_depth(folder / DEPTH_FILE)
    extrinsics = None
    if with_extrinsics and (folder / SCENE_FILE).is_file():
        extrinsics = np.asarray(json.loads((folder / SCENE_FILE).read_text())['camera']['camera_to_world'])
    return RGBDFrame(color, depth, camera, frame_id='camera_color_optical_frame', camera_to_base=extrinsics)


def read_ground_truth(folder: PathLike) -> GroundTruth:
    folder = Path(folder)

    def optional_png(name):
        path = folder / name
        return cv2.imread(str(path), cv2.IMREAD_UNCHANGED) if path.is_file() else None

    scene = json.loads((folder / SCENE_FILE).read_text()) if (folder / SCENE_FILE).is_file() else None
    return GroundTruth(optional_png(SURFACES_FILE), optional_png(INSTANCES_FILE), scene)


def list_frames(root: PathLike) -> List[Path]:
    """Frame folders under root (root itself if it is one), sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'not a directory: {root}')
    if (root / CAMERA_FILE).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / CAMERA_FILE).is_file())


def _first_existing(folder: Path, names) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return folder / names[0]

"""One typed configuration tree: defaults, ranges, descriptions and validation.

The ROS parameters are this tree flattened with dots (``instances.backend``); ``config/seg_perception.yaml``
holds the same defaults under ``perception_node: ros__parameters:``; the offline CLI reads the same YAML.
"""
from __future__ import annotations

import dataclasses
import difflib
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import yaml

NODE_NAME = 'perception_node'


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or out of range."""


def param(default, description: str, *, min=None, max=None, choices: Optional[Sequence] = None,
          read_only: bool = False, length: Optional[int] = None):
    """A leaf of the config tree. ``read_only`` marks values that need a reconfigure (models, device)."""
    meta = dict(description=description, min=min, max=max, choices=tuple(choices) if choices else None,
                read_only=read_only, length=length)
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def section(cls):
    return field(default_factory=cls, metadata={'section': True})


@dataclass
class DepthConfig:
    min: float = param(0.1, 'Closest valid depth in metres; nearer pixels are treated as missing.', min=0.0, max=10.0)
    max: float = param(3.0, 'Farthest valid depth in metres; farther pixels are treated as missing.',
                       min=0.05, max=50.0)
    sharpen_ramps: int = param(0, 'For depth a sensor smooths across object edges (a ZED, a RealSense with its '
                               'spatial filter): half width (pixels) of the window in which such ramps are cut '
                               'sharp by colour (8 suits smears of 1.5 to 3 pixels at 640x480); 0 = off '
                               '(sharp depth: time-of-flight, stereo with its filters off).', min=0, max=32)

    def check(self, prefix: str) -> None:
        if self.min >= self.max:
            raise ConfigError(f'{prefix}min ({self.min}) must be smaller than {prefix}max ({self.max})')


@dataclass
class SurfacesConfig:
    backend: str = param('planes', "Surface segmentation backend: 'planes' (geometric, no weights) or a learned "
                         "one ('torchvision', 'torchscript', 'onnx').", choices=('planes', 'torchvision', 'torchscript',
                                                                              'onnx'), read_only=True)
    up_vector: List[float] = param([], 'World up in the camera optical frame [x, y, z]; empty: from the extrinsics '
                                   'parameter when set, else estimated from the dominant horizontal plane.', length=3)
    max_planes: int = param(4, 'Most planes RANSAC extracts per frame (support, floor, walls, shelves).', min=1, max=12)
    hypotheses: int = param(128, 'RANSAC hypotheses per plane, scored as one batch.', min=8, max=4096)
    sample_points: int = param(6000, 'Depth points sampled for RANSAC.', min=500, max=200000)
    distance_threshold: float = param(0.006, 'Plane inlier distance (m) at 1 m depth; grows with depth squared '
                                      '(sensor noise), never below 4 mm.', min=0.001, max=0.1)
    normal_threshold_deg: float = param(25.0, 'Largest angle between a point normal and its plane (degrees).',
                                        min=1.0, max=90.0)
    image_up: str = param('top', "Which edge of the image the world's up points to, for estimating the up vector "
                          "(no up_vector, no extrinsics): 'top' for the usual mount, 'bottom' upside down, 'left' or "
                          "'right' for a camera turned a quarter (portrait). A camera looking straight down needs "
                          'none.', choices=('top', 'bottom', 'left', 'right'))
    horizontal_tolerance_deg: float = param(15.0, 'Largest tilt of a horizontal surface from the up vector (deg).',
                                            min=1.0, max=45.0)
    min_plane_fraction: float = param(0.02, 'Smallest plane, as a fraction of the sampled depth points.',
                                      min=0.001, max=0.5)
    footprint_margin: float = param(0.03, 'Margin (m) around the support surface inside which objects may stand.',
                                    min=0.0, max=0.5)
    bin_walls: bool = param(True, "A tote's or bin's walls (thin upright slabs on the support, meeting at corners "
                            'or facing each other) are labelled walls, not objects.')
    bin_wall_length: float = param(0.3, "Side of the smallest tote whose walls are found (m): walls are stretches at "
                                   'least half this long, 1.5 times this in all; a single thin upright thing 1.5 '
                                   'times this long counts as a wall too.', min=0.05, max=5.0)
    seed: int = param(0, 'RANSAC random seed (results are reproducible per frame).', min=0)
    model_path: str = param('', 'Weights of a learned backend: a torchvision state_dict (.pth), a TorchScript '
                            'file or an ONNX file. Local files only; nothing is downloaded.', read_only=True)
    model_arch: str = param('deeplabv3_resnet50', "torchvision architecture of model_path for the 'torchvision' "
                            'backend.', choices=('deeplabv3_resnet50', 'deeplabv3_resnet101',
                                                 'deeplabv3_mobilenet_v3_large', 'lraspp_mobilenet_v3_large',
                                                 'fcn_resnet50', 'fcn_resnet101'), read_only=True)
    class_map: List[int] = param([], 'Surface class (0-5) of each model class, by model class index; model '
                                 'classes beyond the list are 5 (other).', min=0, max=5)


@dataclass
class InstancesConfig:
    backend: str = param('clusters', "Instance segmentation backend: 'clusters' (geometric, class-agnostic) or a "
                         "learned one ('torchvision', 'torchscript', 'onnx').",
                         choices=('clusters', 'torchvision', 'torchscript', 'onnx'), read_only=True)
    min_height: float = param(0.005, 'Least height (m) above the support surface of an object point at 1 m '
                              'depth; grows with depth squared (sensor noise).', min=0.001, max=0.1)
    max_height: float = param(0.6, 'Greatest height (m) above the support surface counted as an object.',
                              min=0.02, max=3.0)
    depth_jump: float = param(0.012, 'Depth step (m, per metre of depth) between neighbouring pixels that '
                              'separates two objects.', min=0.001, max=0.2)
    concavity: float = param(0.4, 'Concave crease strength that separates touching objects (0 disables).',
                             min=0.0, max=2.0)
    color_edge: float = param(80.0, 'Colour gradient (0-255 scale) that separates objects next to a depth step '
                              'or inside a depth ramp a smoothing sensor made of one (0 disables; low values cut '
                              'printed boxes apart on real frames).', min=0.0, max=255.0)
    contact_cuts: bool = param(True, 'Cut a region in two along colour edges where it holds two touching objects '
                               'with no depth step between them: its outline is not convex but both pieces are, '
                               'their surfaces meet at an angle and their colours differ (clusters backend).')
    label_unmeasured: bool = param(True, 'Pixels without depth within 2 pixels of an object take its label in the '
                                   'label images where their colour matches it better than the background around '
                                   'them (depth lost at grazing angles, on dark or shiny spots, along edges); the '
                                   'clouds and grasps use measured points only. Regions without depth mostly '
                                   'inside an object join it either way (clusters backend).')
    min_area: float = param(0.0003, 'Smallest object (m^2 of visible surface); smaller fragments are merged into '
                            'a neighbour or dropped.', min=0.0, max=0.1)
    model_path: str = param('', 'Weights of a learned backend: a torchvision Mask R-CNN state_dict (.pth), a '
                            'TorchScript file or an ONNX file. Local files only; nothing is downloaded.',
                            read_only=True)
    model_arch: str = param('maskrcnn_resnet50_fpn_v2', "torchvision architecture of model_path for the "
                            "'torchvision' backend.", choices=('maskrcnn_resnet50_fpn', 'maskrcnn_resnet50_fpn_v2'),
                            read_only=True)
    class_names: List[str] = param([], 'Names of the model classes by label (torchscript/onnx); empty: COCO '
                                   'names for torchvision models, class_<label> otherwise.')
    score_threshold: float = param(0.5, 'Least detection score of a learned instance.', min=0.0, max=1.0)
    mask_threshold: float = param(0.5, 'Mask probability above which a pixel belongs to a learned instance.',
                                  min=0.0, max=1.0)
    max_detections: int = param(100, 'Most detections of a learned backend kept per image, best scores first (a '
                                'torchvision Mask R-CNN stops there, so its mask head runs on no more; lower it '
                                'to the most objects a scene holds: every kept one costs a cloud and grasp '
                                'planning).', min=1, max=1000)
    input_size: int = param(800, 'Shorter image side (pixels) a torchvision Mask R-CNN scales its input to before '
                            "detecting: 800, torchvision's default and the scale its COCO weights were trained at, "
                            'enlarges a 640x480 image 1.67 times; 0 keeps the image as the pipeline processes it '
                            '(every pixel on a GPU, the grid on the CPU), about twice as fast at 640x480 with less '
                            'detail on small objects. Match what your model was trained at.', min=0, max=2000)
    fill_unclaimed: bool = param(True, 'Add object regions that no learned mask claims, found by the clusters '
                                 "backend, as class 'unknown'.")
    min_inside: float = param(0.5, 'Least share of a region that must lie over the support footprint for it '
                              'to count as an object standing on the support.', min=0.0, max=1.0)
    merge_inner_parts: bool = param(True, 'A low region inside a smaller object\'s outline seen from above (a '
                                    'bowl\'s floor, a piece of a cup\'s wall) joins it, and so does ground it '
                                    'encloses a few millimetres above the table (a thin floor taken for support) '
                                    '(clusters backend). Off: low items inside small trays or bowls stay objects of '
                                    'their own.')
    drop_table_bumps: bool = param(True, 'Small regions standing less than three noise bands above the support '
                                   'and coloured like the table around them go: a stereo camera lifting a patch '
                                   'of table beside an object or at the far edge (clusters backend). Off: a small '
                                   'flat object coloured like the table stays.')
    stable_ids: bool = param(True, 'In a stream (the node): an object keeps its id from the previous frame while '
                             'its pixels mostly overlap it there; new objects take the free ids (ids stay 1..N). '
                             'Off: ids run left to right by centroid in every frame, as for a single frame.')
    keep_splits: int = param(10, 'In a stream with stable_ids: a region that merges objects the previous frame '
                             'saw apart is cut along their old outlines (touching objects stop flickering between '
                             'one object and two); a part kept only this way lasts at most this many frames. '
                             '0: off.', min=0, max=1000)


@dataclass
class ProjectionConfig:
    voxel_size: float = param(0.005, 'Object clouds are averaged into voxels of this edge (m); 0 keeps every point.',
                              min=0.0, max=0.05)
    outlier_neighbors: int = param(12, 'Neighbours per point in the statistical outlier test.', min=1, max=100)
    outlier_std_ratio: float = param(2.0, 'Points whose mean neighbour distance exceeds the mean by this many '
                                     'standard deviations are dropped (0 disables).', min=0.0, max=10.0)
    min_points: int = param(10, 'Objects with fewer measured points are kept whole (no filtering).', min=1,
                            max=10000)


@dataclass
class GraspConfig:
    enabled: bool = param(True, 'Plan parallel-jaw grasps for every object.')
    max_opening: float = param(0.08, 'Widest opening of the gripper (m).', min=0.005, max=0.5)
    finger_depth: float = param(0.045, 'Finger length along the approach, fingertip to palm (m).', min=0.005,
                                max=0.3)
    finger_width: float = param(0.02, 'Finger extent across the closing plane (m).', min=0.002, max=0.2)
    finger_thickness: float = param(0.01, 'Finger thickness along the closing direction (m).', min=0.001, max=0.1)
    palm_depth: float = param(0.06, 'Depth of the hand body behind the fingers (m).', min=0.0, max=0.5)
    palm_width: float = param(0.2, 'Width of the hand body along the closing direction (m).', min=0.01, max=1.0)
    palm_height: float = param(0.06, 'Extent of the hand body across the closing plane (m).', min=0.005, max=0.5)
    collision_margin: float = param(0.004, 'Clearance the finger and palm volumes keep from every scene point (m).',
                                    min=0.0, max=0.05)
    friction: float = param(0.5, 'Friction coefficient of the antipodal test (cone half-angle atan(mu)).', min=0.05,
                            max=2.0)
    approach_cone_deg: float = param(60.0, 'Apex angle of the cone of approaches around straight down (deg); '
                                     'approaches tilt up to half of it.', min=1.0, max=180.0)
    approach_steps: int = param(3, 'Approach angles tried on each side of straight down, about the closing axis, '
                                'up to half of approach_cone_deg (1: straight down only).', min=1, max=16)
    closing_directions: int = param(12, 'Closing directions spread over half a turn, tried besides the normals of '
                                    "the object's outline seen from above.", min=1, max=180)
    rim_grasps: bool = param(True, 'Also grasp open containers (cups, mugs, bowls) across their rim, one finger '
                             'inside and one outside the wall.')
    top_k: int = param(5, 'Grasps kept per object after non-maximum suppression.', min=1, max=100)
    nms_distance: float = param(0.01, 'Grasps closer than this (m) and nms_angle_deg are duplicates.', min=0.0,
                                max=0.2)
    nms_angle_deg: float = param(30.0, 'Rotation angle under which close grasps are duplicates (deg).', min=0.0,
                                 max=180.0)
    hysteresis: float = param(0.1, 'In a stream (the node): the grasp ranked first for its object, or first '
                              'overall, in the previous frame keeps its rank while it is still a candidate (within '
                              '1 cm and 20 deg) and no other scores more than this much higher, so that the target '
                              'stays put on a still scene. 0 ranks by score alone.', min=0.0, max=1.0)
    seed: int = param(0, 'Sampling seed (results are reproducible per frame).', min=0)


@dataclass
class WorkspaceConfig:
    frame: str = param('camera', "Frame of the workspace box: 'camera' (the optical frame) or 'base' "
                       '(extrinsics.base_frame: needs the camera pose).', choices=('camera', 'base'))
    min: List[float] = param([], 'Lower corner [x, y, z] (m) of the box objects must lie in: a pick area, the '
                             "inside of a tote (its walls outside). Points outside are no object's, but still "
                             'obstacles for the grasps. Empty (with max): no box.', length=3)
    max: List[float] = param([], 'Upper corner [x, y, z] (m) of the workspace box; empty (with min): no box.',
                             length=3)

    def check(self, prefix: str) -> None:
        if bool(self.min) != bool(self.max):
            raise ConfigError(f'{prefix}min and {prefix}max must be set together (or both empty), got '
                              f'{list(self.min)} and {list(self.max)}')
        if self.min and not all(lo < hi for lo, hi in zip(self.min, self.max)):
            raise ConfigError(f'{prefix}min {list(self.min)} must be below {prefix}max {list(self.max)} in x, y '
                              'and z')


@dataclass
class Config:
    device: str = param('auto', "Torch device: 'auto' picks cuda when available, else cpu.",
                        choices=('auto', 'cpu', 'cuda'), read_only=True)
    fp16: bool = param(False, 'Run learned models in half precision on CUDA (ignored on the CPU).', read_only=True)
    stride: int = param(0, 'Geometric stages use every stride-th pixel, labels come back at full resolution; '
                        '0 = automatic (1 on a GPU; on the CPU 2 while the grid keeps a focal length of 250 px, '
                        'coarser while it keeps 300 px: 2 at 640x480 with fx 615, 3 at 1280x720 with fx 910, 1 for '
                        'a wide-angle 640x480 with fx 380).', min=0, max=8)
    depth: DepthConfig = section(DepthConfig)
    surfaces: SurfacesConfig = section(SurfacesConfig)
    instances: InstancesConfig = section(InstancesConfig)
    projection: ProjectionConfig = section(ProjectionConfig)
    grasps: GraspConfig = section(GraspConfig)
    workspace: WorkspaceConfig = section(WorkspaceConfig)


# ---------------------------------------------------------------------------------------------
# Flattening, validation and loading


def _hints(cls) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_section(f: dataclasses.Field) -> bool:
    return bool(f.metadata.get('section'))


def _walk(cls, prefix: str = ''):
    """Yield (dotted_name, field, type, owning class) for every leaf of the tree."""
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        if _is_section(f):
            yield from _walk(hints[f.name], f'{prefix}{f.name}.')
        else:
            yield f'{prefix}{f.name}', f, hints[f.name], cls


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    type: Any
    description: str
    min: Optional[float]
    max: Optional[float]
    choices: Optional[Tuple]
    read_only: bool


def parameter_specs(cls=Config) -> List[ParameterSpec]:
    """Every leaf with its default and constraints (the ROS layer builds descriptors from this)."""
    specs = []
    defaults = flatten(cls())
    for name, f, tp, _ in _walk(cls):
        m = f.metadata
        specs.append(ParameterSpec(name, defaults[name], tp, m['description'], m['min'], m['max'],
                                   m['choices'], m['read_only']))
    return specs


def flatten(cfg) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if _is_section(f):
            out.update({f'{f.name}.{k}': v for k, v in flatten(value).items()})
        else:
            out[f.name] = list(value) if isinstance(value, list) else value
    return out


def _describe_allowed(f: dataclasses.Field, tp) -> str:
    m = f.metadata
    if m['choices']:
        return 'one of ' + ', '.join(repr(c) for c in m['choices'])
    parts = [_type_name(tp)]
    if m['min'] is not None:
        parts.append(f'>= {m["min"]}')
    if m['max'] is not None:
        parts.append(f'<= {m["max"]}')
    if m['length'] is not None:
        parts.append(f'with {m["length"]} elements')
    return ' '.join(parts)


def _type_name(tp) -> str:
    origin = typing.get_origin(tp)
    if origin in (list, List):
        return f'list of {typing.get_args(tp)[0].__name__}'
    return tp.__name__


def _coerce_scalar(value, tp):
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise TypeError
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise TypeError
        return value
    raise TypeError


def _coerce(name: str, value, f: dataclasses.Field, tp):
    """Return the value converted to the field's type, or raise ConfigError naming key, value and rule."""
    m = f.metadata
    bad = ConfigError(f'{name}: {value!r} is not allowed; expected {_describe_allowed(f, tp)}')
    try:
        if typing.get_origin(tp) in (list, List):
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
                raise TypeError
            elem = typing.get_args(tp)[0]
            value = [_coerce_scalar(v, elem) for v in value]
            if m['length'] is not None and len(value) not in (0, m['length']):
                raise TypeError
            numbers = value if elem in (int, float) else []
        else:
            value = _coerce_scalar(value, tp)
            numbers = [value] if tp in (int, float) else []
    except TypeError:
        raise bad from None
    if m['choices'] and value not in m['choices']:
        raise bad
    for v in numbers:
        if v != v or (m['min'] is not None and v < m['min']) or (m['max'] is not None and v > m['max']):
            raise bad
    return value


def validate(cfg: Config) -> Config:
    """Check every leaf and the cross-field rules; return cfg (with values coerced) or raise ConfigError."""
    return from_flat(flatten(cfg))


def from_flat(values: Mapping[str, Any], base: Optional[Config] = None) -> Config:
    """Build a validated Config from dotted names, starting from ``base`` (defaults when None)."""
    flat = flatten(base if base is not None else Config())
    leaves = {name: (f, tp) for name, f, tp, _ in _walk(Config)}
    for name, value in values.items():
        if name not in leaves:
            close = difflib.get_close_matches(name, leaves, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ''
            raise ConfigError(f'unknown parameter {name!r}{hint}')
        f, tp = leaves[name]
        flat[name] = _coerce(name, value, f, tp)
    cfg = _build(Config, flat, '')
    _check_sections(cfg, '')
    return cfg


def _build(cls, flat: Dict[str, Any], prefix: str):
    hints = _hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if _is_section(f):
            kwargs[f.name] = _build(hints[f.name], flat, f'{prefix}{f.name}.')
        else:
            kwargs[f.name] = flat[f'{prefix}{f.name}']
    return cls(**kwargs)


def _check_sections(obj, prefix: str) -> None:
    check = getattr(obj, 'check', None)
    if callable(check):
        check(prefix)
    for f in dataclasses.fields(obj):
        if _is_section(f):
            _check_sections(getattr(obj, f.name), f'{prefix}{f.name}.')


def _flatten_mapping(tree: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in tree.items():
        name = f'{prefix}{key}'
        if isinstance(value, Mapping):
            out.update(_flatten_mapping(value, f'{name}.'))
        else:
            out[name] = value
    return out


def parameters_from_yaml(data: Mapping[str, Any], node_name: str = NODE_NAME) -> Dict[str, Any]:
    """Dotted parameters from a YAML tree: a ROS params file (``<node>: ros__parameters:`` or
    ``/**: ros__parameters:``, wildcard first and the node's own entries winning) or a plain tree."""
    if not isinstance(data, Mapping):
        raise ConfigError('configuration YAML must be a mapping at the top level')
    ros_sections = {k: v for k, v in data.items() if isinstance(v, Mapping) and 'ros__parameters' in v}
    if not ros_sections:
        return _flatten_mapping(data)
    flat: Dict[str, Any] = {}
    for key in ('/**', node_name, f'/{node_name}'):
        if key in ros_sections:
            flat.update(_flatten_mapping(ros_sections[key]['ros__parameters'] or {}))
    for key, value in ros_sections.items():  # namespaced node names such as /camera/perception_node
        if key.endswith(f'/{node_name}') and key != f'/{node_name}':
            flat.update(_flatten_mapping(value['ros__parameters'] or {}))
    return flat


def load_config(path=None, overrides: Optional[Mapping[str, Any]] = None, node_name: str = NODE_NAME) -> Config:
    """Defaults, then the YAML file(s) (``path``: one or a list, later files win, e.g. the package defaults
    then a gripper preset), then dotted ``overrides``; validated."""
    flat: Dict[str, Any] = {}
    paths = [] if path is None else [path] if isinstance(path, (str, Path)) else list(path)
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f'configuration file not found: {path}')
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f'configuration file {path} is not valid YAML: {exc}') from None
        try:
            flat.update(parameters_from_yaml(data, node_name))
        except ConfigError as exc:
            raise ConfigError(f'{path}: {exc}') from None
    flat.update(overrides or {})
    return from_flat(flat)


GRIPPER_PRESETS = ('franka_hand', 'robotiq_2f85')   # config/gripper_<name>.yaml


def package_config_file(name: str) -> Path:
    """The package's config/``name``: in the source tree, the ament share directory (a colcon install) or the
    share directory of the Python environment (a pip install)."""
    here = Path(__file__).resolve().parent
    candidates = [here.parent / 'config' / name]
    try:
        from ament_index_python.packages import get_package_share_directory
        candidates.append(Path(get_package_share_directory('seg_perception')) / 'config' / name)
    except Exception:  # not in an ament environment
        pass
    candidates.append(Path(sys.prefix) / 'share' / 'seg_perception' / 'config' / name)
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(f'config/{name} not found next to the package or in its share directory')


def default_config_path() -> Path:
    """The package's config/seg_perception.yaml."""
    return package_config_file('seg_perception.yaml')


def gripper_file(name_or_path) -> Path:
    """A gripper's parameters file: one of the package's presets by name (GRIPPER_PRESETS), or a YAML file."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    if str(name_or_path) in GRIPPER_PRESETS:
        return package_config_file(f'gripper_{name_or_path}.yaml')
    if path.suffix in ('.yaml', '.yml') or len(path.parts) > 1:
        raise ConfigError(f'gripper file not found: {path}')
    raise ConfigError(f'unknown gripper {str(name_or_path)!r}: a preset ({", ".join(GRIPPER_PRESETS)}) or a '
                      f'parameters file with grasps.*')


def defaults_yaml(node_name: str = NODE_NAME) -> str:
    """The defaults as a ROS params file, each key commented with its description (config/seg_perception.yaml
    is this text; a test keeps them equal)."""
    import textwrap
    lines = ['# seg_perception defaults, generated by `seg-perception config` from seg_perception/config.py.',
             '# ROS parameters are these keys joined with dots (surfaces.backend, instances.min_height, ...).',
             '#   ros2 run seg_perception perception_node --ros-args --params-file config/seg_perception.yaml',
             '# The offline CLI reads the same file: seg-perception segment --config FILE ...',
             f'{node_name}:', '  ros__parameters:']
    open_sections: List[str] = []
    for spec in parameter_specs():
        *sections, leaf = spec.name.split('.')
        common = 0
        while common < min(len(sections), len(open_sections)) and sections[common] == open_sections[common]:
            common += 1
        for depth in range(common, len(sections)):
            lines.append('    ' + '  ' * depth + f'{sections[depth]}:')
        open_sections = sections
        indent = '    ' + '  ' * len(sections)
        for text in textwrap.wrap(spec.description, 100 - len(indent) - 2):
            lines.append(f'{indent}# {text}')
        value = yaml.safe_dump(spec.default, default_flow_style=True).strip()
        if value.endswith('...'):
            value = value[:-3].strip()
        lines.append(f'{indent}{leaf}: {value}')
    return '\n'.join(lines) + '\n'

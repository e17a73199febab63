"""Loading user-supplied model files: torchvision state dicts, TorchScript and ONNX. Nothing is downloaded.

Every failure names the file, the parameter it came from and the format that was expected, and happens when
the pipeline is configured, not on the first frame.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import torch


class ModelLoadError(RuntimeError):
    """A model file is missing, unreadable or does not fit the configured architecture."""


SEGMENTATION_ARCHS = ('deeplabv3_resnet50', 'deeplabv3_resnet101', 'deeplabv3_mobilenet_v3_large',
                      'lraspp_mobilenet_v3_large', 'fcn_resnet50', 'fcn_resnet101')
DETECTION_ARCHS = ('maskrcnn_resnet50_fpn', 'maskrcnn_resnet50_fpn_v2')


def _existing(path: str, parameter: str, expected: str) -> Path:
    if not path:
        raise ModelLoadError(f'{parameter} is empty: the backend needs a local weights file ({expected}); '
                             'nothing is downloaded at run time')
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelLoadError(f'{parameter}: file not found: {p} (expected {expected})')
    return p


def load_state_dict(path: str, parameter: str, expected: str) -> Dict[str, torch.Tensor]:
    """A state dict saved with torch.save(model.state_dict()) (or a checkpoint holding one under 'model' or
    'state_dict'), read with weights_only=True."""
    p = _existing(path, parameter, expected)
    try:
        data = torch.load(p, map_location='cpu', weights_only=True)
    except Exception as exc:  # corrupt file, pickle with code, not a torch file
        raise ModelLoadError(f'{parameter}: cannot read {p} as a torch weights file ({expected}): '
                             f'{type(exc).__name__}: {exc}') from None
    if isinstance(data, dict):
        for key in ('model', 'state_dict'):
            if key in data and isinstance(data[key], dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelLoadError(f'{parameter}: {p} holds no state dict of tensors ({expected})')
    return data


def _classes_from(state: Dict[str, torch.Tensor], keys: Sequence[str], parameter: str, path: str) -> int:
    for key in keys:
        if key in state:
            return int(state[key].shape[0])
    raise ModelLoadError(f'{parameter}: {path} has none of the layers {list(keys)}: not a model of the '
                         'configured architecture')


def build_segmentation_model(arch: str, path: str, parameter: str) -> Tuple[torch.nn.Module, int]:
    """A torchvision semantic segmentation model with the weights in ``path``; the class count comes from
    the weights."""
    import torchvision.models.segmentation as seg
    expected = f'a torchvision {arch} state_dict'
    state = load_state_dict(path, parameter, expected)
    head = 'classifier.high_classifier.weight' if arch.startswith('lraspp') else 'classifier.4.weight'
    num_classes = _classes_from(state, [head], parameter, path)
    kwargs = dict(weights=None, weights_backbone=None, num_classes=num_classes)
    if not arch.startswith('lraspp'):
        kwargs['aux_loss'] = any(k.startswith('aux_classifier.') for k in state)
    model = getattr(seg, arch)(**kwargs)
    _load_into(model, state, parameter, path, arch)
    return model, num_classes


def build_detection_model(arch: str, path: str, parameter: str) -> Tuple[torch.nn.Module, int]:
    import torchvision.models.detection as det
    expected = f'a torchvision {arch} state_dict'
    state = load_state_dict(path, parameter, expected)
    num_classes = _classes_from(state, ['roi_heads.box_predictor.cls_score.weight'], parameter, path)
    model = getattr(det, arch)(weights=None, weights_backbone=None, num_classes=num_classes)
    _load_into(model, state, parameter, path, arch)
    return model, num_classes


def _load_into(model: torch.nn.Module, state, parameter: str, path: str, arch: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[1:3]
        raise ModelLoadError(f'{parameter}: {path} does not fit {arch}: ' + ' '.join(s.strip() for s in first)) \
            from None


def coco_category_names() -> Tuple[str, ...]:
    """The 91 COCO category names torchvision's detection models use (index = label)."""
    from torchvision.models.detection import MaskRCNN_ResNet50_FPN_Weights
    return tuple(MaskRCNN_ResNet50_FPN_Weights.COCO_V1.meta['categories'])


def load_torchscript(path: str, parameter: str, device: torch.device, half: bool = False) -> torch.jit.ScriptModule:
    p = _existing(path, parameter, 'a TorchScript file saved with torch.jit.save')
    try:
        model = torch.jit.load(str(p), map_location=device).eval()
        return model.half() if half else model
    except Exception as exc:
        raise ModelLoadError(f'{parameter}: cannot load {p} as TorchScript: {type(exc).__name__}: {exc}') from None


def load_onnx(path: str, parameter: str, device: torch.device) -> Tuple[Callable[[np.ndarray], list], tuple]:
    """An onnxruntime session (CUDA provider when the device is cuda and available) as a function of the
    float32 NCHW image, and the input shape it declares (ints where fixed, names or None where dynamic)."""
    p = _existing(path, parameter, 'an ONNX model file')
    try:
        import onnxruntime as ort
    except ImportError:
        raise ModelLoadError(f'{parameter}: the onnx backend needs the onnxruntime package (pip install '
                             'onnxruntime or onnxruntime-gpu)') from None
    providers = ['CPUExecutionProvider']
    if device.type == 'cuda' and 'CUDAExecutionProvider' in ort.get_available_providers():
        providers.insert(0, 'CUDAExecutionProvider')
    try:
        session = ort.InferenceSession(str(p), providers=providers)
    except Exception as exc:
        raise ModelLoadError(f'{parameter}: cannot load {p} as ONNX: {type(exc).__name__}: {exc}') from None
    first = session.get_inputs()[0]
    return (lambda image: session.run(None, {first.name: image})), tuple(first.shape)


def warmup_shape(declared: tuple = ()) -> tuple:
    """A (1, 3, H, W) input for a first run: the model's fixed size where it declares one, else 64 x 64."""
    h = declared[2] if len(declared) == 4 and isinstance(declared[2], int) else 64
    w = declared[3] if len(declared) == 4 and isinstance(declared[3], int) else 64
    return (1, 3, h, w)


def image_tensor(color: torch.Tensor, half: bool = False) -> torch.Tensor:
    """(H, W, 3) uint8 on the device -> (1, 3, H, W) float in [0, 1] (the input contract of every backend)."""
    x = color.permute(2, 0, 1)[None].float().div_(255.0)
    return x.half() if half else x

"""Learned surface segmentation (torchvision DeepLabV3 / LRASPP / FCN, TorchScript, ONNX), refined by planes.

The model labels pixels with its own classes; ``surfaces.class_map`` turns them into surface classes. The
geometric segmenter then fits the planes, preferring as support surface the horizontal plane the model calls
support, so labels follow the exact plane (and objects on it are those standing above it). Pixels the
geometry leaves as 'other' take the model's floor / wall classes.

TorchScript / ONNX contract: input ``image`` float32 (1, 3, H, W), RGB in [0, 1] (normalise inside the model);
output logits (1, C, h, w) (resized to H, W when smaller); class = argmax over C.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from ..config import Config
from ..models import build_segmentation_model, image_tensor, load_onnx, load_torchscript, warmup_shape
from ..prepare import PreparedFrame, resolve_device
from ..types import SURFACE_FLOOR, SURFACE_OTHER, SURFACE_SUPPORT, SURFACE_WALL, SurfaceResult
from .planes import PlaneSurfaceSegmenter

log = logging.getLogger(__name__)
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class LearnedSurfaceSegmenter:
    """Base: subclasses provide ``_logits(image (1,3,H,W) in [0,1]) -> (1, C, h, w)``."""

    def __init__(self, config: Config):
        self.cfg = config.surfaces
        self.device = resolve_device(config.device)
        self.half = config.fp16 and self.device.type == 'cuda'
        self.geometry = PlaneSurfaceSegmenter(config)
        self._lut = None
        self._load()
        self._warm_up()

    def _load(self):
        raise NotImplementedError

    def _warm_up(self):
        with torch.inference_mode():
            self._logits(torch.zeros(warmup_shape(getattr(self, 'input_shape', ())), device=self.device,
                                     dtype=torch.float16 if self.half else torch.float32))

    def model_labels(self, pf: PreparedFrame) -> torch.Tensor:
        """(H, W) surface classes from the model, on the device."""
        h, w = pf.shape
        with torch.inference_mode():
            logits = self._logits(image_tensor(pf.color, self.half))
            if logits.shape[-2:] != (h, w):
                logits = F.interpolate(logits.float(), size=(h, w), mode='bilinear', align_corners=False)
            classes = logits[0].argmax(0)
        lut = self._class_lut(logits.shape[1], classes.device)
        return lut[classes]

    def _class_lut(self, num_classes: int, device) -> torch.Tensor:
        if self._lut is None or self._lut.numel() != num_classes:
            values = list(self.cfg.class_map[:num_classes]) + [SURFACE_OTHER] * max(0, num_classes - len(
                self.cfg.class_map))
            self._lut = torch.tensor(values, dtype=torch.uint8, device=device)
        return self._lut

    def segment(self, pf: PreparedFrame) -> SurfaceResult:
        semantic = self.model_labels(pf)
        result = self.geometry.segment(pf, support_hint=semantic == SURFACE_SUPPORT)
        labels = result.labels.clone()
        for cls in (SURFACE_FLOOR, SURFACE_WALL):
            labels[(labels == SURFACE_OTHER) & (semantic == cls)] = cls
        return SurfaceResult(labels, result.planes, result.up, result.support_plane, heights=result.heights,
                             footprint=result.footprint, raised=result.raised, support_model=result.support_model)


class TorchvisionSurfaceSegmenter(LearnedSurfaceSegmenter):
    name = 'torchvision'

    def _load(self):
        model, _ = build_segmentation_model(self.cfg.model_arch, self.cfg.model_path, 'surfaces.model_path')
        self.model = model.eval().to(self.device)
        if self.half:
            self.model.half()
        dtype = torch.float16 if self.half else torch.float32
        self.mean = torch.tensor(_IMAGENET_MEAN, device=self.device, dtype=dtype).view(1, 3, 1, 1)
        self.std = torch.tensor(_IMAGENET_STD, device=self.device, dtype=dtype).view(1, 3, 1, 1)

    def _logits(self, image):
        image = image.to(self.mean.dtype)
        return self.model((image - self.mean) / self.std)['out']


class TorchScriptSurfaceSegmenter(LearnedSurfaceSegmenter):
    name = 'torchscript'

    def _load(self):
        self.model = load_torchscript(self.cfg.model_path, 'surfaces.model_path', self.device, self.half)

    def _logits(self, image):
        out = self.model(image.half() if self.half else image)
        return out['out'] if isinstance(out, dict) else out


class OnnxSurfaceSegmenter(LearnedSurfaceSegmenter):
    name = 'onnx'

    def _load(self):
        self.run, self.input_shape = load_onnx(self.cfg.model_path, 'surfaces.model_path', self.device)
        self.half = False

    def _logits(self, image):
        out = self.run(image.float().cpu().numpy().astype(np.float32))[0]
        return torch.from_numpy(out).to(self.device)

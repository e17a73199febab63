"""Learned instance segmentation (torchvision Mask R-CNN v1/v2, TorchScript, ONNX), checked by geometry.

Masks scoring at least ``score_threshold`` are cut at ``mask_threshold``, trimmed to the pixels that stand
above the support surface (or lack depth), and kept when they stand mostly on it (a detected table or a cup
on a shelf goes). Overlaps go to the higher score. With ``fill_unclaimed``, object regions the clusters
backend finds and no mask claims are added with class 'unknown'.

TorchScript / ONNX contract: input ``image`` float32 (1, 3, H, W), RGB in [0, 1]; outputs ``masks``
(N, H, W) or (N, 1, H, W) probabilities in [0, 1], ``scores`` (N,), ``labels`` (N,) integer class ids
(a tuple in that order, or for TorchScript a dict with those keys). Class names come from
``instances.class_names`` (index = label).
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np
import torch

from ..config import Config
from ..models import (build_detection_model, coco_category_names, image_tensor, load_onnx, load_torchscript,
                      warmup_shape)
from ..prepare import PreparedFrame, resolve_device
from ..types import SURFACE_OBJECT, InstanceResult, SurfaceResult
from .clusters import ClusterInstanceSegmenter, order_left_to_right

_MIN_STANDING = 0.5   # share of a mask's measured pixels that must stand on the support
_LONGER_SIDE = 1333 / 800   # torchvision's cap on a detection input's longer side, relative to its shorter one


class LearnedInstanceSegmenter:
    """Base: subclasses provide ``_detect(image) -> (masks (N, H, W) float, scores (N,), labels (N,))``."""

    def __init__(self, config: Config):
        self.cfg = config.instances
        self.device = resolve_device(config.device)
        self.half = config.fp16 and self.device.type == 'cuda'
        self.clusters = ClusterInstanceSegmenter(config)
        self.names: Tuple[str, ...] = tuple(self.cfg.class_names)
        self._load()
        with torch.inference_mode():
            self._detect(torch.zeros(warmup_shape(getattr(self, 'input_shape', ())), device=self.device,
                                     dtype=torch.float16 if self.half else torch.float32))

    def _load(self):
        raise NotImplementedError

    def class_name(self, label: int) -> str:
        return self.names[label] if 0 <= label < len(self.names) else f'class_{label}'

    def segment(self, pf: PreparedFrame, surfaces: SurfaceResult) -> InstanceResult:
        h, w = pf.shape
        with torch.inference_mode():
            masks, scores, labels = self._detect(image_tensor(pf.color, self.half))
        scores = scores.float()
        keep = torch.nonzero(scores >= self.cfg.score_threshold).squeeze(1)
        if keep.numel() > self.cfg.max_detections:    # the best ones (a torchvision model stopped there itself)
            keep = keep[torch.topk(scores[keep], self.cfg.max_detections).indices]
        masks, scores, labels = masks[keep].float(), scores[keep], labels[keep]
        if masks.dim() == 4:
            masks = masks[:, 0]
        if masks.shape[-2:] != (h, w):   # (interpolate refuses an empty batch: no detection kept)
            masks = (torch.nn.functional.interpolate(masks[None], size=(h, w), mode='bilinear')[0] if keep.numel()
                     else masks.new_zeros((0, h, w)))
        masks = masks > self.cfg.mask_threshold
        standing = surfaces.labels == SURFACE_OBJECT
        allowed = standing | ~pf.valid
        out = torch.zeros((h, w), dtype=torch.int64, device=pf.device)
        names: List[str] = []
        values: List[float] = []
        for i in torch.argsort(scores, descending=True).tolist():
            m = masks[i] & allowed & (out == 0)
            measured = m & pf.valid
            if int(measured.sum()) == 0 or float((m & standing).sum()) < _MIN_STANDING * float(measured.sum()):
                continue
            out[m] = len(names) + 1
            names.append(self.class_name(int(labels[i])))
            values.append(float(scores[i]))
        if self.cfg.fill_unclaimed:
            geometric = self.clusters.segment(pf, surfaces).labels
            for gid in torch.unique(geometric[geometric > 0]).tolist():
                region = geometric == gid
                free = region & (out == 0)
                if float(free.sum()) > 0.5 * float(region.sum()):
                    out[free] = len(names) + 1
                    names.append('unknown')
                    values.append(1.0)
        out, order = order_left_to_right(out, len(names))
        order = order.tolist()
        return InstanceResult(out, tuple(names[i - 1] for i in order), tuple(values[i - 1] for i in order))


class TorchvisionInstanceSegmenter(LearnedInstanceSegmenter):
    name = 'torchvision'

    def _load(self):
        model, num_classes = build_detection_model(self.cfg.model_arch, self.cfg.model_path, 'instances.model_path')
        # fp16 through autocast, not .half(): torchvision's box and mask ops then keep fp32 where they need it
        self.model = model.eval().to(self.device)
        if not self.names and num_classes == 91:
            self.names = coco_category_names()

    def _detect(self, image):
        # set per call: the parameters may change at run time, the loaded model stays
        self.model.roi_heads.detections_per_img = self.cfg.max_detections
        scale_input(self.model.transform, self.cfg.input_size, image.shape[-2:])
        with torch.autocast('cuda', dtype=torch.float16, enabled=self.half):
            out = self.model([image[0].float()])[0]
        return out['masks'], out['scores'], out['labels']


def scale_input(transform, shorter_side: int, image_size) -> None:
    """Set a torchvision detection model's input ``transform`` to scale images to ``shorter_side`` pixels (their
    longer side at most torchvision's 1333 / 800 of that), or with 0 to leave images of ``image_size`` (H, W) as
    they are."""
    if shorter_side > 0:
        transform.min_size = (shorter_side,)
        transform.max_size = round(shorter_side * _LONGER_SIDE)
    else:
        transform.min_size = (int(min(image_size)),)
        transform.max_size = int(max(image_size))


class TorchScriptInstanceSegmenter(LearnedInstanceSegmenter):
    name = 'torchscript'

    def _load(self):
        self.model = load_torchscript(self.cfg.model_path, 'instances.model_path', self.device, self.half)

    def _detect(self, image):
        out = self.model(image)
        if isinstance(out, dict):
            return out['masks'], out['scores'], out['labels']
        masks, scores, labels = out
        return masks, scores, labels


class OnnxInstanceSegmenter(LearnedInstanceSegmenter):
    name = 'onnx'

    def _load(self):
        self.run, self.input_shape = load_onnx(self.cfg.model_path, 'instances.model_path', self.device)
        self.half = False

    def _detect(self, image):
        masks, scores, labels = self.run(image.float().cpu().numpy().astype(np.float32))[:3]
        to = lambda a: torch.from_numpy(np.asarray(a)).to(self.device)  # noqa: E731
        return to(masks), to(scores), to(labels).long()

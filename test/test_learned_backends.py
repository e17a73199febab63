"""Learned backends load local weight files the tests make, run on a frame and keep the output contract."""
import numpy as np
import pytest
import torch

from seg_perception.config import flatten, load_config
from seg_perception.models import ModelLoadError
from seg_perception.pipeline import Pipeline
from seg_perception.synthetic import SceneConfig, synthesize
from seg_perception.types import SURFACE_OBJECT

SMALL = SceneConfig(width=320, height=240, fx=307.5, fy=307.5)


@pytest.fixture(scope='module')
def frame():
    return synthesize(121, SMALL)


def _pipeline(**overrides):
    return Pipeline(load_config(None, {'device': 'cpu', **overrides}))


def _check_instances(result, names=None):
    labels = result.instances.labels
    n = result.instances.count
    assert labels.dtype == np.uint16 and labels.shape == (240, 320)
    assert set(np.unique(labels)) == set(range(n + 1))
    assert len(result.instances.scores) == n and all(0 <= s <= 1 for s in result.instances.scores)
    if names is not None:
        assert set(result.instances.class_names) <= set(names)
    assert ((result.surfaces.labels == SURFACE_OBJECT) == (labels > 0)).all()


class _Halves(torch.nn.Module):
    """A stand-in exported model: two masks (left / right half), scores 0.9 / 0.3, labels 1 / 2; masks at
    1 / ``shrink`` of the image's size (models often predict coarser masks)."""

    def __init__(self, shrink: int = 1):
        super().__init__()
        self.shrink = shrink

    def forward(self, image):
        h, w = image.shape[2] // self.shrink, image.shape[3] // self.shrink
        cols = torch.arange(w, device=image.device).view(1, 1, w).expand(2, h, w)
        left = (cols < w // 2).float()
        masks = torch.stack([left[0], 1 - left[1]])
        scores = torch.tensor([0.9, 0.3], device=image.device) + image.mean() * 0
        labels = torch.tensor([1, 2], device=image.device)
        return masks, scores, labels


class _Logits(torch.nn.Module):
    """A stand-in exported segmentation model: 3 classes from the colour channels."""

    def forward(self, image):
        return image * 4.0


def test_torchscript_instances_follow_the_contract(tmp_path, frame):
    path = tmp_path / 'inst.pt'
    torch.jit.save(torch.jit.script(_Halves()), str(path))
    p = _pipeline(**{'instances.backend': 'torchscript', 'instances.model_path': str(path),
                     'instances.class_names': ['bg', 'left', 'right'], 'instances.fill_unclaimed': False})
    result = p.process(frame.rgbd())
    _check_instances(result, {'left'})
    assert result.instances.count == 1                    # the 0.3-score mask is below the threshold
    assert (np.nonzero(result.instances.labels)[1] < 160).all()  # trimmed to its half
    # unclaimed object regions come back from the geometry as 'unknown'
    p = _pipeline(**{'instances.backend': 'torchscript', 'instances.model_path': str(path),
                     'instances.class_names': ['bg', 'left', 'right']})
    result = p.process(frame.rgbd())
    _check_instances(result, {'left', 'unknown'})
    assert 'unknown' in result.instances.class_names


def test_learned_detections_are_capped_best_first(tmp_path, frame):
    path = tmp_path / 'inst.pt'
    torch.jit.save(torch.jit.script(_Halves()), str(path))
    settings = {'instances.backend': 'torchscript', 'instances.model_path': str(path), 'instances.score_threshold':
                0.0, 'instances.class_names': ['bg', 'left', 'right'], 'instances.fill_unclaimed': False}
    both = _pipeline(**settings).process(frame.rgbd())
    assert sorted(both.instances.class_names) == ['left', 'right']
    best = _pipeline(**settings, **{'instances.max_detections': 1}).process(frame.rgbd())
    _check_instances(best, {'left'})
    assert best.instances.class_names == ('left',)             # the 0.9-score mask, not the 0.3 one
    # coarse masks are brought to the frame's size; with none above the threshold there is nothing to resize
    torch.jit.save(torch.jit.script(_Halves(shrink=2)), str(path))
    coarse = _pipeline(**settings).process(frame.rgbd())
    assert sorted(coarse.instances.class_names) == ['left', 'right']
    none = _pipeline(**{**settings, 'instances.score_threshold': 0.95}).process(frame.rgbd())
    _check_instances(none)
    assert none.instances.count == 0


def test_onnx_backends_follow_the_contract(tmp_path, frame):
    inst, surf = tmp_path / 'inst.onnx', tmp_path / 'surf.onnx'
    x = torch.rand(1, 3, 240, 320)
    torch.onnx.export(_Halves(), (x,), str(inst), dynamo=False, input_names=['image'],
                      output_names=['masks', 'scores', 'labels'])
    torch.onnx.export(_Logits(), (x,), str(surf), dynamo=False, input_names=['image'], output_names=['logits'])
    p = _pipeline(**{'instances.backend': 'onnx', 'instances.model_path': str(inst), 'instances.fill_unclaimed':
                     False, 'surfaces.backend': 'onnx', 'surfaces.model_path': str(surf),
                     'surfaces.class_map': [1, 2, 3]})
    result = p.process(frame.rgbd())
    _check_instances(result, {'class_1'})
    assert result.surfaces.support_plane is not None


def test_torchscript_surfaces(tmp_path, frame):
    path = tmp_path / 'surf.pt'
    torch.jit.save(torch.jit.script(_Logits()), str(path))
    result = _pipeline(**{'surfaces.backend': 'torchscript', 'surfaces.model_path': str(path),
                          'surfaces.class_map': [1, 1, 1]}).process(frame.rgbd())
    assert result.surfaces.labels.dtype == np.uint8 and result.surfaces.support_plane is not None


@pytest.mark.slow
def test_torchvision_surfaces_from_random_weights(tmp_path, frame):
    import torchvision
    path = tmp_path / 'lraspp.pth'
    model = torchvision.models.segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None,
                                                                      num_classes=6)
    torch.save(model.state_dict(), path)
    p = _pipeline(**{'surfaces.backend': 'torchvision', 'surfaces.model_arch': 'lraspp_mobilenet_v3_large',
                     'surfaces.model_path': str(path), 'surfaces.class_map': [0, 1, 2, 3, 4, 5]})
    result = p.process(frame.rgbd())
    assert result.surfaces.labels.shape == (240, 320) and result.surfaces.labels.max() <= 5
    # the same weights for another architecture: a clear error naming the file
    with pytest.raises(ModelLoadError, match='lraspp.pth'):
        _pipeline(**{'surfaces.backend': 'torchvision', 'surfaces.model_arch': 'deeplabv3_resnet50',
                     'surfaces.model_path': str(path)})


@pytest.mark.slow
@pytest.mark.parametrize('arch', ['maskrcnn_resnet50_fpn', 'maskrcnn_resnet50_fpn_v2'])
def test_torchvision_mask_rcnn_from_random_weights(tmp_path, frame, arch):
    import torchvision
    path = tmp_path / f'{arch}.pth'
    model = getattr(torchvision.models.detection, arch)(weights=None, weights_backbone=None, num_classes=91)
    torch.save(model.state_dict(), path)
    p = _pipeline(**{'instances.backend': 'torchvision', 'instances.model_arch': arch,
                     'instances.model_path': str(path), 'instances.score_threshold': 0.0})
    result = p.process(frame.rgbd())
    from seg_perception.models import coco_category_names
    _check_instances(result, set(coco_category_names()) | {'unknown'})
    # the model itself stops at max_detections (its mask head runs on no more), also when set at run time
    config = load_config(None, {'device': 'cpu', 'instances.backend': 'torchvision', 'instances.model_arch': arch,
                                'instances.model_path': str(path), 'instances.score_threshold': 0.0,
                                'instances.fill_unclaimed': False, 'instances.max_detections': 3})
    p.update(config)
    result = p.process(frame.rgbd())
    assert p.instances.model.roi_heads.detections_per_img == 3
    _check_instances(result, set(coco_category_names()))
    assert result.instances.count <= 3
    masks, scores, labels = p.instances._detect(torch.rand(1, 3, 240, 320))
    assert masks.shape[0] == scores.numel() == labels.numel() == 3
    # the image the backbone works on: enlarged to torchvision's 800 rows by default, as it is with input_size 0
    seen = []
    p.instances.model.backbone.register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape[-2:])))
    p.instances._detect(torch.rand(1, 3, 240, 320))
    p.update(load_config(None, {**flatten(config), 'instances.input_size': 0}))
    masks, _, _ = p.instances._detect(torch.rand(1, 3, 240, 320))
    assert seen == [(800, 1088), (256, 320)]   # padded to a multiple of 32
    assert masks.shape[-2:] == (240, 320)


def test_missing_and_corrupt_weights_fail_at_configure_time(tmp_path):
    with pytest.raises(ModelLoadError, match='instances.model_path: file not found: .*nope.pth'):
        _pipeline(**{'instances.backend': 'torchvision', 'instances.model_path': str(tmp_path / 'nope.pth')})
    with pytest.raises(ModelLoadError, match='surfaces.model_path is empty'):
        _pipeline(**{'surfaces.backend': 'torchvision'})
    bad = tmp_path / 'corrupt.pth'
    bad.write_bytes(b'not a torch file at all' * 10)
    with pytest.raises(ModelLoadError, match='cannot read .*corrupt.pth as a torch weights file'):
        _pipeline(**{'instances.backend': 'torchvision', 'instances.model_path': str(bad)})
    with pytest.raises(ModelLoadError, match='cannot load .*corrupt.pth as TorchScript'):
        _pipeline(**{'instances.backend': 'torchscript', 'instances.model_path': str(bad)})
    with pytest.raises(ModelLoadError, match='cannot load .*corrupt.pth as ONNX'):
        _pipeline(**{'surfaces.backend': 'onnx', 'surfaces.model_path': str(bad)})
    # a pickle that would run code is refused (weights_only=True)
    evil = tmp_path / 'evil.pth'
    torch.save({'model': _Logits()}, evil)
    with pytest.raises(ModelLoadError, match='evil.pth'):
        _pipeline(**{'instances.backend': 'torchvision', 'instances.model_path': str(evil)})

"""Instance segmentation backends (``instances.backend``): name -> class with ``segment(frame, surfaces)``."""
from .clusters import ClusterInstanceSegmenter
from .learned import OnnxInstanceSegmenter, TorchScriptInstanceSegmenter, TorchvisionInstanceSegmenter

INSTANCE_BACKENDS = {
    'clusters': ClusterInstanceSegmenter,
    'torchvision': TorchvisionInstanceSegmenter,
    'torchscript': TorchScriptInstanceSegmenter,
    'onnx': OnnxInstanceSegmenter,
}


def make_instance_segmenter(config):
    return INSTANCE_BACKENDS[config.instances.backend](config)

"""Surface segmentation backends (``surfaces.backend``): name -> class with ``segment(prepared_frame)``."""
from .learned import OnnxSurfaceSegmenter, TorchScriptSurfaceSegmenter, TorchvisionSurfaceSegmenter
from .planes import PlaneSurfaceSegmenter

SURFACE_BACKENDS = {
    'planes': PlaneSurfaceSegmenter,
    'torchvision': TorchvisionSurfaceSegmenter,
    'torchscript': TorchScriptSurfaceSegmenter,
    'onnx': OnnxSurfaceSegmenter,
}


def make_surface_segmenter(config):
    return SURFACE_BACKENDS[config.surfaces.backend](config)

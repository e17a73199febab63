"""Instance segmentation backends (``instances.backend``): name -> class with ``segment(frame, surfaces)``."""
from .clusters import ClusterInstanceSegmenter

INSTANCE_BACKENDS = {
    'clusters': ClusterInstanceSegmenter,
}


def make_instance_segmenter(config):
    return INSTANCE_BACKENDS[config.instances.backend](config)

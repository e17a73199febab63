"""Surface segmentation backends (``surfaces.backend``): name -> class with ``segment(prepared_frame)``."""
from .planes import PlaneSurfaceSegmenter

SURFACE_BACKENDS = {
    'planes': PlaneSurfaceSegmenter,
}


def make_surface_segmenter(config):
    return SURFACE_BACKENDS[config.surfaces.backend](config)

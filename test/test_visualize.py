import numpy as np

from seg_perception.types import SURFACE_OBJECT, SURFACE_SUPPORT, SURFACE_UNKNOWN
from seg_perception.visualize import SURFACE_COLORS, instance_color, overlay


def test_overlay_tints_surfaces_and_outlines_objects():
    color = np.full((40, 60, 3), 100, np.uint8)
    surfaces = np.full((40, 60), SURFACE_SUPPORT, np.uint8)
    surfaces[:, :5] = SURFACE_UNKNOWN
    instances = np.zeros((40, 60), np.uint16)
    instances[10:30, 20:40] = 3
    surfaces[instances > 0] = SURFACE_OBJECT
    image = overlay(color, surfaces, instances, alpha=0.5)
    assert image.shape == color.shape and image.dtype == np.uint8
    assert (image[:, :5] == 100).all()                                  # no depth: untouched
    support = np.array(SURFACE_COLORS[SURFACE_SUPPORT])
    assert np.abs(image[35, 50].astype(int) - (0.7 * 100 + 0.3 * support)).max() <= 1
    assert (image[10, 30] == instance_color(3)).all()                   # outline in the instance colour
    inside = image[12, 22].astype(int)                                  # half way to the instance colour
    assert np.abs(inside - (0.5 * 100 + 0.5 * np.array(instance_color(3)))).max() <= 1
    assert (image[18:23, 26:34] != image[12, 22]).any()                 # the id is written at the centre

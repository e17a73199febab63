"""Deterministic test images shared by the publisher and receiver scripts."""
import numpy as np


def pattern(width=640, height=480):
    rng = np.random.default_rng(20261127)
    color = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    depth = rng.integers(0, 65536, (height, width), dtype=np.uint16)
    return color, depth

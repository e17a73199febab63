"""The parallel-jaw hand as ``grasps.*`` describes it: sizes the planner and the evaluation derive alike."""
from __future__ import annotations

import math

from ..config import GraspConfig


def palm_half_width(cfg: GraspConfig) -> float:
    """Half the hand body's extent along the closing direction (never narrower than the open fingers)."""
    return max(cfg.palm_width, cfg.max_opening + 2 * cfg.finger_thickness) / 2


def hand_reach(cfg: GraspConfig) -> float:
    """Farthest a part of the hand gets from the closing centre (with 2 cm of room for margins)."""
    return math.hypot(cfg.finger_depth + cfg.palm_depth, math.hypot(palm_half_width(cfg), cfg.palm_height / 2)) + 0.02

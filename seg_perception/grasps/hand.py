"""The parallel-jaw hand as ``grasps.*`` describes it: sizes the planner and the evaluation derive alike, and
which grasps put it through scene points."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..config import GraspConfig


def palm_half_width(cfg: GraspConfig) -> float:
    """Half the hand body's extent along the closing direction (never narrower than the open fingers)."""
    return max(cfg.palm_width, cfg.max_opening + 2 * cfg.finger_thickness) / 2


def hand_reach(cfg: GraspConfig) -> float:
    """Farthest a part of the hand gets from the closing centre (with 2 cm of room for margins)."""
    return math.hypot(cfg.finger_depth + cfg.palm_depth, math.hypot(palm_half_width(cfg), cfg.palm_height / 2)) + 0.02


def hand_hits(cfg: GraspConfig, rot, origin, width, scene, margins: Sequence[float], own: torch.Tensor,
              own_margin: torch.Tensor) -> torch.Tensor:
    """(len(margins), G) per margin, the candidates whose finger or palm volume, inflated by that margin, holds a
    scene point; the fingers' inner faces are inflated by at most ``own_margin`` (G,) towards the target's
    ``own`` points (M,), which lie between the fingers by construction (a tight grasp leaves less than the
    margin there)."""
    if scene.shape[0] == 0 or rot.shape[0] == 0:
        return torch.zeros(len(margins), rot.shape[0], dtype=torch.bool, device=rot.device)
    # the points in each grasp frame, one contiguous (G, M) product per axis
    shift = torch.einsum('gk,gkj->gj', origin, rot)                              # (G, 3)
    scene_t = scene.T
    lx = torch.addmm(-shift[:, 0:1], rot[:, :, 0], scene_t)
    ay = torch.addmm(-shift[:, 1:2], rot[:, :, 1], scene_t).abs_()
    az = torch.addmm(-shift[:, 2:3], rot[:, :, 2], scene_t).abs_()
    half = width[:, None] / 2
    # how far each point lies outside each part of the hand: the largest excess over the part's extent along
    # any of its axes (a point is inside the part inflated by a margin when that is at most the margin)
    finger = torch.maximum(-cfg.finger_depth - lx, lx)
    finger = torch.maximum(finger, az - cfg.finger_width / 2)
    finger = torch.maximum(finger, ay - half - cfg.finger_thickness)
    inward = half - ay                               # how far inside a finger's inner face
    finger = torch.maximum(finger, inward)
    # the target's own points: the inner faces are inflated by at most ``own_margin`` towards them
    finger.masked_fill_(own[None] & (inward > own_margin[:, None]), math.inf)
    palm = torch.maximum(lx + cfg.finger_depth, -cfg.finger_depth - cfg.palm_depth - lx)
    palm = torch.maximum(palm, ay - palm_half_width(cfg))
    palm = torch.maximum(palm, az - cfg.palm_height / 2)
    nearest = torch.minimum(finger, palm).amin(1)                                 # (G,)
    return torch.stack([nearest <= margin for margin in margins])

"""The parallel-jaw hand as ``grasps.*`` describes it: sizes the planner and the evaluation derive alike, and
which grasps put it through scene points."""
from __future__ import annotations

import math

import torch

from ..config import GraspConfig


def palm_half_width(cfg: GraspConfig) -> float:
    """Half the hand body's extent along the closing direction (never narrower than the open fingers)."""
    return max(cfg.palm_width, cfg.max_opening + 2 * cfg.finger_thickness) / 2


def hand_reach(cfg: GraspConfig) -> float:
    """Farthest a part of the hand gets from the closing centre (with 2 cm of room for margins)."""
    return math.hypot(cfg.finger_depth + cfg.palm_depth, math.hypot(palm_half_width(cfg), cfg.palm_height / 2)) + 0.02


def hand_hits(cfg: GraspConfig, rot, origin, width, scene, margin: float, own: torch.Tensor,
              own_margin: torch.Tensor) -> torch.Tensor:
    """Candidates whose finger or palm volume, inflated by ``margin``, holds a scene point; the fingers'
    inner faces are inflated by only ``own_margin`` (G,) towards the target's ``own`` points (M,), which
    lie between the fingers by construction (a tight grasp leaves less than the margin there)."""
    if scene.shape[0] == 0 or rot.shape[0] == 0:
        return torch.zeros(rot.shape[0], dtype=torch.bool, device=rot.device)
    # the points in each grasp frame, one contiguous (G, M) product per axis
    shift = torch.einsum('gk,gkj->gj', origin, rot)                              # (G, 3)
    scene_t = scene.T
    lx = torch.addmm(-shift[:, 0:1], rot[:, :, 0], scene_t)
    ay = torch.addmm(-shift[:, 1:2], rot[:, :, 1], scene_t).abs_()
    az = torch.addmm(-shift[:, 2:3], rot[:, :, 2], scene_t).abs_()
    half = width[:, None] / 2
    inner = torch.where(own[None], own_margin[:, None].clamp_max(margin), margin)
    hand_depth = (lx >= -cfg.finger_depth - cfg.palm_depth - margin) & (lx <= margin)
    fingers = ((lx >= -cfg.finger_depth - margin) & (az <= cfg.finger_width / 2 + margin)
               & (ay >= half - inner) & (ay <= half + cfg.finger_thickness + margin))
    palm = ((lx <= -cfg.finger_depth + margin) & (ay <= palm_half_width(cfg) + margin)
            & (az <= cfg.palm_height / 2 + margin))
    return (hand_depth & (fingers | palm)).any(1)

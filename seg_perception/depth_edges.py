"""Occlusion edges that a smoothing depth sensor turned into ramps, cut sharp again with the colour image.

Stereo cameras that filter their depth (a ZED in its smoothing modes, a RealSense with its spatial filter on) blend
an object's depth into what lies behind it over several pixels: a ramp instead of a step. The table behind an object
then stands raised around it (a skirt that widens the object and gives it flaring sides), and two objects one behind
the other are joined by depth with no step between them. The colour image keeps the edge sharp, so a pixel in such a
ramp is given to the side whose colour it has: like the far side, its depth is dropped (it is the far surface, at a
depth the filter invented); like the near side, it takes the near side's depth.

A pixel is in a ramp along a row (or a column) when the depth ``reach`` pixels before and after it differs by more
than _RAMP_STEPS single-step limits (``jump_per_m`` x depth), its own depth lies well inside that range, both ends of
the window are level (a plane, a ridge or a curved side seen at a slant keeps changing towards them) and no step
between neighbouring pixels inside the window is sharp (an edge the sensor kept). The two sides' colours must differ,
or colour cannot tell them apart. Cups and boxes whose rim or top meets a steep inner wall or side face of another
colour look the same, which is why this is for smoothing sensors only (``depth.sharpen_ramps``, off by default).
"""
from __future__ import annotations

import torch

_RAMP_STEPS = 3.0       # a ramp spans more than this many single-step limits between the window's ends
_INSIDE = 0.15          # the pixel's depth lies at least this share of the jump away from both ends
_LEVEL = 0.2            # an end is level when its outer half of the window changes by less than this share of
                        # the jump
_SHARP_STEP = 0.35      # a step between neighbouring pixels this share of the jump is a sharp edge, no ramp
_SIDE_COLOUR = 30.0     # least difference of the two sides' colours (largest channel, 0-255)
_SIDE_PIXELS = 3        # pixels averaged at each end of the window for its colour


def sharpen_depth_ramps(depth: torch.Tensor, color: torch.Tensor, reach: int, jump_per_m: float) -> torch.Tensor:
    """``depth`` (H, W) in metres (0 = missing) with the pixels of smeared occlusion edges given to the near side
    (its depth) or dropped (0) when they have the far side's colour; ``color`` (H, W, 3) uint8, ``reach`` the
    window's half width in full-resolution pixels (8 suits smears of 1.5 to 3 pixels)."""
    z = depth.float()
    drop = torch.zeros(z.shape, dtype=torch.bool, device=z.device)
    moved = torch.zeros_like(z)
    for along_columns in (False, True):
        # columns are rows of the transposed images
        zz, rgb = (z.T.contiguous(), color.transpose(0, 1).contiguous()) if along_columns else (z, color)
        if zz.shape[1] <= 2 * (reach + _SIDE_PIXELS):
            continue
        rows, cols, far_like, near_depth = _ramps_along_rows(zz, rgb, reach, jump_per_m)
        if along_columns:
            rows, cols = cols, rows
        drop[rows[far_like], cols[far_like]] = True
        # a pixel in ramps along both axes takes the nearer of the two near sides
        rows, cols, near_depth = rows[~far_like], cols[~far_like], near_depth[~far_like]
        before = moved[rows, cols]
        moved[rows, cols] = torch.where((before == 0) | (near_depth < before), near_depth, before)
    out = torch.where(moved > 0, moved, z)
    return torch.where(drop, torch.zeros_like(out), out).to(depth.dtype)


def _ramps_along_rows(z: torch.Tensor, rgb: torch.Tensor, k: int, jump_per_m: float):
    """The pixels (rows, cols) in a ramp along the rows of ``z`` (H, W), whether each has the far side's colour,
    and the near side's depth there. Windows reaching past the image are no ramps."""
    width = z.shape[1]
    padded = torch.nn.functional.pad(z, (k, k))                       # zero depth (missing) past the image

    def at(offset: int) -> torch.Tensor:
        return padded[:, k + offset:k + offset + width]
    z_before, z_after = at(-k), at(k)
    jump = z_after - z_before
    near_depth = torch.minimum(z_before, z_after)
    ramp = (z > 0) & (near_depth > 0) & (jump.abs() > _RAMP_STEPS * jump_per_m * near_depth)
    # the pixel itself is on the slope, not on either end's level
    share = (z - z_before) / torch.where(ramp, jump, torch.ones_like(jump))
    ramp &= (share > _INSIDE) & (share < 1 - _INSIDE)
    # both ends are level (a smoothed step between two surfaces), unlike a plane, a ridge or a curved side seen
    # at a slant, whose depth keeps changing towards the ends
    half = max(1, k // 2)
    for end, inner in ((z_before, at(-half)), (z_after, at(half))):
        ramp &= (inner > 0) & ((inner - end).abs() < _LEVEL * jump.abs())
    rows, cols = torch.nonzero(ramp, as_tuple=True)
    jump, near_depth = jump[rows, cols].abs(), near_depth[rows, cols]
    # no sharp step inside the window (an edge the sensor kept): the steps between measured neighbours, across
    # missing pixels too, at most _SHARP_STEP of the jump
    window = padded[rows[:, None], cols[:, None] + torch.arange(2 * k + 1, device=z.device)]     # (N, 2k + 1)
    index = torch.arange(window.shape[1], device=z.device).expand_as(window)
    last = torch.where(window > 0, index, torch.full_like(index, -1)).cummax(1).values
    measured = window.gather(1, last.clamp_min(0))      # each pixel's depth, or the last measured one before it
    steps = (measured[:, 1:] - measured[:, :-1]).abs() * (last[:, :-1] >= 0)
    keep = steps.amax(1) < _SHARP_STEP * jump
    # the colours: each end's averaged over _SIDE_PIXELS pixels outwards from it; the two must differ
    rows, cols, near_depth = rows[keep], cols[keep], near_depth[keep]

    def colour(offsets) -> torch.Tensor:
        return sum(rgb[rows, (cols + o).clamp(0, width - 1)].float() for o in offsets) / len(offsets)
    before, after = colour([-k - i for i in range(_SIDE_PIXELS)]), colour([k + i for i in range(_SIDE_PIXELS)])
    before_is_near = (z_before[rows, cols] <= z_after[rows, cols])[:, None]
    near_colour = torch.where(before_is_near, before, after)
    far_colour = torch.where(before_is_near, after, before)
    distinct = (near_colour - far_colour).abs().amax(1) > _SIDE_COLOUR
    own = rgb[rows, cols].float()
    far_like = ((own - far_colour) ** 2).sum(1) < ((own - near_colour) ** 2).sum(1)
    return rows[distinct], cols[distinct], far_like[distinct], near_depth[distinct]

"""Occlusion edges that a smoothing depth sensor turned into ramps, cut sharp again with the colour image.

Stereo cameras that filter their depth (a ZED in its smoothing modes, a RealSense with its spatial filter on) blend
an object's depth into what lies behind it over several pixels: a ramp instead of a step. The table behind an object
then stands raised around it (a skirt that widens the object and gives it flaring sides), and two objects one behind
the other are joined by depth with no step between them. The colour image keeps the edge sharp, so a pixel in such a
ramp is given to the side whose colour it has and takes the depth of that side's surface, extended to the pixel.

A pixel is in a ramp along a row (or a column) when the depth ``reach`` pixels before and after it differs by more
than RAMP_STEPS single-step limits (``jump_per_m`` x depth), its own depth lies well inside that range, each end of
the window goes on along its own line over the window's outer half (a level table, a slanted face) while the pixel
lies off both lines (on a plane, a ridge's face or a round side seen at a slant it would lie on one), and no step
between neighbouring pixels inside the window is sharp (an edge the sensor kept). The two sides' colours must differ,
or colour cannot tell them apart. A cup's rim meeting its steep inner wall of another colour, or a box's top meeting
a side face, can look the same, which is why this is for smoothing sensors only (``depth.sharpen_ramps``, off by
default).

Whether a sensor smooths at all is measured (:func:`edge_spread`): how many pixels its occlusion edges change over,
1-2.5 for sharp depth; the node (stream_watch.py) and ``segment`` warn when it is more
(:func:`smoothed_depth_advice`).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

RAMP_STEPS = 3.0        # a ramp spans more than this many single-step limits between the window's ends
                        # (instances/clusters.py finds ramps by the same measure)
_INSIDE = 0.15          # the pixel's depth lies at least this share of the jump away from both ends
_LEVEL = 0.2            # an end goes on along its line when its outer half of the window strays from it by less
                        # than this share of the jump
_SHARP_STEP = 0.35      # a step between neighbouring pixels this share of the jump is a sharp edge, no ramp
_SIDE_COLOUR = 30.0     # least difference of the two sides' colours (largest channel, 0-255)
_SIDE_PIXELS = 3        # pixels averaged at each end of the window for its colour


def sharpen_depth_ramps(depth: torch.Tensor, color: torch.Tensor, reach: int, jump_per_m: float) -> torch.Tensor:
    """``depth`` (H, W) in metres (0 = missing) with the pixels of smeared occlusion edges moved to the depth of the
    side whose colour they have; ``color`` (H, W, 3) uint8, ``reach`` the window's half width in full-resolution
    pixels (8 suits smears of 1.5 to 3 pixels)."""
    z = depth.float()
    moved = torch.zeros_like(z)
    for along_columns in (False, True):
        # columns are rows of the transposed images
        zz, rgb = (z.T.contiguous(), color.transpose(0, 1).contiguous()) if along_columns else (z, color)
        if zz.shape[1] <= 2 * (reach + _SIDE_PIXELS):
            continue
        rows, cols, side_depth = _ramps_along_rows(zz, rgb, reach, jump_per_m)
        if along_columns:
            rows, cols = cols, rows
        # a pixel in ramps along both axes keeps the first side it was given
        unset = moved[rows, cols] == 0
        moved[rows[unset], cols[unset]] = side_depth[unset]
    return torch.where(moved > 0, moved, z).to(depth.dtype)


def _ramps_along_rows(z: torch.Tensor, rgb: torch.Tensor, k: int, jump_per_m: float):
    """The pixels (rows, cols) in a ramp along the rows of ``z`` (H, W) and the depth of the side whose colour each
    has there. Windows reaching past the image are no ramps."""
    width = z.shape[1]
    half = max(1, k // 2)
    pad = k + half
    padded = torch.nn.functional.pad(z, (pad, pad))                   # zero depth (missing) past the image

    def at(offset: int) -> torch.Tensor:
        return padded[:, pad + offset:pad + offset + width]
    z_before, z_after = at(-k), at(k)
    jump = z_after - z_before
    near = torch.minimum(z_before, z_after)
    ramp = (z > 0) & (near > 0) & (jump.abs() > RAMP_STEPS * jump_per_m * near)
    # the pixel itself is on the slope, not on either end's level
    share = (z - z_before) / torch.where(ramp, jump, torch.ones_like(jump))
    ramp &= (share > _INSIDE) & (share < 1 - _INSIDE)
    rows, cols = torch.nonzero(ramp, as_tuple=True)
    jump, own_depth = jump[rows, cols].abs(), z[rows, cols]

    def sample(offset: int) -> torch.Tensor:
        return padded[rows, cols + pad + offset]
    # each end goes on along its own line over the window's outer half (a level table or a slanted face next to
    # the edge), and the pixel lies off both lines: on a plane, a ridge's face or a round side seen at a slant it
    # would lie on one of them
    keep = torch.ones_like(jump, dtype=torch.bool)
    lines = []
    for sign in (-1, 1):
        outer, end, inner = sample(sign * pad), sample(sign * k), sample(sign * half)
        step = torch.where(outer > 0, end - outer, torch.zeros_like(end))      # per half window, towards the pixel
        keep &= (inner > 0) & ((inner - end - step).abs() < _LEVEL * jump)
        line = end + step * (k / half)                                          # the line's depth at the pixel
        keep &= (own_depth - line).abs() > _INSIDE * jump
        lines.append(line)
    rows, cols, jump, lines = rows[keep], cols[keep], jump[keep], [line[keep] for line in lines]
    # no sharp step inside the window (an edge the sensor kept): the steps between measured neighbours, across
    # missing pixels too, at most _SHARP_STEP of the jump
    window = padded[rows[:, None], cols[:, None] + half + torch.arange(2 * k + 1, device=z.device)]   # (N, 2k + 1)
    index = torch.arange(window.shape[1], device=z.device).expand_as(window)
    last = torch.where(window > 0, index, torch.full_like(index, -1)).cummax(1).values
    measured = window.gather(1, last.clamp_min(0))      # each pixel's depth, or the last measured one before it
    steps = (measured[:, 1:] - measured[:, :-1]).abs() * (last[:, :-1] >= 0)
    keep = steps.amax(1) < _SHARP_STEP * jump
    rows, cols, lines = rows[keep], cols[keep], [line[keep] for line in lines]

    # the colours: each end's averaged over _SIDE_PIXELS pixels outwards from it; the two must differ
    def colour(offsets) -> torch.Tensor:
        return sum(rgb[rows, (cols + o).clamp(0, width - 1)].float() for o in offsets) / len(offsets)
    before, after = colour([-k - i for i in range(_SIDE_PIXELS)]), colour([k + i for i in range(_SIDE_PIXELS)])
    distinct = (before - after).abs().amax(1) > _SIDE_COLOUR
    own = rgb[rows, cols].float()
    like_before = ((own - before) ** 2).sum(1) < ((own - after) ** 2).sum(1)
    # the pixel takes the depth of its side's surface, extended to it
    side_depth = torch.where(like_before, lines[0], lines[1]).clamp_min(1e-3)
    return rows[distinct], cols[distinct], side_depth[distinct]


# -- how far a sensor spreads its occlusion edges -------------------------------------------------------------------

SMOOTHED_SPREAD = 3.0   # px: edges spread over this many pixels or more (median) come from a smoothing sensor; sharp
                        # depth measures 1-2.5 (a step, or a mixed pixel or two), a Gaussian smear of 1.5 px about 3.8
_SPREAD_REACH = 8       # px either side of an edge's steepest step that the edge may spread over
_SPREAD_FLAT = 0.25     # either end of the window changes per pixel by less than this share of the steepest step
_SPREAD_ROWS = 2        # every this many rows (and columns) are measured: plenty of edges, a quarter of the work
_MIN_EDGES = 30         # fewer edges than this say nothing
_SPREAD_SCALES = (1, 2, 4)   # pixel spacings a smear is measured at, finest first
_SPREAD_WIDE = 5.0      # px at a spacing: a spread this wide may be cut short by the window: measured coarser too


def edge_spread(depth: torch.Tensor, jump_per_m: float) -> Tuple[float, int]:
    """How many pixels the occlusion edges of ``depth`` (H, W) in metres (0 = missing) spread over: the median over
    its edges, NaN when it has fewer than _MIN_EDGES; and the number of edges measured.

    An edge is a window of 2 x _SPREAD_REACH + 1 steps between neighbouring pixels of a row (or a column), every
    pixel measured, whose steepest step lies in its middle, whose ends are nearly level (a slanted table changes
    about as much per pixel everywhere: no edge) and across which the depth changes by more than RAMP_STEPS
    single-step limits (``jump_per_m`` x depth) beyond what the ends' slope explains. Its spread is that change
    over the steepest step: 1 for a clean step, about 2.5 x sigma for a Gaussian smear of sigma pixels. A smear
    too wide for the window (its ends are not level) is measured again on every second pixel, then every fourth."""
    z = torch.nan_to_num(depth.float(), nan=0.0, posinf=0.0, neginf=0.0)
    spread, edges = float('nan'), 0
    for scale in _SPREAD_SCALES:
        zz = z[::scale, ::scale]
        found = torch.cat([_spreads_along_rows(g[::_SPREAD_ROWS].contiguous(), jump_per_m) for g in (zz, zz.T)])
        if found.numel() >= _MIN_EDGES:
            wider = scale * float(found.median())
            if not wider <= spread:   # the first finite measure, or a wider one at a coarser scale
                spread, edges = wider, int(found.numel())
        elif scale == 1:
            edges = int(found.numel())
        if spread < _SPREAD_WIDE * scale:
            break
    return spread, edges


def _spreads_along_rows(z: torch.Tensor, jump_per_m: float) -> torch.Tensor:
    """The spread of every edge along the rows of ``z`` (R, W) (see :func:`edge_spread`)."""
    k = _SPREAD_REACH
    if z.shape[1] < 2 * k + 3:
        return z.new_zeros(0)
    step = z[:, 1:] - z[:, :-1]                                                  # (R, W - 1): step i from pixel i
    size = step.abs()
    steepest = torch.nn.functional.max_pool1d(size[:, None], 2 * k + 1, stride=1, padding=k)[:, 0]
    missing = torch.nn.functional.pad((z <= 0).cumsum(1), (1, 0))               # missing pixels before each column
    n = step.shape[1] - 2 * k                                                    # windows: centres k .. k + n - 1
    # the window of steps centre-k .. centre+k spans pixels centre-k .. centre+k+1: all of them measured
    measured = missing[:, 2 * k + 2:2 * k + 2 + n] == missing[:, :n]
    middle = size[:, k:k + n]
    # the steepest step is at least the edge's share of the change over the window (sensor noise mostly is not)
    least = RAMP_STEPS * jump_per_m * z[:, k:k + n] / (2 * (2 * k + 1))
    rows, at = torch.nonzero(measured & (middle == steepest[:, k:k + n]) & (middle > least), as_tuple=True)
    at = at + k
    window = step[rows[:, None], at[:, None] + torch.arange(-k, k + 1, device=z.device)]   # (N, 2k + 1)
    ends = (window[:, :2].mean(1), window[:, -2:].mean(1))
    change = (window.sum(1) - window.shape[1] * (ends[0] + ends[1]) / 2).abs()
    level = torch.maximum(window[:, :2].abs().mean(1), window[:, -2:].abs().mean(1)) < _SPREAD_FLAT * size[rows, at]
    near = torch.minimum(z[rows, at - k], z[rows, at + k + 1])
    edge = level & (change > RAMP_STEPS * jump_per_m * near)
    return change[edge] / size[rows, at][edge]


def smoothed_depth_advice(spread: float, sharpen_reach: int, frames: int = 1) -> Optional[str]:
    """What to do about depth whose edges spread over ``spread`` pixels (median over ``frames`` frames), or None
    when they are sharp enough or ``depth.sharpen_ramps`` (``sharpen_reach``) is already on."""
    if not spread >= SMOOTHED_SPREAD or sharpen_reach > 0:   # NaN: too few edges to tell
        return None
    over = 'one frame' if frames == 1 else f'{frames} frames'
    return (f'depth edges spread over {spread:.1f} px (median over {over}; sharp depth: 1-2.5): the depth is '
            'smoothed or resampled across object edges, which widens objects with a skirt of table and joins '
            "neighbours. Switch the camera's depth smoothing off where it has one (a RealSense's spatial and "
            'hole-filling filters); where it cannot be, compare with depth.sharpen_ramps: 8 (README: Sharpening '
            'the ramps by colour)')

"""Whether a depth image is registered to its colour image: do its occlusion edges lie on colour edges?

Every stage takes a depth pixel and the colour pixel at the same place as one point. A depth stream that is not
aligned to the colour camera (a RealSense's ``depth/image_rect_raw`` remapped where ``aligned_depth_to_color``
belongs: the same size, another field of view and viewpoint) or lags a moving camera gives no error, just wrong
objects: their depth lands beside their colour. An object's outline is both a depth step and a colour edge, so on
registered images the steps sit on colour edges; shifted, they fall on texture at random.

:func:`edge_alignment` measures that as a ratio: the colour gradient found at the depth steps (within a pixel of
them) over its mean when the steps are shifted anywhere within 5 % of the image width. Measured on the 10 real
frames (9 UCN RealSense, GraspNet's Azure Kinect): 2.3-5.5 registered, 2.2-6.1 with the colour noisier (sigma 8),
as a JPEG of quality 40, darkened or blurred; 0.9-1.6 with the depth of a wider field of view (scaled 0.63 about
the centre, shifted 12 px at 640 wide: unaligned RealSense depth); shifted 8 px across and 3 down 1.4-2.8 (the
wider an image's colour edges, the more of them a shift keeps: 5 of the 10 below ALIGNED_LEAST); synthetic frames
(24 seeds at 640x480) 3.2 or more, and 2.4 or more on 12 frames of each of the evaluation's sets (depth smeared
across edges by 3 px, straight down, near, wide-angle, 320x240, 720p). A clean synthetic image has few colour
edges, so chance overlaps can score an unaligned frame high (20 of their 22 with enough steps under 1.8, one 4.5):
the node judges a stream by the median of several frames.
Steps are taken at 3 % of the depth, not at ``instances.depth_jump``: smaller steps are mostly noise and slanted
faces, which lie on no colour edge (at 1.2 %: registered 1.5-4.4, unaligned 0.9-1.3, synthetic down to 1.3).
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

ALIGNED_LEAST = 1.8     # a ratio below this says the depth is not registered to the colour (see above)
_STEP_PER_M = 0.03      # a depth step: a change between neighbouring pixels of this share of their depth
_REACH_SHARE = 0.05     # shifts tried: up to this share of the image width (32 px at 640) either way
_MIN_STEPS = 100        # fewer depth-step pixels than this say nothing
_BLUR_SIGMA = 1.5       # px: colour smoothed first, so that fine texture and pixel noise weigh less than outlines
_GRID_WIDTH = 640       # wider images are measured on every n-th pixel, n = width // this (a few ms at 640x480)
_GREY = (0.299, 0.587, 0.114)


def edge_alignment(depth: torch.Tensor, color: torch.Tensor) -> Tuple[float, int]:
    """How well the depth steps of ``depth`` (H, W) in metres (0 = missing) lie on the edges of ``color`` (H, W, 3)
    uint8: the ratio above (NaN when fewer than _MIN_STEPS pixels step), and the number of step pixels."""
    n = max(1, depth.shape[1] // _GRID_WIDTH)
    grey = _grey(color, n)
    z = torch.nan_to_num(depth.float(), nan=0.0, posinf=0.0, neginf=0.0)[::n, ::n][:grey.shape[0], :grey.shape[1]]
    valid = z > 0
    limit = _STEP_PER_M * z.clamp_min(0.1)
    # steps along x meet colour change along x, steps along y change along y; both pixels of a step count
    step_x = ((z[:, 1:] - z[:, :-1]).abs() > torch.minimum(limit[:, 1:], limit[:, :-1])) & valid[:, 1:] & valid[:, :-1]
    step_y = ((z[1:] - z[:-1]).abs() > torch.minimum(limit[1:], limit[:-1])) & valid[1:] & valid[:-1]
    at_x, at_y = torch.zeros_like(z), torch.zeros_like(z)
    at_x[:, 1:] += step_x
    at_x[:, :-1] += step_x
    at_y[1:] += step_y
    at_y[:-1] += step_y
    steps = int(step_x.sum() + step_y.sum())
    if steps < _MIN_STEPS:
        return float('nan'), steps
    change_x, change_y = _thin_edges(grey, 1), _thin_edges(grey, 0)
    reach = max(8, round(_REACH_SHARE * z.shape[1]))
    found = _correlation(at_x, change_x, reach) + _correlation(at_y, change_y, reach)   # (2r + 1, 2r + 1) by shift
    background = float(found.mean())
    here = float(found[reach - 1:reach + 2, reach - 1:reach + 2].max())   # registered within a pixel
    return (here / background if background > 0 else float('nan')), steps


def _grey(color: torch.Tensor, n: int) -> torch.Tensor:
    """Brightness of ``color`` averaged over n x n pixels, smoothed by a Gaussian of _BLUR_SIGMA pixels."""
    rgb = color.float()
    grey = rgb[..., 0] * _GREY[0] + rgb[..., 1] * _GREY[1] + rgb[..., 2] * _GREY[2]
    if n > 1:
        grey = torch.nn.functional.avg_pool2d(grey[None, None], n)[0, 0]
    radius = math.ceil(3 * _BLUR_SIGMA)
    taps = torch.exp(-torch.arange(-radius, radius + 1, dtype=grey.dtype, device=grey.device) ** 2
                     / (2 * _BLUR_SIGMA ** 2))
    taps = taps / taps.sum()
    image = torch.nn.functional.pad(grey[None, None], (radius,) * 4, mode='replicate')
    image = torch.nn.functional.conv2d(image, taps.view(1, 1, 1, -1))
    return torch.nn.functional.conv2d(image, taps.view(1, 1, -1, 1))[0, 0]


def _thin_edges(grey: torch.Tensor, dim: int) -> torch.Tensor:
    """The brightness change along ``dim`` (1: x, 0: y) where it peaks across that direction, else 0: an edge is
    a line of single pixels, so that a wide soft gradient does not match steps everywhere near it."""
    g = grey if dim == 1 else grey.T
    change = torch.zeros_like(g)
    change[:, 1:-1] = (g[:, 2:] - g[:, :-2]).abs()
    peak = torch.zeros_like(g, dtype=torch.bool)
    peak[:, 1:-1] = (change[:, 1:-1] >= change[:, :-2]) & (change[:, 1:-1] >= change[:, 2:])
    thin = change * peak
    return thin if dim == 1 else thin.T


def _correlation(marks: torch.Tensor, image: torch.Tensor, reach: int) -> torch.Tensor:
    """sum over pixels p of marks(p) x image(p + s) for every shift s = (dy, dx) within ``reach``:
    (2 reach + 1, 2 reach + 1), shift (0, 0) in the middle (by FFT; the padding keeps shifts from wrapping)."""
    h, w = marks.shape
    size = (h + reach, w + reach)
    spectrum = torch.conj(torch.fft.rfft2(marks, s=size)) * torch.fft.rfft2(image, s=size)
    full = torch.fft.irfft2(spectrum, s=size)
    shifts = torch.arange(-reach, reach + 1, device=marks.device)
    return full[(shifts % size[0])[:, None], (shifts % size[1])[None, :]]


def misregistered_advice(ratio: float, frames: int = 1) -> Optional[str]:
    """What to check when depth steps lie on colour edges only ``ratio`` times as much as shifted ones would (median
    over ``frames`` frames), or None when they are registered or it cannot be told (NaN)."""
    if not ratio < ALIGNED_LEAST:
        return None
    over = 'one frame' if frames == 1 else f'{frames} frames'
    return (f'the depth image does not look registered to the colour image: its depth steps lie on colour edges '
            f'{ratio:.1f} times as often as shifted ones would (median over {over}; registered images: 2.2 or more). '
            'Objects then take the depth of what lies beside them. Use depth aligned to the colour camera (a '
            "RealSense: align_depth.enable:=true and its aligned_depth_to_color topic, not depth/image_rect_raw) "
            'and the colour camera_info; check that colour and depth are taken at the same time')

"""Pixels without depth at an object's outline, labelled by colour.

Sensors lose depth on a surface seen at a grazing angle (a can's side near its silhouette), on dark or shiny
spots and along depth edges, and the stereo shadow beside an object has none either: next to an object, such a
pixel may show the object or what lies behind it, and its depth cannot tell. Its colour can: a pixel without depth
within _REACH pixels of an object takes the object's label when its colour is closer to that of one of the
object's measured pixels around it than to any measured background pixel around it. Where no background pixel
around was measured (inside a wide stereo shadow), nothing tells, and the pixel stays unlabelled. Only the label
images change; the clouds and grasps use measured points alone.
"""
from __future__ import annotations

from typing import Tuple

import torch

from .imageops import dilate

_REACH = 2    # pixels from the object (depth lost along an edge spans one or two)
_WINDOW = 3   # half width (pixels) of the window whose measured pixels give the object's and the background's colour


def label_unmeasured(labels: torch.Tensor, valid: torch.Tensor,
                     color: torch.Tensor) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """``labels`` (H, W) instance ids (0 = none), with pixels without depth (~``valid``) next to an object
    labelled as it where their colour (``color`` (H, W, 3)) says so (see the module), and the rows and columns of
    the pixels so labelled."""
    objects = labels > 0
    ys, xs = torch.nonzero(dilate(objects, _REACH) & ~objects & ~valid, as_tuple=True)
    if ys.numel() == 0:
        return labels, (ys, xs)
    h, w = labels.shape
    steps = torch.arange(-_WINDOW, _WINDOW + 1, device=labels.device)
    yy = (ys[:, None, None] + steps[None, :, None]).clamp(0, h - 1)                  # (C, k, 1)
    xx = (xs[:, None, None] + steps[None, None, :]).clamp(0, w - 1)                  # (C, 1, k)
    around, measured = labels[yy, xx], valid[yy, xx]                                  # (C, k, k)
    colours, pixel = color[yy, xx].float(), color[ys, xs].float()                    # (C, k, k, 3), (C, 3)
    reach = slice(_WINDOW - _REACH, _WINDOW + _REACH + 1)
    # the objects within reach: the smallest and the largest id there (where more meet, those two are tried)
    inner = around[:, reach, reach].flatten(1)
    largest = inner.amax(1)
    smallest = torch.where(inner > 0, inner, largest[:, None]).amin(1)

    apart = (colours - pixel[:, None, None]).abs().sum(-1)                          # (C, k, k)
    never = torch.full_like(apart, float('inf'))

    def distance(members: torch.Tensor) -> torch.Tensor:
        """Colour distance of each pixel to the nearest colour among its window's ``members`` (a print's or a
        texture's colours are not averaged away; infinite without members)."""
        return torch.where(members, apart, never).flatten(1).amin(1)

    to_small = distance(measured & (around == smallest[:, None, None]))
    to_large = distance(measured & (around == largest[:, None, None]))
    to_background = distance(measured & (around == 0))
    own = torch.where(to_small <= to_large, smallest, largest)
    # without measured background around, the colour cannot tell (a wide stereo shadow): left unlabelled
    take = torch.isfinite(to_background) & (torch.minimum(to_small, to_large) < to_background)
    out = labels.clone()
    ys, xs = ys[take], xs[take]
    out[ys, xs] = own[take]
    return out, (ys, xs)

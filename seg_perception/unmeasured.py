"""Pixels without depth in and next to objects, labelled.

Sensors lose depth on a surface seen at a grazing angle (a can's side near its silhouette), on dark, shiny or
transparent spots and along depth edges, and the stereo shadow beside an object has none either; the label images
should still show an object where it is. Two rules (the clouds and grasps use measured points alone):
- ``join_holes``: a region without depth whose measured border is mostly one object (a hole in a shiny bottle that
  reaches its outline at one place) is that object's; one that reaches the image border is not known to end there
  and stays. The instance segmenter applies it on its grid; the full-resolution labels keep it (pipeline).
- ``label_unmeasured``: a pixel without depth within _REACH pixels of an object may show the object or what lies
  behind it, and its depth cannot tell. Its colour can: it takes the object's label when its colour is closer to
  that of one of the object's measured pixels around it than to any measured background pixel around it. Where no
  background pixel around was measured (inside a wide stereo shadow), nothing tells, and it stays unlabelled.
"""
from __future__ import annotations

from typing import Tuple

import torch

from .imageops import bounding_box, dilate
from .labeling import connected_components

MOSTLY_ENCLOSED = 0.75   # share of a region's measured border that makes it the object's
_REACH = 2               # pixels from the object (depth lost along an edge spans one or two)
_WINDOW = 3              # half width (pixels) of the window whose measured pixels give the object's and the
                         # background's colours
_BOX_MARGIN = _REACH + _WINDOW   # pixels around the objects' bounding box worked on


def join_holes(labels: torch.Tensor, valid: torch.Tensor, share: float = 1.0) -> torch.Tensor:
    """``labels`` (H, W) with each region without depth (~``valid``) that does not reach the image border and
    whose measured border is at least ``share`` one object's (1: enclosed by it) labelled as that object."""
    holes, count = connected_components(~valid)
    if count == 0:
        return labels
    holes = holes.to(labels.device)
    ring = dilate(holes, 1)   # the hole next to each measured pixel (the larger id where two meet)
    ring = torch.where(valid & (ring > 0), ring, torch.zeros_like(ring)).reshape(-1)
    owner = labels.reshape(-1).long()
    ids = int(owner.max()) + 1
    total = torch.bincount(ring, minlength=count + 1)
    on_object = (ring > 0) & (owner > 0)
    votes = torch.bincount(ring[on_object] * ids + owner[on_object], minlength=(count + 1) * ids)
    most, best = votes.view(count + 1, ids).max(1)
    joins = (total > 0) & (most >= share * total)
    joins[torch.cat([holes[0], holes[-1], holes[:, 0], holes[:, -1]])] = False
    joins[0] = False
    fill = torch.where(joins, best, torch.zeros_like(best)).to(labels.dtype)[holes]
    return torch.where((labels == 0) & (fill > 0), fill, labels)


def label_unmeasured(labels: torch.Tensor, valid: torch.Tensor,
                     color: torch.Tensor) -> Tuple[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """``labels`` (H, W) instance ids (0 = none) with the pixels without depth (~``valid``) next to an object
    labelled as it where their colour (``color`` (H, W, 3)) says so (see the module), and the rows and columns of
    the pixels so labelled."""
    objects = labels > 0
    none = torch.zeros(0, dtype=torch.long, device=labels.device)
    y0, y1, x0, x1 = bounding_box(objects, _BOX_MARGIN)   # the whole image when there are none
    box, measured, objects = labels[y0:y1, x0:x1], valid[y0:y1, x0:x1], objects[y0:y1, x0:x1]
    ys, xs = torch.nonzero(dilate(objects, _REACH) & ~objects & ~measured, as_tuple=True)
    if ys.numel() == 0:
        return labels, (none, none)
    h, w = box.shape
    steps = torch.arange(-_WINDOW, _WINDOW + 1, device=labels.device)
    yy = (ys[:, None, None] + steps[None, :, None]).clamp(0, h - 1)                  # (C, k, 1)
    xx = (xs[:, None, None] + steps[None, None, :]).clamp(0, w - 1)                  # (C, 1, k)
    around, seen = box[yy, xx], measured[yy, xx]                                      # (C, k, k)
    colour = color[y0:y1, x0:x1]
    apart = (colour[yy, xx].float() - colour[ys, xs].float()[:, None, None]).abs().sum(-1)   # (C, k, k)
    never = torch.full_like(apart, float('inf'))

    def distance(members: torch.Tensor) -> torch.Tensor:
        """Colour distance of each pixel to the nearest colour among its window's ``members`` (a print's or a
        texture's colours are not averaged away; infinite without members)."""
        return torch.where(members, apart, never).flatten(1).amin(1)

    # the objects within reach: the smallest and the largest id there (where more meet, those two are tried)
    reach = around[:, _WINDOW - _REACH:_WINDOW + _REACH + 1, _WINDOW - _REACH:_WINDOW + _REACH + 1].flatten(1)
    largest = reach.amax(1)
    smallest = torch.where(reach > 0, reach, largest[:, None]).amin(1)
    to_small = distance(seen & (around == smallest[:, None, None]))
    to_large = distance(seen & (around == largest[:, None, None]))
    to_background = distance(seen & (around == 0))
    own = torch.where(to_small <= to_large, smallest, largest)
    # without measured background around, the colour cannot tell (a wide stereo shadow): left unlabelled
    take = torch.isfinite(to_background) & (torch.minimum(to_small, to_large) < to_background)
    out = labels.clone()
    ys, xs = y0 + ys[take], x0 + xs[take]
    out[ys, xs] = own[take]
    return out, (ys, xs)

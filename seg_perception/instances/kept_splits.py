"""Objects a frame merges that the frame before saw apart.

Touching objects sit near the thresholds of the merge rules: fresh sensor noise joins them in one frame and parts
them in the next, so on a still scene the object count flickers and a motion planner gets one box for two objects
every other frame. In a stream, a region of this frame that holds most of the pixels of two or more objects of the
previous frame, and is mostly made of them, is cut along their old outlines (its pixels on neither take the
nearest part). Splits are only carried, never invented: a region holding one old object stays as it is, and a
moving camera or object shifts the pixels so that nothing qualifies.

The parts of a region cut this way age by a frame (from the oldest of them) until a frame finds them apart on its
own; a part older than ``max_age`` frames joins its region again, so a fragment that noise cut off once is not
kept for ever.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import torch

from ..imageops import bounding_box, dilate

_INSIDE = 0.7   # share of an old object's pixels that must lie in the region
_COVER = 0.7    # share of the region the old objects must make up
_GROW = 8       # dilation steps that hand the region's other pixels to the nearest part


def split_as_before(labels: torch.Tensor, count: int, previous: torch.Tensor, ages: Dict[int, int],
                    max_age: int) -> Tuple[torch.Tensor, List[int], Dict[int, int]]:
    """``labels`` (ids 1..count) with regions cut along the ``previous`` frame's objects (same grid). The parts
    cut off take the ids count + 1, ...; returns the labels, the region each of those came from (its class name
    and score carry over), and the age of every part of a cut region, by id (``ages``: the previous objects'
    ages, absent for objects the frame found on their own). The largest part of a cut region keeps its id."""
    if count == 0 or previous.shape != labels.shape or not bool((previous > 0).any()):
        return labels, [], {}
    n, m = count + 1, int(previous.max()) + 1
    joint = torch.bincount((labels * m + previous).view(-1), minlength=n * m).view(n, m).cpu()
    size_now, size_before = joint.sum(1), joint.sum(0).clamp_min(1)
    joint[0], joint[:, 0] = 0, 0
    holder = joint.argmax(0)                        # the region holding most of each old object
    inside = joint.max(0).values.double() / size_before.double() >= _INSIDE
    inside[0] = False
    holding = torch.bincount(holder[inside], minlength=n)
    # which old object becomes which part: the largest keeps the region's id, the others take new ones
    part_of_old = torch.zeros(m, dtype=labels.dtype)
    parents: List[int] = []
    cut_regions: List[int] = []
    made: Dict[int, int] = {}
    for region_id in torch.nonzero(holding >= 2).flatten().tolist():
        olds = torch.nonzero(inside & (holder == region_id)).flatten().tolist()
        if float(joint[region_id, olds].sum()) < _COVER * float(size_now[region_id]):
            continue
        # parts carried too long join the region again; the others are carried and all age by a frame
        olds = [b for b in olds if ages.get(b, 0) < max_age]
        if len(olds) < 2:
            continue
        olds.sort(key=lambda b: -int(joint[region_id, b]))
        age = max(ages.get(b, 0) for b in olds) + 1
        part_of_old[olds[0]] = region_id
        cut_regions.append(region_id)
        made[region_id] = age
        for old in olds[1:]:
            parents.append(region_id)
            part_of_old[old] = count + len(parents)
            made[count + len(parents)] = age
    if not parents:
        return labels, [], {}
    # every cut region at once, in the box around them: pixels take their old object's part, the rest of the
    # region the nearest part of the same region (else they stay with the region's id)
    region_of_part = torch.tensor([0] + list(range(1, n)) + parents, dtype=labels.dtype, device=labels.device)
    is_cut = torch.zeros(n, dtype=torch.bool)
    is_cut[cut_regions] = True
    cut = is_cut.to(labels.device)[labels]
    y0, y1, x0, x1 = bounding_box(cut, 1)
    now, before, cut = labels[y0:y1, x0:x1], previous[y0:y1, x0:x1], cut[y0:y1, x0:x1]
    part = part_of_old.to(labels.device)[before]
    part = torch.where(cut & (region_of_part[part] == now), part, torch.zeros_like(part))
    for _ in range(_GROW):
        grown = dilate(part, 1)
        part = torch.where((part == 0) & cut & (region_of_part[grown] == now), grown, part)
    out = labels.clone()
    out[y0:y1, x0:x1] = torch.where(part > 0, part, now)
    return out, parents, made

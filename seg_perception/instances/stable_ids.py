"""Object ids that stay with their objects over a stream of frames.

Each frame's instance ids run left to right by centroid, so one fragment appearing or vanishing at the left
renumbers every object to its right: label colours, marker texts and grasps' object ids change from frame to frame
on a still scene. :class:`StableIds` renumbers a frame's instances so that an object whose pixels mostly overlap
an object of the previous frame keeps that object's id. Ids stay 1..N (N objects in this frame, the label image's
contract): objects new to the frame, and those whose old id is above N, take the free ids left to right.

Overlap is measured on the processing grid, in the image: a moving camera shifts objects from their old pixels,
nothing matches and the ids run left to right as in a single frame.

With ``keep_splits`` > 0, objects the previous frame saw apart and this frame merges are first cut apart again
(kept_splits.py).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Dict, Optional

import torch

from ..types import InstanceResult
from .kept_splits import split_as_before

_MIN_IOU = 0.3   # intersection over union of an object's pixels now and before for it to keep its id


class StableIds:
    def __init__(self, keep_splits: int = 0):
        """``keep_splits``: frames a part of a merged region is kept apart as the previous frame saw it without
        being found on its own (0: never)."""
        self.keep_splits = keep_splits
        self._previous: Optional[torch.Tensor] = None   # the last frame's instance ids, processing grid
        self._ages: Dict[int, int] = {}                  # its objects kept apart only as carried splits

    def reset(self) -> None:
        """Forget the last frame (a new scene, another camera)."""
        self._previous = None
        self._ages = {}

    def relabel(self, instances: InstanceResult) -> InstanceResult:
        """``instances`` (ids 1..N in ``labels``, class names and scores by id) renumbered to keep the previous
        frame's ids where objects overlap; remembers the result for the next frame."""
        labels = instances.labels.long()
        count = len(instances.class_names)
        previous, self._previous = self._previous, labels
        ages, self._ages = self._ages, {}
        if previous is None or previous.shape != labels.shape or count == 0 or not bool((previous > 0).any()):
            return instances
        made: Dict[int, int] = {}
        if self.keep_splits > 0:
            labels, parents, made = split_as_before(labels, count, previous, ages, self.keep_splits)
            if parents:
                instances = replace(instances, labels=labels.to(instances.labels.dtype),
                                    class_names=instances.class_names + tuple(instances.class_names[p - 1]
                                                                              for p in parents),
                                    scores=instances.scores + tuple(instances.scores[p - 1] for p in parents))
                count += len(parents)
                self._previous = labels
        new_id = _matched_ids(labels, previous, count)
        # the rest take the free ids in their left-to-right order
        free = sorted(set(range(1, count + 1)) - set(new_id))
        for old in range(1, count + 1):
            if new_id[old] == 0:
                new_id[old] = free.pop(0)
        self._ages = {new_id[part]: age for part, age in made.items()}
        if new_id == list(range(count + 1)):
            return instances
        lut = torch.tensor(new_id, dtype=labels.dtype, device=labels.device)
        relabelled = lut[labels]
        self._previous = relabelled
        by_new = sorted(range(1, count + 1), key=lambda old: new_id[old])
        return replace(instances, labels=relabelled.to(instances.labels.dtype),
                       class_names=tuple(instances.class_names[old - 1] for old in by_new),
                       scores=tuple(instances.scores[old - 1] for old in by_new))


def _matched_ids(labels: torch.Tensor, previous: torch.Tensor, count: int) -> list:
    """new_id[i] for i in 0..count: the previous id object i overlaps best (IoU >= _MIN_IOU, one to one, the
    largest overlaps first), 0 where none or where that id is above ``count``."""
    n, m = count + 1, int(previous.max()) + 1
    both = torch.bincount((labels * m + previous).view(-1), minlength=n * m).view(n, m).cpu().double()
    size_now, size_before = both.sum(1), both.sum(0)
    iou = both / (size_now[:, None] + size_before[None, :] - both).clamp_min(1.0)
    iou[0, :] = 0
    iou[:, 0] = 0
    iou[:, count + 1:] = 0   # ids above this frame's count cannot be kept
    new_id = [0] * n
    taken = set()
    pairs = torch.nonzero(iou >= _MIN_IOU).tolist()
    for now, before in sorted(pairs, key=lambda p: -float(iou[p[0], p[1]])):
        if new_id[now] == 0 and before not in taken:
            new_id[now] = before
            taken.add(before)
    return new_id

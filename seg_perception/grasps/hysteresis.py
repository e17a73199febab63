"""Steady grasp ranking over a stream of frames.

On a still scene each frame's fresh sensor noise reshuffles near-equal candidates, so the best grasp of an object
(and the first one overall) jumps between poses from frame to frame: RViz flickers, and a motion planner gets a
different target each time it asks. :class:`GraspHysteresis` re-ranks each frame's candidates (all of them planned
and collision-checked on that frame; none is carried over) so that a candidate continuing a grasp ranked first
before keeps its rank until a new one scores better by more than ``margin``. Scores are left as they are.

A candidate continues an earlier grasp when its centre lies within ``_SAME_PLACE`` and its orientation within
``_SAME_TURN_DEG`` of it, or of it turned half a turn about the approach axis (the same grasp with the fingers
swapped). Positions are compared in the frame the grasps are given in: with a moving camera they move, nothing
continues and the ranking is the score's.
"""
from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..geometry import matrix_from_quaternion
from ..types import GraspCandidate

_SAME_PLACE = 0.01        # m
_SAME_TURN_DEG = 20.0
_FINGERS_SWAPPED = np.diag([1.0, -1.0, -1.0])   # half a turn about the approach (x) axis


def same_grasp(a: GraspCandidate, b: GraspCandidate, place: float = _SAME_PLACE,
               turn_deg: float = _SAME_TURN_DEG) -> bool:
    """Whether two grasps are one: centres within ``place`` metres, orientations within ``turn_deg`` (with the
    fingers possibly swapped)."""
    if np.linalg.norm(np.asarray(a.position, float) - np.asarray(b.position, float)) > place:
        return False
    ra, rb = matrix_from_quaternion(a.quaternion), matrix_from_quaternion(b.quaternion)
    limit = math.cos(math.radians(turn_deg))
    for other in (rb, rb @ _FINGERS_SWAPPED):
        cos_turn = (np.trace(ra.T @ other) - 1.0) / 2.0
        if cos_turn >= limit:
            return True
    return False


class GraspHysteresis:
    """Re-ranks each frame's grasps so that the first grasp of every object, and the first overall, stay where
    they were while no candidate beats them by more than ``margin`` (score units). ``margin`` 0 ranks by score
    alone."""

    def __init__(self, margin: float):
        if not 0.0 <= margin <= 1.0:
            raise ValueError(f'grasp hysteresis margin must be in [0, 1], got {margin}')
        self.margin = float(margin)
        self._object_firsts: List[GraspCandidate] = []   # each object's first grasp in the last ranking
        self._first: Optional[GraspCandidate] = None        # the first grasp overall in the last ranking

    def reset(self) -> None:
        """Forget the last ranking (a new scene, another camera)."""
        self._object_firsts, self._first = [], None

    def rank(self, grasps: Sequence[GraspCandidate]) -> List[GraspCandidate]:
        """``grasps`` of one frame, best first by score, in their new order; remembers it for the next frame."""
        grasps = list(grasps)
        if self.margin > 0 and grasps and self._object_firsts:
            grasps = self._keep_first(self._keep_object_firsts(grasps))
        self._object_firsts = list(_object_firsts(grasps).values())
        self._first = grasps[0] if grasps else None
        return grasps

    def _keep_object_firsts(self, grasps: List[GraspCandidate]) -> List[GraspCandidate]:
        """An object's first grasp, still a candidate, ranks as if it scored ``margin`` more (a stable sort: ties
        keep the planner's order)."""
        bonus = [self.margin if any(same_grasp(g, p) for p in self._object_firsts) else 0.0 for g in grasps]
        order = sorted(range(len(grasps)), key=lambda i: -(grasps[i].score + bonus[i]))
        return [grasps[i] for i in order]

    def _keep_first(self, grasps: List[GraspCandidate]) -> List[GraspCandidate]:
        """The first overall, still its object's first, stays first unless another object's first scores more
        than ``margin`` higher."""
        if self._first is None or same_grasp(grasps[0], self._first):
            return grasps
        firsts = _object_firsts(grasps)
        held = next((i for i, g in enumerate(grasps) if g is firsts[g.object_id] and same_grasp(g, self._first)),
                    None)
        if held is not None and grasps[0].score <= grasps[held].score + self.margin:
            grasps.insert(0, grasps.pop(held))
        return grasps


def _object_firsts(grasps: Sequence[GraspCandidate]) -> Dict[int, GraspCandidate]:
    """Each object's first grasp in ``grasps``, by object id."""
    firsts: Dict[int, GraspCandidate] = {}
    for g in grasps:
        firsts.setdefault(g.object_id, g)
    return firsts

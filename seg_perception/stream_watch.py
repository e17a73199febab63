"""A check of a camera's stream measured on a few of its frames, said once: the median of its last measurements."""
from __future__ import annotations

import math
import statistics
from typing import Callable, List, Optional


class MedianWatch:
    """A per-frame measure of a stream (how wide the depth's edges are, whether depth is registered to colour), as
    the median of the last ``keep`` measurements: of the first ``least`` frames that give one (among the first
    ``every``: a scene that tells nothing, an empty table, is not measured on every frame), then of every
    ``every``-th frame (a few milliseconds each). Advice once, when the median of at least ``least`` measurements
    calls for it."""

    def __init__(self, every: int = 30, keep: int = 10, least: int = 3):
        self.every, self.keep, self.least = every, keep, least
        self._seen = 0
        self._values: List[float] = []
        self._advised = False

    def due(self) -> bool:
        """Count a frame: whether it is to be measured (then :meth:`record` the measure)."""
        self._seen += 1
        return (len(self._values) < self.least and self._seen <= self.every) or (self._seen - 1) % self.every == 0

    def record(self, value: float) -> None:
        """A frame's measure (NaN, a frame that could not tell, is left out)."""
        if not math.isnan(value):
            self._values = (self._values + [value])[-self.keep:]

    @property
    def median(self) -> float:
        """Median of the last measurements; NaN before any frame gave one."""
        return statistics.median(self._values) if self._values else float('nan')

    def advice(self, advise: Callable[[float, int], Optional[str]]) -> Optional[str]:
        """``advise(median, measurements)`` once at least ``least`` measurements are in, until it first says
        something; None before and after."""
        if self._advised or len(self._values) < self.least:
            return None
        text = advise(self.median, len(self._values))
        self._advised = text is not None
        return text

"""Approximate time synchronizer for a few input streams (colour, depth, camera_info), without message_filters.

Messages are paired by header stamp: a set is emitted when every stream holds a message within ``slop`` seconds
of the newest arrival. Queues are bounded (``queue_size`` per stream, oldest dropped first); messages older than
the last emitted set are stale and dropped, unless time went back by more than ``jump_back`` seconds (a recording
replayed in a loop, a simulation restarted): then the queues start afresh. Counters say what was dropped and why,
for diagnostics.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple


@dataclass
class SyncStats:
    emitted: int = 0
    dropped_overflow: int = 0   # pushed out of a full queue before a partner arrived
    dropped_stale: int = 0      # arrived with a stamp not newer than the last emitted set
    dropped_unmatched: int = 0  # older than an emitted set, never paired
    out_of_order: int = 0       # arrived older than the newest message of its stream
    time_jumps: int = 0         # times time went back by more than jump_back and the queues started afresh
    last_jump: float = 0.0      # how far (s) it went back the last time
    closest_spread: Optional[float] = None   # smallest stamp spread (s) of the sets tried since the last one
                                             # emitted; None when no set with every stream was tried


@dataclass
class _Queue:
    stamps: List[float] = field(default_factory=list)
    messages: List[Any] = field(default_factory=list)


class ApproximateTimeSync:
    def __init__(self, streams: int, slop: float, queue_size: int,
                 callback: Callable[[Tuple[Any, ...], Tuple[float, ...]], None], jump_back: float = 1.0):
        if streams < 1 or slop < 0 or queue_size < 1 or jump_back <= 0:
            raise ValueError('need streams >= 1, slop >= 0, queue_size >= 1 and jump_back > 0')
        self.slop, self.queue_size, self.callback, self.jump_back = slop, queue_size, callback, jump_back
        self._queues = [_Queue() for _ in range(streams)]
        self._last_emitted = float('-inf')
        self.stats = SyncStats()

    def add(self, stream: int, stamp: float, message: Any) -> None:
        if stamp <= self._last_emitted - self.jump_back:   # time went back: what is queued belongs to the old run
            self.stats.time_jumps += 1
            self.stats.last_jump = self._last_emitted - stamp
            self._queues = [_Queue() for _ in self._queues]
            self._last_emitted = float('-inf')
            self.stats.closest_spread = None
        elif stamp <= self._last_emitted:
            self.stats.dropped_stale += 1
            return
        q = self._queues[stream]
        if q.stamps and stamp < q.stamps[-1]:
            self.stats.out_of_order += 1
        at = bisect.bisect_right(q.stamps, stamp)
        q.stamps.insert(at, stamp)
        q.messages.insert(at, message)
        if len(q.stamps) > self.queue_size:
            q.stamps.pop(0)
            q.messages.pop(0)
            self.stats.dropped_overflow += 1
        self._try_emit(stamp)

    def _try_emit(self, pivot: float) -> None:
        chosen = []
        for q in self._queues:
            if not q.stamps:
                return
            i = min(range(len(q.stamps)), key=lambda k: abs(q.stamps[k] - pivot))
            chosen.append(i)
        stamps = [q.stamps[i] for q, i in zip(self._queues, chosen)]
        spread = max(stamps) - min(stamps)
        if spread > self.slop:
            closest = self.stats.closest_spread
            self.stats.closest_spread = spread if closest is None else min(closest, spread)
            return
        messages = tuple(q.messages[i] for q, i in zip(self._queues, chosen))
        for q, i in zip(self._queues, chosen):  # the set and everything older leave the queues
            self.stats.dropped_unmatched += i
            del q.stamps[:i + 1]
            del q.messages[:i + 1]
        self._last_emitted = max(stamps)
        self.stats.emitted += 1
        self.stats.closest_spread = None
        self.callback(messages, tuple(stamps))

    def pending(self) -> Sequence[int]:
        return [len(q.stamps) for q in self._queues]

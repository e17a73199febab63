"""Grasp planning in a child process, overlapping the next frame's segmentation on another CPU core.

The planner is many small torch operations whose Python side holds the GIL, so a second thread would not run
beside the segmentation; a process does. ``submit`` hands one frame's objects and scene to the child and returns
at once (after the previous frame's planning finished: one frame in flight, never a queue); a receiver thread
passes the result with its grasps to the caller's callback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Callable, Optional

import numpy as np
import torch

from ..config import GraspConfig
from ..surfaces.support import SupportSurface
from ..types import PerceptionResult
from .planner import GraspPlanner, GraspScene

_TENSORS = ('points', 'depth', 'labels')
log = logging.getLogger(__name__)
_NICENESS = 10   # the segmentation (labels first) keeps the CPU when both want it; grasps come later anyway


def _pack(scene: GraspScene) -> GraspScene:
    """The scene with numpy arrays instead of tensors: they cross the pipe as raw buffers (labels as int32, a
    few hundred KB less than int64). A support surface fitted on the GPU comes over on the CPU: the child plans
    there."""
    arrays = {k: getattr(scene, k).detach().cpu().numpy() for k in _TENSORS}
    arrays['labels'] = arrays['labels'].astype(np.int32)
    surface = getattr(scene.support_height, '__self__', None)
    if isinstance(surface, SupportSurface):
        arrays['support_height'] = surface.to(torch.device('cpu')).heights
    return replace(scene, **arrays)


def _unpack(scene: GraspScene) -> GraspScene:
    return replace(scene, **{k: torch.from_numpy(getattr(scene, k)) for k in _TENSORS})


def _send_object(conn: Connection, obj) -> None:
    # plain pickle: the connection's own pickler would hand torch tensors over as shared file descriptors,
    # which needs the multiprocessing machinery this child was not started with
    conn.send_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _receive_object(conn: Connection):
    return pickle.loads(conn.recv_bytes())


def _serve(conn, threads: int) -> None:
    """The child: plan each job received until told to stop (None) or the parent is gone."""
    # Ctrl-C in a terminal reaches the whole process group: the parent decides when this child stops
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(max(1, threads))
    os.nice(_NICENESS)
    importlib.import_module('scipy.spatial')  # the planner's convex hulls: 0.2 s to import, not on the first frame
    _send_object(conn, 'ready')
    device = torch.device('cpu')
    while True:
        try:
            job = _receive_object(conn)
        except (EOFError, OSError):   # the parent ended without saying so
            return
        if job is None:
            return
        config, objects, scene = job
        start = time.perf_counter()
        try:
            (grasps, notes), error = GraspPlanner(config, device).plan_with_reasons(objects, _unpack(scene)), None
        except Exception as exc:      # reported to the parent, the child stays up for the next frame
            grasps, notes, error = [], {}, f'{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}'
        _send_object(conn, (grasps, notes, (time.perf_counter() - start) * 1000.0, error))


class BackgroundGraspPlanner:
    """A GraspPlanner on the CPU in a child process (whatever device the frames were segmented on)."""

    def __init__(self, threads: int = 1, start_timeout: float = 120.0):
        # a fresh interpreter (not multiprocessing's spawn, which re-runs the caller's main module, nor a fork of
        # a process with DDS and torch threads) connected by a socket pair
        parent_end, child_end = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, '-m', __name__, '--fd', str(child_end.fileno()), '--threads', str(threads)],
            pass_fds=(child_end.fileno(),))
        child_end.close()
        self._conn = Connection(parent_end.detach())
        try:
            ready = self._conn.poll(start_timeout) and _receive_object(self._conn) == 'ready'
        except (EOFError, OSError):   # it ended at start (its error went to stderr)
            ready = False
        if not ready:
            self._process.kill()
            self._process.wait()
            self._conn.close()
            raise RuntimeError(f'the grasp planning process did not start within {start_timeout:.0f} s')
        self.failure: Optional[str] = None     # why the child is unusable, once it is
        self._idle = threading.Event()
        self._idle.set()
        self._pending = None
        self._receiver = threading.Thread(target=self._receive, daemon=True, name='seg_perception-grasp-results')
        self._receiver.start()

    @property
    def pid(self) -> int:
        return self._process.pid

    def submit(self, config: GraspConfig, result: PerceptionResult, scene: GraspScene,
               on_done: Callable[[PerceptionResult, Optional[str]], None], timeout: Optional[float] = None) -> None:
        """Plan grasps for ``result.objects``; ``on_done(result with grasps, error or None)`` is called from the
        receiver thread. Waits while the previous frame is being planned; RuntimeError when the child is gone."""
        if not self._idle.wait(timeout):
            raise TimeoutError('grasp planning of the previous frame did not finish')
        if self.failure is not None:
            raise RuntimeError(self.failure)
        self._idle.clear()
        self._pending = (result, on_done)
        try:
            _send_object(self._conn, (config, result.objects, _pack(scene)))
        except (OSError, ValueError) as exc:
            self._fail(f'the grasp planning process cannot be reached: {exc}')
            raise RuntimeError(self.failure) from exc

    def _receive(self) -> None:
        while True:
            try:
                grasps, notes, ms, error = _receive_object(self._conn)
            except (EOFError, OSError):
                self._fail('the grasp planning process ended')
                return
            result, on_done = self._pending
            timings = dict(result.timings_ms)
            timings['grasps'] = ms
            timings['total'] = timings.get('total', 0.0) + ms
            self._pending = None
            self._idle.set()          # the next frame may go while this one is published
            try:
                on_done(replace(result, grasps=tuple(grasps), grasp_notes=notes, timings_ms=timings), error)
            except Exception:         # the caller's problem must not stop the results of later frames
                log.exception('grasp result callback failed')

    def _fail(self, why: str) -> None:
        if self.failure is None:
            self.failure = why
        self._idle.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child (after the frame in flight) and the receiver."""
        self._fail('the grasp planning process was closed')
        if self._process.poll() is None:
            try:
                _send_object(self._conn, None)
                self._process.wait(timeout)
            except (OSError, ValueError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout)
        self._receiver.join(timeout)
        self._conn.close()


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description='grasp planning child of BackgroundGraspPlanner (not run by hand)')
    parser.add_argument('--fd', type=int, required=True, help='socket to the parent')
    parser.add_argument('--threads', type=int, default=1, help='torch threads')
    cli = parser.parse_args()
    _serve(Connection(cli.fd), cli.threads)

"""Latency bookkeeping shared by the pipeline, benchmarks and the node's diagnostics."""
from __future__ import annotations

from typing import Dict, Iterable

import numpy as np


def summarize(samples_ms: Iterable[float]) -> Dict[str, float]:
    """p50 / p95 / mean in milliseconds and the rate they imply (frames/s at the mean)."""
    values = np.asarray(list(samples_ms), dtype=float)
    if values.size == 0:
        return {'count': 0, 'p50_ms': float('nan'), 'p95_ms': float('nan'), 'mean_ms': float('nan'), 'fps': 0.0}
    mean = float(values.mean())
    return {'count': int(values.size), 'p50_ms': float(np.percentile(values, 50)),
            'p95_ms': float(np.percentile(values, 95)), 'mean_ms': mean, 'fps': 1000.0 / mean if mean > 0 else 0.0}


def format_row(name: str, stats: Dict[str, float], width: int = 28) -> str:
    return (f"{name:<{width}} {stats['p50_ms']:8.1f} {stats['p95_ms']:8.1f} {stats['mean_ms']:8.1f} "
            f"{stats['fps']:8.1f}")


def format_header(width: int = 28) -> str:
    return f"{'stage':<{width}} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'per s':>8}"

"""Latency summaries of one run, and medians across repeated runs."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["median_of", "percentile", "summarize"]


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0 if it is empty)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summarize(latencies: list[float], seconds: float) -> dict[str, float]:
    """Requests per second and latency percentiles (ms) of the calls completed in ``seconds``."""
    latencies.sort()
    return {
        "n": len(latencies),
        "seconds": seconds,
        "rps": len(latencies) / seconds if seconds > 0 else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p90_ms": percentile(latencies, 0.90) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] if latencies else 0.0) * 1000,
    }


def median_of(runs: Iterable[dict[str, Any]], key: str) -> float | None:
    """Median of ``key`` over the runs that have it; None when none does."""
    values = [run[key] for run in runs if run.get(key) is not None]
    return statistics.median(values) if values else None

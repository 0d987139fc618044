"""Small statistics over latency samples (seconds in, numbers out)."""

from __future__ import annotations

from collections.abc import Sequence
import math
import statistics


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct` percentile (0-100), linear between the nearest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """n, median, p90, p99, min and max of samples in seconds, as milliseconds."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median_ms": statistics.median(values) * 1e3,
        "p90_ms": percentile(values, 90) * 1e3,
        "p99_ms": percentile(values, 99) * 1e3,
        "min_ms": min(values) * 1e3,
        "max_ms": max(values) * 1e3,
    }


def median_of_differences(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of pairwise differences a[i] - b[i] (paired samples taken side by side)."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))

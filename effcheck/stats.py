"""Rank statistics for noisy samples, in pure Python (no numpy/scipy at gate time).

A timed metric regresses only when the shift is both *significant* (a one-sided Mann-Whitney U test on
the raw per-round samples) and *large* (beyond the tolerance on the medians): on a shared machine a
tiny but consistent shift is not worth a red build, and a large shift seen in one lucky round is not
evidence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (1-based), ties sharing the mean of their positions."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def mann_whitney_less(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided p-value that the values of `a` tend to be smaller than those of `b`.

    Normal approximation with tie correction and continuity correction; adequate from about 5 samples
    a side, which is what the ratio meter takes. Returns 1.0 when there is nothing to test.
    """
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = list(a) + list(b)
    ranks = _ranks(pooled)
    r1 = sum(ranks[:n1])
    u1 = r1 - n1 * (n1 + 1) / 2  # pairs where a > b (ties half)
    n = n1 + n2
    ties: dict[float, int] = {}
    for v in pooled:
        ties[v] = ties.get(v, 0) + 1
    tie_term = sum(t**3 - t for t in ties.values()) / (n * (n - 1)) if n > 1 else 0.0
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0
    mean = n1 * n2 / 2
    z = (u1 - mean + 0.5) / math.sqrt(variance)  # small U means a is smaller
    return 0.5 * math.erfc(-z / math.sqrt(2))


def median(values: Sequence[float]) -> float:
    s = sorted(values)
    if not s:
        raise ValueError("median of no values")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def quantile(values: tuple[float, ...] | list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default), without importing numpy."""
    if not values:
        raise ValueError("quantile of no values")
    s = sorted(values)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)

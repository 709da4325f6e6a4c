"""Time against a work count (sampler steps, tokens...): interleaved timing and a least-squares line.

`interleaved_times` visits every point once per round, in an order that reverses each round, so a drift in
machine speed during the sweep lands on all points alike instead of bending the curve; each point's time is
the median of its rounds. `linear_fit` is ordinary least squares with R^2, pure Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from effcheck.meters.latency import time_calls
from effcheck.stats import quantile


@dataclass(frozen=True)
class LinearFit:
    slope: float
    intercept: float
    r_squared: float  # 1 when the line explains all the variance

    def at(self, x: float) -> float:
        return self.intercept + self.slope * x


def linear_fit(points: Sequence[tuple[float, float]]) -> LinearFit:
    """Least-squares line through (x, y) points; needs at least two distinct x."""
    n = len(points)
    xs = [float(x) for x, _ in points]
    ys = [float(y) for _, y in points]
    if n < 2 or len(set(xs)) < 2:
        raise ValueError(f"a line needs points at two or more distinct x, got {points!r}")
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True)]
    ss_res = sum(r * r for r in residuals)
    ss_tot = sum((y - my) ** 2 for y in ys)
    # Residuals within a few ulps of the data are rounding, not misfit: the line is exact. Without this a
    # flat line y = c (where the mean itself rounds, so ss_res and ss_tot are equal specks) gets R^2 = 0.
    # ss_tot == 0: the y differ so little that their squares underflow (subnormal data); nothing to explain.
    scale = max(*(abs(y) for y in ys), abs(intercept), abs(slope) * max(abs(x) for x in xs))
    rounding = 4 * n * math.ulp(scale)  # the sums' own rounding grows with n; ulp stays > 0 for subnormals
    exact = ss_tot == 0 or all(abs(r) <= rounding for r in residuals)
    r_squared = 1.0 if exact else max(0.0, 1.0 - ss_res / ss_tot)
    return LinearFit(slope, intercept, r_squared)


def interleaved_times(fns: Mapping[float, Callable[[], Any]], *, device: str = "cpu", rounds: int = 5,
                      warmup: int = 1) -> dict[float, list[float]]:
    """Seconds per call of each fn, one sample per round, the points visited in alternating order."""
    if rounds < 3:
        raise ValueError("rounds must be >= 3 for a median and a spread")
    keys = list(fns)
    for _ in range(warmup):
        for k in keys:
            fns[k]()
    samples: dict[float, list[float]] = {k: [] for k in keys}
    for r in range(rounds):
        for k in keys if r % 2 == 0 else reversed(keys):
            samples[k].append(time_calls(fns[k], 1, device))
    return samples


def medians(samples: Mapping[float, Sequence[float]]) -> tuple[tuple[float, float], ...]:
    return tuple((float(k), quantile(list(v), 0.5)) for k, v in samples.items())

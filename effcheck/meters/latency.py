"""Time ratios of interleaved A/B runs in one process, with robust statistics.

A single wall-clock time on a shared machine can be off by 2x; a *ratio* of two sides timed back to back
in the same round sees the same load, so most of the noise cancels. Rounds alternate the order
(ABBA...) so a drift in machine speed does not favour one side, each side repeats enough calls to
outlast timer resolution, and the result is the median ratio with the per-round ratios kept as samples.
On a CPU the first timing fixes glibc's heap thresholds for the process (effcheck.meters.heap): a freed
temporary's pages are then reused instead of being faulted in afresh, a cost set by other processes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from effcheck.meters.heap import steady_heap
from effcheck.records import Measurement
from effcheck.stats import quantile


def synchronize(device: str) -> None:
    """Wait for queued GPU work, so a timer stops when the work is done, not when it was queued."""
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], Any], calls: int, device: str = "cpu") -> float:
    """Seconds per call over `calls` back-to-back calls (CUDA events on a GPU, perf_counter on CPU)."""
    if calls < 1:
        raise ValueError("calls must be >= 1")
    if device.startswith("cuda"):
        import torch

        synchronize(device)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(calls):
            fn()
        end.record()
        end.synchronize()
        milliseconds: float = start.elapsed_time(end)
        return milliseconds / 1000.0 / calls
    steady_heap()
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def calls_for(fn: Callable[[], Any], min_seconds: float, device: str = "cpu", cap: int = 1000) -> int:
    """How many calls make one timed block last at least min_seconds (after one warm call)."""
    one = time_calls(fn, 1, device)
    if one <= 0:
        return cap
    return max(1, min(cap, int(min_seconds / one + 0.999)))


def ab_ratio(
    fn_a: Callable[[], Any],
    fn_b: Callable[[], Any],
    *,
    device: str = "cpu",
    rounds: int = 9,
    warmup: int = 2,
    min_block_s: float = 0.02,
    label_a: str = "A",
    label_b: str = "B",
    calls_per_block: tuple[int, int] | None = None,
) -> Measurement:
    """time(A) / time(B), measured as the median of per-round ratios of interleaved blocks.

    A ratio above 1 means A is slower than B (B is that many times faster). calls_per_block fixes how
    many calls each side's block makes, skipping the sizing call: for work that takes seconds a call.
    """
    if rounds < 3:
        raise ValueError("rounds must be >= 3 for a median and a spread")
    steady_heap()  # before the warmup, so the warm state is the timed one
    for _ in range(warmup):
        fn_a()
        fn_b()
    synchronize(device)
    if calls_per_block is not None:
        n_a, n_b = calls_per_block
        if n_a < 1 or n_b < 1:
            raise ValueError("calls_per_block must be >= 1 on both sides")
    else:
        n_a = calls_for(fn_a, min_block_s, device)
        n_b = calls_for(fn_b, min_block_s, device)
    ratios: list[float] = []
    times_a: list[float] = []
    times_b: list[float] = []
    for r in range(rounds):
        if r % 2 == 0:
            ta = time_calls(fn_a, n_a, device)
            tb = time_calls(fn_b, n_b, device)
        else:
            tb = time_calls(fn_b, n_b, device)
            ta = time_calls(fn_a, n_a, device)
        times_a.append(ta)
        times_b.append(tb)
        ratios.append(ta / tb)
    return Measurement(
        value=quantile(ratios, 0.5),
        unit="x",
        method=f"interleaved A/B time ratio {label_a}/{label_b}, {rounds} rounds in alternating order, median",
        device=device,
        samples=tuple(ratios),
        details={
            f"{label_a}_median_s": quantile(times_a, 0.5),
            f"{label_b}_median_s": quantile(times_b, 0.5),
            f"{label_a}_calls_per_block": n_a,
            f"{label_b}_calls_per_block": n_b,
            **({} if device.startswith("cuda") else {"heap": steady_heap()}),
        },
    )


def time_samples(fn: Callable[[], Any], *, device: str = "cpu", rounds: int = 5, warmup: int = 1,
                 min_block_s: float = 0.0) -> list[float]:
    """Seconds per call, one sample per round; for sweeps (time against steps or tokens)."""
    for _ in range(warmup):
        fn()
    n = calls_for(fn, min_block_s, device) if min_block_s > 0 else 1
    return [time_calls(fn, n, device) for _ in range(rounds)]

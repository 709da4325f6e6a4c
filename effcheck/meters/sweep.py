"""Peak memory against generated length: the article's lab sweep (50, 100, 200, 400 tokens).

Two ways to run a sweep, both giving a MemorySweep of (tokens, peak bytes) points:
  peak_at_counts   one generation of the longest length; the running peak is read when the 50th,
                   100th, ... token is complete. Generation is deterministic, so the first N tokens of
                   a long run are the same work as a run of N tokens, and the peak so far is that run's
                   peak (tests/test_sequence_models.py checks this against separate runs).
  peak_per_run     one generation per length, the peak reset in between: the lab's own protocol.
An out-of-memory at one point becomes that point's outcome (its error, no bytes); the points before it
keep their values and the caller decides what the claim makes of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from effcheck.records import Measurement


@dataclass(frozen=True)
class SweepPoint:
    tokens: int
    peak_bytes: int | None  # None when the point did not complete
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.peak_bytes is None) == (self.error is None):
            raise ValueError(f"sweep point at {self.tokens} tokens needs one of peak_bytes and error")


@dataclass(frozen=True)
class MemorySweep:
    points: tuple[SweepPoint, ...]
    method: str
    device: str

    @property
    def series(self) -> tuple[tuple[int, int], ...]:
        return tuple((p.tokens, p.peak_bytes) for p in self.points if p.peak_bytes is not None)

    @property
    def failures(self) -> tuple[SweepPoint, ...]:
        return tuple(p for p in self.points if p.error is not None)

    def failure_message(self, what: str) -> str:
        done = ", ".join(f"{t} tokens: {b} B" for t, b in self.series) or "none"
        failed = "; ".join(f"{p.tokens} tokens: {p.error}" for p in self.failures)
        return (f"{what}: the sweep did not complete ({failed}); measured points: {done}; "
                f"method: {self.method}")


def is_out_of_memory(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _check_counts(counts: Sequence[int]) -> tuple[int, ...]:
    counts = tuple(int(c) for c in counts)
    if not counts or any(c < 1 for c in counts) or list(counts) != sorted(set(counts)):
        raise ValueError(f"token counts must be increasing positive integers, got {counts}")
    return counts


class _RunningPeak:
    """The peak allocated bytes so far, above the start: live tensor bytes on CPU, the allocator on CUDA."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._mode: Any = None
        self._base = 0

    def __enter__(self) -> _RunningPeak:
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            from effcheck.meters.memory import live_tensor_bytes

            self._mode = live_tensor_bytes()
            self._mode.__enter__()
        return self

    def read(self) -> int:
        import torch

        if self.device.startswith("cuda"):
            # The caching allocator counts on the host as ops are queued: no synchronize needed to read it.
            return int(torch.cuda.max_memory_allocated(self.device) - self._base)
        return int(self._mode.peak)

    def __exit__(self, *exc: Any) -> None:
        if self._mode is not None:
            self._mode.__exit__(*exc)

    @property
    def method(self) -> str:
        if self.device.startswith("cuda"):
            return "torch.cuda.max_memory_allocated after reset, minus start"
        return "live tensor bytes above the start (TorchDispatchMode storage tracker)"


def peak_at_counts(generate: Callable[[Callable[[], None]], Any], counts: Sequence[int],
                   device: str = "cpu") -> MemorySweep:
    """Run generate(tick) once; tick() must be called each time one more token is complete.

    The peak so far is recorded at the ticks named in `counts`; generate must produce max(counts) tokens.
    """
    counts = _check_counts(counts)
    readings: dict[int, int] = {}
    done = 0
    error: str | None = None
    with _RunningPeak(device) as peak:

        def tick() -> None:
            nonlocal done
            done += 1
            if done in counts:
                readings[done] = peak.read()

        try:
            generate(tick)
        except Exception as exc:  # noqa: BLE001 - only out-of-memory is a sweep outcome; the rest re-raise
            if not is_out_of_memory(exc):
                raise
            error = f"out of memory after {done} tokens: {' '.join(str(exc).split())[:200]}"
    if error is None and done < counts[-1]:
        error = f"generation stopped after {done} tokens"
    points = tuple(SweepPoint(c, readings[c]) if c in readings
                   else SweepPoint(c, None, error or "not reached") for c in counts)
    method = f"one generation of {counts[-1]} tokens, peak so far read at each count; {peak.method}"
    return MemorySweep(points, method, device)


def peak_per_run(generate_n: Callable[[int], Any], counts: Sequence[int], device: str = "cpu") -> MemorySweep:
    """Run generate_n(n) once per count, each under its own peak measurement (the lab's protocol)."""
    counts = _check_counts(counts)
    points = []
    method = ""
    for n in counts:
        try:
            with _RunningPeak(device) as peak:
                generate_n(n)
                if device.startswith("cuda"):
                    import torch

                    torch.cuda.synchronize(device)
                points.append(SweepPoint(n, peak.read()))
            method = peak.method
        except Exception as exc:  # noqa: BLE001
            if not is_out_of_memory(exc):
                raise
            points.append(SweepPoint(n, None, f"out of memory: {' '.join(str(exc).split())[:200]}"))
    return MemorySweep(tuple(points), f"one generation per count, peak reset in between; {method}", device)


def growth_measurement(sweep: MemorySweep, **details: Any) -> Measurement:
    """Peak at the longest completed length over the peak at the shortest ("x"), with the series."""
    series = sweep.series
    if not series:
        raise ValueError("no completed sweep point to measure")
    (first_n, first), (last_n, last) = series[0], series[-1]
    if first <= 0:
        raise ValueError(f"peak of {first} bytes at {first_n} tokens: nothing was measured")
    return Measurement(
        value=max(b for _, b in series) / first,
        unit="x",
        method=f"highest peak over the peak at {first_n} tokens; {sweep.method}",
        device=sweep.device,
        series=series,
        details={
            **{f"peak_bytes_at_{n}": b for n, b in series},
            "growth_bytes_per_token": (last - first) / (last_n - first_n) if last_n > first_n else 0.0,
            **details,
        },
    )


def farthest_from(values: Iterable[float], target: float) -> float:
    """The value farthest from target: one number that equals target only if every value does, so a claim
    "exactly X at every length" is held with one exact comparison and a failure shows the worst point."""
    listed = list(values)
    if not listed:
        raise ValueError("no values")
    return max(listed, key=lambda v: abs(v - target))

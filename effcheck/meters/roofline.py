"""Achieved FLOP/s next to the device's measured matmul peak: why fewer MACs need not mean less time.

The peak is measured, not looked up: the best of several large square matmuls on this device and
dtype, once per session. A model whose achieved FLOP/s is a small fraction of it is bound by memory
traffic or launch overhead (depthwise convolutions, small batches), not by arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from effcheck.meters.latency import time_samples


@dataclass(frozen=True)
class Roofline:
    flops: int  # FLOPs of one call (FlopCounterMode: 2 per multiply-add)
    seconds: float  # median seconds per call
    peak_flops_per_s: float

    @property
    def achieved_flops_per_s(self) -> float:
        return self.flops / self.seconds

    @property
    def fraction_of_peak(self) -> float:
        return self.achieved_flops_per_s / self.peak_flops_per_s

    def details(self) -> dict[str, float]:
        return {
            "achieved_GFLOP_per_s": round(self.achieved_flops_per_s / 1e9, 3),
            "matmul_peak_GFLOP_per_s": round(self.peak_flops_per_s / 1e9, 3),
            "fraction_of_peak": round(self.fraction_of_peak, 4),
        }


def matmul_peak(device: str = "cpu", dtype: str = "float32", size: int | None = None, rounds: int = 5) -> float:
    """Best observed FLOP/s of an n x n x n matmul (n = 1024 on CPU, 8192 on GPU)."""
    import torch

    n = size or (8192 if device.startswith("cuda") else 1024)
    dt = getattr(torch, dtype)
    a = torch.randn(n, n, device=device, dtype=dt)
    b = torch.randn(n, n, device=device, dtype=dt)
    with torch.no_grad():
        best = min(time_samples(lambda: torch.mm(a, b), device=device, rounds=rounds, warmup=2))
    return 2 * n**3 / best


def roofline(flops: int, seconds: float, peak_flops_per_s: float) -> Roofline:
    if seconds <= 0 or peak_flops_per_s <= 0:
        raise ValueError("roofline needs positive time and peak")
    return Roofline(int(flops), float(seconds), float(peak_flops_per_s))


"""Budgets on named hardware: an absolute figure (p50 latency in ms, peak memory in bytes) that holds on
one device and means nothing elsewhere.

A budget is an ordinary Claim with `applies_to` naming the device (a glob over the GPU name when the run
measures on CUDA, else over the CPU model). Where it does not apply, its benchmark skips before measuring,
with the reason; where it does, it is checked and gated like any other claim (a timed budget is `noisy`,
so the gate compares its samples only with runs on the same hardware).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any

from effcheck.records import Claim, Measurement
from effcheck.stats import quantile


def device_name(env: Mapping[str, Any]) -> str:
    """What applies_to is matched against: the GPU's name on CUDA, the CPU model otherwise."""
    if str(env.get("device", "cpu")).startswith("cuda") and env.get("gpu_name"):
        return str(env["gpu_name"])
    return str(env.get("cpu") or "unknown CPU")


def applies(claim: Claim, env: Mapping[str, Any]) -> bool:
    if claim.applies_to is None:
        return True
    return fnmatch.fnmatchcase(device_name(env).casefold(), claim.applies_to.casefold())


def not_applicable_reason(claim: Claim, env: Mapping[str, Any]) -> str | None:
    """None when the claim applies here, else the skip reason naming both devices."""
    if applies(claim, env):
        return None
    return (f"budget applies to {claim.applies_to!r}; this run measures on {device_name(env)!r} "
            f"({env.get('device', 'cpu')})")


def latency_ms(fn: Callable[[], Any], *, device: str = "cpu", rounds: int = 21, warmup: int = 3,
               min_block_s: float = 0.005) -> Measurement:
    """Median milliseconds per call of fn over `rounds` timed rounds, every round kept as a sample (the gate
    needs them), with p90 beside the median; GPU work is synchronized before each timer stops."""
    from effcheck.meters.latency import time_samples

    samples = [s * 1e3 for s in time_samples(fn, device=device, rounds=rounds, warmup=warmup,
                                             min_block_s=min_block_s)]
    return Measurement(
        value=quantile(samples, 0.5),
        unit="ms",
        method=f"median of {rounds} timed rounds after {warmup} warm-up calls (effcheck.budgets.latency_ms)",
        device=device,
        samples=tuple(samples),
        details={"p90_ms": quantile(samples, 0.9), "rounds": rounds},
    )

"""Exact parameter counts. Counting never touches weight values, so models built on `meta` work."""

from __future__ import annotations

from typing import Any

from effcheck.records import Measurement


def count_params(module: Any, *, trainable_only: bool = False) -> int:
    """Parameters of a torch module, each shared (tied) parameter counted once, as papers count."""
    seen: set[int] = set()
    total = 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def ratio_measurement(numerator: int, denominator: int, *, method: str, device: str = "cpu",
                      **details: Any) -> Measurement:
    """An exact ratio of two counts, with both counts kept for the reader."""
    if denominator <= 0:
        raise ValueError(f"ratio with a non-positive denominator ({denominator})")
    return Measurement(
        value=numerator / denominator,
        unit="x",
        method=method,
        device=device,
        details={"numerator": numerator, "denominator": denominator, **details},
    )

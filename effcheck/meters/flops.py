"""FLOPs and multiply-adds through torch.utils.flop_counter.FlopCounterMode.

FlopCounterMode counts 2 FLOPs per multiply-add of matmul, convolution and attention ops, and nothing
for elementwise ops (norms, activations): that is what papers mean by "FLOPs" when they quote
multiply-adds (EfficientNet's Table 2, MobileNet's Mult-Adds). MACs = FLOPs / 2; every Measurement says
which of the two it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """FLOPs of one call of fn(*args, **kwargs), under no_grad (inference)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


def count_macs(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Multiply-adds of one call: FLOPs / 2 as FlopCounterMode counts them."""
    return count_flops(fn, *args, **kwargs) // 2


def flops_by_op(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, int]:
    """FLOPs per aten op, to show where the work goes."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        fn(*args, **kwargs)
    return {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}

"""Arithmetic of elementwise and reduction work, which FlopCounterMode counts as zero.

FlopCounterMode counts matmuls, convolutions and attention only, so a norm layer reads as 0 FLOPs. To
compare norms we count their arithmetic explicitly, op by op as PyTorch dispatches it:
  - a pointwise op (add, sub, mul, div, rsqrt, exp, ...) costs 1 per output element;
  - a reduction (sum, mean, amax, ...) costs 1 per input element (n-1 adds and one scaling per row);
  - ops that only move or view data (view, expand, transpose, copy, ...) cost nothing.
An op outside these tables raises, so work never reads as free because the counter did not know it.
Run it on an op-by-op implementation (a fused kernel is one opaque op), checked equal to the fused one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

POINTWISE = frozenset({
    "add", "sub", "rsub", "mul", "div", "neg", "reciprocal", "rsqrt", "sqrt", "exp", "log", "pow", "square",
    "abs", "tanh", "sigmoid", "silu", "gelu", "relu", "erf", "where", "masked_fill", "clamp", "maximum",
    "minimum",
})
REDUCTIONS = frozenset({"sum", "mean", "amax", "amin", "max", "min", "prod", "logsumexp"})
FREE = frozenset({
    "view", "_unsafe_view", "reshape", "expand", "t", "transpose", "permute", "unsqueeze", "squeeze",
    "select", "slice", "alias", "detach", "clone", "copy", "_to_copy", "to", "contiguous", "empty",
    "empty_like", "empty_strided", "lift_fresh", "as_strided", "_reshape_alias",
})


def _op_name(func: Any) -> str:
    return str(func.overloadpacket.__name__).rstrip("_")  # in-place mul_ costs what mul costs


def count_arithmetic(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, int]:
    """Arithmetic operations per aten op of one call of fn(*args, **kwargs), under no_grad."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    counts: dict[str, int] = {}

    class Arithmetic(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            name = _op_name(func)
            if name in FREE:
                return out
            if name in POINTWISE:
                n = sum(t.numel() for t in _tensors(out))
            elif name in REDUCTIONS:
                n = sum(t.numel() for t in _tensors(args[:1]))
            else:
                raise ValueError(f"count_arithmetic: no rule for aten.{name}; add it to POINTWISE, "
                                 "REDUCTIONS or FREE (matmuls and convolutions: use meters.flops)")
            counts[name] = counts.get(name, 0) + n
            return out

    with torch.no_grad(), Arithmetic():
        fn(*args, **kwargs)
    return counts


def _tensors(obj: Any) -> list[Any]:
    import torch
    from torch.utils._pytree import tree_flatten

    leaves, _ = tree_flatten(obj)
    return [t for t in leaves if isinstance(t, torch.Tensor)]

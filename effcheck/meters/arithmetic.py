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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
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
        def __torch_dispatch__(
            self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
        ) -> Any:
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


# -- all the work of a call: matmuls by FlopCounterMode's formulas, everything else by rule --------------
# count_work classifies every op a model dispatches, so an elementwise recurrence (RWKV's WKV, Mamba's scan)
# counts, and an op with no rule raises instead of reading as free. Fused kernels are charged their
# op-by-op decomposition per element (layer norm: mean, subtract, square, mean, scale, weight, bias = 7).
_WORK_POINTWISE = POINTWISE | frozenset({
    "exp", "expm1", "log1p", "softplus", "sin", "cos", "sign", "floor", "ceil", "round", "remainder", "fmod",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "logical_and", "logical_or", "bitwise_not",
    "bitwise_and", "bitwise_or", "addcmul", "addcdiv", "lerp", "hardtanh", "leaky_relu", "elu", "mish",
    "threshold_backward", "silu_backward", "sigmoid_backward", "tanh_backward", "gelu_backward",
    "softplus_backward", "pow_backward", "clamp_min", "clamp_max", "xlogy", "_masked_scale",
})
_WORK_REDUCTIONS = REDUCTIONS | frozenset({"var", "std", "var_mean", "norm", "linalg_vector_norm", "any",
                                            "all", "argmax", "argmin", "cumsum", "cumprod"})
_WORK_FREE = FREE | frozenset({
    "cat", "stack", "index", "index_select", "embedding", "gather", "split", "split_with_sizes", "chunk",
    "unsafe_split", "unsafe_chunk", "unsafe_split_with_sizes",
    "unbind", "narrow", "zeros", "ones", "full", "zeros_like", "ones_like", "full_like", "fill", "new_zeros",
    "new_empty", "new_ones", "new_full", "arange", "randint", "rand", "randn",
    "scalar_tensor", "_local_scalar_dense", "lift_fresh_copy",
    "flip", "roll", "repeat", "triu", "tril", "copy_", "index_put", "constant_pad_nd", "slice_scatter",
    "select_scatter", "_unsafe_index", "unfold", "diagonal", "expand_as", "view_as", "masked_select",
    "resize", "set", "_to_dense", "nonzero", "bernoulli", "sym_size",
    "sym_stride", "sym_numel", "sym_storage_offset", "is_same_size", "_has_compatible_shallow_copy_type",
    "slice_backward", "select_backward", "as_strided_scatter", "new_empty_strided", "zero",
    "unsqueeze_copy", "squeeze_copy", "view_copy", "t_copy", "transpose_copy", "_foreach_zero",
})
# per element of the op's first input (its decomposition, in pointwise ops and reductions per element)
_WORK_FUSED = {
    "native_layer_norm": 7, "_softmax": 5, "_log_softmax": 5, "_safe_softmax": 5,
    "native_layer_norm_backward": 12, "_softmax_backward_data": 3, "_log_softmax_backward_data": 3,
    "embedding_dense_backward": 1, "nll_loss_forward": 1, "nll_loss_backward": 1, "nll_loss2d_forward": 1,
    "mse_loss": 3, "mse_loss_backward": 3, "index_add": 1, "scatter_add": 1, "index_put_accumulate": 1,
}


@dataclass(frozen=True)
class Work:
    """What one call did: matmul FLOPs (FlopCounterMode's formulas), the rest in arithmetic operations per
    aten op (the rules above), and how many times each aten op was dispatched (free ones included)."""

    matmul_flops: int
    elementwise: Mapping[str, int]
    calls: Mapping[str, int]

    @property
    def elementwise_ops(self) -> int:
        return sum(self.elementwise.values())

    @property
    def total(self) -> int:
        """Matmul FLOPs plus elementwise operations: the work FlopCounterMode alone cannot see included."""
        return self.matmul_flops + self.elementwise_ops

    def calls_of(self, *names: str) -> int:
        return sum(self.calls.get(n, 0) for n in names)


def _matmul_formulas() -> dict[Any, Any]:
    """FlopCounterMode's formula per op packet, plus CPU flash attention (see meters.flops._counter)."""
    import torch
    from torch.utils.flop_counter import flop_registry, sdpa_flop

    formulas = dict(flop_registry)
    cpu_sdpa = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_sdpa is not None:
        formulas[cpu_sdpa] = sdpa_flop
    return formulas


def count_work(fn: Callable[..., Any], *args: Any, inference: bool = True, **kwargs: Any) -> Work:
    """Every op of one call of fn(*args, **kwargs) (under no_grad unless inference=False: a training step
    counts its backward too). Works on the meta device, where only shapes are needed."""
    import contextlib

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    formulas = _matmul_formulas()
    flops = 0
    elementwise: dict[str, int] = {}
    calls: dict[str, int] = {}

    class AllWork(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:  # no compilation inside: skip the shim (see meters.memory)
            return False

        def __torch_dispatch__(
            self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
        ) -> Any:
            nonlocal flops
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            name = _op_name(func)
            calls[name] = calls.get(name, 0) + 1
            if func.overloadpacket in formulas:
                flops += int(formulas[func.overloadpacket](*args, **kwargs, out_val=out))
                return out
            if name in _WORK_FREE:
                return out
            if name in _WORK_POINTWISE:
                n = sum(t.numel() for t in _tensors(out))
            elif name in _WORK_REDUCTIONS:
                n = sum(t.numel() for t in _tensors(args[:1]))
            elif name in _WORK_FUSED:
                n = _WORK_FUSED[name] * sum(t.numel() for t in _tensors(args[:1]))
            else:
                raise ValueError(f"count_work: no rule for aten.{name}; classify it in effcheck/meters/"
                                 "arithmetic.py (pointwise, reduction, fused or free)")
            elementwise[name] = elementwise.get(name, 0) + n
            return out

    grad = torch.no_grad() if inference else contextlib.nullcontext()
    with grad, AllWork():
        fn(*args, **kwargs)
    return Work(flops, dict(sorted(elementwise.items())), dict(sorted(calls.items())))


def per_step_work_measurement(works: Mapping[int, Work], what: str) -> Any:
    """One decode step's work after each context length, as the ratio largest / smallest of the total
    (matmul FLOPs + elementwise ops): 1.0 exactly when the per-token cost does not depend on the context.
    FlopCounterMode's share alone is reported beside it, since it cannot see elementwise recurrences."""
    from effcheck.records import Measurement

    if not works:
        raise ValueError("no decode steps measured")
    totals = {n: w.total for n, w in works.items()}
    matmul = {n: w.matmul_flops for n, w in works.items()}
    return Measurement(
        value=max(totals.values()) / min(totals.values()),
        unit="x",
        method=f"work of one decode step (matmul FLOPs by FlopCounterMode's formulas + elementwise ops by "
               f"count_work's rules) after each context length; {what}",
        series=tuple(totals.items()),
        details={
            **{f"decode_work_at_{n}": t for n, t in totals.items()},
            **{f"decode_matmul_flops_at_{n}": f for n, f in matmul.items()},
            "matmul_flops_only_ratio": max(matmul.values()) / max(1, min(matmul.values())),
        },
    )

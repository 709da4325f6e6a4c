"""FLOPs and multiply-adds through torch.utils.flop_counter.FlopCounterMode.

FlopCounterMode counts 2 FLOPs per multiply-add of matmul, convolution and attention ops, and nothing
for elementwise ops (norms, activations): that is what papers mean by "FLOPs" when they quote
multiply-adds (EfficientNet's Table 2, MobileNet's Mult-Adds). MACs = FLOPs / 2; every Measurement says
which of the two it holds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _counter() -> Any:
    """A FlopCounterMode that also counts CPU attention.

    torch registers its SDPA formula for the CUDA kernels only; on CPU, SDPA dispatches to
    aten._scaled_dot_product_flash_attention_for_cpu, which would count 0 and drop attention from any
    CPU count of a transformer. Same arithmetic, same formula.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop

    mapping = {}
    cpu_sdpa = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if cpu_sdpa is not None:

        def cpu_sdpa_flop(*args: Any, **kwargs: Any) -> int:
            flops: int = sdpa_flop(*args, **kwargs)  # already shape-wrapped by torch's registry
            return flops

        cpu_sdpa_flop._get_raw = True  # type: ignore[attr-defined]  # tell FlopCounterMode not to wrap again
        mapping[cpu_sdpa] = cpu_sdpa_flop  # keyed by the overload packet, as torch keys its own
    return FlopCounterMode(display=False, custom_mapping=mapping)


def count_flops(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """FLOPs of one call of fn(*args, **kwargs), under no_grad (inference). On meta inputs, repeated shape
    inference is answered from a cache beneath the counter (effcheck.meters.meta_cache): same ops, same
    shapes, several times faster for full-size models."""
    import torch

    from effcheck.meters.meta_cache import shape_cache_if_meta

    counter = _counter()
    with torch.no_grad(), shape_cache_if_meta(args, kwargs), counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


def count_macs(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """Multiply-adds of one call: FLOPs / 2 as FlopCounterMode counts them."""
    return count_flops(fn, *args, **kwargs) // 2



def count_flops_by_layers(build: Callable[[int], Any], layers: int, *args: Any, **kwargs: Any) -> int:
    """FLOPs of one call of a model of `layers` identical blocks, from two cheap builds: f(1) + (layers - 1)
    x (f(2) - f(1)), where f(n) counts build(n)(*args). Exact when the blocks are identical (same shapes,
    same inputs per block: a decoder's layers at one context length), and 40-100x faster than counting a
    96-layer model on meta op by op."""
    if layers < 1:
        raise ValueError(f"layers must be >= 1, got {layers}")
    one = count_flops(build(1), *args, **kwargs)
    if layers == 1:
        return one
    two = count_flops(build(2), *args, **kwargs)
    return one + (layers - 1) * (two - one)

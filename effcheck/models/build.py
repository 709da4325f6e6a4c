"""Where a model is built: `building_on(device)`, torch's device context, minus random fills on meta.

A meta tensor has shapes and no values, yet torch still runs every initialiser on it, through Python
reference implementations (torch._refs, torch._decomp): normal_ costs 0.76 ms a call on meta, uniform_
17 us. Over the full-size models the pull-request tier builds on meta (timm's EfficientNets, transformers'
LLMs, peft's LoRA layers, diffusers' UNets) that was 2.4 s of drawing values nobody can read. On meta those
fills are skipped; on a real device nothing changes, so seeded random weights stay what they were.
Counts (parameters, FLOPs, cache bytes) read shapes only, and a skipped fill keeps every shape.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

# The random fills: what nn.init (and timm's, peft's, transformers' initialisers) draw weights with.
_TENSOR_FILLS = ("uniform_", "normal_", "bernoulli_", "exponential_", "random_", "log_normal_", "cauchy_",
                 "geometric_")
# nn.init's initialisers reach a mode as themselves (handle_torch_function, the tensor passed by keyword),
# and their inner fills never reach it, so they are matched too. Each returns the tensor it was given.
_INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_", "xavier_uniform_",
                 "xavier_normal_", "orthogonal_", "sparse_")


@contextlib.contextmanager
def building_on(device: str) -> Iterator[None]:
    """`with torch.device(device)`; on 'meta', random fills of meta tensors return the tensor untouched."""
    import torch

    with torch.device(device), (_meta_fills_skipped() if device == "meta" else contextlib.nullcontext()):
        yield


def _meta_fills_skipped() -> Any:
    import torch
    from torch.overrides import TorchFunctionMode

    fills = frozenset([*(getattr(torch.Tensor, n) for n in _TENSOR_FILLS if hasattr(torch.Tensor, n)),
                       *(getattr(torch.nn.init, n) for n in _INITIALISERS if hasattr(torch.nn.init, n))])

    class MetaFillsSkipped(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (),
                               kwargs: dict[str, Any] | None = None) -> Any:
            kwargs = kwargs or {}
            if func in fills:
                target = args[0] if args else kwargs.get("tensor")
                if isinstance(target, torch.Tensor) and target.is_meta:
                    return target
            return func(*args, **kwargs)

    return MetaFillsSkipped()

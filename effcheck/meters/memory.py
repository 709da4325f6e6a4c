"""Peak memory of a piece of work, and the bytes a cache or recurrent state holds.

On CUDA the allocator's own counter is the truth: reset the peak, run, read max_memory_allocated.
On CPU, RSS is noisy (allocator caching, other threads, the OS), so we count live tensor bytes instead:
a TorchDispatchMode sees every op's outputs, a new storage (one not among the op's inputs) adds its
bytes, and a finalizer on the storage subtracts them when it is freed. Same program, same number.
What it cannot see is scratch a fused kernel allocates inside itself (CPU flash attention's per-thread
blocks): where that matters, `meters.allocator.allocator_peak` reads the CPU allocator's own total.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PeakMemory:
    peak_bytes: int  # highest live bytes above what was live when the work started
    method: str


def _storages(obj: Any) -> list[Any]:
    import torch
    from torch.utils._pytree import tree_flatten

    leaves, _ = tree_flatten(obj)
    return [t.untyped_storage() for t in leaves if isinstance(t, torch.Tensor) and t.device.type != "meta"]


def _live_tensor_mode() -> Any:
    from torch.utils._python_dispatch import TorchDispatchMode

    class LiveTensorBytes(TorchDispatchMode):
        """Counts bytes of storages created while it is active, minus those freed since."""

        def __init__(self) -> None:
            super().__init__()
            self.current = 0
            self.peak = 0
            self._tracked: set[int] = set()
            self._active = True

        def _release(self, key: int, nbytes: int) -> None:
            self._tracked.discard(key)
            if self._active:
                self.current -= nbytes

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            inputs = {id(s) for s in _storages((args, kwargs))}
            out = func(*args, **kwargs)
            for storage in _storages(out):
                key = id(storage)
                if key in inputs or key in self._tracked:
                    continue  # a view or in-place result: no new memory
                nbytes = storage.nbytes()
                self._tracked.add(key)
                self.current += nbytes
                self.peak = max(self.peak, self.current)
                weakref.finalize(storage, self._release, key, nbytes)
            return out

        def __exit__(self, *exc: Any) -> Any:
            result = super().__exit__(*exc)
            self._active = False
            return result

    return LiveTensorBytes()


def peak_memory(fn: Callable[[], Any], device: str = "cpu") -> tuple[Any, PeakMemory]:
    """Run fn once and return (its result, the peak bytes it allocated above the starting point)."""
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        result = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - base
        return result, PeakMemory(int(peak), "torch.cuda.max_memory_allocated after reset, minus start")
    mode = _live_tensor_mode()
    with mode:
        result = fn()
    return result, PeakMemory(int(mode.peak), "live tensor bytes (TorchDispatchMode storage tracker)")


def tensor_bytes(obj: Any, _depth: int = 0, _seen: set[int] | None = None) -> int:
    """Bytes of the tensors reachable from obj (nested containers and plain objects), each storage once.

    For caches and recurrent states: transformers' Cache objects, rwkv's state lists, Mamba's cache.
    Meta tensors count their would-be bytes, so full-size shapes can be costed without memory.
    """
    import torch

    seen = set() if _seen is None else _seen
    if _depth > 6:
        return 0
    if isinstance(obj, torch.Tensor):
        if obj.device.type == "meta":
            key = id(obj)
            nbytes = obj.numel() * obj.element_size()
        else:
            storage = obj.untyped_storage()
            key, nbytes = storage.data_ptr(), storage.nbytes()
        if key in seen:
            return 0
        seen.add(key)
        return nbytes
    if isinstance(obj, dict):
        return sum(tensor_bytes(v, _depth + 1, seen) for v in obj.values())
    if isinstance(obj, (list, tuple, set)):
        return sum(tensor_bytes(v, _depth + 1, seen) for v in obj)
    if hasattr(obj, "__dict__") and not isinstance(obj, (type, torch.nn.Module)):
        return sum(tensor_bytes(v, _depth + 1, seen) for v in vars(obj).values())
    return 0

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


def _fresh_outputs(func: Any) -> bool:
    """Whether an op may return new storage: no return value carries an alias annotation.

    Views, in-place and out= ops are passed through without touching their tensors: in rwkv's
    generation loop (one indexing op per distinct token so far) such ops are most of the work, and
    scanning them made a 400-token run 2.5x slower.
    """
    return all(ret.alias_info is None for ret in func._schema.returns)


def _input_storages(args: Any, kwargs: Any) -> set[int]:
    import torch

    found: set[int] = set()
    for value in (*args, *(kwargs or {}).values()):
        if isinstance(value, torch.Tensor):
            found.add(id(value.untyped_storage()))
        elif isinstance(value, (list, tuple)):
            found.update(id(v.untyped_storage()) for v in value if isinstance(v, torch.Tensor))
    return found


def live_tensor_bytes() -> Any:
    """A TorchDispatchMode counting live bytes of storages created inside it (`current`, `peak`), readable
    while the work runs: a sweep reads the running peak after token 50 of a 400-token generation."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class LiveTensorBytes(TorchDispatchMode):
        @classmethod
        def _should_skip_dynamo(cls) -> bool:
            # torch wraps a mode's __torch_dispatch__ in a dynamo-disable shim, ~15% of each dispatch
            # here; nothing is compiled inside the tracker, so the shim guards nothing
            return False

        def __init__(self) -> None:
            super().__init__()
            self.current = 0
            self.peak = 0
            self._refs: dict[int, Any] = {}
            self._fresh: dict[Any, bool] = {}

        def _freed(self, key: int, nbytes: int) -> None:
            self._refs.pop(key, None)
            self.current -= nbytes

        def __torch_dispatch__(
            self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
        ) -> Any:
            out = func(*args, **(kwargs or {}))
            fresh = self._fresh.get(func)
            if fresh is None:
                fresh = self._fresh[func] = _fresh_outputs(func)
            if not fresh:
                return out
            inputs: set[int] | None = None
            for tensor in out if isinstance(out, (tuple, list)) else (out,):
                if not isinstance(tensor, torch.Tensor) or tensor.device.type == "meta":
                    continue
                storage = tensor.untyped_storage()
                key = id(storage)  # storages keep one Python object while alive (PyObject preservation)
                if key in self._refs:
                    continue
                if inputs is None:
                    inputs = _input_storages(args, kwargs)
                if key in inputs:
                    continue  # an op that hands an input back unchanged
                nbytes = storage.nbytes()
                self.current += nbytes
                self.peak = max(self.peak, self.current)

                def on_free(_: object, key: int = key, nbytes: int = nbytes) -> None:  # binds this storage's
                    self._freed(key, nbytes)

                self._refs[key] = weakref.ref(storage, on_free)
            return out

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
    mode = live_tensor_bytes()
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
        key: int
        nbytes: int
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

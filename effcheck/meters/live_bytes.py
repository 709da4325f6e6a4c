"""Live tensor bytes on CPU, readable while the work runs: the running peak at chosen moments.

The same count as `effcheck.meters.memory.peak_memory` on CPU (a TorchDispatchMode: a storage that an op
creates adds its bytes, a weak reference subtracts them when it is freed), with two differences a
generation sweep needs:
  - `current` and `peak` can be read mid-run (the peak after token 50 of a 400-token generation);
  - ops whose schema says every output aliases an input (views, in-place and out= ops) are passed
    through without looking at their tensors. rwkv's PIPELINE.generate applies its repetition penalty
    with one indexing op per distinct token already generated, so such ops are most of its work, and the
    general tracker's per-op scan made a 400-token run cost about 2.5x more.
Like the general tracker it cannot see bytes that appear without a new storage: kernel-internal scratch,
or an out= op resizing its output in place (`meters.allocator.allocator_peak` sees both).
tests/test_sequence_models.py and tests/test_rwkv_checkpoint.py hold the trackers (and, for rwkv, the
allocator) to the same number on real generations.
"""

from __future__ import annotations

import weakref
from typing import Any


def _fresh_outputs(func: Any) -> bool:
    """Whether the op may return new storage: no return value carries an alias annotation."""
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
    """A TorchDispatchMode counting live bytes of storages created inside it; use as a context manager."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    class LiveTensorBytes(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.current = 0
            self.peak = 0
            self._refs: dict[int, Any] = {}
            self._fresh: dict[Any, bool] = {}

        def _freed(self, key: int, nbytes: int) -> None:
            self._refs.pop(key, None)
            self.current -= nbytes

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
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
                key = id(storage)
                if key in self._refs:
                    continue
                if inputs is None:
                    inputs = _input_storages(args, kwargs)
                if key in inputs:
                    continue  # an op that hands an input back unchanged
                nbytes = storage.nbytes()
                self.current += nbytes
                self.peak = max(self.peak, self.current)
                self._refs[key] = weakref.ref(
                    storage, lambda _, key=key, nbytes=nbytes: self._freed(key, nbytes))
            return out

    return LiveTensorBytes()

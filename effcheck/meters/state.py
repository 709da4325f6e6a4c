"""The bytes of a recurrent state or a KV cache, read from the tensors a sentence is about.

A library's cache object holds the state the article speaks of (Mamba's conv windows and SSM states,
a Transformer's keys and values) and whatever bookkeeping the library keeps beside it: transformers
5.25 added an int64 token counter to every linear-attention layer (`cumulative_length_linear`, 8 bytes a
layer). A claim about the state reads the state tensors by name; every other tensor the object holds is
listed by name and bytes next to it, so a reader, and the suite's own claims on the whole object, see
it without its bookkeeping deciding the article's verdict.

Bytes follow `meters.memory.tensor_bytes`: a real tensor counts its storage once (a view counts the
storage it lives in), a meta tensor the bytes it would hold.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from effcheck.meters.sweep import farthest_from
from effcheck.records import Measurement

_MAX_DEPTH = 6  # as tensor_bytes: deep enough for transformers' Cache -> layers -> dict -> tensor


@dataclass(frozen=True)
class HeldTensor:
    """One tensor an object holds: where (attribute path from the object), its shape, dtype and bytes."""

    path: str
    fields: tuple[str, ...]  # the attribute names on its path ('layers', 'conv_states', ...)
    shape: tuple[int, ...]
    dtype: str
    nbytes: int

    def describe(self) -> str:
        return f"{self.dtype}{list(self.shape)}, {self.nbytes} B"


def held_tensors(obj: Any) -> tuple[HeldTensor, ...]:
    """Every tensor reachable from obj (nested containers and plain objects), each storage once, in the
    order tensor_bytes walks them: their bytes sum to tensor_bytes(obj)."""
    import torch

    found: list[HeldTensor] = []
    seen: set[int] = set()

    def walk(value: Any, path: str, fields: tuple[str, ...], depth: int) -> None:
        if depth > _MAX_DEPTH:
            return
        if isinstance(value, torch.Tensor):
            if value.device.type == "meta":
                key, nbytes = id(value), value.numel() * value.element_size()
            else:
                storage = value.untyped_storage()
                key, nbytes = storage.data_ptr(), storage.nbytes()
            if key not in seen:
                seen.add(key)
                dtype = str(value.dtype).removeprefix("torch.")
                found.append(HeldTensor(path or "<object>", fields, tuple(value.shape), dtype, int(nbytes)))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}[{k!r}]", fields, depth + 1)
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]", fields, depth + 1)
        elif isinstance(value, set):
            for v in value:
                walk(v, f"{path}{{}}", fields, depth + 1)
        elif hasattr(value, "__dict__") and not isinstance(value, (type, torch.nn.Module)):
            for name, v in vars(value).items():
                walk(v, f"{path}.{name}" if path else name, (*fields, name), depth + 1)

    walk(obj, "", (), 0)
    return tuple(found)


@dataclass(frozen=True)
class StateReading:
    """An object's tensors split into the state a claim is about and everything else it holds."""

    state: tuple[HeldTensor, ...]
    other: tuple[HeldTensor, ...]

    @property
    def state_bytes(self) -> int:
        return sum(t.nbytes for t in self.state)

    @property
    def other_bytes(self) -> int:
        return sum(t.nbytes for t in self.other)

    @property
    def object_bytes(self) -> int:
        """Every tensor the object holds: tensor_bytes(obj)."""
        return self.state_bytes + self.other_bytes

    def others(self) -> dict[str, str]:
        """The tensors beside the state, by path: 'int64[], 8 B' (empty when the object is all state)."""
        return {t.path: t.describe() for t in self.other}

    def state_layout(self) -> dict[str, int]:
        """How many state tensors of each dtype and shape: {'float32[1, 128, 4]': 2, ...}."""
        counts: dict[str, int] = {}
        for t in self.state:
            key = f"{t.dtype}{list(t.shape)}"
            counts[key] = counts.get(key, 0) + 1
        return counts


def read_state(obj: Any, state_fields: Collection[str] | None = None) -> StateReading:
    """Split obj's tensors: a tensor is state when an attribute on its path is named in state_fields (e.g.
    Mamba's 'conv_states' and 'recurrent_states', a KV cache's 'keys' and 'values'); state_fields None
    means obj is the state itself (rwkv's list of state vectors), so nothing is left beside it. A walk
    that finds no state tensor at all raises: a renamed field must not read as zero bytes."""
    tensors = held_tensors(obj)
    if state_fields is None:
        return StateReading(tensors, ())
    wanted = set(state_fields)
    state = tuple(t for t in tensors if wanted.intersection(t.fields))
    if not state:
        found = sorted({t.path for t in tensors})
        raise LookupError(f"{type(obj).__name__} holds no tensor under {sorted(wanted)}; it holds {found}")
    return StateReading(state, tuple(t for t in tensors if not wanted.intersection(t.fields)))


def spread_ratio(values: Iterable[int]) -> float:
    """Largest / smallest: 1 exactly when every value is the same (a constant), above 1 by how much the
    largest exceeds the smallest. Values must be positive: a state of no bytes is no reading."""
    listed = list(values)
    if not listed:
        raise ValueError("no values")
    low, high = min(listed), max(listed)
    if low <= 0:
        raise ValueError(f"a ratio of byte counts needs positive counts: {listed}")
    return 1.0 if high == low else high / low


def slopes(points: Mapping[int, int]) -> dict[tuple[int, int], float]:
    """Bytes per added token between consecutive points {tokens: bytes}, in token order: a linear
    growth's constant slope, whatever its intercept (a fixed buffer does not change it)."""
    ordered = sorted(points.items())
    if len(ordered) < 2:
        raise ValueError(f"a slope needs two points, got {dict(points)}")
    out: dict[tuple[int, int], float] = {}
    for (n0, b0), (n1, b1) in pairwise(ordered):
        if n1 == n0:
            raise ValueError(f"two readings at {n0} tokens")
        out[(n0, n1)] = (b1 - b0) / (n1 - n0)
    return out


# -- measurements over a sweep's readings {tokens: StateReading} ----------------------------------------
def held_details(readings: Mapping[int, StateReading]) -> dict[str, Any]:
    """What a reader needs next to any state claim: the state's and the whole object's bytes at each
    length, the state's layout, and every other tensor of the object by name and bytes (at the longest
    length; at each length where they differ from it)."""
    last_n = max(readings)
    last = readings[last_n]
    details: dict[str, Any] = {
        **{f"state_bytes_at_{n}": r.state_bytes for n, r in readings.items()},
        **{f"object_bytes_at_{n}": r.object_bytes for n, r in readings.items()},
        "state_tensors": last.state_layout(),
        "other_tensors": last.others() or "none beside the state",
    }
    for n, r in readings.items():
        if r.others() != last.others():
            details[f"other_tensors_at_{n}"] = r.others() or "none beside the state"
    return details


def constancy_measurement(readings: Mapping[int, StateReading], method: str, **details: Any) -> Measurement:
    """A constant state: largest / smallest of the state bytes over the sweep (exactly 1 when constant)."""
    points = {n: r.state_bytes for n, r in readings.items()}
    return Measurement(value=spread_ratio(points.values()), unit="x", method=method,
                       series=tuple(points.items()), details={**held_details(readings), **details})


def closed_form_measurement(readings: Mapping[int, StateReading], expected: float, method: str,
                            **details: Any) -> Measurement:
    """The state bytes at the length farthest from the closed form: equal to it only if every length is."""
    points = {n: r.state_bytes for n, r in readings.items()}
    return Measurement(value=farthest_from(points.values(), expected), unit="bytes", method=method,
                       series=tuple(points.items()),
                       details={**held_details(readings), "closed_form": expected, **details})

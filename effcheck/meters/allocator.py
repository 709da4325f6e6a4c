"""Peak bytes at the allocator, kernel-internal scratch included.

`effcheck.meters.memory.peak_memory` counts on CPU the storages that ops *return* (a TorchDispatchMode
sees each op's outputs). A fused kernel may allocate scratch inside itself that never becomes an output:
PyTorch's CPU flash-attention kernel takes a per-thread fp32 buffer (q-block x kv-block scores, row max,
row sum, output block) with at::empty, invisible to a dispatch mode. For attention that scratch is the
same order as the output, so a tracker that misses it overstates the saving.

This meter reads the CPU allocator itself: torch.profiler with profile_memory=True records every
allocation and free of the c10 CPU allocator with the allocator's running total, so the peak of that
total over the work is the peak the process really held (scratch included). Deterministic: the same
program allocates the same sizes in the same order. On CUDA the caching allocator's own peak counter
already sees everything, so it defers to peak_memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from effcheck.meters.memory import PeakMemory, peak_memory

METHOD_CPU = "peak of the c10 CPU allocator's running total (torch.profiler allocation events), minus start"


def allocator_peak(fn: Callable[[], Any], device: str = "cpu") -> tuple[Any, PeakMemory]:
    """Run fn once and return (its result, peak bytes allocated above the start, scratch included)."""
    if device.startswith("cuda"):
        return peak_memory(fn, device)
    if device != "cpu":
        raise ValueError(f"allocator_peak measures on cpu or cuda, not {device!r}")
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    events = cpu_allocation_events(prof)
    return result, PeakMemory(peak_above_start(events), METHOD_CPU)


def cpu_allocation_events(prof: Any) -> list[tuple[int, int, int]]:
    """(time_ns, bytes allocated (+) or freed (-), allocator total after it) for every CPU allocation.

    Reads the profiler's event tree (the source torch.profiler's own memory timeline reads); a torch
    that no longer exposes it is a clear error, not a silent zero.
    """
    from torch._C._profiler import _EventType

    results = getattr(getattr(prof, "profiler", None), "kineto_results", None)
    if results is None or not hasattr(results, "experimental_event_tree"):
        raise RuntimeError("this torch's profiler exposes no allocation events "
                           "(kineto_results.experimental_event_tree)")
    found: list[tuple[int, int, int]] = []
    stack = list(results.experimental_event_tree())
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.tag == _EventType.Allocation:
            fields = node.extra_fields
            if fields.device.type == "cpu":
                found.append((node.start_time_ns, int(fields.alloc_size), int(fields.total_allocated)))
    found.sort()
    return found


def peak_above_start(events: list[tuple[int, int, int]]) -> int:
    """Highest allocator total minus the total before the first event (0 when nothing was allocated)."""
    if not events:
        return 0
    _, first_size, first_total = events[0]
    start = first_total - first_size
    return max(0, max(total for _, _, total in events) - start)

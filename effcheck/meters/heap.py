"""A steady heap: freed temporaries stay in the process (glibc), long-lived objects leave the collector's walk.

glibc's malloc serves a large block by mmap, or from the heap and trims the heap's free top back to the
kernel; its thresholds adapt as the program runs. An eager op chain such as RMSNorm's (a dozen 8 MB
temporaries per training step at 512 x 4096) then asks the kernel for fresh pages on most calls, and each
page is faulted in and zeroed: measured here, LlamaRMSNorm's step took 27-41 ms with thousands of minor page
faults and LayerNorm's 8 ms, their ratio ranging 0.14-0.85 per round; with the thresholds fixed, 0 faults,
9.2 ms against 3.1 ms and rounds within 0.31-0.44. What a fault costs depends on the other processes'
memory traffic, so it is noise in a time ratio, not a property of either side.

steady_heap() fixes the thresholds (mallopt: mmap above 32 MiB only, trim past 2 GiB only) once per process, before
the first CPU timing; glibc gives no way to undo it, so the rest of the process keeps it too (its freed
memory is reused, not returned). Elsewhere (musl, macOS, Windows) it changes nothing and says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys
from collections.abc import Iterator

_M_TRIM_THRESHOLD = -1  # glibc malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's ceiling for it on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX)
TRIM_THRESHOLD = 2**31 - 1  # mallopt takes a C int: trim only past 2 GiB of free top, in effect never

STEADY = "glibc heap steady while timing (mallopt: mmap threshold 32 MiB, trim threshold 2 GiB)"
_state: str | None = None


def steady_heap() -> str:
    """Fix glibc's malloc thresholds for this process (idempotent); returns what the heap is, in words."""
    global _state
    if _state is None:
        _state = _fix_thresholds()
    return _state


def _fix_thresholds() -> str:
    if not sys.platform.startswith("linux"):
        return f"heap as {sys.platform} leaves it (no glibc)"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        gnu_get_libc_version = libc.gnu_get_libc_version  # absent in musl: not glibc
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "heap as the C library leaves it (not glibc)"
    gnu_get_libc_version.restype = ctypes.c_char_p
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    version = gnu_get_libc_version().decode()
    return STEADY.replace("glibc", f"glibc {version}") if ok else f"glibc {version} refused mallopt: heap adaptive"


# -- the cyclic garbage collector ----------------------------------------------------------------------------
# torch, transformers, diffusers and timm leave about a million long-lived objects after import. Python's
# full collections walk all of them (0.1-0.3 s each here): 43 of them in the pull-request tier took 3.9 s,
# pytest's two collections at exit 0.8 s and the interpreter's own at shutdown 1-2 s. After each benchmark,
# freeze_survivors() collects (so nothing dead is kept) and moves what is left into the permanent
# generation, which later collections skip; only what the next benchmark creates is walked.


def freeze_survivors() -> None:
    """Collect, then freeze every object still alive (gc.freeze): full collections stay cheap after it."""
    import gc

    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Everything alive now frozen while the block runs, for code that calls gc.collect() in a loop (rwkv's
    loader, once per layer). Where freeze_survivors already runs (inside effcheck's benchmarks) the heap stays
    frozen afterwards, after a collection of the young objects; elsewhere the block's freeze is undone."""
    import gc

    already = gc.get_freeze_count() > 0
    if already:
        gc.collect()  # only the unfrozen objects: cheap, and nothing dead gets frozen
    gc.freeze()
    try:
        yield
    finally:
        if not already:
            gc.unfreeze()

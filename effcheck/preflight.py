"""Checks a run makes before its tests, so what cannot work is said now, not after minutes of measuring.

Each raises effcheck's UsageError with one line naming the fix. The session decides when each applies:
a CUDA request and --effcheck-baseline always (effcheck's own options), the rest only once a claim is
collected (effcheck loads in every pytest run of its environment and must be inert where none is used).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from effcheck.errors import UsageError


def require_cuda(device: str) -> None:
    """A CUDA request without CUDA is a usage error before any test, used by a test or not."""
    try:
        from effcheck.devices import resolve_device

        resolve_device(device)
    except ImportError:
        raise UsageError(f"--effcheck-device={device}: torch is not installed") from None


def check_storage_writable(storage: str) -> None:
    root = Path(storage)
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--benchmark-storage {root}: {probe} is not a writable directory, so this run "
                         "could not be saved; fix its permissions or choose another storage")


def check_benchmark_json(target: Any, storage: str) -> None:
    """--benchmark-json names a file pytest-benchmark replaces: never a saved run of the history."""
    if not target:
        return
    path = Path(target if isinstance(target, (str, Path)) else target.name)  # 5.1/5.2 gave an open file
    root = Path(storage).resolve()
    if path.resolve() == root or root in path.resolve().parents:
        raise UsageError(f"--benchmark-json={path} is inside the benchmark storage {root}: it would replace "
                         "the history's files; write it elsewhere")


def named_to_benchmark(config: Any) -> str | None:
    """The run named to pytest-benchmark's --benchmark-compare=NNNN (None: the option alone, or absent)."""
    bench = config.getoption("benchmark_compare", None)
    return bench if isinstance(bench, str) and bench not in ("", "True") else None


def pin_baseline(config: Any, named: str | None, storage: str) -> str | None:
    """One baseline for both tools: a run named to either (named: --effcheck-baseline) is the run both
    compare with. Returns its stem, and points pytest-benchmark's --benchmark-compare at the same file."""
    from effcheck.store import load_ledger, resolve_run

    bench_named = named_to_benchmark(config)
    run = named or bench_named
    if not run:
        return None
    path = resolve_run(run, storage)
    load_ledger(path)  # a named run must be readable: a usage error now, never a silent skip
    if named and bench_named and resolve_run(bench_named, storage) != path:
        raise UsageError(f"--effcheck-baseline={named} and --benchmark-compare={bench_named} name different "
                         "runs; name one (both tools compare with it)")
    config.option.benchmark_compare = str(path.resolve())  # pytest-benchmark loads the same file
    return path.stem

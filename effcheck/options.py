"""The --effcheck-* options, defined once and shared by the pytest plugin and the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.devices import parse_device
from effcheck.errors import UsageError
from effcheck.gate import GatePolicy

# name -> argparse/pytest attributes; the prefix (--effcheck- for pytest, -- for the CLI) is added by caller
SESSION_OPTIONS: dict[str, dict[str, Any]] = {
    "device": {
        "default": "auto",
        "metavar": "DEVICE",
        "help": "device to measure on: auto (cuda if available, else cpu), cpu, cuda or cuda:N",
    },
    "json": {
        "default": None,
        "metavar": "PATH",
        "help": "write the run's claims ledger (every claim result and the environment) to PATH",
    },
    "weights": {
        "default": None,
        "metavar": "ROOT",
        "help": "folder of real pretrained weights laid out like the hub (ROOT/<org>/<repo>), for `weights` "
        "benchmarks; nothing is ever downloaded",
    },
    "baseline": {
        "default": None,
        "metavar": "RUN",
        "help": "gate against this saved run (a path, 'latest' or its number such as 0003); "
        "--benchmark-compare alone picks the newest run saved on the same hardware",
    },
    "compare-fail": {
        "action": "append",
        "default": [],
        "metavar": "TOL",
        "help": "regression tolerance, overriding the claims': 5%%, 0.5%%, or PATTERN=2%% for some claim ids "
        "(repeatable; the last match wins)",
    },
    "fail-on-improvement": {
        "action": "store_true",
        "default": False,
        "help": "fail when a metric improved beyond its tolerance (a stale baseline or a broken benchmark)",
    },
    "require-baseline": {
        "action": "store_true",
        "default": False,
        "help": "fail closed: a claim with no baseline fails, and so does a noisy claim's move while its "
        "history is too short to know the drift",
    },
    "accept": {
        "action": "append",
        "nargs": "?",
        "const": "*",
        "default": [],
        "metavar": "PATTERN",
        "help": "accept this run's changes as the new baselines: all claims, or those whose id matches "
        "PATTERN (repeatable); the changes are reported, not failed",
    },
}


@dataclass(frozen=True)
class Options:
    device: str = "auto"
    json: str | None = None
    baseline: str | None = None
    gate: GatePolicy = GatePolicy()
    compare: bool = False  # gate against a baseline in this session


def add_options(add: Any, prefix: str, names: tuple[str, ...] | None = None) -> None:
    """Declare the options through `add` (pytest's group.addoption or argparse's add_argument)."""
    for name in names or tuple(SESSION_OPTIONS):
        add(prefix + name, dest="effcheck_" + name.replace("-", "_"), **SESSION_OPTIONS[name])


def check_writable(path: str) -> str:
    """Fail before the run, not after minutes of measuring, when the ledger could not be written."""
    parent = Path(path).resolve().parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"--effcheck-json={path}: {probe} is not a writable directory")
    if Path(path).is_dir():
        raise UsageError(f"--effcheck-json={path} is a directory; give a file path")
    return path


def read_options(config: Any) -> Options:
    get = config.getoption
    json_path = get("effcheck_json")
    gate = GatePolicy.from_specs(
        get("effcheck_compare_fail") or [],
        fail_on_improvement=bool(get("effcheck_fail_on_improvement")),
        require_baseline=bool(get("effcheck_require_baseline")),
        accept=tuple(get("effcheck_accept", None) or ()),
    )
    baseline = get("effcheck_baseline")
    compare = bool(baseline or gate.require_baseline or get("benchmark_compare", None))
    if json_path:
        from effcheck.store import check_json_target

        check_json_target(json_path, storage_dir(config))
    return Options(
        device=parse_device(get("effcheck_device")),
        json=check_writable(json_path) if json_path else None,
        baseline=baseline,
        gate=gate,
        compare=compare,
    )


def storage_dir(config: Any) -> str:
    """pytest-benchmark's storage folder (file storage only: that is where the history lives)."""
    raw = str(config.getoption("benchmark_storage", None) or "file://./.benchmarks")
    if "://" in raw and not raw.startswith("file://"):
        raise UsageError(f"--benchmark-storage={raw}: effcheck's gate reads file storage only")
    return raw.removeprefix("file://")

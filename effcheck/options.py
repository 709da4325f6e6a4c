"""The --effcheck-* options, defined once and shared by the pytest plugin and the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.devices import parse_device
from effcheck.errors import UsageError

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
}


@dataclass(frozen=True)
class Options:
    device: str = "auto"
    json: str | None = None


def add_options(group: Any, prefix: str) -> None:
    for name, attrs in SESSION_OPTIONS.items():
        group.addoption(prefix + name, dest="effcheck_" + name.replace("-", "_"), **attrs)


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
    return Options(
        device=parse_device(get("effcheck_device")),
        json=check_writable(json_path) if json_path else None,
    )

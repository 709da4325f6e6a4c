"""Reading and writing run files: effcheck's ledger and pytest-benchmark's JSON (which embeds it).

pytest-benchmark's files are the history: effcheck adds its ledger under the top-level key "effcheck"
and never keeps a second store. Writes are atomic (temporary file, then rename) so an interrupted
run leaves the previous file intact; reads never modify anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from effcheck.errors import CorruptFileError, SchemaError, UsageError
from effcheck.records import Ledger

LEDGER_KEY = "effcheck"


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> Path:
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}; choose a writable path") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, sort_keys=False)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{p}: no such file") from exc
    except OSError as exc:
        raise UsageError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(
            f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}); restore it or delete it and rerun to save anew"
        ) from exc


def ledger_from_json(data: Any, origin: str) -> Ledger:
    """The ledger in an effcheck ledger file or embedded in a pytest-benchmark file."""
    if not isinstance(data, dict):
        raise SchemaError(f"{origin}: not an effcheck ledger or pytest-benchmark file (top level is not an object)")
    if LEDGER_KEY in data and "benchmarks" in data:
        data = data[LEDGER_KEY]
    elif "benchmarks" in data:
        raise SchemaError(f"{origin}: a pytest-benchmark file without effcheck results (run with effcheck installed)")
    try:
        return Ledger.from_dict(data)
    except SchemaError as exc:
        raise SchemaError(f"{origin}: {exc}") from exc


def load_ledger(path: str | os.PathLike[str]) -> Ledger:
    return ledger_from_json(read_json(path), str(path))

"""Reading and writing run files: effcheck's ledger and pytest-benchmark's JSON (which embeds it).

pytest-benchmark's files are the history: effcheck adds its ledger under the top-level key "effcheck"
and never keeps a second store. Writes are atomic (temporary file, then rename) so an interrupted
run leaves the previous file intact; reads never modify anything.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.errors import BaselineError, CorruptFileError, EffcheckError, SchemaError, UsageError
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
            f"{p}: not valid JSON ({exc.msg} at line {exc.lineno}); restore it from a backup or move it aside"
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


# -- the saved runs (pytest-benchmark's storage) ----------------------------------------------------------

_RUN_NAME = re.compile(r"^(?P<number>\d{4})_.*\.json$")


@dataclass(frozen=True)
class SavedRun:
    path: Path
    number: str  # pytest-benchmark's counter, "0001"
    created: str  # the run's datetime as pytest-benchmark wrote it (ISO), else the file's mtime

    @property
    def name(self) -> str:
        return self.path.stem


def list_runs(storage: str | os.PathLike[str]) -> list[SavedRun]:
    """Every saved pytest-benchmark run under storage (all machine folders), oldest first.

    Only file names and one small field are read; a file that cannot be parsed still lists (it fails
    when it is opened, with its name).
    """
    root = Path(storage)
    if not root.is_dir():
        return []
    runs = []
    for path in root.rglob("*.json"):
        match = _RUN_NAME.match(path.name)
        if not match:
            continue
        created = _created(path)
        runs.append(SavedRun(path, match["number"], created))
    return sorted(runs, key=lambda r: (r.created, r.number, str(r.path)))


def _created(path: Path) -> str:
    try:
        with path.open(encoding="utf-8") as fh:
            head = fh.read(4096)
        found = re.search(r'"datetime":\s*"([^"]+)"', head)
        if found:
            return found.group(1)
    except OSError:
        pass
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat()


def resolve_run(spec: str, storage: str | os.PathLike[str]) -> Path:
    """A run as pytest-benchmark names it: a path, 'latest', or its counter ('0001' or '1')."""
    candidate = Path(spec)
    if candidate.is_file():
        return candidate
    runs = list_runs(storage)
    if spec == "latest":
        if not runs:
            raise BaselineError(f"no saved runs in {storage}: run `pytest benchmarks/` to save one")
        return runs[-1].path
    if spec.isdigit():
        number = spec.zfill(4)
        found = [r.path for r in runs if r.number == number]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise BaselineError(f"run {number} is ambiguous in {storage}: {', '.join(map(str, found))}; give a path")
    known = ", ".join(r.name for r in runs[-5:]) or "none"
    raise BaselineError(f"no run {spec!r} in {storage} (latest runs: {known}); give a run number, 'latest' or a path")


@dataclass(frozen=True)
class Baseline:
    """The run compared with, and the recent runs on the same hardware whose time samples are pooled."""

    path: Path
    ledger: Ledger
    recent: tuple[Ledger, ...] = ()  # newest first, the baseline itself included

    @property
    def name(self) -> str:
        return self.path.stem

    def pooled_samples(self, claim_id: str, metric: str) -> tuple[float, ...]:
        """Every saved sample of a noisy claim over the recent runs: the median of a time ratio drifts
        between runs more than within one, so one run's samples understate the noise."""
        pooled: list[float] = []
        for ledger in self.recent or (self.ledger,):
            result = ledger.by_id().get(claim_id)
            if result is not None and result.measurement is not None and result.claim.metric == metric:
                pooled.extend(result.measurement.samples)
        return tuple(pooled)


POOLED_RUNS = 5


def find_baseline(storage: str | os.PathLike[str], hardware_key: str, spec: str | None = None) -> Baseline | None:
    """The run to compare with: the one named by spec, else the newest saved on the same hardware key.

    A named run measured on other hardware raises BaselineError: it is said plainly, never compared.
    When searching, the newest POOLED_RUNS same-hardware runs come along for the gate's time samples.
    Unreadable runs met while searching are skipped (they are not ours to repair); a named one raises.
    """
    if spec is not None:
        path = resolve_run(spec, storage)
        ledger = load_ledger(path)
        if ledger.hardware_key != hardware_key:
            raise BaselineError(
                f"baseline {path.name} was measured on {ledger.hardware_key!r}, this run is on {hardware_key!r}: "
                "not compared; compare runs from the same hardware"
            )
        return Baseline(path, ledger)
    found: list[tuple[Path, Ledger]] = []
    for run in reversed(list_runs(storage)):
        try:
            ledger = load_ledger(run.path)
        except EffcheckError:
            continue
        if ledger.hardware_key == hardware_key:
            found.append((run.path, ledger))
            if len(found) == POOLED_RUNS:
                break
    if not found:
        return None
    return Baseline(found[0][0], found[0][1], tuple(ledger for _, ledger in found))

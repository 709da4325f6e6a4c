"""Reading and writing run files: effcheck's ledger and pytest-benchmark's JSON (which embeds it).

pytest-benchmark's files are the history: effcheck adds its ledger under the top-level key "effcheck"
and never keeps a second store. The history only grows:
- a run file is created exclusively: written whole to a temporary file, then hard-linked to its name,
  which fails rather than overwrite; a clash (another run took the number) takes the next number;
- a temporary file is locked while it is written, so one left by a killed run (unlocked) is removed by
  the next run that saves;
- reading never modifies anything, and a file that cannot be read is skipped with one warning line;
- acceptance is recorded beside the runs (ACCEPTED_FILE, one JSON line per decision), never in them.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.baseline import ordering_times, recorded_time
from effcheck.errors import BaselineError, CorruptFileError, EffcheckError, SchemaError, UsageError
from effcheck.records import Ledger

LEDGER_KEY = "effcheck"
ACCEPTED_FILE = "effcheck-accepted.jsonl"
_TEMP_PREFIX = ".effcheck-"
_TEMP_SUFFIX = ".tmp"
Warn = Callable[[str], None]


class StorageError(UsageError):
    """The history could not be written (full disk, permissions); nothing already saved is touched."""


# -- writing ---------------------------------------------------------------------------------------


def _unserializable(value: object) -> str:
    return f"UNSERIALIZABLE[{value!r}]"  # what pytest-benchmark's own save writes for a non-JSON extra_info


def _dump(data: Any, compact: bool = False) -> bytes:
    # indent= makes json use its pure-Python encoder: seconds for a large machine-read file (issue 9)
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    return (json.dumps(data, allow_nan=False, default=_unserializable, **layout) + "\n").encode("utf-8")


@dataclass
class _LockedTemp:
    path: Path
    fd: int


def _write_locked_temp(directory: Path, payload: bytes) -> _LockedTemp:
    """The payload in a new temporary file of directory, flushed to disk, still open and locked."""
    import fcntl

    path = directory / f"{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(6)}{_TEMP_SUFFIX}"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    return _LockedTemp(path, fd)


def _release(temp: _LockedTemp) -> None:
    temp.path.unlink(missing_ok=True)
    os.close(temp.fd)


def _writer_alive(path: Path) -> bool:
    """Whether the process named in a temporary file's name (.effcheck-<pid>-<hex>.tmp) still runs."""
    from effcheck.serial import process_alive

    pid = path.name[len(_TEMP_PREFIX):].split("-", 1)[0]
    return pid.isdigit() and process_alive(int(pid))


def remove_stale_temps(directory: str | os.PathLike[str]) -> list[Path]:
    """Temporary files a killed run left (its process is gone and nobody holds their lock): removed, and
    returned. The live writer's own check matters: a file exists for a moment before its writer locks it,
    and a concurrent run that took it for stale in that moment made the writer's save fail."""
    import fcntl

    removed: list[Path] = []
    root = Path(directory)
    if not root.is_dir():
        return removed
    for path in root.rglob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
        if _writer_alive(path):
            continue
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
            removed.append(path)
        except OSError:
            pass  # held: a live run is writing it
        finally:
            os.close(fd)
    return removed


def _storage_error(target: Path, exc: OSError) -> StorageError:
    why = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return StorageError(f"cannot write {target}: {why}; nothing saved before was changed "
                        "(free space or choose another --benchmark-storage)")


def write_json_atomic(path: str | os.PathLike[str], data: Any, compact: bool = False) -> Path:
    """Replace path with data in one step: a reader sees the old file or the new one, never half.
    compact: no indentation, for files only effcheck reads."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temp = _write_locked_temp(directory, _dump(data, compact))
    except OSError as exc:
        raise _storage_error(target, exc) from exc
    try:
        os.replace(temp.path, target)
    except OSError as exc:
        raise _storage_error(target, exc) from exc
    finally:
        _release(temp)
    return target


_NUMBERED = re.compile(r"^(?P<number>\d{4,})_")


def next_number(directory: Path) -> int:
    numbers = [int(m["number"]) for p in directory.glob("*.json") if (m := _NUMBERED.match(p.name))]
    return max(numbers, default=0) + 1


def create_run_file(directory: str | os.PathLike[str], name: str, data: Any) -> Path:
    """Save a run as NNNN_<name>.json without ever replacing a file: a clash takes the next number."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = _write_locked_temp(folder, _dump(data))
    except OSError as exc:
        raise _storage_error(folder / f"NNNN_{name}.json", exc) from exc
    try:
        number = next_number(folder)
        for _ in range(10_000):
            target = folder / f"{number:04d}_{name}.json"
            try:
                os.link(temp.path, target)  # fails if the name exists: exclusive, and the content is whole
                return target
            except FileExistsError:
                number += 1
        raise StorageError(f"cannot find a free run number in {folder}")
    except OSError as exc:
        raise _storage_error(folder, exc) from exc
    finally:
        _release(temp)


# -- reading ---------------------------------------------------------------------------------------


def read_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise UsageError(f"{p}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{p}: not UTF-8 text; restore it from a backup or move it aside") from exc
    except OSError as exc:
        raise UsageError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    if not text.strip():
        raise CorruptFileError(f"{p}: empty (a run interrupted while written?); move it aside")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also an integer of over 4,300 digits
        where = (f" ({exc.msg} at line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else
                 " (an integer too long to read)" if isinstance(exc, ValueError) else "")
        raise CorruptFileError(f"{p}: not valid JSON{where}; restore it from a backup or move it aside") from exc


def ledger_from_json(data: Any, origin: str) -> Ledger:
    """The ledger in an effcheck ledger file or embedded in a pytest-benchmark file."""
    if not isinstance(data, dict):
        raise SchemaError(f"{origin}: not an effcheck ledger or pytest-benchmark file (top level is not an object)")
    if "benchmarks" in data:
        if LEDGER_KEY not in data:
            raise SchemaError(f"{origin}: a pytest-benchmark file without effcheck results "
                              "(run with effcheck installed)")
        data = data[LEDGER_KEY]
    try:
        return Ledger.from_dict(data)
    except SchemaError as exc:
        raise SchemaError(f"{origin}: {exc}; move it aside or restore it") from exc


def load_ledger(path: str | os.PathLike[str]) -> Ledger:
    return ledger_from_json(read_json(path), str(path))


# -- the saved runs (pytest-benchmark's storage) -----------------------------------------------------

_RUN_NAME = re.compile(r"^(?P<number>\d{4,})_.*\.json$")


@dataclass(frozen=True)
class SavedRun:
    path: Path
    number: str  # pytest-benchmark's counter, "0001"

    @property
    def name(self) -> str:
        return self.path.stem


def list_runs(storage: str | os.PathLike[str]) -> list[SavedRun]:
    """Every saved run file under storage (all machine folders), by file name only: nothing is read."""
    root = Path(storage)
    if not root.is_dir():
        return []
    runs = [SavedRun(p, m["number"]) for p in root.rglob("*.json") if (m := _RUN_NAME.match(p.name))]
    return sorted(runs, key=lambda r: (r.number, str(r.path)))


@dataclass(frozen=True)
class LoadedRun:
    run: SavedRun
    ledger: Ledger
    ordered_at: dt.datetime  # its recorded time, capped by later runs' and now (baseline.ordering_times)

    @property
    def order(self) -> tuple[dt.datetime, int, str]:
        return self.ordered_at, int(self.run.number), self.run.name


def load_runs(storage: str | os.PathLike[str], warn: Warn | None = None) -> list[LoadedRun]:
    """Every readable run, oldest first by recorded datetime; each unreadable one is one warning line."""
    read = []
    for run in list_runs(storage):
        try:
            read.append((run, load_ledger(run.path)))
        except EffcheckError as exc:
            if warn is not None:
                warn(f"skipping {exc}" if str(run.path) in str(exc) else f"skipping {run.path}: {exc}")
    times = ordering_times([(str(run.path.parent), int(run.number), recorded_time(ledger.created))
                            for run, ledger in read], dt.datetime.now(dt.timezone.utc))
    loaded = [LoadedRun(run, ledger, when) for (run, ledger), when in zip(read, times, strict=True)]
    return sorted(loaded, key=lambda r: r.order)


def resolve_run(spec: str, storage: str | os.PathLike[str], warn: Warn | None = None) -> Path:
    """A run as pytest-benchmark names it: a path, 'latest' (newest recorded datetime), or its counter."""
    candidate = Path(spec)
    if candidate.is_file():
        return candidate
    runs = list_runs(storage)
    if spec == "latest":
        readable = load_runs(storage, warn)
        if not readable:
            raise BaselineError(f"no readable saved runs in {storage}: `effcheck suite` (or pytest on your own claims) "
                                "saves one")
        return readable[-1].run.path
    if spec.isdigit():
        number = spec.zfill(4)
        found = [r.path for r in runs if r.number == number]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise BaselineError(f"run {number} is ambiguous in {storage}: {', '.join(map(str, found))}; give a path")
    else:
        found = [r.path for r in runs if r.name == spec] or [r.path for r in runs if r.name.startswith(spec)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:  # two runners' 0001_ci, pulled side by side: not "no run"
            raise BaselineError(f"run {spec} is ambiguous in {storage}: {', '.join(map(str, found))}; give a path")
    known = ", ".join(r.name for r in runs[-5:]) or "none"
    raise BaselineError(f"no run {spec!r} in {storage} (latest runs: {known}); give a run number, 'latest' or a path")


# -- acceptance, recorded beside the runs -------------------------------------------------------------


def read_acceptances(storage: str | os.PathLike[str], warn: Warn | None = None) -> dict[str, tuple[str, ...]]:
    """run stem -> claim-id patterns accepted for it after the fact (`effcheck accept`)."""
    path = Path(storage) / ACCEPTED_FILE
    found: dict[str, list[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        if warn is not None:
            warn(f"skipping {path}: cannot read it ({exc})")
        return {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            run, claims = record["run"], record["claims"]
            if not isinstance(run, str) or not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
                raise TypeError("run must be a string and claims a list of strings")
        except (ValueError, KeyError, TypeError) as exc:
            if warn is not None:
                warn(f"skipping line {number} of {path}: {exc}")
            continue
        found.setdefault(run, []).extend(claims)
    return {run: tuple(claims) for run, claims in found.items()}


def record_acceptance(storage: str | os.PathLike[str], run: str, claims: Iterable[str]) -> Path:
    """Append one decision (one write of one line: concurrent appends do not interleave)."""
    path = Path(storage) / ACCEPTED_FILE
    line = json.dumps({"run": run, "claims": list(claims),
                       "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}) + "\n"
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise _storage_error(path, exc) from exc
    return path


# -- --effcheck-json: a file of our own, never anything else ---------------------------------------------


def check_json_target(path: str, storage: str | os.PathLike[str]) -> None:
    """Refuse a ledger path that would replace something effcheck did not write: a symlink, a device or
    other non-regular file, a directory, a file inside the benchmark storage (the history), or an
    existing file that is not an effcheck ledger."""
    p = Path(path)
    option = f"--effcheck-json={path}"
    if p.is_symlink():
        raise UsageError(f"{option} is a symlink; give the path of a regular file")
    if p.is_dir():
        raise UsageError(f"{option} is a directory; give a file path")
    if p.exists() and not p.is_file():
        raise UsageError(f"{option} is not a regular file (a device, pipe or socket); give a file path")
    root = Path(storage).resolve()
    target = p.resolve()
    if target == root or root in target.parents:
        raise UsageError(f"{option} is inside the benchmark storage {root}: the history is pytest-benchmark's "
                         "and effcheck's alone; write the ledger elsewhere")
    if p.exists():
        try:
            data = read_json(p)
            if not (isinstance(data, dict) and "schema_version" in data and "results" in data):
                raise SchemaError("not an effcheck ledger")
        except EffcheckError:
            raise UsageError(f"{option} exists and is not an effcheck ledger: not replaced; "
                             "move it aside or give another path") from None

"""The saved history as the gate reads it: every run's claim measurements indexed for baseline selection.

Only the fields selection needs are read, from a cache beside the runs (INDEX_FILE) where a file is
unchanged; a full record is read for the few entries a session compares with. The cache is only a
cache: a file added, removed or edited by hand is read again, and any problem with the cache means none.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.baseline import (
    BaselineIndex,
    entries_from_facts,
    facts_of,
    ordering_times,
    recorded_time,
    skew_warning,
)
from effcheck.errors import EffcheckError, SchemaError
from effcheck.records import ledger_header
from effcheck.store import LEDGER_KEY, Warn, ledger_from_json, list_runs, read_acceptances, read_json, write_json_atomic
from effcheck.vcs import branch_of

INDEX_FILE = ".effcheck-index.json"
_INDEX_VERSION = 3  # 2: signatures hold the ctime; 3: records hold the run's git branch


@dataclass(frozen=True)
class History:
    """The storage as the gate sees it: the per-claim baseline index, and which claims each run measured."""

    storage: Path
    measured: dict[str, set[str]]  # run stem -> claim ids it measured
    index: BaselineIndex

    def measured_in(self, run: str) -> set[str]:
        return self.measured.get(run, set())


def _read_index(root: Path) -> dict[str, Any]:
    """The cache of each run file's selection facts, keyed by path and checked by size, mtime, inode and
    ctime (which no tool can set back: a copy that keeps an old mtime still changes it): a file added,
    removed or edited by hand is simply read again. Any problem: no cache."""
    try:
        data = json.loads((root / INDEX_FILE).read_text(encoding="utf-8"))
        files = data.get("files")
        if data.get("version") == _INDEX_VERSION and isinstance(files, dict):
            return files
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _parse_run(path: Path) -> tuple[dict[str, Any], list[Any]]:
    data = read_json(path)
    if not isinstance(data, dict) or "benchmarks" not in data or LEDGER_KEY not in data:
        ledger_from_json(data, str(path))  # raises the reason, naming the file
    try:
        header = ledger_header(data[LEDGER_KEY])
        return header, facts_of(header)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}; move it aside or restore it") from exc


def _stored_results(path: Path) -> Callable[[str], tuple[Any, Any]]:
    """A claim's stored result and its run's environment, read from the file on first use (once per file)."""
    memo: dict[str, Any] = {}

    def stored(claim_id: str) -> tuple[Any, Any]:
        if not memo:
            try:
                header, _ = _parse_run(path)
            except EffcheckError as exc:
                raise SchemaError(str(exc)) from exc
            memo["environment"] = header["environment"]
            memo["results"] = {r["claim"]["id"]: r for r in header["results"]}
        if claim_id not in memo["results"]:
            raise SchemaError(f"{path}: changed since it was indexed ({claim_id} is gone)")
        return memo["results"][claim_id], memo["environment"]

    return stored


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Reading the history allocates some 100,000 lasting objects, none in a cycle: the collections they
    trigger would walk the whole heap (a session's torch included) again and again for nothing."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def load_history(storage: str | os.PathLike[str], warn: Warn | None = None, update_index: bool = False) -> History:
    """Index every run's claims (a bad file is skipped with one warning). Only the fields selection needs
    are read, from the index cache where the file is unchanged; a full record is read for the few
    entries compared with. update_index: rewrite the cache (a session that saves runs does)."""
    with _gc_paused():
        return _load(Path(storage), warn, update_index)


def _load(root: Path, warn: Warn | None, update_index: bool) -> History:
    accepted = read_acceptances(root, warn)
    cached = _read_index(root)
    fresh: dict[str, Any] = {}
    index = BaselineIndex()
    measured: dict[str, set[str]] = {}
    readable = []
    for run in list_runs(root):
        try:
            stat = run.path.stat()
        except OSError:
            continue
        key = str(run.path.relative_to(root))
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns]
        record = cached.get(key)
        if not (isinstance(record, dict) and record.get("signature") == signature):
            try:
                header, facts = _parse_run(run.path)
                record = {"signature": signature, "created": header["created"], "complete": header["complete"],
                          "accepted": list(header["accepted"]), "facts": [f for f in facts if f is not None],
                          "branch": branch_of(header["environment"])}
            except EffcheckError as exc:
                message = str(exc)
                record = {"signature": signature,
                          "error": message if str(run.path) in message else f"{run.path}: {message}"}
        fresh[key] = record
        if "error" in record:
            if warn is not None:
                warn(f"skipping {record['error']}")
            continue
        readable.append((run, record))
    recorded = [recorded_time(record["created"]) for _, record in readable]
    now = dt.datetime.now(dt.timezone.utc)
    ordered = ordering_times([(str(run.path.parent), int(run.number), when)
                              for (run, _), when in zip(readable, recorded, strict=True)], now)
    for (run, record), when, used in zip(readable, recorded, ordered, strict=True):
        skew = skew_warning(run.name, when, used)
        if skew and warn is not None:
            warn(skew)
        header = {"created": record["created"], "ordered_at": used, "complete": record["complete"],
                  "accepted": tuple(record["accepted"]), "branch": record.get("branch")}
        index.add(entries_from_facts(run.name, int(run.number), header, record["facts"],
                                     accepted.get(run.name, ()), _stored_results(run.path)))
        measured[run.name] = {f[0] for f in record["facts"]}
    if update_index and fresh != cached:
        with contextlib.suppress(EffcheckError):  # only a cache: the next session reads the files again
            write_json_atomic(root / INDEX_FILE, {"version": _INDEX_VERSION, "files": fresh}, compact=True)
    return History(root, measured, index)

"""The saved runs as a history a reader can look at: per scope (hardware key), each claim's points over
time, its baseline and change, and where the software environment changed. Pure: no plotting, no files.

The dashboard (effcheck.dashboard) draws what this module computes. A claim's baseline here is the one
its newest run was gated against when that run recorded a comparison for it; otherwise (not gated, or
the gate found no measurement of the claim) the newest earlier run in the same scope whose verdict for
the claim did not fail (a failing run is never a baseline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.baseline import entries_of, scope_of, select
from effcheck.env import software_versions
from effcheck.errors import SchemaError
from effcheck.gate import Delta, GatePolicy, Status, compare_results
from effcheck.records import Claim, ClaimResult, Ledger, Verdict

ACCEPTABLE = (Verdict.PASS, Verdict.REFUTED)  # a run measured the claim and its check did not fail
_NOTHING_COMPARED = (Status.NEW, Status.MISSING, Status.NOT_COMPARED)


@dataclass(frozen=True)
class Run:
    name: str  # the run file's stem, e.g. 0003_<commit>_<time>
    created: dt.datetime
    ledger: Ledger

    @property
    def scope(self) -> str:
        return self.ledger.hardware_key


@dataclass(frozen=True)
class Point:
    run: str
    created: dt.datetime
    verdict: Verdict
    value: float | None  # None: the claim was skipped or broke before measuring in that run
    low: float | None = None  # interquartile range of a noisy metric
    high: float | None = None


@dataclass(frozen=True)
class EnvChange:
    run: str  # the first run under the new versions
    created: dt.datetime
    changes: tuple[str, ...]  # "torch 2.13.0 -> 2.14.1"

    @property
    def label(self) -> str:
        return ", ".join(self.changes)


@dataclass(frozen=True)
class ClaimHistory:
    claim: Claim  # as the newest run states it
    scope: str
    points: tuple[Point, ...]  # oldest first
    latest: ClaimResult
    latest_run: str
    baseline_run: str | None
    delta: Delta | None  # the newest run against its baseline

    @property
    def family(self) -> str:
        return self.claim.family


@dataclass(frozen=True)
class ScopeHistory:
    scope: str
    runs: tuple[Run, ...]  # oldest first
    claims: tuple[ClaimHistory, ...]  # by claim id
    env_changes: tuple[EnvChange, ...]


def parse_time(text: str, fallback: dt.datetime | None = None) -> dt.datetime:
    """A run's recorded time, timezone-aware (naive times are taken as UTC)."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        if fallback is None:
            raise
        value = fallback
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def version_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Every software version that differs, in name order (env.software_versions reads them)."""
    old, new = software_versions(before), software_versions(after)
    changes = []
    for name in sorted(set(old) | set(new)):
        if old.get(name) != new.get(name):
            changes.append(f"{name} {old.get(name, 'absent')} -> {new.get(name, 'absent')}")
    return tuple(changes)


def _point(run: Run, result: ClaimResult) -> Point:
    m = result.measurement
    if m is None:
        return Point(run.name, run.created, result.verdict, None)
    spread = m.spread
    return Point(run.name, run.created, result.verdict, m.value, *(spread or (None, None)))


def _recorded_delta(run: Run, claim_id: str) -> Delta | None:
    comparison = run.ledger.comparison or {}
    for raw in comparison.get("deltas", []) or []:
        if isinstance(raw, Mapping) and raw.get("claim_id") == claim_id:
            try:
                return Delta.from_dict(raw)
            except SchemaError:
                return None
    return None


def _baseline(claim_id: str, runs: Sequence[Run], latest: Run) -> tuple[str | None, Delta | None]:
    result = latest.ledger.by_id()[claim_id]
    recorded = _recorded_delta(latest, claim_id)
    if recorded is not None and recorded.baseline_run and recorded.status not in _NOTHING_COMPARED:
        return recorded.baseline_run, recorded  # what the gate said when the run was made
    # not gated, or the gate's baseline run lacked the claim (a subset run): the run the gate's own
    # selection (effcheck.baseline) would pick among the earlier ones
    entries = [e for run in runs[:-1] for e in entries_of(run.name, _number(run.name), run.ledger)
               if e.claim_id == claim_id]
    chosen = select(entries, scope_of(result, latest.ledger.environment)).baseline
    if chosen is None:
        return None, None
    return chosen.run, compare_results(result, chosen.result, GatePolicy(), chosen.run)


def _number(run_name: str) -> int:
    """pytest-benchmark's counter from a run's name ("0007_abc" -> 7), the tie-break of equal times."""
    head = run_name.split("_", 1)[0]
    return int(head) if head.isdigit() else 0


def scope_history(scope: str, runs: Sequence[Run]) -> ScopeHistory:
    """runs: one scope's runs in any order."""
    ordered = tuple(sorted(runs, key=lambda r: (r.created, r.name)))
    env_changes = []
    for before, after in zip(ordered, ordered[1:], strict=False):
        changes = version_changes(before.ledger.environment, after.ledger.environment)
        if changes:
            env_changes.append(EnvChange(after.name, after.created, changes))
    claim_ids = sorted({r.claim.id for run in ordered for r in run.ledger.results})
    histories = []
    for claim_id in claim_ids:
        having = [run for run in ordered if claim_id in run.ledger.by_id()]
        points = tuple(_point(run, run.ledger.by_id()[claim_id]) for run in having)
        latest = having[-1]
        baseline_run, delta = _baseline(claim_id, having, latest)
        result = latest.ledger.by_id()[claim_id]
        histories.append(ClaimHistory(result.claim, scope, points, result, latest.name, baseline_run, delta))
    return ScopeHistory(scope, ordered, tuple(histories), tuple(env_changes))


def scopes(runs: Sequence[Run]) -> tuple[ScopeHistory, ...]:
    """Every hardware scope in the storage, the one with the newest run first."""
    by_scope: dict[str, list[Run]] = {}
    for run in runs:
        by_scope.setdefault(run.scope, []).append(run)
    found = [scope_history(key, group) for key, group in by_scope.items()]
    return tuple(sorted(found, key=lambda s: (s.runs[-1].created, s.scope), reverse=True))


def run_from_file(path: Path, ledger: Ledger, recorded: str) -> Run:
    """recorded: the run's time as the store lists it (pytest-benchmark's datetime, else the file's mtime)."""
    fallback = parse_time(recorded, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc))
    return Run(path.stem, parse_time(ledger.created, fallback), ledger)


def change_text(history: ClaimHistory) -> str:
    """The grid's 'change against baseline' cell."""
    delta = history.delta
    if delta is None:
        return "no baseline yet"
    if delta.status in (Status.NOT_COMPARED, Status.NEW, Status.MISSING):
        return str(delta.status.value)
    change = delta.change_text()
    return delta.status.value if change == "-" else f"{delta.status.value} {change}"

"""The saved runs as a history a reader can look at: per scope (hardware key), each claim's points over
time, its baseline and change, and where the software environment changed. Pure: no plotting, no files.

The dashboard (effcheck.dashboard) draws what this module computes. A claim's baseline here is the one
its newest run was gated against when that run recorded a comparison for it; otherwise (not gated, or
the gate found no measurement of the claim) the one the gate's own selection (effcheck.baseline) picks
among the earlier runs. Runs follow the baseline module's order (recorded time capped by later run
numbers of the same folder); a run is identified by its file, since a pulled run may share a local
run's name. Each point carries the gate's outcome for that run (effcheck.outcomes) beside its verdict.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.baseline import accepted_by, entries_of, ordering_times, scope_of, select
from effcheck.checks import verdict_label
from effcheck.env import software_versions
from effcheck.errors import SchemaError
from effcheck.gate import Delta, GatePolicy, Status, compare_results
from effcheck.outcomes import Outcome, gate_outcome, verdict_flip
from effcheck.records import Claim, ClaimResult, Ledger, Verdict
from effcheck.remote import PULLED_DIR

ACCEPTABLE = (Verdict.PASS, Verdict.REFUTED)  # a run measured the claim and its check did not fail
_NOTHING_COMPARED = (Status.NEW, Status.MISSING, Status.NOT_COMPARED)


_HASH = re.compile(r"^[0-9a-f]{16}(-\d+)?$")  # a pulled run's folder: remote/<content hash>[-n]/...
_NAMED_COMMIT = re.compile(r"^\d{4,}_([0-9a-f]{7,40})(?:_|$)")  # pytest-benchmark's NNNN_<commit>_<time>


@dataclass(frozen=True)
class Run:
    name: str  # the run file's stem, e.g. 0003_<commit>_<time>
    created: dt.datetime
    ledger: Ledger
    key: str = ""  # unique among the page's runs (its file): a pulled run may share a local run's name
    commit: str = ""  # the short git commit it ran at (pytest-benchmark's commit_info.id)
    origin: str = ""  # the pulled folder's hash for a run from a team's history branch; "" for a local one
    folder: str = ""  # its storage folder: run numbers order the runs of one folder
    ordered_at: dt.datetime | None = None  # created, capped by later-numbered runs (baseline.ordering_times)

    @property
    def scope(self) -> str:
        return self.ledger.hardware_key

    @property
    def id(self) -> str:
        return self.key or self.name

    @property
    def number(self) -> str:
        head = self.name.split("_", 1)[0]
        return head if head.isdigit() else self.name

    @property
    def label(self) -> str:
        """The x-axis tick: run number, commit, and where a pulled run came from."""
        lines = [self.number, self.commit[:7]] if self.commit else [self.number]
        if self.origin:
            lines.append(f"@{self.origin[:7]}")
        return "\n".join(lines)

    @property
    def order(self) -> tuple[dt.datetime, int, str]:
        return self.ordered_at or self.created, _number(self.name), self.id


@dataclass(frozen=True)
class Point:
    run: str
    created: dt.datetime
    verdict: Verdict
    value: float | None  # None: the claim was skipped or broke before measuring in that run
    low: float | None = None  # interquartile range of a noisy metric
    high: float | None = None
    run_id: str = ""  # Run.id
    label: str = ""  # Run.label
    index: int = 0  # the run's position among its scope's runs, oldest first
    verdict_label: str = ""  # PASS, FAIL, FINDING, REFUTED (paper)...
    outcome: Outcome = Outcome.NOT_JUDGED  # what the gate made of it in that run
    flip: str = ""  # "PASS -> FINDING" against the run's baseline


@dataclass(frozen=True)
class EnvChange:
    run: str  # the first run under the new versions
    created: dt.datetime
    changes: tuple[str, ...]  # "torch 2.13.0 -> 2.14.1"
    index: int = 0  # that run's position among its scope's runs

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
    baseline_id: str | None = None  # Run.id of the baseline run
    outcome: Outcome = Outcome.NOT_JUDGED  # the gate's outcome for the newest run
    flip: str = ""  # the newest run's verdict against its baseline's, when it differs

    @property
    def family(self) -> str:
        return self.claim.family

    @property
    def changed(self) -> bool:
        """The newest run moved against its baseline, was accepted as moved, or flipped its verdict."""
        return bool(self.flip) or self.outcome in (Outcome.REGRESSION, Outcome.IMPROVEMENT, Outcome.CHANGED,
                                                   Outcome.ACCEPTED)


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


Acceptances = Mapping[str, Sequence[str]]  # run stem -> claim patterns accepted afterwards (store.read_acceptances)


def _point(run: Run, result: ClaimResult, index: int, outcome: Outcome, flip: str) -> Point:
    m = result.measurement
    low, high = (m.spread if m is not None else None) or (None, None)
    return Point(run.name, run.created, result.verdict, None if m is None else m.value, low, high,
                 run_id=run.id, label=run.label, index=index, verdict_label=verdict_label(result),
                 outcome=outcome, flip=flip)


def _recorded_delta(run: Run, claim_id: str) -> Delta | None:
    comparison = run.ledger.comparison or {}
    for raw in comparison.get("deltas", []) or []:
        if isinstance(raw, Mapping) and raw.get("claim_id") == claim_id:
            try:
                return Delta.from_dict(raw)
            except SchemaError:
                return None
    return None


def _compared_with(delta: Delta | None) -> str | None:
    """The baseline run a recorded delta compared with (None when it compared with nothing)."""
    if delta is None or not delta.baseline_run or delta.status in _NOTHING_COMPARED:
        return None
    return delta.baseline_run


def _accepted(run: Run, claim_id: str, delta: Delta | None, acceptances: Acceptances) -> bool:
    """Accepted on the run (--effcheck-accept: its delta and ledger say so) or afterwards (effcheck accept,
    recorded by the run's name, as the gate reads it)."""
    return (delta is not None and delta.accepted) or accepted_by((*run.ledger.accepted,
                                                                   *acceptances.get(run.name, ())), claim_id)


def _baseline(claim_id: str, runs: Sequence[Run], latest: Run,
              acceptances: Acceptances) -> tuple[str | None, Run | None, Delta | None]:
    """The newest run's baseline: its name, the run when the page holds it (a pruned run is named only),
    and the delta against it."""
    result = latest.ledger.by_id()[claim_id]
    recorded = _recorded_delta(latest, claim_id)
    named = _compared_with(recorded)
    if named is not None:  # what the gate said when the run was made
        return named, _by_name(runs[:-1], named), recorded
    # not gated, or the gate's baseline run lacked the claim (a subset run): the run the gate's own
    # selection (effcheck.baseline) would pick among the earlier ones
    earlier = {run.id: run for run in runs[:-1]}
    entries = [e for run in runs[:-1] for e in entries_of(run.id, _number(run.name), run.ledger,
                                                          acceptances.get(run.name, ()))
               if e.claim_id == claim_id]
    entries = [dataclasses.replace(e, created=earlier[e.run].order[0]) for e in entries]
    chosen = select(entries, scope_of(result, latest.ledger.environment)).baseline
    if chosen is None:
        return None, None, None
    base = earlier[chosen.run]
    moved = ", ".join(version_changes(base.ledger.environment, latest.ledger.environment))
    return base.name, base, compare_results(result, chosen.result, GatePolicy(), base.name, environment_change=moved)


def _by_name(runs: Sequence[Run], name: str) -> Run | None:
    """The newest of the runs with that name (a recorded delta names its baseline by the run's name)."""
    return next((run for run in reversed(runs) if run.name == name), None)


def _number(run_name: str) -> int:
    """pytest-benchmark's counter from a run's name ("0007_abc" -> 7), the tie-break of equal times."""
    head = run_name.split("_", 1)[0]
    return int(head) if head.isdigit() else 0


def _claim_history(scope: str, claim_id: str, having: Sequence[Run], index: Mapping[str, int],
                   acceptances: Acceptances, results: Mapping[str, Mapping[str, ClaimResult]]) -> ClaimHistory:
    """having: the scope's runs that hold the claim, in order; results: each run's results by claim id."""
    points = []
    for i, run in enumerate(having):
        result = results[run.id][claim_id]
        delta = _recorded_delta(run, claim_id)
        outcome = gate_outcome(None if delta is None else delta.status.value,
                               _accepted(run, claim_id, delta, acceptances))
        named = _compared_with(delta)
        base = _by_name(having[:i], named) if named else None
        points.append(_point(run, result, index[run.id], outcome, _flip(base, claim_id, result, results)))
    latest = having[-1]
    result = results[latest.id][claim_id]
    base_name, base, delta = _baseline(claim_id, having, latest, acceptances)
    outcome = points[-1].outcome
    if delta is not None and _compared_with(_recorded_delta(latest, claim_id)) is None:
        # the gate compared it with nothing (a subset baseline, a run pulled from another storage): the
        # grid shows the page's own comparison, so the summary counts that one
        outcome = gate_outcome(delta.status.value, _accepted(latest, claim_id, delta, acceptances))
    flip = _flip(base, claim_id, result, results)
    if flip and not points[-1].flip:  # the page's own choice of baseline (the run recorded none)
        points[-1] = dataclasses.replace(points[-1], flip=flip)
    return ClaimHistory(result.claim, scope, tuple(points), result, latest.name, base_name, delta,
                        None if base is None else base.id, outcome, flip)


def _flip(base: Run | None, claim_id: str, result: ClaimResult,
          results: Mapping[str, Mapping[str, ClaimResult]]) -> str:
    if base is None or result.measurement is None:
        return ""
    before = results[base.id].get(claim_id)
    if before is None or before.measurement is None:
        return ""
    return verdict_flip(verdict_label(before), verdict_label(result))


def scope_history(scope: str, runs: Sequence[Run], acceptances: Acceptances | None = None) -> ScopeHistory:
    """runs: one scope's runs in any order; acceptances: what `effcheck accept` recorded beside them."""
    accepted = acceptances or {}
    ordered = tuple(sorted(runs, key=lambda r: r.order))
    index = {run.id: i for i, run in enumerate(ordered)}
    env_changes = []
    for before, after in zip(ordered, ordered[1:], strict=False):
        changes = version_changes(before.ledger.environment, after.ledger.environment)
        if changes:
            env_changes.append(EnvChange(after.name, after.created, changes, index[after.id]))
    results = {run.id: run.ledger.by_id() for run in ordered}  # built once per run, not once per claim
    histories = []
    for claim_id in sorted({cid for found in results.values() for cid in found}):
        having = [run for run in ordered if claim_id in results[run.id]]
        histories.append(_claim_history(scope, claim_id, having, index, accepted, results))
    return ScopeHistory(scope, ordered, tuple(histories), tuple(env_changes))


def scopes(runs: Sequence[Run], acceptances: Acceptances | None = None) -> tuple[ScopeHistory, ...]:
    """Every hardware scope in the storage, the one with the newest run first. Each run is ordered as
    the gate orders it: its recorded time capped by every later-numbered run of its folder and by now."""
    now = dt.datetime.now(dt.timezone.utc)
    times = ordering_times([(run.folder or run.id, _number(run.name), run.created) for run in runs], now)
    timed = [dataclasses.replace(run, ordered_at=when) for run, when in zip(runs, times, strict=True)]
    by_scope: dict[str, list[Run]] = {}
    for run in timed:
        by_scope.setdefault(run.scope, []).append(run)
    found = [scope_history(key, group, acceptances) for key, group in by_scope.items()]
    return tuple(sorted(found, key=lambda s: (s.runs[-1].order, s.scope), reverse=True))


def run_from_file(path: Path, ledger: Ledger, recorded: str) -> Run:
    """recorded: the run's time as the store lists it (pytest-benchmark's datetime, else the file's mtime)."""
    fallback = parse_time(recorded, dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc))
    return Run(path.stem, parse_time(ledger.created, fallback), ledger, key=str(path), commit=_commit(path),
               origin=_origin(path), folder=str(path.parent))


def _commit(path: Path) -> str:
    """The git commit pytest-benchmark recorded (commit_info.id), else the one in its file name."""
    try:
        info = json.loads(path.read_text(encoding="utf-8")).get("commit_info") or {}
        found = info.get("id") if isinstance(info, dict) else None
    except (OSError, ValueError, AttributeError):
        found = None
    if isinstance(found, str) and found:
        return found[:12]
    named = _NAMED_COMMIT.match(path.stem)
    return named.group(1)[:12] if named else ""


def _origin(path: Path) -> str:
    """The hash folder a pulled run lives in (<storage>/remote/<hash>/<machine>/NNNN_*.json), else ''."""
    parts = path.parts
    for i in range(len(parts) - 2, 0, -1):
        if parts[i - 1] == PULLED_DIR and _HASH.match(parts[i]):
            return parts[i]
    return ""


def change_text(history: ClaimHistory) -> str:
    """The grid's 'change against baseline' cell: the gate's status and change (an accepted move says so,
    with what it was measured as), and a verdict that flipped."""
    delta = history.delta
    flip = f"verdict {history.flip}" if history.flip else ""
    if delta is None:
        return flip or "no baseline yet"
    if delta.status in (Status.NOT_COMPARED, Status.NEW, Status.MISSING):
        words = str(delta.status.value)
    else:
        change = delta.change_text()
        words = delta.status.value if change == "-" else f"{delta.status.value} {change}"
        if history.outcome is Outcome.ACCEPTED:
            words = f"accepted ({words})"
    return f"{words}; {flip}" if flip else words

"""Which saved measurement each claim is compared with: per claim, per scope, accepted, newest first.

Pure: it sees saved runs as data (`Entry`, one claim's measurement in one run) and never touches files
(effcheck.store reads them). The gate (effcheck.gate) decides *whether* a claim moved; this module
decides *against what*.

- Scope follows dependency. Architecture facts (parameters, MACs, cache and state bytes, call counts)
  change with code and library versions only, so any machine's accepted run is a baseline. Measured
  device quantities (time ratios, allocator and device memory) also change with the device, so they
  compare only with runs on the same device key (effcheck.env.device_key). Software versions are never
  part of a scope: they are what an upgrade changes, and the gate shows them as a diff.
- Accepted. A measurement is a baseline only from a completed run, with a claim that did not fail, whose
  recorded comparison did not move (new, unchanged, not comparable, or a noisy move that was not
  significant), unless someone accepted that run's claim on purpose. So a red run, an interrupted run
  or an improvement nobody accepted never becomes the baseline by being rerun.
- Newest first by the recorded datetime (never a file's mtime), ties broken by the run number; but a
  runner's clock can be wrong and a run's number cannot (within a storage folder a run is saved after
  every lower-numbered one), so a recorded time is capped by every later run of its folder and by now
  (`ordering_times`): one clock a year ahead cannot freeze the baseline.
- An accepted change restarts a noisy claim's pool: the samples of the level someone accepted are the
  baseline, not a pool that still holds the level before it.
- Branches (effcheck.vcs): a run on another branch than the baseline branch or the run's own is never a
  baseline, so a pull request's runs pushed to the team's history never gate main or another pull request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from effcheck.env import device_key
from effcheck.errors import SchemaError
from effcheck.patterns import id_matches, matcher
from effcheck.records import ClaimResult, Ledger, Verdict, ledger_header
from effcheck.vcs import branch_of, may_serve

ANY_MACHINE = "any machine"
# newest accepted runs searched for the run a facts-file line came from: each is a file read, and a line no
# recent run measured (a pull request's accepted change) would otherwise read the whole history
SOURCE_SEARCH = 20
POOL_SIZE = 5  # accepted runs whose samples are pooled for a noisy claim (between-run drift)
# Measurement methods that read a device's allocator or memory: their values depend on the device.
DEVICE_METHODS = ("allocator", "max_memory_allocated", "memory_allocated", "memory_reserved", "rss")
# Recorded comparison statuses that leave a measurement standing as a baseline without acceptance.
_STANDING = frozenset({"new", "unchanged", "not compared"})
_STANDING_NOISY = _STANDING | {"changed"}  # moved, but not significantly: drift the pool should hold
_MOVES = frozenset({"regression", "improvement"})  # accepted, these start a new level
_OLDEST = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
_FAIL = Verdict.FAIL.value  # read once: an enum member's .value is a descriptor call, paid per entry


def scope_of(result: ClaimResult, environment: Mapping[str, Any]) -> str:
    """ANY_MACHINE for an architecture fact, else the key of the device the measurement ran on."""
    m = result.measurement
    if m is None:
        return ANY_MACHINE
    return _scope(result.claim.noisy, m.method, m.device, environment)


def _scope(noisy: bool, method: str, device: str, environment: Mapping[str, Any]) -> str:
    if noisy or any(marker in method for marker in DEVICE_METHODS):
        return device_key(environment, device)
    return ANY_MACHINE


def recorded_time(text: str) -> dt.datetime:
    """A run's recorded datetime, timezone-aware (naive times are UTC); unreadable ones sort oldest."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return _OLDEST
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def ordering_times(runs: Sequence[tuple[str, int, dt.datetime]], now: dt.datetime) -> list[dt.datetime]:
    """The time each run is ordered by: runs are (folder, number, recorded time). A run was saved before
    every higher-numbered run of its folder (run files are created exclusively, numbered upwards), and
    before now: its time is capped by theirs, so a clock that ran ahead orders its run by its number."""
    times = [when for _, _, when in runs]
    cap: dict[str, dt.datetime] = {}
    for i in sorted(range(len(runs)), key=lambda i: runs[i][1], reverse=True):
        folder = runs[i][0]
        times[i] = min(times[i], cap.get(folder, now))
        cap[folder] = times[i]
    return times


SKEW_WORTH_SAYING = dt.timedelta(minutes=1)


def skew_warning(run: str, recorded: dt.datetime, used: dt.datetime) -> str | None:
    """One line when a run's recorded time was capped by more than clocks differ in passing."""
    if recorded - used <= SKEW_WORTH_SAYING:
        return None
    return (f"run {run} says it was recorded at {recorded.isoformat(timespec='seconds')}, after a later-numbered "
            f"run or now: its runner's clock was off, so it is ordered as of {used.isoformat(timespec='seconds')}")


def accepted_by(patterns: Iterable[str], claim_id: str) -> bool:
    return any(id_matches(claim_id, p) for p in patterns)


def acceptor(patterns: Iterable[str]) -> Callable[[str], bool]:
    """accepted_by for one set of patterns, compiled once: a run's many claims share its few patterns."""
    return matcher(patterns)


def standing(result: ClaimResult, complete: bool, status: str | None, accepted: bool) -> tuple[bool, str]:
    """(whether this measurement may be a baseline, why not). status: the run's recorded comparison
    status for the claim, None when the run recorded no comparison (nothing judged it)."""
    return _standing(result.measurement is not None, result.verdict.value, result.claim.noisy, complete, status,
                     accepted)


def _standing(measured: bool, verdict: str, noisy: bool, complete: bool, status: str | None,
              accepted: bool) -> tuple[bool, str]:
    if not measured:
        return False, "not measured"
    if not complete:
        return False, "interrupted run"
    if accepted:
        return True, ""
    if verdict == _FAIL:
        return False, "claim failed"
    allowed = _STANDING_NOISY if noisy else _STANDING
    if status is not None and status not in allowed:
        return False, f"{status}, not accepted"
    return True, ""


# claim id -> (its stored result, the run's environment); one per run, shared by the run's entries
Stored = Callable[[str], "tuple[Mapping[str, Any], Mapping[str, Any]]"]


@dataclass(frozen=True)
class Entry:
    """One claim's measurement in one saved run, as the selection sees it. The full record is built
    from its stored form only when the entry is compared with (most entries never are)."""

    run: str  # the run file's stem, "0007_abc"
    number: int  # pytest-benchmark's counter (0007), the tie-break between equal datetimes
    created: dt.datetime
    claim_id: str
    scope: str
    eligible: bool
    why_not: str  # empty when eligible
    stored: Stored = field(compare=False, repr=False)
    restarts_pool: bool = False  # an accepted move: a noisy claim's pool holds nothing older
    branch: str | None = None  # the git branch the run recorded (None: none recorded)

    @property
    def order(self) -> tuple[dt.datetime, int, str]:
        return self.created, self.number, self.run

    @cached_property
    def _stored(self) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        return self.stored(self.claim_id)

    @property
    def environment(self) -> Mapping[str, Any]:
        return self._stored[1]

    @cached_property
    def result(self) -> ClaimResult:
        """The stored result as a record (raises SchemaError when its stored form is malformed)."""
        raw, _ = self._stored
        return ClaimResult.from_dict(raw)


def entries_of(run: str, number: int, ledger: Ledger, accepted: Iterable[str] = ()) -> list[Entry]:
    """Every measured claim of a saved run; accepted: claim patterns accepted after the fact for it."""
    return raw_entries_of(run, number, ledger_header(ledger.to_dict()), accepted)


def raw_entries_of(run: str, number: int, header: Mapping[str, Any], accepted: Iterable[str] = ()) -> list[Entry]:
    """entries_of for a ledger as stored (records.ledger_header): reads only the fields selection needs.
    Raises SchemaError when one of those is malformed (the caller skips the file)."""
    facts = facts_of(header)
    raw = {fact[0]: r for r, fact in zip(header["results"], facts, strict=True) if fact is not None}  # as by_id
    return entries_from_facts(run, number, header, [f for f in facts if f is not None], accepted,
                              lambda claim_id: (raw[claim_id], header["environment"]))


# (claim id, scope, noisy, verdict, recorded status): what selection needs of one result
Fact = tuple[str, str, bool, str, str | None]


def facts_of(header: Mapping[str, Any]) -> list[Fact | None]:
    """Per stored result, the fields selection needs (None: not measured). Raises SchemaError when
    one of those is malformed (the caller skips the file)."""
    statuses = _statuses(header.get("comparison"))
    environment = header["environment"]
    found: list[Fact | None] = []
    for raw in header["results"]:
        try:
            claim, measurement = raw["claim"], raw.get("measurement")
            cid, noisy = claim["id"], bool(claim.get("noisy", False))
            if measurement is None:
                found.append(None)
                continue
            method, device = measurement["method"], measurement.get("device", "cpu")
            if not (isinstance(cid, str) and isinstance(method, str) and isinstance(device, str)):
                raise TypeError("id, method and device must be strings")
            verdict = str(raw["verdict"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise SchemaError(f"not an effcheck claim result ({exc!r})") from exc
        found.append((cid, _scope(noisy, method, device, environment), noisy, verdict, statuses.get(cid)))
    return found


def entries_from_facts(run: str, number: int, header: Mapping[str, Any], facts: Iterable[Sequence[Any]],
                       accepted: Iterable[str], stored: Stored) -> list[Entry]:
    """Entries from a run's facts (as facts_of gives them or the index cache holds them: lists);
    stored(claim_id) reads a full result when it is compared with."""
    # What a run's claims share (its datetime, completeness, accepted patterns) is worked out once per
    # run: a history of 1,000 runs holds some 60,000 entries (issue 9).
    created = header.get("ordered_at") or recorded_time(header["created"])
    complete = bool(header["complete"])
    branch = header["branch"] if "branch" in header else branch_of(header.get("environment"))
    accepts = acceptor((*header["accepted"], *accepted))
    found = []
    for cid, scope, noisy, verdict, status in facts:
        on_purpose = accepts(cid)
        ok, why = _standing(True, verdict, noisy, complete, status, on_purpose)
        found.append(Entry(run, number, created, cid, scope, ok, why, stored, on_purpose and status in _MOVES,
                           branch))
    return found


def _statuses(comparison: Any) -> dict[str, str]:
    deltas = (comparison or {}).get("deltas") or []
    if not isinstance(deltas, list):
        return {}
    found = {}
    for d in deltas:
        if isinstance(d, Mapping) and isinstance(d.get("claim_id"), str):
            found[d["claim_id"]] = str(d.get("status"))
    return found


@dataclass(frozen=True)
class Selection:
    """A claim's baseline in its scope: the entry compared with, the accepted entries pooled for noise
    (newest first, the baseline first), how many accepted runs the scope holds, and why there is none."""

    scope: str
    baseline: Entry | None
    pool: tuple[Entry, ...] = ()
    history: int = 0
    note: str = ""

    def pooled_samples(self) -> tuple[float, ...]:
        metric = self.baseline.result.claim.metric if self.baseline else None
        return tuple(s for e in self.pool if e.result.claim.metric == metric
                     for s in (e.result.measurement.samples if e.result.measurement else ()))


def select(entries: Iterable[Entry], scope: str, pinned: str | None = None, pool_size: int = POOL_SIZE) -> Selection:
    """One claim's baseline among its entries (any order, any scope).

    pinned: a run named by the user (its stem): that run is the baseline when it measured the claim in
    this scope, whatever its standing; the pool then holds accepted runs no newer than it.
    """
    entries = sorted(entries, key=lambda e: e.order, reverse=True)
    in_scope = [e for e in entries if e.scope == scope]
    if pinned is not None:
        mine = [e for e in entries if e.run == pinned]
        if not mine:
            return Selection(scope, None, note=f"not measured in baseline run {pinned}")
        chosen = next((e for e in mine if e.scope == scope), None)
        if chosen is None:
            return Selection(scope, None, note=f"baseline run {pinned} measured it on {mine[0].scope}, "
                                               f"this run on {scope}: not compared")
        older = [e for e in in_scope if e.eligible and e.order < chosen.order]
        return Selection(scope, chosen, _pool([chosen, *older], pool_size), 1 + len(older))
    accepted = [e for e in in_scope if e.eligible]
    if accepted:
        return Selection(scope, accepted[0], _pool(accepted, pool_size), len(accepted))
    if in_scope:
        passed_over = ", ".join(f"{e.run} ({e.why_not})" for e in in_scope[:3])
        more = f" and {len(in_scope) - 3} more" if len(in_scope) > 3 else ""
        return Selection(scope, None, note=f"no accepted measurement on {scope}: {passed_over}{more}; "
                                           "accept one with `effcheck accept RUN CLAIM`")
    elsewhere = sorted({e.scope for e in entries})
    if elsewhere:
        return Selection(scope, None, note=f"measured only on {', '.join(elsewhere)}; not comparable on {scope}")
    return Selection(scope, None, note="no saved run measured it")


def _pool(accepted: Sequence[Entry], size: int) -> tuple[Entry, ...]:
    """The newest accepted entries (newest first), back to the newest accepted move and no further."""
    pool: list[Entry] = []
    for entry in accepted[:size]:
        pool.append(entry)
        if entry.restarts_pool:
            break
    return tuple(pool)


class BaselineIndex:
    """Every saved claim measurement, grouped by claim id, answering `select` per claim."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._by_claim: dict[str, list[Entry]] = {}
        self.add(entries)

    def add(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self._by_claim.setdefault(entry.claim_id, []).append(entry)

    def claim_ids(self) -> set[str]:
        return set(self._by_claim)

    def runs(self) -> set[str]:
        return {e.run for found in self._by_claim.values() for e in found}

    def select(self, claim_id: str, scope: str, pinned: str | None = None,
               warn: Callable[[str], None] | None = None, branches: frozenset[str] | None = None) -> Selection:
        """select(), dropping (with a warning) an entry whose stored record turns out malformed.
        branches: the branches whose runs may be baselines (vcs.allowed_branches; None: any); a run the
        user pinned is the baseline whatever its branch."""
        entries = self._by_claim.get(claim_id, [])
        if pinned is None and branches is not None:
            entries = [e for e in entries if may_serve(e.branch, branches)]
        while True:
            selection = select(entries, scope, pinned)
            bad = []
            for entry in selection.pool:
                try:
                    entry.result  # noqa: B018 - parsed here, where it is first needed
                except SchemaError as exc:
                    bad.append(entry)
                    if warn is not None:
                        warn(f"skipping {claim_id} of run {entry.run}: {exc}")
            if not bad:
                return selection
            entries = [e for e in entries if e not in bad]
            self._by_claim[claim_id] = [e for e in self._by_claim[claim_id] if e not in bad]

    def newest_with_value(self, claim_id: str, value: float, branches: frozenset[str] | None = None) -> Entry | None:
        """The newest accepted measurement of exactly this value (the run a tracked fact was accepted from, whose
        environment tells which versions the fact was measured under); None when no saved run holds it."""
        found = sorted((e for e in self._by_claim.get(claim_id, ()) if e.eligible and may_serve(e.branch, branches)),
                       key=lambda e: e.order, reverse=True)
        for entry in found[:SOURCE_SEARCH]:
            try:
                measurement = entry.result.measurement
            except SchemaError:
                continue
            if measurement is not None and measurement.value == value:
                return entry
        return None

    def latest_eligible(self, claim_id: str, branches: frozenset[str] | None = None) -> Entry | None:
        """The newest accepted measurement of a claim in any scope (for claims not run this time)."""
        found = [e for e in self._by_claim.get(claim_id, ()) if e.eligible and may_serve(e.branch, branches)]
        return max(found, key=lambda e: e.order) if found else None

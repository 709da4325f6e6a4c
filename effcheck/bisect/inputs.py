"""What differs between a baseline run and a run: the packages pip can move, and the claims to rerun.

Pure: reads two ledgers (effcheck.records.Ledger) and returns frozen records.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from effcheck.errors import BaselineError
from effcheck.records import ClaimResult, Ledger

# Recorded versions that are not pip distributions: bisect cannot move them (effcheck.env.software_versions)
NOT_PIP = (("python", "python"), ("CUDA runtime", "cuda_build"), ("cuDNN", "cudnn"), ("driver", "driver"))


@dataclass(frozen=True)
class PackageChange:
    """One distribution whose recorded version differs; None: not installed."""

    name: str
    old: str | None
    new: str | None

    def __post_init__(self) -> None:
        if self.old == self.new:
            raise ValueError(f"{self.name}: {self.old} -> {self.new} is no change")

    @property
    def versions(self) -> str:
        return f"{self.old or 'absent'} -> {self.new or 'absent'}"

    def text(self) -> str:
        return f"{self.name} {self.versions}"


@dataclass(frozen=True)
class Outcome:
    """What one run measured for one claim: a value, or no value and why (ERROR, SKIP, NOT RUN)."""

    value: float | None
    verdict: str
    message: str = ""

    def text(self) -> str:
        if self.value is not None:
            return repr(self.value)
        return f"{self.verdict} ({self.message})" if self.message else self.verdict


@dataclass(frozen=True)
class ChangedClaim:
    """A claim to rerun: its test, how to compare its values, and what the two runs recorded."""

    id: str
    nodeid: str
    unit: str
    noisy: bool
    tolerance: float  # relative change within which a noisy value has not moved; 0 for exact claims
    baseline: Outcome
    run: Outcome


@dataclass(frozen=True)
class Selection:
    claims: tuple[ChangedClaim, ...]
    notes: tuple[str, ...]  # claims left out, and why


def recorded_packages(environment: Mapping[str, Any]) -> dict[str, str | None]:
    """The pip distributions a run recorded (environment['libraries']), name -> version or None (absent)."""
    libraries = environment.get("libraries")
    if not isinstance(libraries, Mapping):
        return {}
    return {str(name): None if version is None else str(version) for name, version in libraries.items()}


def package_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[PackageChange, ...]:
    """The recorded distributions whose versions differ, in the order the baseline recorded them."""
    old, new = recorded_packages(before), recorded_packages(after)
    names = list(old) + [n for n in new if n not in old]
    return tuple(PackageChange(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n))


def fixed_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Recorded differences pip cannot undo (python, CUDA runtime, cuDNN, driver), in words."""
    found = []
    for label, key in NOT_PIP:
        a, b = before.get(key), after.get(key)
        if a != b:
            found.append(f"{label} {a if a is not None else 'absent'} -> {b if b is not None else 'absent'}")
    return tuple(found)


def outcome_of(result: ClaimResult | None) -> Outcome:
    if result is None:
        return Outcome(None, "NOT RUN", "the claim has no result in this run")
    if result.measurement is None:
        return Outcome(None, result.verdict.value, _first_line(result.message))
    return Outcome(result.measurement.value, result.verdict.value)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def differs(a: Outcome, b: Outcome, noisy: bool, tolerance: float) -> bool:
    """Whether two outcomes of one claim differ: exact values at all, noisy ones beyond the tolerance (a
    relative change); an outcome without a value differs from one with a value and from another verdict."""
    if a.value is None or b.value is None:
        return (a.value is None) != (b.value is None) or a.verdict != b.verdict
    if not noisy:
        return a.value != b.value
    if a.value == 0:
        return b.value != 0
    return abs(b.value - a.value) / abs(a.value) > tolerance


def _changed_claim(base: ClaimResult, run: ClaimResult) -> ChangedClaim:
    from effcheck.gate import GatePolicy

    claim = run.claim
    tolerance = GatePolicy().tolerance_for(claim.id, claim.tolerance, claim.noisy) if claim.noisy else 0.0
    return ChangedClaim(claim.id, run.nodeid or base.nodeid, claim.unit, claim.noisy, tolerance,
                        outcome_of(base), outcome_of(run))


def select_claims(baseline: Ledger, run: Ledger, patterns: Sequence[str] = ()) -> Selection:
    """The claims to bisect: those named (ids or fnmatch patterns, each must match a claim of both runs), or
    by default every exact claim the baseline measured whose value differs in the run (or that errs there).
    Timed (noisy) claims are bisected only when named: one rerun per environment is noise that misleads."""
    base, now = baseline.by_id(), run.by_id()
    both = [cid for cid in now if cid in base]
    notes: list[str] = []
    if patterns:
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(cid, pattern) for cid in both):
                raise BaselineError(f"{pattern!r} matches no claim recorded in both runs")
        chosen = [cid for cid in both if any(fnmatch.fnmatchcase(cid, p) for p in patterns)]
        candidates = [_changed_claim(base[cid], now[cid]) for cid in chosen]
        noisy = [c.id for c in candidates if c.noisy]
        if noisy:
            notes.append(f"timed claims bisected on request ({', '.join(noisy)}): each environment measures them "
                         "once, so a move within noise can read as an effect; their verdicts use the gate's "
                         "tolerance")
    else:
        candidates = []
        noisy_moved = []
        for cid in both:
            claim = _changed_claim(base[cid], now[cid])
            if claim.baseline.value is None or claim.run.verdict == "SKIP":
                continue
            if not differs(claim.baseline, claim.run, claim.noisy, claim.tolerance):
                continue
            if claim.noisy:
                noisy_moved.append(cid)
            else:
                candidates.append(claim)
        if noisy_moved:
            notes.append(f"{len(noisy_moved)} timed claim(s) moved beyond their tolerance but are not bisected by "
                         f"default (one rerun per environment is noise that would mislead): "
                         f"{', '.join(noisy_moved)}; name them to bisect them anyway")
    unrunnable = [c.id for c in candidates if not c.nodeid]
    if unrunnable:
        notes.append(f"not rerun, the runs recorded no test node id for them (an older effcheck wrote them): "
                     f"{', '.join(unrunnable)}")
    return Selection(tuple(c for c in candidates if c.nodeid), tuple(notes))

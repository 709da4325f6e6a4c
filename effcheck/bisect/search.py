"""Which environments to build, in which order, and when to stop. Pure, against a Runner.

1. the baseline's versions (every differing package at its old version): the claims' reference here (when
   no claim gives a value there, as when the tests cannot even be collected, the search stops);
2. each differing package alone at the run's version; when pip cannot install it alone (new peft needs a
   newer transformers), the smallest set of packages containing it that pip installs;
3. all of them at the run's versions (when more than one differs): does the set reproduce the run?
4. for a claim that moves with all of them but with no smaller set tried so far, sets of 2, 3, ...
   packages until one moves it (an interaction), within max_trials environments in all.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from effcheck.bisect.inputs import ChangedClaim, Outcome, PackageChange
from effcheck.bisect.verdicts import ALL, BASELINE, GROUP, INTERACTION, SINGLE, Installed, Trial, moves

Log = Callable[[str], None]


class Runner(Protocol):
    """Builds environments and reruns claims in them (effcheck.bisect.scratch.ScratchRunner; a fake in tests)."""

    def setup(self, versions: Mapping[str, str | None]) -> Installed:
        """The baseline's environment: every package the baseline recorded at its version (None: not
        installed)."""

    def apply(self, moved: Mapping[str, str | None]) -> Installed:
        """The baseline's environment with these packages at these versions instead (nothing else moved that
        pip can keep)."""

    def measure(self, claims: Sequence[ChangedClaim]) -> Mapping[str, Outcome]:
        """Rerun these claims' tests in the current environment; claim id -> outcome (every claim)."""


@dataclass(frozen=True)
class Search:
    trials: tuple[Trial, ...]
    skipped: tuple[str, ...]  # environments not tried (the max_trials limit), in words
    seconds: float


def _measure(runner: Runner, claims: Sequence[ChangedClaim], moved: tuple[str, ...], purpose: str,
             changes: Mapping[str, PackageChange], baseline: Mapping[str, str | None], log: Log) -> Trial:
    what = " + ".join(changes[n].text() for n in moved) if moved else "the baseline's versions"
    log(f"building: {what}")
    installed = runner.setup(baseline) if purpose == BASELINE else runner.apply({n: changes[n].new for n in moved})
    if not installed.ok:
        log(f"  pip could not install it: {installed.reason}")
        return Trial(moved, purpose, installed)
    nodeids = set(c.nodeid for c in claims)
    log(f"  installed in {installed.seconds:.0f} s; rerunning {len(nodeids)} test(s)")
    start = time.monotonic()
    outcomes = runner.measure(claims)
    wanted = {c.id for c in claims}
    found = {cid: o for cid, o in outcomes.items() if cid in wanted}
    for c in claims:
        found.setdefault(c.id, Outcome(None, "NOT RUN", f"{c.nodeid} gave no result for it"))
    return Trial(moved, purpose, installed, found, time.monotonic() - start)


def _named_in(name: str, text: str) -> bool:
    words = {w.lower().replace("_", "-") for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)}
    return name.lower().replace("_", "-") in words


def search(claims: Sequence[ChangedClaim], changes: Sequence[PackageChange], baseline: Mapping[str, str | None],
           runner: Runner, log: Log = lambda line: None, max_trials: int = 24) -> Search:
    """Build and measure environments as the module docstring says; returns every trial, in order.
    baseline: every package the baseline recorded, at its version (the changed ones among them)."""
    start = time.monotonic()
    by_name = {c.name: c for c in changes}
    baseline = {**baseline, **{c.name: c.old for c in changes}}
    names = [c.name for c in changes]
    trials: list[Trial] = []
    skipped: list[str] = []
    tried: set[frozenset[str]] = set()

    def attempt(moved: Sequence[str], purpose: str, subset: Sequence[ChangedClaim] = claims) -> Trial | None:
        key = frozenset(moved)
        if key in tried:
            return None
        if len(trials) >= max_trials:
            skipped.append(" + ".join(moved))
            return None
        tried.add(key)
        trial = _measure(runner, subset, tuple(n for n in names if n in key), purpose, by_name, baseline, log)
        trials.append(trial)
        return trial

    base = attempt((), BASELINE)
    if base is None or not base.installed.ok or all(o.value is None for o in base.outcomes.values()):
        # no reference to compare with: every other environment would be built for nothing
        return Search(tuple(trials), tuple(skipped), time.monotonic() - start)
    alone_failed: dict[str, str] = {}
    for name in names:
        trial = attempt((name,), SINGLE)
        if trial is not None and not trial.installed.ok:
            alone_failed[name] = trial.installed.reason
    for name, reason in alone_failed.items():  # the smallest set with it that pip installs
        if any(name in t.moved and t.installed.ok and t.purpose == GROUP for t in trials):
            continue
        # the packages pip's reason names first ("peft 0.21.2 depends on transformers>=5.25": transformers)
        others = sorted((n for n in names if n != name), key=lambda n: not _named_in(n, reason))
        for size in range(1, len(others) + 1):
            found = False
            for extra in itertools.combinations(others, size):
                trial = attempt((name, *extra), GROUP)
                if trial is not None and trial.installed.ok:
                    found = True
                    break
            if found:
                break
    if len(names) > 1:
        attempt(names, ALL)
    everything = next((t for t in trials if t.moved == tuple(names) and t.installed.ok), None)
    reference = base.outcomes
    pending = [c for c in claims if everything is not None and moves(c, reference.get(c.id), everything)
               and not any(moves(c, reference.get(c.id), t) for t in trials if t is not everything)]
    for size in range(2, len(names)):
        for group in itertools.combinations(names, size):
            if not pending:
                break
            trial = attempt(group, INTERACTION, pending)
            if trial is not None:
                pending = [c for c in pending if not moves(c, reference.get(c.id), trial)]
    return Search(tuple(trials), tuple(skipped), time.monotonic() - start)

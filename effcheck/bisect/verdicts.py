"""What the environments a bisection measured say about one claim. Pure.

A Trial is one environment: the baseline's versions with some packages moved to the run's versions
(`moved`; none for the baseline's own versions), whether pip could build it, and the outcome of each
claim rerun there. A claim's reference is its outcome under the baseline's versions *with this checkout*:
an environment "moves it" when its outcome differs from that (exactly, or beyond the tolerance of a timed
claim). Blame names the smallest sets of packages that move it, or the project's own code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from effcheck.bisect.inputs import ChangedClaim, Outcome, PackageChange, differs

BASELINE, SINGLE, GROUP, ALL, INTERACTION = "baseline", "single", "group", "all", "interaction"


@dataclass(frozen=True)
class Installed:
    """What pip did for one environment."""

    ok: bool
    reason: str = ""  # pip's reason, one line, when not ok
    also_moved: tuple[str, ...] = ()  # distributions pip changed beside the ones asked for ("hf-hub 1.0 -> 1.1")
    seconds: float = 0.0
    warning: str = ""  # what `pip check` found inconsistent in the environment built


@dataclass(frozen=True)
class Trial:
    moved: tuple[str, ...]  # packages at the run's version, the others at the baseline's
    purpose: str  # BASELINE, SINGLE, GROUP (the smallest pip installs with a package), ALL, INTERACTION
    installed: Installed
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)  # claim id -> outcome; empty if not installed
    seconds: float = 0.0  # rerunning the claims

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcomes", dict(self.outcomes))


@dataclass(frozen=True)
class Blame:
    claim_id: str
    culprits: tuple[tuple[str, ...], ...]  # the smallest package sets that move it (each a tuple of names)
    kind: str  # "package", "together" (only a set moves it), "code" (no package does), "unknown"
    notes: tuple[str, ...] = ()


def trial_verdict(claim: ChangedClaim, reference: Outcome | None, outcome: Outcome | None) -> str:
    """One environment's effect on one claim, in a few words."""
    if outcome is None:
        return "not measured"
    if reference is None:
        return "no reference"
    if not differs(reference, outcome, claim.noisy, claim.tolerance):
        return "no effect"
    if outcome.value is None:
        return f"breaks it ({outcome.verdict})"
    if not differs(claim.run, outcome, claim.noisy, claim.tolerance):
        return "moves it"
    return "moves it (to neither run's value)"


def moves(claim: ChangedClaim, reference: Outcome | None, trial: Trial) -> bool:
    outcome = trial.outcomes.get(claim.id)
    return (trial.installed.ok and reference is not None and outcome is not None
            and differs(reference, outcome, claim.noisy, claim.tolerance))


def _names(changes: Mapping[str, PackageChange], group: Sequence[str]) -> str:
    return " + ".join(changes[n].text() if n in changes else n for n in group)


def blame(claim: ChangedClaim, trials: Sequence[Trial], changes: Sequence[PackageChange]) -> Blame:
    reference = next((t.outcomes.get(claim.id) for t in trials if t.purpose == BASELINE and t.installed.ok), None)
    notes: list[str] = []
    if reference is None:
        return Blame(claim.id, (), "unknown", ("the baseline's versions could not be measured",))
    if differs(claim.baseline, reference, claim.noisy, claim.tolerance):
        notes.append(f"with the baseline's versions this checkout measures {reference.text()}, "
                     f"not the recorded {claim.baseline.text()}")
    every_name = {c.name for c in changes}  # the run's versions: tried as ALL, or as the one single or group
    everything = next((t for t in trials if set(t.moved) == every_name and t.installed.ok), None)
    if everything is not None and claim.id in everything.outcomes:
        outcome = everything.outcomes[claim.id]
        if differs(claim.run, outcome, claim.noisy, claim.tolerance):
            notes.append(f"with all the run's versions this checkout measures {outcome.text()}, not the run's "
                         f"{claim.run.text()}: the rest is the project's own code or something not recorded")
    movers = [t.moved for t in trials if t.purpose != BASELINE and moves(claim, reference, t)]
    smallest = tuple(sorted({g for g in movers if not any(set(o) < set(g) for o in movers)}, key=lambda g: (len(g), g)))
    if smallest:
        kind = "package" if any(len(g) == 1 for g in smallest) else "together"
        return Blame(claim.id, smallest, kind, tuple(notes))
    if not differs(reference, claim.run, claim.noisy, claim.tolerance):
        notes.append("with the baseline's versions this checkout already measures the run's value")
        return Blame(claim.id, (), "code", tuple(notes))
    if everything is not None and claim.id in everything.outcomes:
        return Blame(claim.id, (), "code", tuple(notes))
    return Blame(claim.id, (), "unknown", tuple(notes))


def blame_text(found: Blame, changes: Sequence[PackageChange], trials: Sequence[Trial] = ()) -> str:
    """Who moved a claim, in words (the closing line of its report)."""
    by_name = {c.name: c for c in changes}
    if found.kind in ("package", "together"):
        forced = {t.moved for t in trials if t.purpose == GROUP}
        parts = []
        for group in found.culprits:
            if len(group) == 1:
                parts.append(_names(by_name, group))
            elif group in forced:
                parts.append(f"{_names(by_name, group)} (pip installs them only together)")
            else:
                parts.append(f"{_names(by_name, group)} together (neither alone)" if len(group) == 2 else
                             f"{_names(by_name, group)} together (no smaller set)")
        who = parts[0] if len(parts) == 1 else "each of these moves it: " + "; ".join(parts)
        return who
    if found.kind == "code":
        return ("no package moves it alone or together: the project's own code (this checkout "
                "against the one the run measured) or something the runs did not record")
    return f"not found ({'; '.join(found.notes) or 'no environment could be measured'})"

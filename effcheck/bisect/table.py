"""The bisection's report in words: per claim, one row per environment, then who moved it. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from effcheck.bisect.inputs import ChangedClaim, Outcome, PackageChange
from effcheck.bisect.verdicts import ALL, BASELINE, Trial, blame, blame_text, trial_verdict
from effcheck.formatting import integer_pair

HEADER = ("claim", "package", "old -> new", "baseline value", "value", "verdict")


@dataclass(frozen=True)
class Context:
    """What the report says around the table."""

    baseline_run: str
    run: str
    changes: tuple[PackageChange, ...]
    fixed: tuple[str, ...] = ()  # recorded differences pip cannot move (python, CUDA...)
    notes: tuple[str, ...] = ()  # from the claim selection
    skipped: tuple[str, ...] = ()  # environments not tried
    seconds: float = 0.0
    workdir: str = ""
    kept: bool = False


class Numbers:
    """One claim's values printed alike when equal and apart when not: counts in full ("20,496"), other
    values with the fewest significant digits (3 at least) that tell every distinct value apart."""

    def __init__(self, values: Sequence[float], unit: str) -> None:
        self.unit = unit
        distinct = sorted(set(values))
        self.whole = all(integer_pair(v, v) is not None for v in distinct)
        self.digits = next((d for d in range(3, 18) if len({f"{v:.{d}g}" for v in distinct}) == len(distinct)), 17)

    def __call__(self, outcome: Outcome | None) -> str:
        if outcome is None:
            return "-"
        if outcome.value is None:
            return outcome.verdict
        number = f"{int(outcome.value):,}" if self.whole else f"{outcome.value:,.{self.digits}g}"
        return f"{number} {self.unit}".strip()

    @classmethod
    def of(cls, claim: ChangedClaim, trials: Sequence[Trial]) -> Numbers:
        outcomes = [claim.baseline, claim.run, *(t.outcomes[claim.id] for t in trials if claim.id in t.outcomes)]
        return cls([o.value for o in outcomes if o.value is not None], claim.unit)


def _package(trial: Trial, changes: dict[str, PackageChange]) -> tuple[str, str]:
    if trial.purpose == BASELINE:
        return "(the baseline's versions)", ""
    if trial.purpose == ALL:
        return "(all: the run's versions)", ""
    return " + ".join(trial.moved), ", ".join(changes[n].versions for n in trial.moved)


def rows(claims: Sequence[ChangedClaim], trials: Sequence[Trial],
         changes: Sequence[PackageChange]) -> list[tuple[str, ...]]:
    by_name = {c.name: c for c in changes}
    out: list[tuple[str, ...]] = []
    base = next((t for t in trials if t.purpose == BASELINE and t.installed.ok), None)
    for claim in claims:
        reference = None if base is None else base.outcomes.get(claim.id)
        shown = Numbers.of(claim, trials)
        first = True
        for trial in trials:
            if trial.installed.ok and claim.id not in trial.outcomes:
                continue  # an interaction tried for other claims
            package, versions = _package(trial, by_name)
            if not trial.installed.ok:
                value, verdict = "-", "could not install"
            elif trial.purpose == BASELINE:
                value = shown(reference)
                verdict = "reproduces the baseline" if value == shown(claim.baseline) else \
                    f"recorded {shown(claim.baseline)}"
            else:
                outcome = trial.outcomes[claim.id]
                value = shown(outcome)
                verdict = trial_verdict(claim, reference, outcome)
            shown_ref = shown(reference) if trial.installed.ok else "-"
            out.append((claim.id if first else "", package, versions, shown_ref, value, verdict))
            first = False
    return out


def _columns(table: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def render(claims: Sequence[ChangedClaim], trials: Sequence[Trial], context: Context) -> str:
    changes = context.changes
    lines = [f"effcheck bisect: run {context.run} against baseline {context.baseline_run}: "
             f"{len(claims)} claim(s) rerun, {len(changes)} package(s) differ "
             f"({', '.join(c.text() for c in changes)})"]
    if context.fixed:
        lines.append(f"not bisected (pip cannot move them; the claims ran on this machine's): "
                     f"{', '.join(context.fixed)}")
    lines.extend(context.notes)
    lines.append("")
    if trials:
        lines.append(_columns([HEADER, *rows(claims, trials, changes)]))
        lines.append("")
        for claim in claims:
            found = blame(claim, trials, changes)
            shown = Numbers.of(claim, trials)
            recorded = f"{shown(claim.baseline)} -> {shown(claim.run)}"
            lines.append(f"=> {claim.id} (recorded {recorded}): {blame_text(found, changes, trials)}")
            lines.extend(f"   ({note})" for note in found.notes)
    base = next((t for t in trials if t.purpose == BASELINE and t.installed.ok), None)
    if base is not None and all(o.value is None for o in base.outcomes.values()):
        first = next(iter(base.outcomes.values()), None)
        lines.append("")
        lines.append("stopped: no claim gave a value with the baseline's versions, so no other environment was built"
                     + (f" ({first.text()})" if first is not None else "")
                     + "; if your tests import something the runs did not record, add it with --with REQ")
    by_name = {c.name: c for c in changes}
    failed = [t for t in trials if not t.installed.ok]
    if failed:
        lines.append("")
        lines.append("could not install:")
        for t in failed:
            what = " + ".join(by_name[n].text() for n in t.moved) if t.moved else "the baseline's versions"
            alone = " alone" if len(t.moved) == 1 else ""
            lines.append(f"  {what}{alone}: {t.installed.reason}")
    if context.skipped:
        lines.append(f"not tried (the --max-trials limit): {', '.join(context.skipped)}")
    lines.append("")
    lines.append("installed:")
    for t in trials:
        if not t.installed.ok:
            continue
        what = " + ".join(by_name[n].text() for n in t.moved) if t.moved else \
            "the baseline's versions (" + ", ".join(f"{c.name} {c.old or 'absent'}" for c in changes) + ")"
        also = f"; pip also moved {', '.join(t.installed.also_moved)}" if t.installed.also_moved else ""
        also += f"; pip check: {t.installed.warning}" if t.installed.warning else ""
        lines.append(f"  {what}: pip {_duration(t.installed.seconds)}, claims {_duration(t.seconds)}{also}")
    where = f"; scratch folder kept: {context.workdir}" if context.kept and context.workdir else \
        " (scratch folder removed; --keep keeps it)" if context.workdir else ""
    lines.append(f"wall time {_duration(context.seconds)}{where}")
    return "\n".join(lines)

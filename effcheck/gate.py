"""The regression gate: a claim's result against its baseline's, every metric, both directions.

(What each claim is compared with is decided in effcheck.baseline; this module decides whether it moved.)
Exact metrics (parameters, MACs, bytes) must not move: any change is reported and a move the wrong
way fails; a tolerance override never loosens them (only acceptance moves an exact baseline). Noisy
metrics (time ratios) regress only when the per-round samples show a significant shift (one-sided
Mann-Whitney U) *and* the medians moved beyond the tolerance, and they fail a build only once their
scope holds MIN_HISTORY accepted runs: with fewer, nobody knows the between-run drift yet, so the change
is reported and not failed. An improvement beyond the tolerance is reported too: it means a stale
baseline or a broken benchmark, and can fail on request.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from enum import Enum
from fractions import Fraction
from typing import Any

from effcheck.errors import SchemaError, UsageError
from effcheck.formatting import fmt_pair, fmt_percent, integer_pair
from effcheck.patterns import id_matches
from effcheck.records import ClaimResult, Ledger
from effcheck.stats import mann_whitney_less, median
from effcheck.stored_numbers import delta_numbers

# The median of an interleaved time ratio drifts between runs by more than its within-run spread shows:
# on a shared 2-core CPU unchanged reruns fell in two machine states about 22% apart (the rank test on
# one run's samples cannot see that; pooling the baseline over recent runs does), while a 25% slowdown of
# one model's forward moved its ratios by 20-50%. With 20% and pooling, 5 unchanged reruns raised no alarm
# and 5 slowed runs were all flagged; a dedicated runner can tighten it with --effcheck-compare-fail.
DEFAULT_NOISY_TOLERANCE = 0.20
ALPHA = 0.05
MIN_SAMPLES = 3
# Accepted runs a noisy claim's scope needs before a move may fail a build (see README, "short history").
MIN_HISTORY = 3

_TOLERANCE = re.compile(r"^(?:(?P<pattern>[^=]+)=)?(?P<number>\d+(?:\.\d+)?|\.\d+)(?P<percent>%?)$")


def parse_tolerance(spec: str) -> tuple[str, float]:
    """'5%', '0.5%', '0.05' or 'vision/*=2%' -> (claim-id pattern, fraction)."""
    match = _TOLERANCE.match(spec.strip())
    if not match:
        raise UsageError(
            f"--effcheck-compare-fail={spec!r} does not parse: use a percent such as 5% or 0.5%, "
            "optionally for some claims as PATTERN=5% (e.g. 'vision/*=2%')"
        )
    value = float(match["number"]) / (100 if match["percent"] else 1)
    if not match["percent"] and value > 1:
        raise UsageError(f"--effcheck-compare-fail={spec!r}: a bare number is a fraction (<= 1); write {spec}%")
    return (match["pattern"] or "*").strip(), value


@dataclass(frozen=True)
class GatePolicy:
    overrides: tuple[tuple[str, float], ...] = ()  # (claim-id glob, tolerance); the last match wins
    fail_on_improvement: bool = False
    require_baseline: bool = False
    accept: tuple[str, ...] = ()  # claim-id globs whose changes this run accepts (--effcheck-accept)
    min_history: int = MIN_HISTORY

    @classmethod
    def from_specs(cls, specs: Iterable[str], **kwargs: Any) -> GatePolicy:
        return cls(overrides=tuple(parse_tolerance(s) for s in specs), **kwargs)

    def tolerance_for(self, claim_id: str, claim_tolerance: float | None, noisy: bool) -> float:
        chosen = None
        for pattern, value in self.overrides:
            if id_matches(claim_id, pattern):
                chosen = value
        own = claim_tolerance if claim_tolerance is not None else (DEFAULT_NOISY_TOLERANCE if noisy else 0.0)
        if chosen is None:
            return own
        return chosen if noisy else min(chosen, own)  # an exact metric is never loosened by an override

    def accepts(self, claim_id: str) -> bool:
        return any(id_matches(claim_id, p) for p in self.accept)

    def warnings(self, claim_ids: Iterable[str] | None = None) -> list[str]:
        """Settings that are probably mistakes: a tolerance over 100%, a pattern that matches no claim."""
        found = [f"--effcheck-compare-fail={p}={v:.0%}: a tolerance over 100% lets a metric double unnoticed"
                 for p, v in self.overrides if v > 1]
        if claim_ids is not None:
            ids = list(claim_ids)
            for pattern, _ in self.overrides:
                if not any(id_matches(c, pattern) for c in ids):
                    found.append(f"--effcheck-compare-fail pattern {pattern!r} matches no claim of this run")
            for pattern in self.accept:
                if not any(id_matches(c, pattern) for c in ids):
                    found.append(f"--effcheck-accept={pattern} matches no claim of this run: nothing accepted")
        return found


def relative_change(before: float, after: float) -> float:
    """(after - before) / |before|, exactly rounded; a move from zero is infinite, signed as the move (a
    Delta says "from zero" and shows both values: there is no percentage of nothing)."""
    if after == before:
        return 0.0
    if before == 0:
        return math.copysign(math.inf, after)
    exact_before, exact_after = _exact(before), _exact(after)  # floats' own subtraction could round a move to 0
    try:
        return float((exact_after - exact_before) / abs(exact_before))
    except OverflowError:  # beyond the largest float (a move from 1e-300 to 1e300)
        return math.copysign(math.inf, exact_after - exact_before)


def _exact(value: Any) -> Fraction:  # a float, or an int (a count) that a float would round
    return Fraction(int(value)) if isinstance(value, numbers.Integral) else Fraction(float(value))


def change_words(before: float | None, after: float | None, change: float | None) -> str:
    """The change between two values as every report prints it: '-2.2%'; a count's move also as a number
    ('+1, +0.00007%'); 'from zero' (no percentage of nothing). Never '+0.0%' for values that differ."""
    if change is None or before is None or after is None:
        return "-"
    if before == 0 and after != 0:
        return "from zero"
    whole = integer_pair(before, after)
    counted = f"{whole[1] - whole[0]:+,}, " if whole is not None and before != after else ""
    return counted + fmt_percent(change, signed=True)


class Status(str, Enum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    CHANGED = "changed"  # moved, within tolerance: reported, never failing
    UNCHANGED = "unchanged"
    NEW = "new"  # no baseline for this claim
    MISSING = "missing"  # in the baseline, not measured now
    NOT_COMPARED = "not compared"


@dataclass(frozen=True)
class Delta:
    claim_id: str
    status: Status
    message: str
    baseline_run: str = ""
    baseline_value: float | None = None
    current_value: float | None = None
    unit: str = ""
    change: float | None = None
    tolerance: float = 0.0
    p_value: float | None = None
    noisy: bool = False
    history: int = 0  # accepted runs in the claim's scope (noisy claims fail only from policy.min_history)
    accepted: bool = False  # this run accepts the change (--effcheck-accept): reported, never failing
    scope: str = ""
    environment_change: str = ""  # software versions that differ from the baseline's
    verdict_flip: str = ""  # 'PASS -> FINDING': the verdict differs from the baseline's (a change, moved or not)
    # '808 -> 1,008 params against baseline run 0005_x': the facts file's line (this delta's baseline) differs
    # from the newest accepted run, i.e. the change was accepted in the file (a pull request's reviewed diff)
    facts_accepted: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))

    def short_history(self, policy: GatePolicy) -> bool:
        return self.noisy and self.history < policy.min_history and not policy.require_baseline

    def failing(self, policy: GatePolicy) -> bool:
        if self.accepted:
            return False
        if self.status in (Status.REGRESSION, Status.IMPROVEMENT) and self.short_history(policy):
            return False
        if self.status is Status.REGRESSION:
            return True
        if self.status is Status.IMPROVEMENT:
            return policy.fail_on_improvement
        if self.status is Status.NEW:
            return policy.require_baseline
        return False

    def change_text(self) -> str:
        """The change as reports print it ('-2.2%', 'from zero'; '-' when nothing was compared)."""
        return change_words(self.baseline_value, self.current_value, self.change)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: an infinite change (a move from zero) is stored as null, as JSON has no infinity;
        from_dict derives it again from the two values."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["status"] = self.status.value
        if self.change is not None and not math.isfinite(self.change):
            data["change"] = None
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Delta:
        """A delta as to_dict (or an older effcheck, which wrote an infinite change as "inf") stored it;
        SchemaError when it is malformed (a number that is no finite number, an unknown status)."""
        try:
            if not isinstance(data, Mapping):
                raise TypeError(f"a delta must be an object, got {type(data).__name__}")
            names = {f.name for f in fields(cls)}
            known: dict[str, Any] = {k: v for k, v in data.items() if k in names}
            known.update(delta_numbers(data))
            before, after = known.get("baseline_value"), known.get("current_value")
            if known.get("change") is None and before is not None and after is not None:
                known["change"] = relative_change(before, after)
            history = known.get("history", 0)
            if isinstance(history, bool) or not isinstance(history, int):
                raise TypeError(f"history must be an integer, got {history!r}")
            for name in ("claim_id", "message", "baseline_run", "unit", "scope", "environment_change", "verdict_flip",
                         "facts_accepted"):
                if not isinstance(known.get(name, ""), str):
                    raise TypeError(f"{name} must be a string")
            return cls(**known)
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(f"not an effcheck gate delta ({exc})") from exc


def _worse(direction: str, change: float) -> bool:
    if direction == "higher":
        return change < 0
    if direction == "lower":
        return change > 0
    return change != 0  # no better direction: any move is unexpected


def _p_worse(direction: str, current: tuple[float, ...], baseline: tuple[float, ...]) -> tuple[float, float]:
    """(p that current is worse, p that current is better) from the raw samples."""
    lower = mann_whitney_less(current, baseline)
    higher = mann_whitney_less(baseline, current)
    if direction == "higher":
        return lower, higher
    if direction == "lower":
        return higher, lower
    two_sided = min(1.0, 2 * min(lower, higher))
    return two_sided, 1.0  # with no direction, a significant move either way counts against


def compare_results(current: ClaimResult, baseline: ClaimResult | None, policy: GatePolicy,
                    baseline_run: str = "", pooled: tuple[float, ...] = (), history: int = 1,
                    environment_change: str = "", scope: str = "", why_none: str = "",
                    baseline_verdict: str | None = None) -> Delta:
    """pooled: the baseline's time samples over several accepted runs (else the baseline run's own);
    history: accepted runs in the claim's scope; environment_change: the software diff to the baseline;
    baseline_verdict: the verdict label the baseline was judged with (default: the baseline record's own;
    '' when unknown, as for a line of the facts file no saved run holds)."""
    from effcheck.checks import verdict_label

    delta = _compare(current, baseline, policy, baseline_run, pooled, why_none)
    noisy = current.claim.noisy
    accepted = policy.accepts(current.claim.id) and delta.status in (
        Status.REGRESSION, Status.IMPROVEMENT, Status.CHANGED)
    message = delta.message
    if accepted:
        message += "; accepted by this run (--effcheck-accept)"
    if environment_change and baseline is not None:
        message += f"; environment changed since baseline {_short(baseline_run)}: {environment_change}"
    before = baseline_verdict if baseline_verdict is not None or baseline is None else verdict_label(baseline)
    flip = ""
    if before and current.measurement is not None and delta.status is not Status.NOT_COMPARED:
        now = verdict_label(current)
        flip = f"{before} -> {now}" if now != before else ""
    if flip:
        message += f"; verdict {flip}"
    moved = delta.status in (Status.REGRESSION, Status.IMPROVEMENT)
    if moved and noisy and history < policy.min_history and not accepted:
        if policy.require_baseline:
            message += f"; history short ({history} of {policy.min_history} runs) but --effcheck-require-baseline"
        else:
            message += (f"; history too short: {history} of {policy.min_history} runs (reported, not failing "
                        "until the between-run drift is known)")
    return Delta(delta.claim_id, delta.status, message, delta.baseline_run, delta.baseline_value,
                 delta.current_value, delta.unit, delta.change, delta.tolerance, delta.p_value, noisy,
                 history if baseline is not None else 0, accepted, scope, environment_change, flip)


def baseline_words(baseline: str) -> str:
    """'baseline run 0003_x', or the tracked facts file ('effcheck-facts.txt') a fact was compared with."""
    return baseline if baseline.endswith(".txt") else f"baseline run {baseline or '-'}"


def _short(run: str) -> str:
    return run.split("_", 1)[0] if run else "-"


def _compare(current: ClaimResult, baseline: ClaimResult | None, policy: GatePolicy, baseline_run: str,
             pooled: tuple[float, ...], why_none: str) -> Delta:
    claim = current.claim
    cid = claim.id
    if current.measurement is None:  # skipped or broken now: nothing to hold against any baseline
        return Delta(cid, Status.NOT_COMPARED, f"{cid}: not measured in this run", baseline_run)
    if baseline is None:
        why = why_none or f"no baseline for this claim in run {baseline_run or '-'}"
        return Delta(cid, Status.NEW, f"{cid}: {why}", baseline_run)
    cm, bm = current.measurement, baseline.measurement
    if cm is None or bm is None:
        why = "not measured in this run" if cm is None else "not measured in the baseline"
        return Delta(cid, Status.NOT_COMPARED, f"{cid}: {why}", baseline_run)
    if cm.unit != bm.unit or baseline.claim.metric != claim.metric:
        return Delta(cid, Status.NOT_COMPARED,
                     f"{cid}: the metric changed ({baseline.claim.metric} [{bm.unit}] -> {claim.metric} "
                     f"[{cm.unit}]): save a new baseline", baseline_run)
    tol = policy.tolerance_for(cid, claim.tolerance, claim.noisy)
    b, c = bm.value, cm.value
    change = relative_change(b, c)
    p = None
    base_samples = pooled if len(pooled) > len(bm.samples) else bm.samples
    if claim.noisy and len(cm.samples) >= MIN_SAMPLES and len(base_samples) >= MIN_SAMPLES:
        b, c = median(base_samples), median(cm.samples)
        change = relative_change(b, c)
        p_worse, p_better = _p_worse(claim.better, cm.samples, base_samples)
        large = abs(change) > tol
        if large and _worse(claim.better, change) and p_worse < ALPHA:
            status, p = Status.REGRESSION, p_worse
        elif large and not _worse(claim.better, change) and p_better < ALPHA:
            status, p = Status.IMPROVEMENT, p_better
        else:
            status, p = (Status.CHANGED if large else Status.UNCHANGED), min(p_worse, p_better)
    elif c == b:
        status = Status.UNCHANGED
    elif abs(change) <= tol or abs(c - b) <= (claim.resolution or 0.0):
        status = Status.CHANGED  # within tolerance, or the same result to the claim's resolution
    else:
        status = Status.REGRESSION if _worse(claim.better, change) else Status.IMPROVEMENT
    kind = "exact" if not claim.noisy else "noisy"
    stat = f", one-sided rank test p={p:.3g}" if p is not None else ""
    if p is not None and base_samples is pooled:
        stat += f" against {len(pooled)} samples pooled over accepted runs"
    was, now = fmt_pair(b, c)
    resolved = f"; resolution {fmt_pair(claim.resolution, c)[0]} {cm.unit}" if claim.resolution else ""
    message = (
        f"{cid}: {status.value}: {claim.metric} was {was} {cm.unit} in {baseline_words(baseline_run)}, "
        f"now {now} {cm.unit} ({change_words(b, c, change)}); tolerance {fmt_percent(tol)} ({kind}, "
        f"{claim.better} is better){stat}{resolved}"
    )
    return Delta(cid, status, message, baseline_run, b, c, cm.unit, change, tol, p)


def compare_ledgers(current: Ledger, baseline: Ledger, policy: GatePolicy, baseline_run: str = "",
                    any_device: bool = False) -> list[Delta]:
    """Every claim of both runs: compared, new, or missing now. A claim whose metric depends on the
    device compares only when both runs measured it on the same device (unless any_device)."""
    from effcheck.baseline import scope_of
    from effcheck.env import software_diff

    base = baseline.by_id()
    now = current.by_id()
    change = software_diff(baseline.environment, current.environment)
    deltas = []
    for cid, result in sorted(now.items()):
        previous = base.get(cid)
        scope = scope_of(result, current.environment)
        if previous is not None and result.measurement is not None and not any_device:
            before = scope_of(previous, baseline.environment)
            if previous.measurement is not None and before != scope:
                deltas.append(Delta(cid, Status.NOT_COMPARED, f"{cid}: measured on {before} in {baseline_run or '-'} "
                                    f"and on {scope} now: a device quantity, not compared", baseline_run,
                                    scope=scope))
                continue
        deltas.append(compare_results(result, previous, policy, baseline_run, history=policy.min_history,
                                      environment_change=change, scope=scope))
    measured_before = {cid for cid, r in base.items() if r.measurement is not None}
    for cid in sorted(measured_before - set(now)):
        deltas.append(Delta(cid, Status.MISSING, f"{cid}: in baseline run {baseline_run or '-'} but not in this run",
                            baseline_run))
    return deltas

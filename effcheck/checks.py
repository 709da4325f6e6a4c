"""Pure checks: a claim held against a measurement gives a verdict and a sentence."""

from __future__ import annotations

from effcheck.records import Claim, ClaimResult, Measurement, Verdict


def bounds(claim: Claim) -> tuple[float | None, float | None]:
    """The accepted interval [low, high] for the measured value (None: unbounded on that side)."""
    e, m = claim.expected, claim.margin
    if claim.comparison == "==":
        return e, e
    if claim.comparison == ">=":
        return e - m * abs(e), None
    if claim.comparison == "<=":
        return None, e + m * abs(e)
    if claim.comparison == "~":
        return e - m * abs(e), e + m * abs(e)
    high = claim.expected_high
    assert high is not None  # guaranteed by Claim validation
    return e - m * abs(e), high + m * abs(high)


def holds(claim: Claim, value: float) -> bool:
    low, high = bounds(claim)
    return (low is None or value >= low) and (high is None or value <= high)


def evaluate(claim: Claim, measurement: Measurement, nodeid: str = "") -> ClaimResult:
    """Hold the measurement against the claim.

    A claim marked refuted is expected to fail; when it fails we report REFUTED with the evidence,
    and when it unexpectedly holds we report FAIL so somebody revisits the note (strict xfail). A noisy
    claim is the exception: a timed quantity depends on the device, and its note records what one
    machine measured, so on a device where it holds it PASSes and says the note is another machine's
    (CI's hosted CPU measured 1.97x where this note's CPU measures 1.6x). A change on the same device
    is the gate's to catch: the history of a timed claim is scoped to its device.
    """
    if measurement.unit != claim.unit:
        raise ValueError(f"{claim.id}: measured in {measurement.unit!r}, claim is in {claim.unit!r}")
    ok = holds(claim, measurement.value)
    if ok and claim.refuted is None:
        verdict = Verdict.PASS
    elif ok:
        verdict = Verdict.PASS if claim.noisy else Verdict.FAIL
    elif claim.refuted is not None:
        verdict = Verdict.REFUTED
    else:
        verdict = Verdict.FAIL
    return ClaimResult(claim, verdict, message(claim, measurement, verdict), measurement, nodeid)


def message(claim: Claim, measurement: Measurement, verdict: Verdict) -> str:
    """One sentence a reader can act on: claimed, measured, margin, source."""
    text = (
        f"{claim.id} {verdict.value}: claimed {claim.statement!r} ({claim.metric} "
        f"{claim.expectation(against=measurement.value)}); "
        f"measured {measurement.describe(against=claim.expected)} by {measurement.method} on {measurement.device}; "
        f"source: {claim.source}"
    )
    if verdict is Verdict.REFUTED:
        text += f"; {refutation_lead(claim)}: {claim.refuted}"
    elif verdict is Verdict.FAIL and claim.refuted is not None:
        text += f"; this claim was recorded as refuted ({claim.refuted}) but now holds: revisit the note"
    elif verdict is Verdict.PASS and claim.refuted is not None:
        text += (f"; holds on this device although recorded as refuted where its note was measured "
                 f"({claim.refuted}): a timed outcome that depends on the hardware")
    return text


# What a REFUTED verdict says, by whose sentence the claim checks: only that source is blamed.
_REFUTATION_LEADS = {
    "article": "the article is wrong here",
    "paper": "the cited source's figure differs from the architecture",
    "suite": "finding (the suite's own premise does not hold; nobody's claim is wrong)",
    "user": "the claim does not hold",
}
# How the claims table labels a REFUTED verdict, by source kind.
_REFUTED_LABELS = {"article": "REFUTED", "paper": "REFUTED (paper)", "suite": "FINDING", "user": "REFUTED"}


def refutation_lead(claim: Claim) -> str:
    return _REFUTATION_LEADS[claim.source_kind]


def verdict_label(result: ClaimResult) -> str:
    """The verdict as the claims table shows it: REFUTED is qualified by whose sentence was refuted."""
    if result.verdict is Verdict.REFUTED:
        return _REFUTED_LABELS[result.claim.source_kind]
    label: str = result.verdict.value  # a str enum's value (mypy types it Any once narrowed to some members)
    return label


def failed(claim: Claim, measurement: Measurement, reason: str, nodeid: str = "") -> ClaimResult:
    """A claim whose measurement could not be completed (out of memory at one sweep point): FAIL, keeping
    what was measured, whatever the claim says, since a partial measurement proves nothing either way."""
    text = f"{message(claim, measurement, Verdict.FAIL)}; the measurement did not complete: {reason}"
    return ClaimResult(claim, Verdict.FAIL, text, measurement, nodeid)

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
    """One sentence a reader can act on: what the source said (its own words first, where the claim quotes
    them), how the suite reads it, what was measured, the margin and the source."""
    label = refuted_label(claim) if verdict is Verdict.REFUTED else verdict.value  # a finding is no refutation
    text = (
        f"{claim.id} {label}: {claimed(claim)} ({claim.metric} "
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


# Who speaks in a claim's quote, by source kind: the quote is shown in these words, before the suite's reading.
_SPEAKERS = {
    "article": "the article says",
    "paper": "the cited source says",
    "suite": "the suite's own premise (not the article's words)",
    "user": "the source says",
}
# How the suite's reading follows the quote: a paraphrase of somebody's sentence is the suite's reading of it.
_READINGS = {"article": "the suite reads it as", "paper": "the suite reads it as", "suite": "checked as",
             "user": "checked as"}


def _clauses(source: str) -> list[str]:
    """A source's ';'-separated clauses, a ';' inside parentheses kept ("article §6.1 (lab code; ...)")."""
    clauses, depth, start = [], 0, 0
    for i, ch in enumerate(source):
        depth += (ch == "(") - (ch == ")")
        if ch == ";" and depth <= 0:
            clauses.append(source[start:i].strip())
            start = i + 1
    clauses.append(source[start:].strip())
    return [c for c in clauses if c]


def _without_trailing_note(text: str) -> str:
    """A place without the note in parentheses that ends it: "§4 (against §8's '60% faster')" -> "§4"; a
    parenthesis inside the place ("'Memory (Inference)' column") stays."""
    if not text.endswith(")"):
        return text
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += (text[i] == ")") - (text[i] == "(")
        if depth == 0:
            return text[:i].rstrip() if i > 0 else text
    return text


def quote_place(claim: Claim) -> str:
    """Where the quoted sentence stands, from the claim's source: the article's section ('§2.4', '§3 Scenario
    3', 'summary and §10'), or the cited work ('Tan & Le 2019 (EfficientNet, ICML) Table 2, ...'); '' when
    the source does not say."""
    clauses = _clauses(claim.source)
    if claim.source_kind == "article":
        for clause in clauses:
            if clause.startswith("article "):
                return _without_trailing_note(clause.removeprefix("article ").strip())
        return ""
    if claim.source_kind == "suite":
        return ""
    others = [c for c in clauses if not c.startswith("article ")]  # a paper row may name the article first
    return _without_trailing_note((others or clauses or [""])[0])


def quoted(claim: Claim) -> str | None:
    """The claim's own sentence as its source said it, verbatim (whitespace joined), with who said it and
    where: 'the article says (§2.4): "..."'. None when the claim quotes nothing (a user's claim may not)."""
    if not (claim.quote and claim.quote.strip()):
        return None
    place = quote_place(claim)
    where = f" ({place})" if place else ""
    return f'{_SPEAKERS[claim.source_kind]}{where}: "{" ".join(claim.quote.split())}"'


def claimed(claim: Claim) -> str:
    """What was claimed, for a verdict's sentence: the quoted sentence first, then the suite's reading of it
    (the statement, which may be stricter or narrower than the sentence); without a quote, the statement."""
    quote = quoted(claim)
    if quote is None:
        return f"claimed {claim.statement!r}"
    return f"{quote}; {_READINGS[claim.source_kind]}: {claim.statement}"


def reading_lead(claim: Claim) -> str:
    """The words that introduce the statement after the quote ('the suite reads it as', 'checked as')."""
    return _READINGS[claim.source_kind]


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


def refuted_label(claim: Claim) -> str:
    """How a claim recorded as refuted is labelled, by whose sentence it checks (REFUTED, REFUTED (paper),
    FINDING)."""
    return _REFUTED_LABELS[claim.source_kind]


def verdict_label(result: ClaimResult) -> str:
    """The verdict as the claims table shows it: REFUTED is qualified by whose sentence was refuted."""
    if result.verdict is Verdict.REFUTED:
        return refuted_label(result.claim)
    label: str = result.verdict.value  # a str enum's value (mypy types it Any once narrowed to some members)
    return label


def failed(claim: Claim, measurement: Measurement, reason: str, nodeid: str = "") -> ClaimResult:
    """A claim whose measurement could not be completed (out of memory at one sweep point): FAIL, keeping
    what was measured, whatever the claim says, since a partial measurement proves nothing either way."""
    text = f"{message(claim, measurement, Verdict.FAIL)}; the measurement did not complete: {reason}"
    return ClaimResult(claim, Verdict.FAIL, text, measurement, nodeid)

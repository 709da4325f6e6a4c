"""The pure core: claim evaluation and record round-trips, property-tested."""

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from effcheck.checks import bounds, evaluate, holds
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict
from tests.strategies import claims, finite, measurements


def _measure(claim: Claim, value: float) -> Measurement:
    return Measurement(value=value, unit=claim.unit, method="test")


@given(claims(), finite)
def test_verdict_agrees_with_bounds(claim, value):
    low, high = bounds(claim)
    inside = (low is None or value >= low) and (high is None or value <= high)
    result = evaluate(claim, _measure(claim, value))
    if claim.refuted is None:
        assert result.verdict is (Verdict.PASS if inside else Verdict.FAIL)
    elif claim.noisy:  # a timed refutation is one device's: where the claim holds, it passes
        assert result.verdict is (Verdict.PASS if inside else Verdict.REFUTED)
        assert not inside or "recorded as refuted where its note was measured" in result.message
    else:  # strict expected failure: refuted when it fails, FAIL when it unexpectedly holds
        assert result.verdict is (Verdict.FAIL if inside else Verdict.REFUTED)


@given(claims(comparison="=="), finite)
def test_exact_claims_pass_only_on_the_exact_value(claim, value):
    assert holds(claim, claim.expected)
    assert holds(claim, value) == (value == claim.expected)


@given(claims(comparison=">="))
def test_margin_widens_towards_failure_only(claim):
    low, high = bounds(claim)
    assert high is None and low <= claim.expected


@given(claims(), finite)
def test_failure_message_is_a_sentence_with_claim_measurement_and_source(claim, value):
    from effcheck.checks import verdict_label

    result = evaluate(claim, _measure(claim, value))
    # what was claimed: the quoted sentence (verbatim, whitespace joined) then the reading, or the statement
    quoted = bool(claim.quote and claim.quote.strip())
    said = f'"{" ".join(claim.quote.split())}"' if quoted else "claimed"
    reading = claim.statement if quoted else repr(claim.statement)
    for part in (claim.id, verdict_label(result), claim.source, said, reading, "measured"):
        assert part in result.message


@given(claims(), measurements())
def test_claim_result_round_trips_through_json(claim, measurement):
    measurement = Measurement.from_dict({**measurement.to_dict(), "unit": claim.unit})
    result = evaluate(claim, measurement, nodeid="benchmarks/test_x.py::test_y")
    again = ClaimResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.claim == claim
    assert again.verdict is result.verdict
    assert again.measurement.value == measurement.value
    assert again.measurement.samples == measurement.samples
    assert again.nodeid == result.nodeid


@given(st.lists(finite, min_size=2, max_size=30))
def test_spread_is_an_ordered_interquartile_range(samples):
    m = Measurement(value=0.0, unit="x", method="t", samples=tuple(samples))
    lo, hi = m.spread
    assert min(samples) <= lo <= hi <= max(samples)


def test_unit_mismatch_is_refused():
    claim = Claim("a/b", "s", "src", "m", "x", ">=", 1.0)
    with pytest.raises(ValueError, match="measured in 'params'"):
        evaluate(claim, Measurement(2.0, "params", "t"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"comparison": "=~"}, "comparison must be one of"),
        ({"comparison": "==", "margin": 0.1}, "exact"),
        ({"comparison": "between"}, "expected_high is required"),
        ({"margin": 1.5}, "unfalsifiable"),
        ({"margin": float("nan")}, "margin"),
        ({"expected": float("inf")}, "finite"),
        ({"id": "has space/x"}, "claim id"),
        ({"better": "up"}, "better must be one of"),
        ({"source": ""}, "source must not be empty"),
    ],
)
def test_invalid_claims_fail_where_they_are_made(kwargs, match):
    base = dict(id="a/b", statement="s", source="src", metric="m", unit="x", comparison=">=", expected=1.0)
    with pytest.raises(ValueError, match=match):
        Claim(**{**base, **kwargs})


def test_ledger_refuses_a_newer_schema():
    from effcheck.errors import SchemaError

    with pytest.raises(SchemaError, match="newer effcheck"):
        Ledger.from_dict({"schema_version": 999, "results": []})


@given(st.lists(claims(), max_size=4, unique_by=lambda c: c.id))
def test_ledger_round_trips(claim_list):
    results = [evaluate(c, _measure(c, c.expected), "n") for c in claim_list]
    assume(all(r.verdict for r in results))
    ledger = Ledger(results=tuple(results), environment={"device": "cpu"}, hardware_key="k", created="t")
    again = Ledger.from_dict(json.loads(json.dumps(ledger.to_dict())))
    assert [r.claim for r in again.results] == claim_list
    assert again.hardware_key == "k"


def test_json_form_holds_only_builtin_types():
    class Version(str):
        pass

    m = Measurement(1.0, "x", "t", details={"torch": Version("2.9.1"), "flag": True, "n": 3})
    details = m.to_dict()["details"]
    assert type(details["torch"]) is str and details["flag"] is True and type(details["n"]) is int


@pytest.mark.parametrize(
    ("kind", "label", "lead"),
    [
        ("article", "REFUTED", "the article is wrong here"),
        ("paper", "REFUTED (paper)", "the cited source's figure differs"),
        ("suite", "FINDING", "the suite's own premise does not hold"),
        ("user", "REFUTED", "the claim does not hold"),
    ],
)
def test_a_refuted_verdict_blames_only_the_source_it_quotes(kind, label, lead):
    from effcheck.checks import verdict_label

    claim = Claim(id="f/c", statement="s", source="src", metric="m", unit="x", comparison=">=", expected=2.0,
                  refuted="measured 1x", source_kind=kind, quote="the sentence" if kind != "user" else None)
    result = evaluate(claim, Measurement(value=1.0, unit="x", method="test"))
    assert result.verdict is Verdict.REFUTED
    assert verdict_label(result) == label
    assert lead in result.message
    assert ("article is wrong" in result.message) == (kind == "article")


def test_unknown_source_kind_and_unquoted_article_claim_fail_at_construction():
    with pytest.raises(ValueError, match="source_kind must be one of"):
        Claim(id="f/c", statement="s", source="src", metric="m", unit="x", comparison="==", expected=1,
              source_kind="blog")
    with pytest.raises(ValueError, match="must quote the sentence"):
        Claim(id="f/c", statement="s", source="src", metric="m", unit="x", comparison="==", expected=1,
              source_kind="article")


@pytest.mark.parametrize("comparison, expected, value, shown, table", [
    ("==", 1362344, 1362345, "(parameters == 1,362,344 params); measured 1,362,345 params by", "== 1.362e+06 params"),
    ("<=", 0.9991, 0.9994, "(parameters <= 0.9991 params); measured 0.9994 params by", "<= 0.999 params"),
    ("==", 19210, 19210, "(parameters == 19,210 params); measured 19,210 params by", "== 19210 params"),
])
def test_a_verdict_shows_the_claimed_and_measured_values_apart_when_they_differ(comparison, expected, value,
                                                                                shown, table):
    claim = Claim("mine/params", "the student is small", "design doc", "parameters", "params", comparison, expected)
    result = evaluate(claim, Measurement(value, "params", "counted"))
    assert shown in result.message
    assert claim.expectation() == table  # the claims table keeps its compact single values

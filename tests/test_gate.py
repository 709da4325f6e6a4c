"""The gate's pure core: tolerances, rank statistics and deltas, property-tested."""

import json
import math
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from effcheck.errors import SchemaError, UsageError
from effcheck.formatting import fmt_pair, fmt_percent
from effcheck.gate import Delta, GatePolicy, Status, compare_ledgers, compare_results, parse_tolerance
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict
from effcheck.stats import mann_whitney_less, median


def _claim(noisy=False, better="higher", tolerance=None, cid="fam/x"):
    return Claim(id=cid, statement="s", source="src", metric="m", unit="x", comparison=">=", expected=0.0,
                 better=better, noisy=noisy, tolerance=tolerance)


def _result(claim, value, samples=()):
    return ClaimResult(claim, Verdict.PASS, "", Measurement(value, "x", "t", samples=tuple(samples)))


@pytest.mark.parametrize("spec, expected", [
    ("5%", ("*", 0.05)), ("0.5%", ("*", 0.005)), ("0.05", ("*", 0.05)), ("vision/*=2%", ("vision/*", 0.02)),
    (" 10% ", ("*", 0.10)), (".5%", ("*", 0.005)),
])
def test_tolerances_parse(spec, expected):
    assert parse_tolerance(spec) == pytest.approx(expected)


@pytest.mark.parametrize("spec", ["abc", "5 %", "-5%", "5", "=5%", "5%%", ""])
def test_bad_tolerances_are_one_line_usage_errors(spec):
    with pytest.raises(UsageError, match="compare-fail"):
        parse_tolerance(spec)


def test_last_matching_override_wins_then_claim_then_default():
    policy = GatePolicy.from_specs(["10%", "vision/*=1%"])
    assert policy.tolerance_for("vision/a", 0.5, False) == 0.01
    assert policy.tolerance_for("llm/a", 0.5, False) == 0.10
    assert GatePolicy().tolerance_for("llm/a", 0.3, True) == 0.3
    assert GatePolicy().tolerance_for("llm/a", None, False) == 0.0


@given(st.floats(0.1, 1e9), st.sampled_from(["higher", "lower", "none"]))
def test_exact_metric_unchanged_is_unchanged(value, better):
    claim = _claim(better=better)
    assert compare_results(_result(claim, value), _result(claim, value), GatePolicy()).status is Status.UNCHANGED


@given(st.floats(1.0, 1e9), st.floats(0.001, 0.9))
def test_exact_metric_worsening_fails_and_improvement_is_reported(value, step):
    claim = _claim(better="higher")
    worse = compare_results(_result(claim, value * (1 - step)), _result(claim, value), GatePolicy())
    better = compare_results(_result(claim, value * (1 + step)), _result(claim, value), GatePolicy())
    assert worse.status is Status.REGRESSION and worse.failing(GatePolicy())
    assert better.status is Status.IMPROVEMENT and not better.failing(GatePolicy())
    assert better.failing(GatePolicy(fail_on_improvement=True))


def test_exact_metric_change_within_tolerance_is_reported_not_failed():
    claim = _claim(tolerance=0.05)
    delta = compare_results(_result(claim, 0.98), _result(claim, 1.0), GatePolicy())
    assert delta.status is Status.CHANGED and not delta.failing(GatePolicy())


def test_without_a_better_direction_any_move_is_a_regression():
    claim = _claim(better="none")
    assert compare_results(_result(claim, 1.1), _result(claim, 1.0), GatePolicy()).status is Status.REGRESSION


def _samples(center, n=9, wiggle=0.03):
    return [center * (1 + wiggle * (((i * 7) % n) / (n - 1) - 0.5)) for i in range(n)]


@pytest.mark.parametrize("shift, status", [(0.0, Status.UNCHANGED), (-0.25, Status.REGRESSION),
                                           (0.25, Status.IMPROVEMENT), (-0.05, Status.UNCHANGED)])
def test_noisy_metric_needs_significance_and_effect(shift, status):
    claim = _claim(noisy=True)
    base = _samples(2.0)
    now = _samples(2.0 * (1 + shift))
    delta = compare_results(_result(claim, median(now), now), _result(claim, median(base), base), GatePolicy())
    assert delta.status is status, delta.message


def test_noisy_metric_large_move_seen_in_overlapping_noise_is_not_a_regression():
    claim = _claim(noisy=True)
    base = [1.0, 3.0, 1.1, 2.9, 1.2, 2.8]  # bimodal noise: medians differ but samples overlap
    now = [1.0, 2.7, 1.05, 2.6, 0.9, 1.5]
    delta = compare_results(_result(claim, median(now), now), _result(claim, median(base), base), GatePolicy())
    assert delta.status in (Status.CHANGED, Status.UNCHANGED)
    assert delta.p_value is not None and delta.p_value >= 0.05


def test_mann_whitney_matches_known_values():
    assert mann_whitney_less([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) < 0.01
    assert mann_whitney_less([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) > 0.99
    assert mann_whitney_less([1, 1, 1], [1, 1, 1]) == 1.0  # all tied: nothing to test
    assert mann_whitney_less([], [1.0]) == 1.0


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=15), st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=15))
def test_mann_whitney_is_a_probability(a, b):
    assert 0.0 <= mann_whitney_less(a, b) <= 1.0


def test_ledgers_compare_new_missing_and_metric_changes():
    a, b, c = _claim(cid="f/a"), _claim(cid="f/b"), _claim(cid="f/c")
    c_renamed = Claim(**{**c.to_dict(), "metric": "other"})
    base = Ledger((_result(a, 1.0), _result(b, 1.0), _result(c, 1.0)), {}, "k", "t")
    now = Ledger((_result(a, 1.0), _result(c_renamed, 1.0), _result(_claim(cid="f/new"), 1.0)), {}, "k", "t")
    statuses = {d.claim_id: d.status for d in compare_ledgers(now, base, GatePolicy(), "0001")}
    assert statuses == {"f/a": Status.UNCHANGED, "f/b": Status.MISSING, "f/c": Status.NOT_COMPARED,
                        "f/new": Status.NEW}
    new = [d for d in compare_ledgers(now, base, GatePolicy(require_baseline=True)) if d.claim_id == "f/new"]
    assert new[0].failing(GatePolicy(require_baseline=True))


def test_a_claim_skipped_in_the_baseline_is_not_missing_now():
    gpu_only = _claim(cid="f/gpu")
    base = Ledger((ClaimResult(gpu_only, Verdict.SKIP, "no CUDA"),), {}, "k", "t")
    assert compare_ledgers(Ledger((), {}, "k", "t"), base, GatePolicy()) == []


def test_skipped_claims_are_not_compared():
    claim = _claim()
    skipped = ClaimResult(claim, Verdict.SKIP, "no GPU")
    assert compare_results(skipped, _result(claim, 1.0), GatePolicy()).status is Status.NOT_COMPARED


def test_pooled_baseline_samples_absorb_drift_between_runs():
    claim = _claim(noisy=True)
    low, high = _samples(2.0), _samples(2.5)  # two earlier runs in two machine states, 25% apart
    now = _samples(2.5)
    alone = compare_results(_result(claim, median(now), now), _result(claim, median(low), low), GatePolicy())
    pooled = compare_results(_result(claim, median(now), now), _result(claim, median(low), low), GatePolicy(),
                             pooled=tuple(low + high))
    assert alone.status is Status.IMPROVEMENT
    assert pooled.status is Status.UNCHANGED and "pooled over accepted runs" in pooled.message


# every value a measurement may hold: floats of any magnitude, zero, and exact integers up to the float range
VALUES = (st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**308), 10**308)
          | st.sampled_from([0, 0.0, -0.0, 5, 1e-300, 1e300]))


@given(VALUES, VALUES, st.sampled_from(["higher", "lower", "none"]))
def test_every_delta_survives_the_ledgers_json_and_reads_the_same(before, after, better):
    delta = compare_results(_result(_claim(better=better), after), _result(_claim(better=better), before),
                            GatePolicy(), "0001_abc")
    assert (delta.status is Status.UNCHANGED) == (before == after)
    text = json.dumps(delta.to_dict(), allow_nan=False)  # as the history is written: JSON has no infinity
    assert Delta.from_dict(json.loads(text)) == delta
    if before == 0 and after != 0:  # a move from zero: infinite, named, never a percentage
        assert math.isinf(delta.change) and "(from zero)" in delta.message and delta.change_text() == "from zero"
    else:
        assert math.isfinite(delta.change) or abs(after) > 1e300 * abs(before)


@pytest.mark.parametrize("field, value", [("change", "NaN"), ("change", "fast"), ("current_value", 1e400),
                                          pytest.param("baseline_value", 10**400, id="baseline_value-10**400"),
                                          ("tolerance", None), ("p_value", True), ("status", "worse"),
                                          ("history", "3")])
def test_a_malformed_stored_delta_is_a_schema_error(field, value):
    stored = Delta("fam/x", Status.REGRESSION, "m", "0001_abc", 2.0, 1.0, "x", -0.5).to_dict()
    stored[field] = value
    with pytest.raises(SchemaError):
        Delta.from_dict(stored)


ZERO_PERCENT = re.compile(r"(^|[ (,])[+-]?0(\.0*)?%")  # "+0.0%", "-0%", "0.00%": what a move must never read as


@st.composite
def _close(draw):
    """Two values a small exact move apart: a count that gained a few, a float a few ulps or a tiny fraction on."""
    before = draw(VALUES)
    if isinstance(before, int):
        return before, before + draw(st.integers(-1000, 1000))
    if draw(st.booleans()):
        after = before
        for _ in range(draw(st.integers(1, 3))):
            after = math.nextafter(after, math.inf)
    else:
        after = before * (1 + draw(st.floats(-1e-3, 1e-3)))
    assume(math.isfinite(after))
    return before, after


@given(st.tuples(VALUES, VALUES) | _close())
def test_two_values_that_differ_always_read_apart_and_their_change_never_as_zero(pair):
    before, after = pair
    assume(before != after)
    was, now = fmt_pair(before, after)
    assert was != now
    delta = compare_results(_result(_claim(), after), _result(_claim(), before), GatePolicy(), "0001_abc")
    assert f"was {was} x in baseline run 0001_abc, now {now} x ({delta.change_text()})" in delta.message
    assert not ZERO_PERCENT.search(delta.change_text()), delta.change_text()


@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**300), 10**300))
def test_a_percentage_reads_zero_only_for_zero(fraction):
    for text in (fmt_percent(fraction), fmt_percent(fraction, signed=True)):
        assert bool(ZERO_PERCENT.search(text)) == (fraction == 0), text


@pytest.mark.parametrize("before, after, shown", [
    (1362344, 1362345, "was 1,362,344 x in baseline run 0001_abc, now 1,362,345 x (+1, +0.00007%)"),
    (1362344.0, 1362345.0, "was 1,362,344 x in baseline run 0001_abc, now 1,362,345 x (+1, +0.00007%)"),
    (0.9991, 0.9994, "was 0.9991 x in baseline run 0001_abc, now 0.9994 x (+0.03%)"),
    (4.5, 4.4, "was 4.5 x in baseline run 0001_abc, now 4.4 x (-2.2%)"),  # moves _fmt tells apart: as before
    (2.0, 1.5, "was 2 x in baseline run 0001_abc, now 1.5 x (-25.0%)"),
    (2**60, 2**60 + 1, "was 1,152,921,504,606,846,976 x in baseline run 0001_abc, "
                       "now 1,152,921,504,606,846,977 x (+8.7e-17%)"),  # beyond a float's integers
])
def test_small_exact_moves_read_as_moves(before, after, shown):
    delta = compare_results(_result(_claim(), after), _result(_claim(), before), GatePolicy(), "0001_abc")
    assert shown in delta.message
    assert delta.change_text() == shown.rsplit("(", 1)[1].rstrip(")")


def test_a_tolerance_below_a_tenth_of_a_percent_is_not_printed_as_zero():
    policy = GatePolicy.from_specs(["0.05%"])
    delta = compare_results(_result(_claim(noisy=False), 2.0), _result(_claim(noisy=False), 2.0), policy)
    assert "tolerance 0.0%" in delta.message  # an exact metric's own tolerance: none (overrides never loosen it)
    noisy = compare_results(_result(_claim(noisy=True), 2.0), _result(_claim(noisy=True), 2.0), policy)
    assert "tolerance 0.05%" in noisy.message


@given(st.floats(1e-9, 1e-5), st.floats(-2e-6, 2e-6))
def test_a_move_within_a_claims_resolution_is_changed_never_a_regression(baseline, move):
    """A rounding-error metric (resolution 1e-6): an upgrade that reorders float32 arithmetic moves it by
    ulps, the same result; beyond the resolution a move the wrong way is still a regression."""
    claim = Claim(id="fam/err", statement="s", source="src", metric="error", unit="rel", comparison="<=",
                  expected=1e-5, better="lower", resolution=1e-6)
    current = max(0.0, baseline + move)
    delta = compare_results(_result(claim, current), _result(claim, baseline), GatePolicy(), "0001_r")
    if current == baseline:
        assert delta.status is Status.UNCHANGED
    elif abs(current - baseline) <= 1e-6:
        assert delta.status is Status.CHANGED and "; resolution 1e-06 " in delta.message
    else:
        assert delta.status is (Status.REGRESSION if current > baseline else Status.IMPROVEMENT)
    assert not (delta.status is Status.CHANGED and delta.failing(GatePolicy()))


def test_a_resolution_must_be_positive():
    with pytest.raises(ValueError, match="resolution must be > 0"):
        Claim(id="fam/err", statement="s", source="src", metric="error", unit="rel", comparison="<=",
              expected=1e-5, resolution=0.0)


def test_a_verdict_that_flips_is_a_change_even_when_the_value_stayed_within_tolerance():
    claim = _claim(tolerance=0.5)
    before = ClaimResult(claim, Verdict.PASS, "", Measurement(10.0, "x", "counted"))
    after = ClaimResult(claim, Verdict.FAIL, "", Measurement(10.5, "x", "counted"))
    delta = compare_results(after, before, GatePolicy(), "0001_a")
    assert delta.status is Status.CHANGED and delta.verdict_flip == "PASS -> FAIL"
    assert delta.message.endswith("; verdict PASS -> FAIL")
    assert Delta.from_dict(json.loads(json.dumps(delta.to_dict()))) == delta
    same = compare_results(before, before, GatePolicy(), "0001_a")
    assert same.verdict_flip == "" and "verdict" not in same.message
    unknown = compare_results(after, before, GatePolicy(), "facts.txt", baseline_verdict="")
    assert unknown.verdict_flip == ""  # a facts-file line no saved run holds: its verdict is unknown

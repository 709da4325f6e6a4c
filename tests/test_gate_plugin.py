"""The gate the way CI runs it: save a run, change a number, compare; bad baselines; xdist."""

import json
import xml.etree.ElementTree as ET

import pytest

CLAIMS = '''
from effcheck.records import Claim
EXACT = Claim(id="fam/exact", statement="X has 4x fewer params", source="paper T2", metric="ratio",
              unit="x", comparison=">=", expected=4.0, margin=0.1, better="higher")
NOISY = Claim(id="fam/noisy", statement="A is 2x faster", source="paper", metric="speedup", unit="x",
              comparison=">=", expected=1.0, better="higher", noisy=True)
'''

SUITE = '''
import os, pytest
from claimsdata import EXACT, NOISY
from effcheck.records import Measurement

@pytest.mark.claim(EXACT)
def test_exact(effcheck):
    effcheck.check(Measurement(float(os.environ.get("EXACT", "4.5")), "x", "counted"))

@pytest.mark.timed
@pytest.mark.claim(NOISY)
def test_noisy(effcheck):
    center = float(os.environ.get("NOISY", "2.0"))
    samples = [center * (1 + 0.02 * ((i * 7) % 5 - 2)) for i in range(9)]
    effcheck.check(Measurement(sorted(samples)[4], "x", "interleaved ratio", samples=samples))
'''


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.delenv("EXACT", raising=False)
    monkeypatch.delenv("NOISY", raising=False)
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    pytester.makeini("[pytest]\neffcheck_autosave = false\n")  # these runs save only where they say so
    return pytester


def _runs(pytester):
    return sorted((pytester.path / ".benchmarks").rglob("0*.json"))


def test_first_run_saves_claims_even_without_timed_benchmarks(suite):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    (saved,) = _runs(suite)
    data = json.loads(saved.read_text())
    assert {r["id"] for r in data["effcheck"]["results"]} == {"fam/exact", "fam/noisy"}
    assert data["benchmarks"] == []


def test_a_regression_is_a_failing_test_in_terminal_junit_and_exit_code(suite, monkeypatch):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    monkeypatch.setenv("EXACT", "4.4")
    monkeypatch.setenv("NOISY", "1.5")
    result = suite.runpytest("--benchmark-compare", "--junitxml=junit.xml")
    result.assert_outcomes(failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*effcheck gate: fam/exact: regression: ratio was 4.5 x in baseline run 0001_*, now 4.4 x (-2.2%); "
        "tolerance 0.0% (exact, higher is better)*",
        "*effcheck gate: fam/noisy: regression: speedup was 2 x*now 1.5 x (-25.0%); tolerance 20.0%*rank test p=*",
        "*gate: 2 regression; 2 failing*",
    ])
    failures = ET.parse(suite.path / "junit.xml").getroot().iter("failure")
    assert len(list(failures)) == 2


def test_unchanged_run_passes_and_noise_within_tolerance_passes(suite, monkeypatch):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    monkeypatch.setenv("NOISY", "1.9")  # -5%: inside the 20% default for time ratios
    result = suite.runpytest("--benchmark-compare")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*gate: 2 unchanged; 0 failing*"])


def test_improvement_is_reported_and_fails_on_request(suite, monkeypatch):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    monkeypatch.setenv("EXACT", "5.0")
    suite.runpytest("--benchmark-compare").assert_outcomes(passed=2)
    result = suite.runpytest("--benchmark-compare", "--effcheck-fail-on-improvement")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fam/exact: improvement*"])


def test_per_run_tolerance_override(suite, monkeypatch):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    monkeypatch.setenv("EXACT", "4.4")
    suite.runpytest("--benchmark-compare", "--effcheck-compare-fail=fam/exact=2.5%").assert_outcomes(passed=2)


def test_require_baseline_fails_closed_naming_the_fix(suite):
    result = suite.runpytest("--effcheck-require-baseline")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*no baseline saved for*run `pytest benchmarks/` once on this hardware*"])
    assert suite.runpytest("--benchmark-compare").ret == 0  # by default: warn, and this run saves nothing


def test_named_baseline_from_other_hardware_is_refused(suite):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    (saved,) = _runs(suite)
    data = json.loads(saved.read_text())
    data["effcheck"]["hardware_key"] = "NVIDIA H200|cuda12.8|torch2.9|float32"
    saved.write_text(json.dumps(data))
    result = suite.runpytest("--effcheck-baseline=0001")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*was measured on 'NVIDIA H200|cuda12.8|torch2.9|float32'*not compared*"])
    result = suite.runpytest("--benchmark-compare")  # implicit choice: no same-hardware run, said plainly
    result.stdout.fnmatch_lines(["*no baseline saved for*"])


def test_corrupt_baseline_is_a_one_line_error_and_stays_untouched(suite):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    folder = _runs(suite)[0].parent
    corrupt = folder / "0002_broken.json"
    corrupt.write_text("{not json")
    result = suite.runpytest("--effcheck-baseline=0002")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*0002_broken.json: not valid JSON*"])
    suite.runpytest("--benchmark-compare").assert_outcomes(passed=2)  # searching skips it
    assert corrupt.read_text() == "{not json"


def test_unknown_run_is_named(suite):
    result = suite.runpytest("--effcheck-baseline=0042")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no run '0042' in*"])


def test_xdist_loses_nothing_and_timed_tests_run_alone(suite):
    pytest.importorskip("xdist")
    serial = suite.runpytest_subprocess("--effcheck-json=serial.json", "-p", "no:cacheprovider")
    serial.assert_outcomes(passed=2)
    parallel = suite.runpytest_subprocess("-n", "2", "--benchmark-autosave", "--effcheck-json=parallel.json",
                                          "-p", "no:cacheprovider")
    parallel.assert_outcomes(passed=2)
    parallel.stdout.fnmatch_lines(["*1 timed test(s) ran alone under pytest-xdist*"])
    assert len(_runs(suite)) == 1  # the history file pytest-benchmark would not write under xdist

    def comparable(name):
        ledger = json.loads((suite.path / name).read_text())
        return [{k: v for k, v in r.items()} for r in ledger["results"]], ledger["hardware_key"]

    assert comparable("serial.json") == comparable("parallel.json")

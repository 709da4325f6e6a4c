"""The gate's promise on the paths users walk, with default flags: a regression is reported by the next gated
run unless someone accepted it. Each test is one case of issue 18 that gave a wrong "no regression" (or
lost history, or crashed) before; tests/test_gate_promise.py walks sequences of these steps at random."""

import json

import pytest

from effcheck.cli import main as effcheck_main

CLAIMS = '''
from effcheck.records import Claim
BYTES = Claim(id="fam/bytes", statement="X needs at most 100 bytes", source="design doc", metric="bytes",
              unit="B", comparison="<=", expected=100, better="lower")
PARAM = Claim(id="fam/param", statement="each size needs at most 100 bytes", source="design doc",
              metric="bytes", unit="B", comparison="<=", expected=100, better="lower")
NOISY = Claim(id="fam/noisy", statement="A is 2x faster", source="paper", metric="speedup", unit="x",
              comparison=">=", expected=1.0, better="higher", noisy=True)
'''

SUITE = '''
import json, os, pytest
from claimsdata import BYTES, PARAM, NOISY
from effcheck.records import Measurement

VALUES = json.loads(open("values.json").read()) if os.path.exists("values.json") else {}

@pytest.mark.claim(BYTES)
def test_bytes(effcheck):
    effcheck.check(Measurement(VALUES.get("bytes", 10), "B", "counted"))

@pytest.mark.claim(PARAM)
@pytest.mark.parametrize("n", [1, 2])
def test_param(effcheck, n):
    effcheck.check(Measurement(VALUES.get(f"param{n}", 10 * n), "B", "counted"))

@pytest.mark.timed
@pytest.mark.claim(NOISY)
def test_noisy(effcheck):
    center = VALUES.get("noisy", 2.0)
    samples = [center * (1 + 0.02 * ((i * 7) % 5 - 2)) for i in range(9)]
    effcheck.check(Measurement(sorted(samples)[4], "x", "interleaved ratio", samples=samples))
'''


@pytest.fixture
def project(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    return pytester


def _set(project, **values):
    (project.path / "values.json").write_text(json.dumps(values))


def _runs(project):
    return sorted((project.path / ".benchmarks").rglob("[0-9]*_*.json"))


def _statuses(result_dir, name="ledger.json"):
    ledger = json.loads((result_dir / name).read_text())
    return {d["claim_id"]: d["status"] for d in ledger["comparison"]["deltas"]}


def test_a_plain_run_judges_what_it_saves_so_a_regression_never_becomes_the_baseline(project):
    project.runpytest().assert_outcomes(passed=4)  # saved by default
    _set(project, bytes=15)
    project.runpytest().assert_outcomes(passed=4)  # a plain run: saved, judged, not gated
    (saved,) = [r for r in _runs(project) if r.name.startswith("0002")]
    deltas = json.loads(saved.read_text())["effcheck"]["comparison"]["deltas"]
    assert {d["claim_id"]: d["status"] for d in deltas}["fam/bytes"] == "regression"
    gated = project.runpytest("--benchmark-compare")
    gated.assert_outcomes(passed=3, failed=1)
    gated.stdout.fnmatch_lines(["*fam/bytes: regression: bytes was 10 B in baseline run 0001_*"])
    assert (project.path / ".benchmarks" / ".effcheck-index.json").exists()  # default runs keep the cache


def test_a_plain_run_into_storage_it_cannot_write_is_said_before_the_tests(project):
    (project.path / "afile").write_text("x")
    result = project.runpytest("--benchmark-storage=afile/store")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*afile is not a writable directory*"])


def test_each_parameter_of_a_parametrized_claim_is_its_own_gated_measurement(project):
    project.runpytest().assert_outcomes(passed=4)
    _set(project, param1=15)  # parameter 1 regresses 10 -> 15, parameter 2 stays at 20
    result = project.runpytest("--benchmark-compare", "--effcheck-json=ledger.json")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*fam/param[[]1[]]: regression: bytes was 10 B*now 15 B*"])
    statuses = _statuses(project.path)
    assert statuses["fam/param[1]"] == "regression" and statuses["fam/param[2]"] == "unchanged"
    assert "fam/param" not in statuses


def test_effcheck_list_shows_the_ids_the_gate_uses(project, capsys):
    assert effcheck_main(["list", str(project.path / "test_suite.py")]) == 0
    listed = capsys.readouterr().out
    assert "fam/param[1]\n" in listed and "fam/param[2]\n" in listed and "fam/param\n" not in listed


def test_two_tests_claiming_one_id_is_a_usage_error_naming_both(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_two='''
import pytest
from claimsdata import BYTES
from effcheck.records import Measurement

@pytest.mark.claim(BYTES)
def test_one(effcheck):
    effcheck.check(Measurement(1, "B", "counted"))

@pytest.mark.claim(BYTES)
def test_two(effcheck):
    effcheck.check(Measurement(2, "B", "counted"))
''')
    for args in ((), ("-k", "test_one")):  # a -k that selects one of them does not hide the collision
        result = pytester.runpytest(*args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*test_two.py::test_two and test_two.py::test_one both claim 'fam/bytes'*"])
    assert not list((pytester.path / ".benchmarks").rglob("[0-9]*_*.json"))


def test_a_claim_that_is_never_checked_fails_and_a_string_claim_is_a_usage_error(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_unchecked='''
import pytest
from claimsdata import BYTES, PARAM

@pytest.mark.claim(BYTES)
def test_forgot(effcheck):
    pass

@pytest.mark.claim(PARAM)
def test_no_fixture():
    pass
''')
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*test_forgot carries claim fam/bytes but never checked it: call effcheck.check(measurement)*",
        "*test_no_fixture carries claim fam/param but never checked it: take the `effcheck` fixture*",
    ])
    pytester.makepyfile(test_unchecked='''
import pytest

@pytest.mark.claim("some/id")
def test_string(effcheck):
    pass
''')
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines(["*@pytest.mark.claim takes effcheck Claim objects, got 'some/id' (str)*"])


LIBRARY_SUITE = '''
import pytest
from claimsdata import BYTES
from effcheck.models import require
from effcheck.records import Measurement

@pytest.mark.claim(BYTES)
def test_uses_a_library(effcheck):
    lib = require("fakelib", "fake")
    effcheck.check(Measurement(lib.VALUE, "B", "counted"))
'''


def test_a_library_whose_import_raises_is_an_error_and_a_missing_one_fails_a_closed_gate(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_lib=LIBRARY_SUITE, fakelib="VALUE = 10\n")
    pytester.runpytest().assert_outcomes(passed=1)
    pytester.makepyfile(fakelib="from fakelib_helpers import something  # a broken upgrade\nVALUE = 10\n")
    broken = pytester.runpytest("--benchmark-compare", "--effcheck-require-baseline")
    broken.assert_outcomes(failed=1)
    broken.stdout.fnmatch_lines(["*fakelib is installed but `import fakelib` raised ModuleNotFoundError: "
                                 "No module named 'fakelib_helpers'*"])
    assert "fakelib is not installed" not in broken.stdout.str()
    (pytester.path / "fakelib.py").unlink()
    plain = pytester.runpytest("-rs")
    plain.assert_outcomes(skipped=1)
    plain.stdout.fnmatch_lines(["*fakelib is not installed: pip install 'effcheck[[]fake[]]'*"])
    closed = pytester.runpytest("--benchmark-compare", "--effcheck-require-baseline")
    closed.assert_outcomes(failed=1)
    closed.stdout.fnmatch_lines(["*fakelib is not installed*fam/bytes has baseline run 0001*fails closed*"])


def test_a_run_recorded_a_year_ahead_does_not_freeze_the_baseline(project):
    project.makeini("[pytest]\neffcheck_facts = none\n")  # the history's order, not the tracked facts file
    project.runpytest().assert_outcomes(passed=4)
    (first,) = _runs(project)
    data = json.loads(first.read_text())
    data["effcheck"]["created"] = "2099-01-01T00:00:00+00:00"  # the runner's clock was wrong
    first.write_text(json.dumps(data))
    _set(project, bytes=5)
    project.runpytest("--effcheck-accept=fam/bytes").assert_outcomes(passed=4)  # a change accepted on purpose
    _set(project, bytes=10)  # and back: a regression against the accepted 5
    result = project.runpytest("--benchmark-compare")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*fam/bytes: regression: bytes was 5 B in baseline run 0002_*",
                                 "*warning: run 0001_* says it was recorded at 2099-01-01T00:00:00*clock was off*"])


def test_accepting_a_timed_slowdown_sticks(project):
    for _ in range(3):
        project.runpytest().assert_outcomes(passed=4)
    _set(project, noisy=1.5)  # a deliberate slowdown
    slowed = project.runpytest("--benchmark-compare")
    slowed.assert_outcomes(passed=3, failed=1)
    assert effcheck_main(["accept", "latest", "fam/noisy", "--storage", str(project.path / ".benchmarks")]) == 0
    for _ in range(2):  # the pool restarted at the accepted level: once accepted is enough
        project.runpytest("--benchmark-compare").assert_outcomes(passed=4)


def test_accepting_an_old_run_says_which_newer_run_stays_the_baseline(project, capsys):
    project.makeini("[pytest]\neffcheck_facts = none\n")  # the history's order, not the tracked facts file
    project.runpytest().assert_outcomes(passed=4)
    _set(project, bytes=5)
    project.runpytest("--effcheck-accept=fam/bytes").assert_outcomes(passed=4)
    capsys.readouterr()
    assert effcheck_main(["accept", "1", "fam/bytes", "--storage", str(project.path / ".benchmarks")]) == 0
    assert "fam/bytes (run 0002_" in capsys.readouterr().out  # 0002 is newer: accepting 0001 changes nothing


def test_benchmark_only_runs_the_claims_and_benchmark_json_never_replaces_a_saved_run(project):
    result = project.runpytest("--benchmark-only")
    result.assert_outcomes(passed=4)
    (saved,) = _runs(project)
    before = saved.read_bytes()
    result = project.runpytest(f"--benchmark-json={saved}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--benchmark-json=* is inside the benchmark storage*"])
    assert saved.read_bytes() == before


def test_a_run_whose_claims_all_skipped_is_not_saved(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_gpu='''
import pytest
from claimsdata import BYTES
from effcheck.records import Measurement

@pytest.mark.gpu
@pytest.mark.claim(BYTES)
def test_on_gpu(effcheck):
    effcheck.check(Measurement(1, "B", "counted"))
''')
    pytester.runpytest("--effcheck-device=cpu").assert_outcomes(skipped=1)
    assert not list((pytester.path / ".benchmarks").rglob("[0-9]*_*.json"))


PLAIN = "def test_x(benchmark):\n    benchmark(lambda: 1)\n"


@pytest.mark.parametrize("args", [
    ["--benchmark-compare=0002"],  # a run that does not exist: pytest-benchmark warns and runs
    ["--benchmark-autosave", "--benchmark-storage=afile/store", "--benchmark-disable"],
])
def test_a_project_without_claims_runs_as_with_pytest_benchmark_alone(pytester, args):
    pytester.makepyfile(test_plain=PLAIN)
    (pytester.path / "afile").write_text("x")
    alone = pytester.runpytest("-p", "no:effcheck", *args)
    loaded = pytester.runpytest(*args)
    assert loaded.ret == alone.ret, loaded.stdout.str() + loaded.stderr.str()
    assert _outcomes(loaded) == _outcomes(alone)


def _outcomes(result):
    try:
        return result.parseoutcomes()
    except ValueError:  # no summary line: pytest-benchmark itself stopped
        return None

"""The plugin the way users run it: pytester sessions with claims that pass, fail, are refuted, skip."""

import json

import pytest

from effcheck.records import SCHEMA_VERSION

CLAIMS = '''
from effcheck.records import Claim, Measurement

def claim(id, **kw):
    base = dict(statement="X is 4x smaller than Y", source="article §9", metric="ratio", unit="x",
                comparison=">=", expected=4.0, margin=0.1, better="higher")
    return Claim(id=id, **{**base, **kw})

def measured(value):
    return Measurement(value=value, unit="x", method="counted", details={"x": 1})
'''

SUITE = '''
import pytest
from claimsdata import claim, measured

@pytest.mark.claim(claim("fam/holds"))
def test_holds(effcheck):
    effcheck.check(measured(4.5))

@pytest.mark.claim(claim("fam/fails"))
def test_fails(effcheck):
    effcheck.check(measured(2.0))

@pytest.mark.claim(claim("fam/refuted", refuted="the article rounds up"))
def test_refuted(effcheck):
    effcheck.check(measured(2.0))

@pytest.mark.claim(claim("fam/skipped"))
def test_skipped(effcheck):
    pytest.skip("needs a GPU")

@pytest.mark.claim(claim("fam/missing"))
def test_missing_library(effcheck):
    from effcheck.models import require
    require("surely_not_installed_lib", "vision")
'''


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    return pytester


def test_outcomes_table_and_ledger(suite):
    result = suite.runpytest("--effcheck-json=out/ledger.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, xfailed=1, skipped=2)
    result.stdout.fnmatch_lines(["*effcheck claims*", "*fam/fails*FAIL*", "*fam/holds*PASS*",
                                 "*fam/refuted*REFUTED*", "*fam/skipped*SKIP (needs a GPU)*",
                                 "*claims: 1 pass, 1 fail, 1 refuted, 2 skip*"])
    ledger = json.loads((suite.path / "out" / "ledger.json").read_text())
    verdicts = {r["id"]: r["verdict"] for r in ledger["results"]}
    assert verdicts == {"fam/holds": "PASS", "fam/fails": "FAIL", "fam/refuted": "REFUTED",
                        "fam/skipped": "SKIP", "fam/missing": "SKIP"}
    assert ledger["schema_version"] == SCHEMA_VERSION and ledger["hardware_key"]
    assert ledger["environment"]["libraries"]["pytest-benchmark"]


def test_failing_claim_reads_like_a_sentence_without_a_traceback(suite):
    result = suite.runpytest("-k", "fails")
    result.stdout.fnmatch_lines([
        "*fam/fails FAIL: claimed 'X is 4x smaller than Y' (ratio >= 4 x (margin 10%)); "
        "measured 2 x by counted on cpu; source: article §9*"
    ])
    assert "def test_fails" not in result.stdout.str()  # pytrace=False: the sentence is the report


def test_missing_library_skips_naming_the_extra(suite):
    result = suite.runpytest("-k", "missing", "-rs")
    result.stdout.fnmatch_lines(["*surely_not_installed_lib is not installed: pip install 'effcheck?vision?'*"])


def test_a_refuted_claim_that_starts_holding_fails(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_x='''
import pytest
from claimsdata import claim, measured
@pytest.mark.claim(claim("fam/r", refuted="was wrong"))
def test_r(effcheck):
    effcheck.check(measured(9.0))
''')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*recorded as refuted (was wrong) but now holds*"])


def test_a_refuted_timed_claim_that_holds_on_this_device_passes_and_says_whose_note_it_was(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_x='''
import pytest
from claimsdata import claim, measured
@pytest.mark.claim(claim("fam/t", noisy=True, refuted="1.6x on the note's CPU"))
def test_t(effcheck):
    effcheck.check(measured(4.2))
@pytest.mark.claim(claim("fam/u", noisy=True, refuted="1.6x on the note's CPU"))
def test_u(effcheck):
    effcheck.check(measured(1.6))
''')
    result = pytester.runpytest("-p", "no:cacheprovider", "--effcheck-json=ledger.json")
    result.assert_outcomes(passed=1, xfailed=1)
    verdicts = {r["id"]: r["verdict"] for r in json.loads((pytester.path / "ledger.json").read_text())["results"]}
    assert verdicts == {"fam/t": "PASS", "fam/u": "REFUTED"}


def test_error_before_the_check_is_an_error_row(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_x='''
import pytest
from claimsdata import claim
@pytest.mark.claim(claim("fam/boom"))
def test_boom(effcheck):
    raise RuntimeError("model did not build")
''')
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*fam/boom*ERROR (call: RuntimeError*",
                                 "*fam/boom error: call: RuntimeError: model did not build"])


@pytest.mark.parametrize("value", ["tpu", "cuda:x", "gpu0"])
def test_unknown_device_is_a_one_line_usage_error(pytester, value):
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest(f"--effcheck-device={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--effcheck-device='{value}' is not a device: use auto, cpu, cuda or cuda:N*"])


def test_cuda_requested_without_cuda_exits_with_the_fix(pytester):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    pytester.makepyfile(test_x="def test_x(): pass")  # said before the run, used by a test or not
    result = pytester.runpytest("--effcheck-device=cuda")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*sees no CUDA device*use --effcheck-device=cpu*"])


def test_unwritable_ledger_path_fails_before_the_run(pytester):
    target = pytester.path / "ro"
    target.mkdir()
    (target / "f").write_text("")
    result = pytester.runpytest(f"--effcheck-json={target / 'f' / 'ledger.json'}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*is not a writable directory*"])


def test_gpu_marker_skips_effcheck_benchmarks_without_cuda_and_leaves_other_tests_alone(pytester):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    pytester.makepyfile(claimsdata=CLAIMS, test_x="""
import pytest
from claimsdata import claim

@pytest.mark.gpu
def test_users_own_gpu_test():  # not an effcheck benchmark: the project's own meaning of `gpu`
    pass

@pytest.mark.gpu
def test_fixture_user(effcheck):
    pass

@pytest.mark.gpu
@pytest.mark.claim(claim("fam/g"))
def test_claim_carrier():
    pass
""")
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["*gpu benchmark: no CUDA device visible*"])
    assert "test_users_own_gpu_test PASSED" in pytester.runpytest("-v").stdout.str()


def test_device_fixture_resolves_auto_to_cpu_here(pytester):
    torch = pytest.importorskip("torch")
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    pytester.makepyfile(test_x=f"def test_d(device): assert device == {expected!r}")
    pytester.runpytest().assert_outcomes(passed=1)


BENCH = '''
import pytest
from claimsdata import claim, measured

@pytest.mark.claim(claim("fam/timed"))
def test_timed(benchmark, effcheck):
    benchmark.pedantic(sum, args=([1, 2, 3],), rounds=3, iterations=1)
    effcheck.check(measured(5.0))
'''


def test_results_are_embedded_in_pytest_benchmark_json(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_b=BENCH)
    result = pytester.runpytest("--benchmark-json=bench.json")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "bench.json").read_text())
    assert data["effcheck"]["results"][0]["id"] == "fam/timed"
    assert data["benchmarks"][0]["extra_info"]["effcheck"][0]["verdict"] == "PASS"
    assert data["machine_info"]["effcheck"]["hardware_key"]


def test_compare_on_the_first_run_warns_and_saves(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_b=BENCH)
    first = pytester.runpytest("--benchmark-autosave", "--benchmark-compare")
    first.assert_outcomes(passed=1)
    runs = lambda: [p for p in (pytester.path / ".benchmarks").rglob("*.json") if p.name[:4].isdigit()]  # noqa: E731
    assert len(runs()) == 1  # run files only: the gate's .effcheck-index.json cache sits beside them
    second = pytester.runpytest("--benchmark-autosave", "--benchmark-compare")
    second.assert_outcomes(passed=1)
    assert len(runs()) == 2


def test_results_survive_xdist(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    result = pytester.runpytest_subprocess("-n", "2", "--effcheck-json=ledger.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, xfailed=1, skipped=2)
    ledger = json.loads((pytester.path / "ledger.json").read_text())
    assert len(ledger["results"]) == 5
    result.stdout.fnmatch_lines(["*claims: 1 pass, 1 fail, 1 refuted, 2 skip*"])


def test_an_incomplete_measurement_is_a_fail_that_keeps_its_figures(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_x='''
import pytest
from claimsdata import claim, measured
@pytest.mark.claim(claim("fam/oom"))
def test_oom(effcheck):
    effcheck.fail(measured(5.0), "out of memory at 4096 tokens")
''')
    result = pytester.runpytest("--effcheck-json=l.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fam/oom FAIL*measured 5 x*did not complete: out of memory at 4096 tokens*"])
    ledger = json.loads((pytester.path / "l.json").read_text())
    assert ledger["results"][0]["verdict"] == "FAIL" and ledger["results"][0]["measurement"]["value"] == 5.0


def test_ledger_is_written_even_when_no_claim_ran(pytester):
    pytester.makepyfile(test_x="def test_plain(): pass")
    pytester.runpytest("--effcheck-json=l.json").assert_outcomes(passed=1)
    assert json.loads((pytester.path / "l.json").read_text())["results"] == []

"""effcheck in a user's own repository, built from nothing: the quickstart example as a user runs it, the
history saved without any conftest, options from the ini file, and a project's other tests left alone."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "test_my_model.py"

PLAIN_TESTS = '''
import pytest

@pytest.mark.gpu
def test_project_gpu_test():  # the project's own `gpu` marker: effcheck must not skip it
    pass

@pytest.mark.timed
def test_project_timed_test():
    pass
'''


def _effcheck(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "effcheck", *args], capture_output=True, text=True, cwd=project,
                          timeout=300)


def _runs(project: Path) -> list[Path]:
    return sorted((project / ".benchmarks").rglob("[0-9]*_*.json"))  # run files, not the index cache


def test_quickstart_project_from_nothing_saves_lists_and_reports(pytester):
    pytest.importorskip("torch")
    pytester.makepyprojecttoml('[project]\nname = "mymodel"\nversion = "0"\n\n[tool.pytest.ini_options]\n'
                               'markers = ["gpu: our own GPU tests", "timed: our own timing tests"]\n')
    perf = pytester.mkpydir("tests") / "perf"
    perf.mkdir()
    (perf / "test_my_model.py").write_text(EXAMPLE.read_text())
    (pytester.path / "tests" / "test_plain.py").write_text(PLAIN_TESTS)

    first = pytester.runpytest_subprocess("tests", "-rs", "-p", "no:cacheprovider")
    outcomes = first.parseoutcomes()
    # params: PASS; the H200 budget: skipped here with the reason; the speedup: a measured ratio (its verdict
    # depends on this machine, so only that it was measured is asserted, below); the two plain tests pass
    assert outcomes.get("skipped") == 1 and outcomes.get("passed", 0) >= 3, first.stdout.str()[-3000:]
    first.stdout.fnmatch_lines([
        "*mymodel/student/params*PASS*",
        "*mymodel/student/p50_on_h200 skip: budget applies to 'NVIDIA H200'; this run measures on * (cpu)*",
    ])
    assert "Not saving anything" not in first.stdout.str() + first.stderr.str()

    runs = _runs(pytester.path)
    assert len(runs) == 1, "a run that checked claims is saved without any conftest"
    ledger = json.loads(runs[0].read_text())["effcheck"]
    verdicts = {r["id"]: r for r in ledger["results"]}
    assert verdicts["mymodel/student/params"]["verdict"] == "PASS"
    assert verdicts["mymodel/student/p50_on_h200"]["verdict"] == "SKIP"
    speedup = verdicts["mymodel/student/speedup_vs_teacher"]
    assert speedup["verdict"] in ("PASS", "FAIL") and len(speedup["measurement"]["samples"]) == 9

    pytester.runpytest_subprocess("tests/perf", "-k", "params", "-p", "no:cacheprovider")
    assert len(_runs(pytester.path)) == 2

    listed = _effcheck(pytester.path, "list", "tests/perf")
    assert listed.returncode == 0, listed.stderr
    for claim_id in ("mymodel/student/params", "mymodel/student/speedup_vs_teacher", "mymodel/student/p50_on_h200"):
        assert claim_id in listed.stdout
    assert "applies to: NVIDIA H200" in listed.stdout

    report = _effcheck(pytester.path, "report", "--format", "markdown")
    assert report.returncode == 0, report.stderr
    assert "mymodel/student/params" in report.stdout


def test_the_docs_show_the_tested_example_verbatim():
    quickstart = (ROOT / "docs" / "quickstart.md").read_text()
    assert EXAMPLE.read_text().strip() in quickstart


CLAIM_TEST = '''
import pytest
from effcheck import Claim, Measurement

C = Claim(id="p/x", statement="x is 3", source="doc", metric="x", unit="u", comparison="==", expected=3)

@pytest.mark.claim(C)
def test_x(effcheck):
    effcheck.check(Measurement(3, "u", "counted"))
'''


def test_autosave_can_be_turned_off_in_the_ini_file(pytester):
    pytester.makepyfile(test_c=CLAIM_TEST)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert len(_runs(pytester.path)) == 1
    pytester.makeini("[pytest]\neffcheck_autosave = false\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert len(_runs(pytester.path)) == 1


def test_a_project_without_claims_saves_nothing_and_is_told_nothing(pytester):
    pytester.makepyfile(test_plain=PLAIN_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert _runs(pytester.path) == []
    assert "effcheck claims" not in result.stdout.str() and "effcheck:" not in result.stdout.str()


def test_every_effcheck_option_can_be_set_in_the_ini_file(pytester):
    from effcheck.options import INI_ONLY, SESSION_OPTIONS, dest

    pytester.makepyfile(test_c=CLAIM_TEST)
    help_text = pytester.runpytest("--help").stdout.str()
    for name in (*SESSION_OPTIONS, *INI_ONLY):
        assert f"{dest(name)} (" in help_text, f"{dest(name)} is not an ini option"

    pytester.makeini("[pytest]\neffcheck_json = out/ledger.json\neffcheck_device = cpu\n")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert json.loads((pytester.path / "out" / "ledger.json").read_text())["results"][0]["id"] == "p/x"

    pytester.makeini("[pytest]\neffcheck_device = tpu\n")
    bad = pytester.runpytest("-p", "no:cacheprovider")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--effcheck-device='tpu' is not a device*"])
    assert pytester.runpytest("-p", "no:cacheprovider", "--effcheck-device=cpu").ret == 0  # the command line wins

    pytester.makeini("[pytest]\neffcheck_compare_fail =\n    lots\n")
    assert pytester.runpytest("-p", "no:cacheprovider", "--benchmark-compare").ret == pytest.ExitCode.USAGE_ERROR


def test_benchmark_json_is_written_when_no_test_used_the_benchmark_fixture(pytester):
    pytester.makepyfile(test_c=CLAIM_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--benchmark-json=out.json")
    result.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "out.json").read_text())
    assert data["benchmarks"] == [] and data["effcheck"]["results"][0]["id"] == "p/x"
    assert "machine_info" in data and "commit_info" in data
    text = result.stdout.str() + result.stderr.str()
    assert "Not saving anything" not in text
    saved = _runs(pytester.path)
    assert len(saved) == 1 and f"claims saved to {saved[0]}" in text


def test_a_budget_on_this_machine_is_checked_and_elsewhere_skipped(pytester):
    from effcheck.env import cpu_model

    here = cpu_model()
    pytester.makepyfile(test_b=f'''
import pytest
from effcheck import Claim, Measurement

def budget(id, where):
    return Claim(id=id, statement="peak at most 1 MB", source="our budget", metric="peak bytes", unit="B",
                 comparison="<=", expected=1e6, better="lower", applies_to=where)

@pytest.mark.claim(budget("b/here", {here!r}))
def test_here(effcheck):
    effcheck.check(Measurement(2e6, "B", "counted", device="cpu"))

@pytest.mark.claim(budget("b/elsewhere", "NVIDIA H200"))
def test_elsewhere(effcheck):
    raise AssertionError("a budget for other hardware must not be measured")
''')
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", "--effcheck-device=cpu")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*b/here FAIL: claimed 'peak at most 1 MB'*",
                                 f"*budget applies to 'NVIDIA H200'; this run measures on {here!r}*"])


def test_applies_to_is_a_case_insensitive_glob_over_the_device_name():
    from effcheck import Claim
    from effcheck.budgets import applies, device_name, not_applicable_reason

    def budget(where):
        return Claim(id="b/x", statement="s", source="doc", metric="m", unit="ms", comparison="<=", expected=2.0,
                     applies_to=where)

    gpu = {"device": "cuda:0", "gpu_name": "NVIDIA H200", "cpu": "AMD EPYC 9654 96-Core Processor"}
    cpu = {**gpu, "device": "cpu"}
    assert device_name(gpu) == "NVIDIA H200" and device_name(cpu) == "AMD EPYC 9654 96-Core Processor"
    assert applies(budget("nvidia h200"), gpu) and not applies(budget("NVIDIA H200"), cpu)
    assert applies(budget("*EPYC 9654*"), cpu) and not applies(budget("*EPYC 9654*"), gpu)
    assert applies(budget("NVIDIA H*"), gpu) and not applies(budget("NVIDIA A100*"), gpu)
    assert not_applicable_reason(budget("NVIDIA A100*"), gpu) == (
        "budget applies to 'NVIDIA A100*'; this run measures on 'NVIDIA H200' (cuda:0)")
    with pytest.raises(ValueError, match="applies_to must name a device"):
        budget("  ")


def test_an_explicit_benchmark_save_wins_over_autosave(pytester):
    pytester.makepyfile(test_c=CLAIM_TEST)
    pytester.runpytest("-p", "no:cacheprovider", "--benchmark-save=release").assert_outcomes(passed=1)
    (saved,) = _runs(pytester.path)
    assert saved.name.endswith("_release.json")

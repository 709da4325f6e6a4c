"""The gate the way CI runs it: save runs, change a number, compare; the ways people fool a gate; xdist."""

import json
import os
import xml.etree.ElementTree as ET

import pytest

from effcheck.cli import main as effcheck_main

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
    if os.environ.get("INTERRUPT"):
        raise KeyboardInterrupt
    center = float(os.environ.get("NOISY", "2.0"))
    samples = [center * (1 + 0.02 * ((i * 7) % 5 - 2)) for i in range(9)]
    effcheck.check(Measurement(sorted(samples)[4], "x", "interleaved ratio", samples=samples))
'''


@pytest.fixture
def suite(pytester, monkeypatch):
    for name in ("EXACT", "NOISY", "INTERRUPT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    pytester.makeini("[pytest]\neffcheck_autosave = false\n")  # these runs save only where they say so
    return pytester


def _runs(pytester, storage=".benchmarks"):
    return sorted((pytester.path / storage).rglob("0*.json"))


def _ledger(path):
    return json.loads(path.read_text())["effcheck"]


def _save_runs(suite, n):
    for _ in range(n):
        suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)


def test_first_run_saves_claims_even_without_timed_benchmarks(suite):
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)
    (saved,) = _runs(suite)
    data = json.loads(saved.read_text())
    assert {r["id"] for r in data["effcheck"]["results"]} == {"fam/exact", "fam/noisy"}
    assert data["benchmarks"] == [] and data["effcheck"]["complete"] is True


def test_a_regression_is_a_failing_test_in_terminal_junit_and_exit_code(suite, monkeypatch):
    _save_runs(suite, 3)  # a timed claim fails a build only once its history knows the drift
    monkeypatch.setenv("EXACT", "4.4")
    monkeypatch.setenv("NOISY", "1.5")
    result = suite.runpytest("--benchmark-compare", "--junitxml=junit.xml")
    result.assert_outcomes(failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*effcheck gate: fam/exact: regression: ratio was 4.5 x in baseline run 0003_*, now 4.4 x (-2.2%); "
        "tolerance 0.0% (exact, higher is better)*",
        "*effcheck gate: fam/noisy: regression: speedup was 2 x*now 1.5 x (-25.0%); tolerance 20.0%*rank test p=*",
        "*gate: 2 regression; 2 failing*",
    ])
    assert len(list(ET.parse(suite.path / "junit.xml").getroot().iter("failure"))) == 2


def test_short_history_reports_a_timed_move_without_failing(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("NOISY", "1.5")
    result = suite.runpytest("--benchmark-compare")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*fam/noisy: regression*history too short: 1 of 3 runs*"])
    failed = suite.runpytest("--benchmark-compare", "--effcheck-require-baseline")  # fails closed
    failed.assert_outcomes(passed=1, failed=1)


def test_unchanged_run_passes_and_noise_within_tolerance_passes(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("NOISY", "1.9")  # -5%: inside the 20% default for time ratios
    result = suite.runpytest("--benchmark-compare")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*gate: 2 unchanged; 0 failing*"])


def test_improvement_is_reported_and_fails_on_request(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "5.0")
    suite.runpytest("--benchmark-compare").assert_outcomes(passed=2)
    result = suite.runpytest("--benchmark-compare", "--effcheck-fail-on-improvement")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fam/exact: improvement*"])


def test_a_tolerance_override_loosens_time_ratios_but_never_an_exact_metric(suite, monkeypatch):
    _save_runs(suite, 3)
    monkeypatch.setenv("EXACT", "4.4")
    monkeypatch.setenv("NOISY", "1.5")
    result = suite.runpytest("--benchmark-compare", "--effcheck-compare-fail=30%")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fam/exact: regression*tolerance 0.0% (exact*"])


def test_require_baseline_fails_closed_naming_the_fix(suite):
    result = suite.runpytest("--effcheck-require-baseline")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*no baseline on *: no saved run measured it*rerun without "
                                 "--effcheck-require-baseline once*"])
    assert suite.runpytest("--benchmark-compare").ret == 0  # by default: warn, and this run saves nothing


def test_rerunning_a_red_run_stays_red(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "4.4")
    first = suite.runpytest("--benchmark-autosave", "--benchmark-compare")
    second = suite.runpytest("--benchmark-autosave", "--benchmark-compare")
    assert (first.ret, second.ret) == (1, 1)
    second.stdout.fnmatch_lines(["*fam/exact: regression: ratio was 4.5 x in baseline run 0001_*"])
    saved = _ledger(_runs(suite)[1])
    assert {d["claim_id"]: d["status"] for d in saved["comparison"]["deltas"]}["fam/exact"] == "regression"


def test_a_run_saved_without_comparing_does_not_become_the_baseline_of_a_regression(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "4.4")
    suite.runpytest("--benchmark-autosave").assert_outcomes(passed=2)  # not gated, but judged and recorded
    assert suite.runpytest("--benchmark-compare").ret == 1


def test_an_interrupted_run_is_saved_incomplete_and_never_a_baseline(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "4.4")
    monkeypatch.setenv("INTERRUPT", "1")
    interrupted = suite.runpytest_subprocess("--benchmark-autosave", "-p", "no:cacheprovider")
    assert interrupted.ret == pytest.ExitCode.INTERRUPTED
    runs = _runs(suite)
    assert len(runs) == 2 and _ledger(runs[1])["complete"] is False
    monkeypatch.delenv("INTERRUPT")
    result = suite.runpytest("--benchmark-compare")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fam/exact: regression: ratio was 4.5 x in baseline run 0001_*"])


def test_a_subset_run_does_not_blind_the_next_full_run(suite, monkeypatch):
    _save_runs(suite, 1)
    suite.runpytest("--benchmark-autosave", "-k", "noisy").assert_outcomes(passed=1)
    monkeypatch.setenv("EXACT", "4.4")
    result = suite.runpytest("--benchmark-autosave", "--benchmark-compare")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fam/exact: regression: ratio was 4.5 x in baseline run 0001_*",
                                 "*per-claim baselines: 0001 (1 claim), 0002 (1 claim)*"])
    subset = suite.runpytest("--benchmark-compare", "-k", "noisy")
    subset.stdout.fnmatch_lines(["*1 claim(s) in the history not run this time keep their baselines*"])


def test_accepting_a_change_on_the_run_moves_the_baseline(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "5.0")
    accepted = suite.runpytest("--benchmark-autosave", "--benchmark-compare", "--effcheck-accept=fam/ex*",
                               "--effcheck-fail-on-improvement")
    accepted.assert_outcomes(passed=2)
    accepted.stdout.fnmatch_lines(["*fam/exact: improvement*accepted by this run*"])
    suite.runpytest("--benchmark-compare").stdout.fnmatch_lines(["*gate: 2 unchanged; 0 failing*"])


def test_accept_verb_after_the_fact_keeps_history_files_unchanged(suite, monkeypatch, capsys):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "4.4")
    assert suite.runpytest("--benchmark-autosave", "--benchmark-compare").ret == 1
    before = {p: p.read_bytes() for p in _runs(suite)}
    storage = str(suite.path / ".benchmarks")
    assert effcheck_main(["accept", "2", "fam/exact", "--storage", storage]) == 0
    assert "accepted 1 claim(s) of 0002_" in capsys.readouterr().out
    assert effcheck_main(["accept", "2", "fam/nothing*", "--storage", storage]) == 2
    assert {p: p.read_bytes() for p in _runs(suite)} == before
    suite.runpytest("--benchmark-compare").assert_outcomes(passed=2)


def test_a_named_run_pins_both_tools(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "5.0")
    suite.runpytest("--benchmark-autosave", "--effcheck-accept").assert_outcomes(passed=2)
    monkeypatch.setenv("EXACT", "4.5")
    newest = suite.runpytest("--benchmark-compare")
    # the accepted fact lives in the tracked facts file now (--effcheck-accept wrote it there)
    newest.stdout.fnmatch_lines(["*fam/exact: regression: ratio was 5 x in effcheck-facts.txt*"])
    pinned = suite.runpytest("--benchmark-compare=0001")
    pinned.assert_outcomes(passed=2)
    pinned.stdout.fnmatch_lines(["*effcheck gate (pinned baseline 0001 (2 claims)*"])
    pinned = suite.runpytest("--effcheck-baseline=1")
    pinned.stderr.fnmatch_lines(["*Comparing against benchmarks from*0001_*"])  # pytest-benchmark too
    result = suite.runpytest("--effcheck-baseline=1", "--benchmark-compare=2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_recorded_time_orders_runs_not_file_mtime(suite, monkeypatch):
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "5.0")
    suite.runpytest("--benchmark-autosave", "--effcheck-accept").assert_outcomes(passed=2)
    first = _runs(suite)[0]
    os.utime(first, (2e9, 2e9))  # `touch`ed into the future
    suite.runpytest("--benchmark-compare").stdout.fnmatch_lines(["*gate: 2 unchanged; 0 failing*"])


def _rewrite(path, change):
    data = json.loads(path.read_text())
    change(data["effcheck"])
    path.write_text(json.dumps(data))


def test_an_upgrade_is_compared_and_the_version_diff_shown(suite):
    _save_runs(suite, 1)

    def older(ledger):
        ledger["environment"]["torch"] = "2.13.0"
        ledger["environment"]["libraries"]["transformers"] = "4.57.6"
        ledger["hardware_key"] = "AMD|cpu|torch2.13|float32"  # a schema-1 style key: not used for scope

    _rewrite(_runs(suite)[0], older)
    result = suite.runpytest("--benchmark-compare")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*effcheck gate (per-claim baselines: 0001 (2 claims); environment changed since "
                                 "baseline 0001: torch 2.13.0 -> *"])
    assert "transformers 4.57.6 -> " in result.stdout.str()


def test_exact_claims_compare_across_machines_timed_ones_only_on_the_same(suite, monkeypatch):
    _save_runs(suite, 1)
    _rewrite(_runs(suite)[0], lambda ledger: ledger["environment"].update(cpu="Another CPU 9000"))
    monkeypatch.setenv("EXACT", "4.4")
    result = suite.runpytest("--benchmark-compare")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*fam/exact: regression: ratio was 4.5 x in baseline run 0001_*",
                                 "*fam/noisy: no baseline on cpu:*measured only on cpu:Another CPU 9000*"])


BAD_FILES = {
    "truncated": '{"benchmarks": [], "effcheck": {"schema',
    "empty": "",
    "not-object": "[1, 2]",
    "null-effcheck": '{"benchmarks": [], "effcheck": null}',
    "result-not-object": '{"benchmarks": [], "effcheck": {"schema_version": 2, "results": [7]}}',
    "string-environment": '{"benchmarks": [], "effcheck": {"schema_version": 2, "results": [], "environment": "x"}}',
    "newer-schema": '{"benchmarks": [], "effcheck": {"schema_version": 99, "results": []}}',
}


@pytest.mark.parametrize("value", ["null", "1e400", "NaN", '"4.5"'])
def test_a_stored_value_that_is_no_finite_number_is_refused_where_read(suite, value):
    _save_runs(suite, 1)
    path = _runs(suite)[0]
    text = path.read_text()
    data = json.loads(text)
    number = [r for r in data["effcheck"]["results"] if r["id"] == "fam/exact"][0]["measurement"]["value"]
    path.write_text(text.replace(f'"value": {number}', f'"value": {value}', 1))
    result = suite.runpytest("--benchmark-compare")
    assert result.ret == 0 and "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines([f"*effcheck: warning: skipping fam/exact of run {path.stem}: *value must be a*"])
    named = suite.runpytest("--effcheck-baseline=1")
    assert named.ret == pytest.ExitCode.USAGE_ERROR


def test_malformed_runs_are_skipped_with_one_line_each_and_named_ones_refused(suite, capsys):
    _save_runs(suite, 1)
    folder = _runs(suite)[0].parent
    for number, (name, text) in enumerate(BAD_FILES.items(), start=2):
        (folder / f"{number:04d}_{name}.json").write_text(text)
    before = {p: p.read_bytes() for p in folder.iterdir()}
    result = suite.runpytest("--benchmark-compare")
    result.assert_outcomes(passed=2)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    for name in BAD_FILES:
        assert sum("warning: skipping " in line and f"_{name}.json" in line for line in out.splitlines()) == 1, name
    result.stdout.fnmatch_lines(["*gate: 2 unchanged; 0 failing*"])
    for number in range(2, 2 + len(BAD_FILES)):
        named = suite.runpytest(f"--benchmark-compare={number}")
        assert named.ret == pytest.ExitCode.USAGE_ERROR, number
        assert "INTERNALERROR" not in named.stdout.str() + named.stderr.str()
    storage = str(suite.path / ".benchmarks")
    capsys.readouterr()
    for verb in (["report"], ["compare", "1", "latest"], ["accept", "latest"]):  # each searches the storage
        assert effcheck_main([*verb, "--storage", storage]) == 0, verb
        assert capsys.readouterr().err.count("effcheck: warning: skipping") == len(BAD_FILES), verb
    assert {p: p.read_bytes() for p in folder.iterdir() if p.suffix == ".json"} == {
        p: b for p, b in before.items() if p.suffix == ".json"}


def test_unknown_run_is_named(suite):
    result = suite.runpytest("--effcheck-baseline=0042")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no run '0042' in*"])


def test_storage_elsewhere_with_other_versions_has_no_internalerror(suite, tmp_path_factory):
    storage = tmp_path_factory.mktemp("elsewhere") / "store"
    suite.runpytest(f"--benchmark-storage={storage}", "--benchmark-autosave").assert_outcomes(passed=2)
    (saved,) = sorted(storage.rglob("0*.json"))
    data = json.loads(saved.read_text())
    data["machine_info"]["python_version"] = "3.0.0"  # pytest-benchmark's machine_info differs
    data["effcheck"]["environment"]["torch"] = "2.13.0"
    saved.write_text(json.dumps(data))
    result = suite.runpytest(f"--benchmark-storage={storage}", "--benchmark-compare")
    assert result.ret == 0 and "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_json_ledger_path_is_safe(suite, tmp_path):
    (suite.path / "notes.txt").write_text("mine")
    os.symlink(suite.path / "notes.txt", suite.path / "link.json")
    _save_runs(suite, 1)
    for path, why in [("link.json", "symlink"), (".", "directory"), ("/dev/null", "not a regular file"),
                      (".benchmarks/ledger.json", "inside the benchmark storage"),
                      ("notes.txt", "not an effcheck ledger")]:
        result = suite.runpytest(f"--effcheck-json={path}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR, path
        result.stderr.fnmatch_lines([f"*{why}*"])
    assert (suite.path / "notes.txt").read_text() == "mine"
    suite.runpytest("--effcheck-json=ledger.json").assert_outcomes(passed=2)
    suite.runpytest("--effcheck-json=ledger.json").assert_outcomes(passed=2)  # our own file: replaced


def test_warnings_for_settings_that_look_wrong(suite):
    result = suite.runpytest("--effcheck-compare-fail=200%", "--effcheck-accept=nope/*")
    result.stdout.fnmatch_lines(["*warning: --effcheck-compare-fail has no effect without --benchmark-compare*",
                                 "*warning: --effcheck-compare-fail=*=200%: a tolerance over 100%*",
                                 "*warning: --effcheck-accept=nope/* matches no claim of this run*"])


def test_an_unwritable_storage_is_said_before_the_tests_run(suite):
    (suite.path / "afile").write_text("x")
    result = suite.runpytest("--benchmark-storage=afile/store", "--benchmark-autosave")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*afile is not a writable directory*"])


def test_a_full_disk_while_saving_is_one_line_and_the_table_still_prints(suite, monkeypatch):
    import errno

    import effcheck.store

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(effcheck.store, "_write_locked_temp", full)
    result = suite.runpytest("--benchmark-autosave")
    result.stdout.fnmatch_lines(["*effcheck claims*", "*claims: 2 pass*", "*effcheck: cannot write*the disk is full*"])
    assert "INTERNALERROR" not in result.stdout.str() and _runs(suite) == []


def test_concurrent_runs_each_keep_their_file(suite):
    import subprocess
    import sys

    n = 4
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(suite.path), os.environ.get("PYTHONPATH")]))}
    procs = [subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                               "--benchmark-autosave", "test_suite.py"], cwd=suite.path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(n)]
    outputs = [p.communicate(timeout=300)[0].decode() for p in procs]
    said = "\n".join(f"--- run {i}: exit {p.returncode}\n{out[-3000:]}"
                     for i, (p, out) in enumerate(zip(procs, outputs, strict=True)))
    assert all(p.returncode == 0 for p in procs), said
    runs = _runs(suite)
    assert len(runs) == n and len({r.name.split("_", 1)[0] for r in runs}) == n, ([r.name for r in runs], said)
    assert not list((suite.path / ".benchmarks").rglob(".effcheck-*.tmp"))  # no temporary file left


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
    gated = suite.runpytest_subprocess("-n", "2", "--benchmark-compare", "-p", "no:cacheprovider")
    gated.stdout.fnmatch_lines(["*gate: 2 unchanged; 0 failing*"])


ZERO_SUITE = '''
import os, pytest
from effcheck import Claim, Measurement

CACHE = Claim(id="mine/cache_bytes", statement="the cache holds no bytes", source="design doc", metric="cache bytes",
              unit="B", comparison="<=", expected=100, better="lower")

@pytest.mark.claim(CACHE)
def test_cache(effcheck):
    effcheck.check(Measurement(int(os.environ["CACHE_BYTES"]), "B", "counted"))
'''


def test_a_regression_from_zero_reads_as_one_in_the_gate_the_report_and_the_history(pytester, monkeypatch,
                                                                                     capsys, tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    pytester.makepyfile(test_cache=ZERO_SUITE)
    monkeypatch.setenv("CACHE_BYTES", "0")
    pytester.runpytest("--benchmark-autosave").assert_outcomes(passed=1)
    monkeypatch.setenv("CACHE_BYTES", "5")
    gated = pytester.runpytest("--benchmark-autosave", "--benchmark-compare")
    gated.assert_outcomes(failed=1)
    gated.stdout.fnmatch_lines(["*mine/cache_bytes: regression: cache bytes was 0 B in baseline run 0001_*, "
                                "now 5 B (from zero); tolerance 0.0%*"])
    saved = _ledger(_runs(pytester)[-1])
    (delta,) = saved["comparison"]["deltas"]
    assert delta["baseline_value"] == 0 and delta["current_value"] == 5 and delta["change"] is None  # JSON, no "inf"
    storage = str(pytester.path / ".benchmarks")
    capsys.readouterr()
    assert effcheck_main(["report", "--format", "markdown", "--storage", storage]) == 0
    out = capsys.readouterr().out
    assert "| `mine/cache_bytes` | **regression** | 0 | 5 B | from zero |" in out, out
    assert effcheck_main(["history", "--out", str(tmp_path / "dash"), "--storage", storage]) == 0
    page = (tmp_path / "dash" / "index.html").read_text()
    assert "regression from zero" in page


HUGE = "1" + "0" * 400  # 10**400: a JSON integer that no float holds
PLACES = {  # where a run file holds a number, and how to put HUGE there
    "value": lambda e: _result_of(e, "fam/exact")["measurement"].update(value="HUGE"),
    "sample": lambda e: _result_of(e, "fam/noisy")["measurement"]["samples"].__setitem__(0, "HUGE"),
    "series": lambda e: _result_of(e, "fam/exact")["measurement"].update(series=[[1, "HUGE"]]),
    "expected": lambda e: _result_of(e, "fam/exact")["claim"].update(expected="HUGE"),
    "margin": lambda e: _result_of(e, "fam/exact")["claim"].update(margin="HUGE"),
    "tolerance": lambda e: _result_of(e, "fam/exact")["claim"].update(tolerance="HUGE"),
    "comparison": lambda e: e["comparison"]["deltas"][0].update(baseline_value="HUGE"),
}


def _result_of(ledger, claim_id):
    return next(r for r in ledger["results"] if r["id"] == claim_id)


@pytest.mark.parametrize("where, digits", [*((w, HUGE) for w in PLACES), ("value", "1" + "0" * 5000)],
                         ids=[*PLACES, "value-5000-digits"])
def test_an_out_of_range_integer_makes_a_run_file_malformed_never_a_crash(suite, capsys, where, digits):
    _save_runs(suite, 2)  # the second run's comparison holds values
    path = _runs(suite)[1]
    data = json.loads(path.read_text())
    PLACES[where](data["effcheck"])
    path.write_text(json.dumps(data).replace('"HUGE"', digits))
    said = path.name if where == "comparison" or digits != HUGE else path.stem  # a claim's record: its run

    gated = suite.runpytest("--benchmark-compare")  # met while searching: skipped, one line naming it
    out = gated.stdout.str() + gated.stderr.str()
    assert gated.ret == 0 and "INTERNALERROR" not in out and "OverflowError" not in out, out
    assert sum("warning: skipping" in line and said in line for line in out.splitlines()) == 1, out
    named = suite.runpytest("--benchmark-compare=2")  # named on purpose: a usage error in one line
    assert named.ret == pytest.ExitCode.USAGE_ERROR
    assert path.name in named.stderr.str() and "INTERNALERROR" not in named.stdout.str() + named.stderr.str()

    storage = str(suite.path / ".benchmarks")
    capsys.readouterr()
    for verb in (["report"], ["report", "--format", "markdown"], ["compare", "1", "latest"], ["accept", "latest"],
                 ["history", "--out", str(suite.path / "dash")]):
        assert effcheck_main([*verb, "--storage", storage]) == 0, verb
        err = capsys.readouterr().err
        assert err.count("warning: skipping") == 1 and path.name in err, (verb, err)
    for verb in (["report", "2"], ["report", str(path)], ["compare", "1", "2"], ["accept", "2"]):
        assert effcheck_main([*verb, "--storage", storage]) == 2, verb
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith("effcheck: error: ") and path.name in line and len(line) < 400, line


def test_a_small_exact_move_reads_as_a_move_in_the_gate_and_the_report(suite, monkeypatch, capsys):
    monkeypatch.setenv("EXACT", "1362345")
    _save_runs(suite, 1)
    monkeypatch.setenv("EXACT", "1362344")  # one parameter fewer
    result = suite.runpytest("--benchmark-autosave", "--benchmark-compare")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fam/exact: regression: ratio was 1,362,345 x in baseline run 0001_*, "
                                 "now 1,362,344 x (-1, -0.00007%); tolerance 0.0%*"])
    capsys.readouterr()
    assert effcheck_main(["report", "--format", "markdown", "--storage", str(suite.path / ".benchmarks")]) == 0
    assert "| `fam/exact` | **regression** | 1,362,345 | 1,362,344 x | -1, -0.00007% | 0.0% | - |" in (
        capsys.readouterr().out)

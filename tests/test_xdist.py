"""pytest-xdist the way users run it: timed statistics reach the history, the run's lock file, Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from effcheck.timings import ReportedBenchmark

CLAIMS = '''
from effcheck.records import Claim, Measurement

def claim(id):
    return Claim(id=id, statement="X is 4x smaller than Y", source="article §9", metric="ratio", unit="x",
                 comparison=">=", expected=4.0, margin=0.1, better="higher")

def measured(value):
    return Measurement(value=value, unit="x", method="counted")
'''

TIMED = '''
import pytest
from claimsdata import claim, measured

@pytest.mark.timed
@pytest.mark.claim(claim("fam/timed"))
def test_timed(benchmark, effcheck):
    benchmark.extra_info["note"] = object()  # not JSON: saved as pytest-benchmark saves it, a string
    benchmark.pedantic(sum, args=([1, 2, 3],), rounds=3, iterations=1)
    effcheck.check(measured(5.0))

@pytest.mark.claim(claim("fam/beside"))
def test_beside_others(benchmark, effcheck):  # not timed: runs beside other work, so pytest-benchmark stays off
    benchmark(sum, [1, 2])
    effcheck.check(measured(5.0))

def test_plain():
    pass
'''


def _runs(pytester):
    return sorted((pytester.path / ".benchmarks").rglob("0*.json"))


def _timed_entry(data):
    (entry,) = data["benchmarks"]  # test_beside_others was not timed: absent, as pytest-benchmark leaves it
    assert entry["fullname"] == "test_timed.py::test_timed" and entry["extra_info"]["note"].startswith("UNSERIAL")
    assert entry["extra_info"]["effcheck"][0]["verdict"] == "PASS"
    stats = entry["stats"]
    assert stats["rounds"] == 3 and stats["iterations"] == 1 and len(stats["data"]) == 3
    assert stats["min"] == min(stats["data"]) and stats["max"] == max(stats["data"])
    assert stats["min"] <= stats["mean"] <= stats["max"]
    return entry


def test_timed_statistics_under_xdist_are_saved_as_in_a_serial_run(pytester):
    pytest.importorskip("xdist")
    pytester.makepyfile(claimsdata=CLAIMS, test_timed=TIMED)
    result = pytester.runpytest_subprocess("-n", "2", "--benchmark-autosave", "--benchmark-save-data",
                                           "--benchmark-json=bench.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*1 timed test(s) ran alone under pytest-xdist*", "*benchmark: 1 tests*"])
    result.stderr.fnmatch_lines(["*Benchmarks are automatically disabled because xdist*"])  # for the other one
    (saved,) = _runs(pytester)
    for data in (json.loads(saved.read_text()), json.loads((pytester.path / "bench.json").read_text())):
        _timed_entry(data)
        assert data["effcheck"]["complete"] is True
        assert {r["id"] for r in data["effcheck"]["results"]} == {"fam/timed", "fam/beside"}
    # pytest-benchmark itself reads the -n 2 run file as a baseline; a serial run's entry has its shape
    compared = pytester.runpytest("--benchmark-compare", "--benchmark-save-data", "-p", "no:cacheprovider")
    compared.assert_outcomes(passed=3)
    compared.stdout.fnmatch_lines(["*test_timed (0001_*"])
    parallel, serial = ({b["name"]: b for b in json.loads(run.read_text())["benchmarks"]} for run in _runs(pytester))
    assert set(serial) == {"test_timed", "test_beside_others"}  # serially pytest-benchmark times both
    assert serial["test_timed"].keys() == parallel["test_timed"].keys()
    assert serial["test_timed"]["stats"].keys() == parallel["test_timed"]["stats"].keys()
    assert serial["test_timed"]["extra_info"]["note"].startswith("UNSERIALIZABLE[")  # saved, not a crash


def test_a_worker_timing_reads_like_pytest_benchmarks_own():
    from pytest_benchmark.stats import Metadata
    from pytest_benchmark.utils import safe_dumps

    fixture = SimpleNamespace(name="test_t[a]", fullname="t.py::test_t[a]", group="g", param="a",
                              params={"n": 1}, extra_info={"k": 1}, cprofile_stats=None, has_error=False)
    metadata = Metadata(fixture, iterations=2, options={"timer": time.perf_counter, "min_rounds": 5})
    for duration in (4e-6, 2e-6, 6e-6):
        metadata.update(duration)
    reported = ReportedBenchmark(json.loads(safe_dumps(metadata.as_dict(include_data=True))))
    for kwargs in ({}, {"include_data": False}, {"flat": True}, {"include_data": False, "flat": True},
                   {"stats": False}):
        assert reported.as_dict(**kwargs) == json.loads(safe_dumps(metadata.as_dict(**kwargs))), kwargs
    assert all(reported[f] == metadata[f] for f in ("min", "max", "mean", "median", "stddev", "iqr"))
    assert reported.fullname == metadata.fullname and bool(reported) and not reported.has_error


def test_a_dead_controllers_lock_file_is_removed_and_a_live_ones_kept(pytester, monkeypatch, dead_pid):
    pytest.importorskip("xdist")
    tmp = pytester.mkdir("tmp")
    monkeypatch.setenv("TMPDIR", str(tmp))  # this run's temp folder: other runs' lock files are not ours
    dead = tmp / f"effcheck-{dead_pid}-abc_12.lock"
    live = tmp / f"effcheck-{os.getpid()}-def_34.lock"
    other = tmp / "effcheck-notes.lock"  # not a lock name the controller makes: never touched
    for path in (dead, live, other):
        path.write_text("")
    pytester.makepyfile(claimsdata=CLAIMS, test_x='''
import pytest
from claimsdata import claim, measured
@pytest.mark.claim(claim("fam/x"))
def test_x(effcheck):
    effcheck.check(measured(5.0))
''')
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not dead.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp.glob("effcheck-*.lock")) == sorted([live.name, other.name])  # its own went


INTERRUPTIBLE = '''
import os, pathlib, time, pytest
from claimsdata import claim, measured

@pytest.mark.claim(claim("fam/exact"))
def test_exact(effcheck):
    effcheck.check(measured(float(os.environ.get("EXACT", "4.5"))))

@pytest.mark.claim(claim("fam/sleeps"))
def test_sleeps(effcheck):
    pathlib.Path("sleeping").touch()
    for _ in range(600 if os.environ.get("SLEEP") else 0):  # until Ctrl-C
        time.sleep(0.1)
    effcheck.check(measured(5.0))
'''

REPORTED = '''
import os, pathlib
def pytest_runtest_logreport(report):  # the controller has fam/exact's result: now the run has something to save
    if "PYTEST_XDIST_WORKER" not in os.environ and report.when == "teardown" and "test_exact" in report.nodeid:
        pathlib.Path("exact.reported").touch()
'''


def test_ctrl_c_under_xdist_saves_an_incomplete_run_that_is_never_a_baseline(pytester, monkeypatch):
    pytest.importorskip("xdist")
    for name in ("EXACT", "SLEEP"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(claimsdata=CLAIMS, test_s=INTERRUPTIBLE, conftest=REPORTED)
    pytester.makeini("[pytest]\neffcheck_autosave = false\n")
    pytester.runpytest("--benchmark-autosave").assert_outcomes(passed=2)  # 0001: fam/exact 4.5
    for marker in ("sleeping", "exact.reported"):
        (pytester.path / marker).unlink()
    tmp = pytester.mkdir("tmp")
    env = {**os.environ, "EXACT": "4.4", "SLEEP": "1", "TMPDIR": str(tmp), "PYTHONFAULTHANDLER": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(pytester.path), os.environ.get("PYTHONPATH")]))}
    # its own process group, as a terminal's foreground job: Ctrl-C reaches the controller and its workers.
    # A foreground job's SIGINT is the default one; a job started in the background by a non-interactive
    # shell (nohup ... &) ignores it and hands that on, and the run then sleeps through Ctrl-C.
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2",
                             "--benchmark-autosave"], cwd=pytester.path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for _ in range(1200):  # the sleeper started and fam/exact reached the controller
            if proc.poll() is not None or all((pytester.path / m).exists() for m in ("sleeping", "exact.reported")):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[0].decode()
        os.killpg(proc.pid, signal.SIGINT)
        try:
            output = proc.communicate(timeout=60)[0].decode()
        except subprocess.TimeoutExpired:  # a hang: every process of the run prints its threads' stacks
            os.killpg(proc.pid, signal.SIGABRT)
            pytest.fail("the run did not end within 60 s of Ctrl-C; its output, then each process's stacks:\n"
                        + proc.communicate(timeout=30)[0].decode(errors="replace"))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    runs = _runs(pytester)
    assert len(runs) in (1, 2), output  # the interrupted run is saved, or nothing is
    if len(runs) == 2:
        assert json.loads(runs[1].read_text())["effcheck"]["complete"] is False
        assert "this run did not complete: saved, marked incomplete, never a baseline" in output
    assert not list(tmp.glob("effcheck-*.lock")), output
    assert not list((pytester.path / ".benchmarks").rglob(".effcheck-*.tmp"))
    monkeypatch.setenv("EXACT", "4.4")
    gated = pytester.runpytest("--benchmark-compare")  # against 0001, not the interrupted 4.4
    assert gated.ret == pytest.ExitCode.TESTS_FAILED
    gated.stdout.fnmatch_lines(["*fam/exact: regression: ratio was 4.5 x in baseline run 0001_*"])


TORCH_CLAIM = '''
import pytest
from claimsdata import claim, measured

@pytest.mark.claim(claim("fam/torch"))
def test_with_torch(effcheck):
    import torch
    effcheck.check(measured(float(torch.ones(5).sum())))
'''

CONTROLLER_PROBE = '''
import sys
def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        print(f"controller imported torch: {'torch' in sys.modules}")
'''


def test_the_controller_takes_its_environment_from_a_worker_without_importing_torch(pytester):
    """The controller runs no test; the workers that imported torch hand it the environment (plain data: a
    TorchVersion, a str subclass, made execnet crash the worker once), so it never imports torch itself."""
    pytest.importorskip("torch")
    pytester.makepyfile(claimsdata=CLAIMS, test_torch=TORCH_CLAIM, probe=CONTROLLER_PROBE)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "probe", "-p", "no:cacheprovider",
                                           "--effcheck-json=ledger.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*controller imported torch: False*"])
    assert "crashed" not in result.stdout.str() + result.stderr.str()
    environment = json.loads((pytester.path / "ledger.json").read_text())["environment"]
    import torch

    assert environment["torch"] == str(torch.__version__) and environment["device"] == "cpu"

"""The issue 20 trial of push, pull and prune, from outside: the real `effcheck` command in subprocesses
against a bare repository in tmp_path, several runners pushing at once, pushes killed (SIGKILL, Ctrl-C) at
chosen moments, a prune followed by the runners' next pushes. Each behaviour here was first seen by hand.

A push is stopped at a known moment by a `git` shim first on PATH: on `git push` it leaves a mark file
and sleeps (before or after running the real push), and the test kills the process group once the mark is
there; no test waits on a clock."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from effcheck.remote import PRUNED_FILE, push
from effcheck.remote_scratch import LOCK_FILE, PREFIX, sweep
from effcheck.store import list_runs

pytestmark = pytest.mark.skipif(shutil.which("git") is None or sys.platform == "win32",
                                reason="push and pull use the git command; the kill tests use POSIX signals")

MACHINE = "Linux-CPython-3.11-64bit"
SHIM = """#!/bin/sh
if [ "$1" = push ]; then
  if [ "$SHIM_MODE" = after ]; then "$REAL_GIT" "$@" || exit $?; fi
  touch "$SHIM_MARK"
  exec sleep 120
fi
exec "$REAL_GIT" "$@"
"""


@pytest.fixture
def bare(tmp_path):
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


@pytest.fixture
def env(tmp_path):
    """The environment of a runner: its own temporary folder, so what a killed push leaves is seen here."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    return {**os.environ, "TMPDIR": str(scratch)}


def _run(storage, number, tag):
    path = storage / MACHINE / f"{number:04d}_{tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmarks": [], "tag": tag, "number": number}))
    return path


def _git(bare, *args):
    return subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True, text=True,
                          check=True).stdout.strip()


def _effcheck(*argv):
    return [sys.executable, "-m", "effcheck", *map(str, argv)]


def _push_cli(storage, bare, env, branch="runs"):
    return subprocess.Popen(_effcheck("push", "--storage", storage, "--remote", bare, "--branch", branch),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _scratch_folders(env):
    return sorted(p for p in os.listdir(env["TMPDIR"]) if p.startswith(PREFIX))


def test_runners_pushing_at_once_all_land_on_a_linear_branch(tmp_path, bare, env):
    runners = [tmp_path / f"runner{i}" for i in range(4)]
    attempts = []
    for round_ in range(1, 4):  # each round every runner saved one more run; all push at the same moment
        for i, storage in enumerate(runners):
            _run(storage, round_, f"r{i}")  # 0001, 0002... on every runner: numbers clash, contents do not
        procs = [_push_cli(storage, bare, env) for storage in runners]
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
            assert out.startswith("pushed 1 run(s)"), out
            attempts.append("on attempt" in out)
    assert int(_git(bare, "rev-list", "--count", "runs")) == 12  # one commit per push, none lost
    assert _git(bare, "rev-list", "--merges", "runs") == ""  # appended, never merged or rewritten
    files = _git(bare, "ls-tree", "-r", "--name-only", "runs").split()
    assert len(files) == 12 and len({f.rsplit("/", 1)[1] for f in files}) == 12
    subprocess.run(["git", "--git-dir", str(bare), "fsck", "--strict"], check=True, capture_output=True)
    assert _scratch_folders(env) == []


def _killed_push(tmp_path, bare, env, storage, mode, sig):
    """A push stopped inside `git push` (mode before: the branch not yet moved; after: moved), by sig."""
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "git").write_text(SHIM)
    (shim / "git").chmod(0o755)
    mark = tmp_path / f"mark-{mode}-{sig}"
    shimmed = {**env, "PATH": f"{shim}{os.pathsep}{env['PATH']}", "REAL_GIT": shutil.which("git"),
               "SHIM_MODE": mode, "SHIM_MARK": str(mark)}
    proc = subprocess.Popen(_effcheck("push", "--storage", storage, "--remote", bare, "--branch", "runs"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=shimmed,
                            start_new_session=True)
    for _ in range(1200):  # until git push is reached (at most a minute on a loaded machine)
        if mark.exists() or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert mark.exists(), proc.communicate()
    os.killpg(proc.pid, sig)  # the whole group, as Ctrl-C in a terminal or a CI job's cancel does
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


@pytest.mark.parametrize("mode", ["before", "after"])
def test_a_push_killed_midway_leaves_a_valid_branch_and_the_next_push_completes_it(tmp_path, bare, env, mode):
    storage = tmp_path / "runner"
    _run(storage, 1, "one")
    first = push(storage, str(bare), "runs")
    _run(storage, 2, "two")
    code, _, _ = _killed_push(tmp_path, bare, env, storage, mode, signal.SIGKILL)
    assert code == -signal.SIGKILL
    tip = _git(bare, "rev-parse", "runs")
    if mode == "before":
        assert tip == first.commit
    else:  # killed after git moved the branch: the whole push is there
        assert _git(bare, "rev-parse", "runs~1") == first.commit
    subprocess.run(["git", "--git-dir", str(bare), "fsck", "--strict"], check=True, capture_output=True)
    assert len(_scratch_folders(env)) == 1  # a SIGKILL leaves its scratch folder...
    proc = _push_cli(storage, bare, env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    if mode == "before":
        assert out.startswith("pushed 1 run(s)"), out
    else:
        assert "nothing pushed" in out, out
    assert _scratch_folders(env) == []  # ... which the next push removes
    assert int(_git(bare, "rev-list", "--count", "runs")) == 2
    assert len(_git(bare, "ls-tree", "-r", "--name-only", "runs").split()) == 2


def test_ctrl_c_during_a_push_is_one_line_and_leaves_nothing_behind(tmp_path, bare, env):
    storage = tmp_path / "runner"
    _run(storage, 1, "one")
    code, out, err = _killed_push(tmp_path, bare, env, storage, "before", signal.SIGINT)
    assert code == 2 and out == ""
    assert err == ("effcheck: error: push interrupted: runs holds all of this push's runs or none of them (git "
                   "moves a branch at once); run push again to complete it\n")
    assert _scratch_folders(env) == []
    assert subprocess.run(["git", "--git-dir", str(bare), "rev-parse", "--verify", "-q", "runs"]).returncode == 1
    assert len(push(storage, str(bare), "runs").runs) == 1


def test_a_sweep_removes_only_the_folders_whose_owner_is_gone(tmp_path):
    import fcntl

    dead, alive = tmp_path / f"{PREFIX}dead", tmp_path / f"{PREFIX}alive"
    for folder in (dead, alive):
        folder.mkdir()
        (folder / LOCK_FILE).touch()
        (folder / "objects").mkdir()
    other = tmp_path / "someone-elses"
    other.mkdir()
    fd = os.open(alive / LOCK_FILE, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a live owner holds it
        assert sweep(str(tmp_path)) == [str(dead)]
    finally:
        os.close(fd)
    assert not dead.exists() and alive.exists() and other.exists()


SUITE = """
import pytest
from effcheck import Claim, Measurement

PARAMS = Claim(id="mine/params", statement="19,210 parameters", source="design doc", metric="parameters",
               unit="params", comparison="==", expected=19210)


@pytest.mark.claim(PARAMS)
def test_params(effcheck):
    effcheck.check(Measurement(19210, "params", "counted"))
"""


@pytest.fixture
def template(pytester, tmp_path_factory):
    """One real saved run of a one-claim project, to clone into runners' storages."""
    pytester.makepyfile(test_mine=SUITE)
    storage = tmp_path_factory.mktemp("template")
    pytester.runpytest(f"--benchmark-storage=file://{storage}", "--benchmark-autosave").assert_outcomes(passed=1)
    (run,) = list_runs(storage)
    return json.loads(run.path.read_text())


def _clone(template, storage, number, tag, minute):
    """A real run as another runner saved it at 00:<minute> (its own bytes, so its own hash on the branch)."""
    data = json.loads(json.dumps(template))
    data["datetime"] = data["effcheck"]["created"] = f"2026-01-01T00:{minute:02d}:00+00:00"
    path = storage / MACHINE / f"{number:04d}_{tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_runs_prune_removed_from_the_branch_are_not_pushed_back(tmp_path, bare, capsys, template):
    from effcheck.cli import main as effcheck_main

    a, b = tmp_path / "a", tmp_path / "b"
    for n in range(1, 8):  # 7 runs on a, 1 on b, interleaved in time
        _clone(template, a, n, "a", 2 * n)
    _clone(template, b, 1, "b", 3)
    push(a, str(bare), "runs")
    push(b, str(bare), "runs")
    capsys.readouterr()
    # keep 1 per machine folder, the newest (it holds the exact claim's baseline; no pool): 7 runs go
    assert effcheck_main(["prune", "--keep", "1", "--remote", str(bare), "--branch", "runs"]) == 0
    assert "removed 7 run(s)" in capsys.readouterr().out
    kept = [f for f in _git(bare, "ls-tree", "-r", "--name-only", "runs").split() if f.endswith(".json")]
    assert [f.rsplit("/", 1)[1] for f in kept] == ["0007_a.json"]
    assert len(_git(bare, "show", f"runs:{PRUNED_FILE}").split()) == 7
    # each runner still holds its runs locally: its next push leaves the pruned ones out, and says so
    tip = _git(bare, "rev-parse", "runs")
    assert effcheck_main(["push", "--storage", str(a), "--remote", str(bare), "--branch", "runs"]) == 0
    assert "6 local run(s) that prune removed from the branch left out; nothing pushed" in capsys.readouterr().out
    assert effcheck_main(["push", "--storage", str(b), "--remote", str(bare), "--branch", "runs"]) == 0
    assert "1 local run(s) that prune removed from the branch left out; nothing pushed" in capsys.readouterr().out
    assert _git(bare, "rev-parse", "runs") == tip
    _clone(template, a, 8, "a", 30)  # a new run still travels, and the list survives the push
    assert [r.rsplit("/", 1)[1] for r in push(a, str(bare), "runs").runs] == ["0008_a.json"]
    assert len(_git(bare, "show", f"runs:{PRUNED_FILE}").split()) == 7
    # a second prune adds to the list; a fresh pull gets only what the branch holds
    assert effcheck_main(["prune", "--keep", "1", "--remote", str(bare), "--branch", "runs"]) == 0
    assert len(_git(bare, "show", f"runs:{PRUNED_FILE}").split()) == 8
    c = tmp_path / "c"
    assert effcheck_main(["pull", "--storage", str(c), "--remote", str(bare), "--branch", "runs"]) == 0
    assert [r.path.name.split("-")[0] for r in list_runs(c)] == ["0008_a"]  # pulled: 0008_a-<hash>.json


def test_runs_that_share_a_number_are_addressable_after_a_pull(tmp_path, bare, capsys):
    from effcheck.cli import main as effcheck_main

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run_a, run_b = _run(a, 1, "x_20261207_100000"), _run(b, 1, "x_20261207_110000")
    push(a, str(bare), "runs")
    push(b, str(bare), "runs")
    assert effcheck_main(["pull", "--storage", str(c), "--remote", str(bare), "--branch", "runs"]) == 0
    capsys.readouterr()
    assert effcheck_main(["report", "0001", "--storage", str(c)]) == 2
    err = capsys.readouterr().err
    assert "run 0001 is ambiguous" in err and err.count("/remote/") == 2  # both named, by their paths
    for run in (run_a, run_b):
        effcheck_main(["report", run.stem, "--storage", str(c)])
        out, err = capsys.readouterr()
        assert "ambiguous" not in err and "no run" not in err


def test_pulls_at_once_into_one_storage_copy_each_run_once(tmp_path, bare):
    import threading

    from effcheck.remote import _place, pull

    a, c = tmp_path / "a", tmp_path / "c"
    for n in range(1, 6):
        _run(a, n, "a")
    push(a, str(bare), "runs")
    barrier = threading.Barrier(3)
    errors = []

    def puller():
        barrier.wait()
        try:
            pull(c, str(bare), "runs")
        except Exception as exc:  # noqa: BLE001 -- reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=puller) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert sorted(r.path.read_bytes() for r in list_runs(c)) == sorted(r.path.read_bytes() for r in list_runs(a))
    # the race itself, made certain: the same run placed a second time is found there, not copied beside it
    run = list_runs(c)[0].path
    parts = run.relative_to(c).parts
    assert _place(c, parts[1], parts[2:], run.read_bytes()) is None
    assert len(list_runs(c)) == 5


def test_sixteen_pushes_at_once_all_land(tmp_path, bare):
    from tests.test_remote_history import push_all_at_once

    storages = [tmp_path / f"s{i}" for i in range(16)]  # 24 at once once needed more than 8 attempts
    for i, storage in enumerate(storages):
        _run(storage, 1, f"runner{i}")
    results, errors = push_all_at_once(storages, bare, "runs", timeout=300)
    assert not errors and all(r.commit for r in results)
    assert int(_git(bare, "rev-list", "--count", "runs")) == 16 and _git(bare, "rev-list", "--merges", "runs") == ""


def _refusing_hook(bare, tmp_path):
    calls = tmp_path / "calls"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'branch runs is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    return calls


def test_a_push_the_remote_refuses_fails_at_once_with_its_reason(tmp_path, bare, capsys):
    from effcheck.cli import main as effcheck_main

    storage = tmp_path / "runner"
    _run(storage, 1, "one")
    push(storage, str(bare), "runs")
    _run(storage, 2, "two")
    calls = _refusing_hook(bare, tmp_path)
    assert effcheck_main(["push", "--storage", str(storage), "--remote", str(bare), "--branch", "runs"]) == 2
    err = capsys.readouterr().err
    assert len(calls.read_text().split()) == 3  # three refusals on an unmoved tip, not forty: retrying cannot help
    assert err.count("\n") == 1 and "branch runs is protected" in err and "while no other push landed" in err, err


def test_a_prune_the_remote_refuses_fails_at_once_with_its_reason(tmp_path, bare, capsys, template):
    from effcheck.cli import main as effcheck_main

    storage = tmp_path / "runner"
    for n in (1, 2, 3):
        _clone(template, storage, n, "a", n)
    push(storage, str(bare), "runs")
    tip = _git(bare, "rev-parse", "runs")
    calls = _refusing_hook(bare, tmp_path)
    assert effcheck_main(["prune", "--keep", "1", "--remote", str(bare), "--branch", "runs"]) == 2
    err = capsys.readouterr().err
    assert len(calls.read_text().split()) == 3 and _git(bare, "rev-parse", "runs") == tip
    assert err.count("\n") == 1 and "branch runs is protected" in err and "while no other push landed" in err, err


def test_two_runners_runs_of_one_name_are_ambiguous_not_missing_after_a_pull(tmp_path, bare, capsys):
    from effcheck.cli import main as effcheck_main

    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    _run(a, 1, "ci")  # --benchmark-save=ci on two runners: 0001_ci on both, other contents
    (b / MACHINE).mkdir(parents=True)
    (b / MACHINE / "0001_ci.json").write_text(json.dumps({"benchmarks": [], "runner": "b"}))
    push(a, str(bare), "runs")
    push(b, str(bare), "runs")
    assert effcheck_main(["pull", "--storage", str(c), "--remote", str(bare), "--branch", "runs"]) == 0
    capsys.readouterr()
    assert effcheck_main(["report", "0001_ci", "--storage", str(c)]) == 2
    err = capsys.readouterr().err
    assert "run 0001_ci is ambiguous" in err and err.count("/0001_ci-") == 2 and "give a path" in err


def test_the_gate_header_names_a_pulled_baseline_whose_number_another_run_shares(pytester, tmp_path, bare):
    pytester.makepyfile(test_mine=SUITE)
    x, y, z = tmp_path / "x", tmp_path / "y", tmp_path / "z"
    for storage in (x, y):  # each runner's first run: 0001 on both (within one second: one name, too)
        pytester.runpytest(f"--benchmark-storage=file://{storage}", "--benchmark-autosave").assert_outcomes(passed=1)
        push(storage, str(bare), "runs")
    from effcheck.remote import pull

    pull(z, str(bare), "runs")
    (theirs,) = [r.path.read_bytes() for r in list_runs(y)]
    (newest,) = [r.path.stem for r in list_runs(z) if r.path.read_bytes() == theirs]
    result = pytester.runpytest(f"--benchmark-storage=file://{z}", "--benchmark-compare")
    result.stdout.fnmatch_lines([f"*effcheck gate (per-claim baselines: {newest} (1 claim);*"])


def test_ctrl_c_while_a_remote_prune_lists_what_it_removed_is_one_line(tmp_path, bare, template):
    from effcheck.errors import UsageError
    from effcheck.prune import prune_remote

    storage = tmp_path / "runner"
    for n in (1, 2, 3):
        _clone(template, storage, n, "a", n)
    push(storage, str(bare), "runs")

    def say(line):
        raise KeyboardInterrupt  # Ctrl-C after the branch moved, while its lines print

    with pytest.raises(UsageError, match="prune interrupted: runs was pruned entirely or not at all"):
        prune_remote(str(bare), "runs", 1, False, say)
    assert len([f for f in _git(bare, "ls-tree", "-r", "--name-only", "runs").split() if f.endswith(".json")]) == 1


SUITE_ENV = SUITE.replace("Measurement(19210,", "Measurement(int(__import__('os').environ['PARAMS']),")


def test_an_acceptance_travels_to_its_own_run_not_to_another_runners_run_of_the_same_name(
        pytester, tmp_path, bare, monkeypatch, capsys):
    from effcheck.cli import main as effcheck_main
    from effcheck.remote import pull

    pytester.makepyfile(test_mine=SUITE_ENV)
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    # --benchmark-save=ci: 0001_ci, then 0002_ci on both runners, in this order; A's 0002 and B's 0002 both moved
    for storage, value in ((a, "19210"), (b, "19210"), (a, "19300"), (b, "19400")):
        monkeypatch.setenv("PARAMS", value)
        pytester.runpytest(f"--benchmark-storage=file://{storage}", "--benchmark-save=ci")
    assert effcheck_main(["accept", "0002_ci", "--storage", str(a)]) == 0  # A's change, on purpose; B's not
    for storage in (a, b):
        push(storage, str(bare), "runs")
    pull(c, str(bare), "runs")
    pull(b, str(bare), "runs")
    capsys.readouterr()
    monkeypatch.setenv("PARAMS", "19210")
    for storage in (c, b):  # A's accepted 19,300 is the baseline; B's 19,400 was accepted by nobody
        result = pytester.runpytest(f"--benchmark-storage=file://{storage}", "--benchmark-compare")
        result.stdout.fnmatch_lines(["*mine/params: regression: parameters was 19,300 params in baseline run 0002_ci-*"
                                     ])

"""Runs travel on a branch of a git remote (issue 20): `effcheck push` and `effcheck pull` against a bare
repository in tmp_path."""

import json
import shutil
import subprocess
import threading

import pytest

from effcheck.cli import main as effcheck_main
from effcheck.remote import PULLED_DIR, RemoteError, push
from effcheck.remote_accept import pulled_name
from effcheck.store import ACCEPTED_FILE, list_runs, read_acceptances, record_acceptance

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="push and pull use the git command")

MACHINE = "Linux-CPython-3.11-64bit"


@pytest.fixture
def bare(tmp_path):
    path = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


def _run(storage, number, tag, machine=MACHINE):
    path = storage / machine / f"{number:04d}_{tag}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmarks": [], "tag": tag, "number": number, "storage": str(storage)}))
    return path


def _contents(storage):
    return sorted(r.path.read_bytes() for r in list_runs(storage))


def _cli(capsys, *argv):
    code = effcheck_main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _branch_files(bare, branch="runs"):
    listed = subprocess.run(["git", "--git-dir", str(bare), "ls-tree", "-r", "--name-only", branch],
                            capture_output=True, text=True, check=True)
    return listed.stdout.split()


def _commits(bare, branch="runs"):
    listed = subprocess.run(["git", "--git-dir", str(bare), "rev-list", "--count", branch],
                            capture_output=True, text=True, check=True)
    return int(listed.stdout)


def test_push_then_pull_into_a_fresh_storage_gives_the_same_runs(tmp_path, bare, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    for n in (1, 2, 3):
        _run(a, n, f"run{n}")
    record_acceptance(a, "0002_run2", ["fam/*"])
    code, out, err = _cli(capsys, "push", "--storage", str(a), "--remote", str(bare), "--branch", "runs")
    assert code == 0, err
    assert "pushed 3 run(s) and 1 acceptance line(s)" in out
    assert _commits(bare) == 1 and "effcheck-accepted.jsonl" in _branch_files(bare)
    code, out, err = _cli(capsys, "pull", "--storage", str(b), "--remote", f"file://{bare}", "--branch", "runs")
    assert code == 0, err
    assert "pulled 3 run(s) and 1 acceptance line(s)" in out
    assert _contents(b) == _contents(a)
    assert all(r.path.relative_to(b).parts[0] == PULLED_DIR for r in list_runs(b))
    # the acceptance names the pulled copy of the run it was made for (pulled names carry the run's hash)
    (pulled_run2,) = [r.path.stem for r in list_runs(b) if r.path.name.startswith("0002_run2-")]
    assert read_acceptances(b) == {pulled_run2: ("fam/*",)}
    # pulled again, and pushed back from either side: nothing is duplicated
    assert _cli(capsys, "pull", "--storage", str(b), "--remote", str(bare), "--branch", "runs")[1].startswith(
        "pulled 0 run(s) and 0 acceptance")
    assert _cli(capsys, "pull", "--storage", str(a), "--remote", str(bare), "--branch", "runs")[1].startswith(
        "pulled 0 run(s) and 0 acceptance")
    assert "nothing pushed" in _cli(capsys, "push", "--storage", str(b), "--remote", str(bare), "--branch", "runs")[1]
    assert len(list_runs(a)) == 3 and len(list_runs(b)) == 3 and _commits(bare) == 1


def test_push_twice_adds_nothing_the_second_time_and_then_only_the_new_run(tmp_path, bare):
    a = tmp_path / "a"
    _run(a, 1, "one")
    first = push(a, str(bare), "runs")
    assert len(first.runs) == 1 and first.commit
    again = push(a, str(bare), "runs")
    assert again.runs == [] and again.commit is None and _commits(bare) == 1
    _run(a, 2, "two")
    third = push(a, str(bare), "runs")
    assert [r.rsplit("/", 1)[1] for r in third.runs] == ["0002_two.json"]
    assert _commits(bare) == 2  # one commit per push, on the old tip: nothing rewritten
    parent = subprocess.run(["git", "--git-dir", str(bare), "rev-parse", "runs~1"], capture_output=True,
                            text=True, check=True).stdout.strip()
    assert parent == first.commit


def test_clashing_run_numbers_from_two_storages_both_survive_and_are_addressable(tmp_path, bare, capsys):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    run_a, run_b = _run(a, 1, "same"), _run(b, 1, "same")  # same machine folder, same name, other content
    push(a, str(bare), "runs")
    push(b, str(bare), "runs")
    assert len([f for f in _branch_files(bare) if f.endswith("0001_same.json")]) == 2
    code, out, err = _cli(capsys, "pull", "--storage", str(c), "--remote", str(bare), "--branch", "runs")
    assert code == 0 and "pulled 2 run(s)" in out, err
    pulled = list_runs(c)
    assert sorted(r.path.read_bytes() for r in pulled) == sorted([run_a.read_bytes(), run_b.read_bytes()])
    for run in pulled:  # each by its path
        assert _cli(capsys, "report", str(run.path), "--storage", str(c))[0] in (0, 2)
    # into a storage that has one of them: only the other comes, beside the local run
    code, out, _ = _cli(capsys, "pull", "--storage", str(a), "--remote", str(bare), "--branch", "runs")
    assert "pulled 1 run(s)" in out
    assert run_a.read_bytes() == json.dumps({"benchmarks": [], "tag": "same", "number": 1, "storage": str(a)}).encode()
    assert sorted(r.path.read_bytes() for r in list_runs(a)) == sorted([run_a.read_bytes(), run_b.read_bytes()])


def push_all_at_once(storages, bare, branch, timeout):
    """Each storage pushed from its own thread, all released at once: (results, exceptions raised)."""
    barrier = threading.Barrier(len(storages))
    results, errors = [], []

    def racer(storage):
        barrier.wait()
        try:
            results.append(push(storage, str(bare), branch))
        except Exception as exc:  # noqa: BLE001 -- reported by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=racer, args=(s,)) for s in storages]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return results, errors


def test_two_pushes_at_the_same_moment_both_land(tmp_path, bare):
    storages = [tmp_path / f"s{i}" for i in range(4)]
    for i, storage in enumerate(storages):
        for n in (1, 2):
            _run(storage, n, f"runner{i}")
    results, errors = push_all_at_once(storages, bare, "runs", timeout=120)
    assert not errors and len(results) == len(storages)
    assert len([f for f in _branch_files(bare) if f.endswith(".json")]) == 2 * len(storages)
    assert _commits(bare) == len(storages)  # one commit each; none rewritten or lost
    fsck = subprocess.run(["git", "--git-dir", str(bare), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


def test_a_push_rejected_by_a_newer_tip_is_rebuilt_on_it(tmp_path, bare, monkeypatch):
    import effcheck.remote as remote

    a, b = tmp_path / "a", tmp_path / "b"
    _run(a, 1, "a")
    _run(b, 1, "b")
    real = remote._commit
    calls, inner = [], []

    def interleaved(git, tip, *args):  # another runner lands between this one's fetch and its push
        if inner:
            return real(git, tip, *args)  # b's own push
        calls.append(tip)
        if len(calls) == 1:
            inner.append(True)
            push(b, str(bare), "runs")
            inner.pop()
        return real(git, tip, *args)

    monkeypatch.setattr(remote, "_commit", interleaved)
    result = push(a, str(bare), "runs")
    assert result.attempts == 2 and calls[0] is None and calls[1] is not None  # orphan, then on b's commit
    assert _commits(bare) == 2 and len([f for f in _branch_files(bare) if f.endswith(".json")]) == 2


def test_an_interrupted_push_leaves_the_branch_as_it_was(tmp_path, bare, monkeypatch):
    import effcheck.remote as remote

    a = tmp_path / "a"
    _run(a, 1, "one")
    first = push(a, str(bare), "runs")
    _run(a, 2, "two")
    real = remote._Git.run

    def killed(self, *args, **kwargs):
        if args[0] == "push":
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(remote._Git, "run", killed)
    with pytest.raises(RemoteError, match="push interrupted: runs holds all of this push's runs or none"):
        push(a, str(bare), "runs")
    monkeypatch.undo()
    tip = subprocess.run(["git", "--git-dir", str(bare), "rev-parse", "runs"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert tip == first.commit
    assert len(push(a, str(bare), "runs").runs) == 1 and _commits(bare) == 2


def test_a_pull_never_overwrites_a_local_file(tmp_path, bare):
    a, b = tmp_path / "a", tmp_path / "b"
    mine = _run(b, 1, "same")  # the same local name, other content
    theirs = _run(a, 1, "same")
    result = push(a, str(bare), "runs")
    (path_on_branch,) = result.runs
    digest, *parts = path_on_branch.split("/")[1:]  # even the name a pull would choose is taken
    squatter = b.joinpath(PULLED_DIR, digest, *parts[:-1], pulled_name(parts[-1], digest))
    squatter.parent.mkdir(parents=True)
    squatter.write_text('{"mine": true}')
    before = {p: p.read_bytes() for p in b.rglob("*") if p.is_file()}
    from effcheck.remote import pull

    pulled = pull(b, str(bare), "runs")
    assert len(pulled.runs) == 1 and pulled.runs[0].read_bytes() == theirs.read_bytes()
    assert pulled.runs[0] not in before
    assert {p: p.read_bytes() for p in before} == before and mine.exists()


def test_acceptance_lines_are_a_deduplicated_union(tmp_path, bare):
    from effcheck.remote import pull

    a, b = tmp_path / "a", tmp_path / "b"
    _run(a, 1, "x")
    _run(b, 1, "y")
    record_acceptance(a, "0001_x", ["*"])
    record_acceptance(b, "0001_y", ["fam/one"])
    push(a, str(bare), "runs")
    push(b, str(bare), "runs")
    pull(a, str(bare), "runs")
    pull(b, str(bare), "runs")
    stem = {s: {r.path.read_bytes(): r.path.stem for r in list_runs(s)} for s in (a, b)}
    run_x, run_y = (a / MACHINE / "0001_x.json").read_bytes(), (b / MACHINE / "0001_y.json").read_bytes()
    for storage in (a, b):  # each storage: both acceptances, once each, naming its own copy of each run
        assert read_acceptances(storage) == {stem[storage][run_x]: ("*",), stem[storage][run_y]: ("fam/one",)}
    assert len((a / ACCEPTED_FILE).read_text().splitlines()) == 2
    assert push(a, str(bare), "runs").commit is None and push(b, str(bare), "runs").commit is None


@pytest.mark.parametrize("verb", ["push", "pull"])
def test_an_absent_or_unreadable_remote_is_one_line(tmp_path, capsys, verb):
    storage = tmp_path / "s"
    _run(storage, 1, "x")
    for remote in (tmp_path / "nowhere.git", tmp_path / "s"):  # absent; a folder that is no repository
        code, out, err = _cli(capsys, verb, "--storage", str(storage), "--remote", str(remote), "--branch", "runs")
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith("effcheck: error: cannot read the remote"), err
    assert len(list_runs(storage)) == 1


def test_pull_of_a_branch_that_does_not_exist_is_one_line(tmp_path, bare, capsys):
    code, _, err = _cli(capsys, "pull", "--storage", str(tmp_path / "s"), "--remote", str(bare), "--branch", "none")
    assert code == 2 and err.count("\n") == 1 and "no branch 'none'" in err
    with pytest.raises(RemoteError, match="not a valid branch name"):
        push(tmp_path, str(bare), "bad..name")


def _gate_plugin_project(pytester, monkeypatch):
    """test_gate_plugin's two-claim project (values from the environment), saving only when asked."""
    from tests.test_gate_plugin import CLAIMS, SUITE

    for name in ("EXACT", "NOISY", "INTERRUPT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    pytester.makeini("[pytest]\neffcheck_autosave = false\n")


def test_a_pulled_history_gates(pytester, tmp_path_factory, monkeypatch):
    _gate_plugin_project(pytester, monkeypatch)
    root = tmp_path_factory.mktemp("gate")
    bare, a, b = root / "remote.git", root / "a", root / "b"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    pytester.runpytest(f"--benchmark-storage=file://{a}", "--benchmark-autosave").assert_outcomes(passed=2)
    assert effcheck_main(["push", "--storage", str(a), "--remote", str(bare), "--branch", "runs"]) == 0
    assert effcheck_main(["pull", "--storage", str(b), "--remote", str(bare), "--branch", "runs"]) == 0
    (pulled,) = [r.path for r in list_runs(b)]
    monkeypatch.setenv("EXACT", "4.4")  # a regression against the pulled run
    result = pytester.runpytest(f"--benchmark-storage=file://{b}", "--benchmark-compare")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([f"*fam/exact: regression: ratio was 4.5 x in baseline run {pulled.stem}*"])
    # pytest-benchmark says "Can't compare. No benchmark files": one line says what its comparison misses
    notes = [ln for ln in result.stdout.lines if "does not see the 1 run(s) pulled under" in ln]
    assert len(notes) == 1 and notes[0].startswith("effcheck: warning: pytest-benchmark's own --benchmark-compare")


def test_prune_keeps_the_newest_and_every_run_that_holds_a_baseline(pytester, tmp_path_factory, monkeypatch,
                                                                     capsys):
    _gate_plugin_project(pytester, monkeypatch)
    root = tmp_path_factory.mktemp("prune")
    bare, a, b = root / "remote.git", root / "a", root / "b"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    for _ in range(7):
        pytester.runpytest(f"--benchmark-storage=file://{a}", "--benchmark-autosave").assert_outcomes(passed=2)
    runs = [r.path for r in list_runs(a)]
    assert effcheck_main(["push", "--storage", str(a), "--remote", str(bare), "--branch", "runs"]) == 0
    capsys.readouterr()
    # the noisy claim pools the newest 5 accepted runs (0003-0007): only 0001 and 0002 may go
    assert effcheck_main(["prune", "--keep", "1", "--storage", str(a), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert [ln.split()[-1] for ln in out.splitlines() if ln.startswith("would remove /")] == [str(p) for p in runs[:2]]
    assert sum(ln.startswith("keep ") for ln in out.splitlines()) == 4
    assert [r.path for r in list_runs(a)] == runs
    assert effcheck_main(["prune", "--keep", "1", "--storage", str(a)]) == 0
    assert "removed 2 run(s); kept 4 older run(s)" in capsys.readouterr().out
    assert [r.path for r in list_runs(a)] == runs[2:]
    # the branch: one commit that removes the same two runs
    assert effcheck_main(["prune", "--keep", "1", "--remote", str(bare), "--branch", "runs"]) == 0
    assert "removed 2 run(s)" in capsys.readouterr().out and _commits(bare) == 2
    assert effcheck_main(["pull", "--storage", str(b), "--remote", str(bare), "--branch", "runs"]) == 0
    assert sorted(r.path.read_bytes() for r in list_runs(b)) == sorted(p.read_bytes() for p in runs[2:])
    # the gate still compares with the newest run
    monkeypatch.setenv("EXACT", "4.4")
    result = pytester.runpytest(f"--benchmark-storage=file://{a}", "--benchmark-compare")
    result.stdout.fnmatch_lines([f"*fam/exact: regression: ratio was 4.5 x in baseline run {runs[-1].stem}*"])
    assert effcheck_main(["prune", "--keep", "1", "--storage", str(a), "--remote", str(bare)]) == 2

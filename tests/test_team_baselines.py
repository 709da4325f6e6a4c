"""A team's baselines (issue 20): architecture facts accepted in a tracked file, reviewed as a diff and gated
in a fresh clone with no history; and runs of other branches that never become a branch's baseline."""

import json
import subprocess

import pytest

from effcheck.cli import main as effcheck_main
from tests.test_user_paths import _set  # the values the project's tests measure

CLAIMS = '''
from effcheck.records import Claim
BYTES = Claim(id="fam/bytes", statement="X needs at most 100 bytes", source="design doc", metric="bytes",
              unit="B", comparison="<=", expected=100, better="lower")
RATIO = Claim(id="fam/ratio", statement="A is smaller than B", source="design doc", metric="ratio",
              unit="x", comparison="<=", expected=1.0, better="lower")
NOISY = Claim(id="fam/noisy", statement="A is 2x faster", source="paper", metric="speedup", unit="x",
              comparison=">=", expected=1.0, better="higher", noisy=True)
'''

SUITE = '''
import json, os, pytest
from claimsdata import BYTES, RATIO, NOISY
from effcheck.records import Measurement

VALUES = json.loads(open("values.json").read()) if os.path.exists("values.json") else {}

@pytest.mark.claim(BYTES)
def test_bytes(effcheck):
    effcheck.check(Measurement(VALUES.get("bytes", 10), "B", "counted"))

@pytest.mark.claim(RATIO)
def test_ratio(effcheck):
    effcheck.check(Measurement(VALUES.get("ratio", 1 / 3), "x", "counted"))

@pytest.mark.timed
@pytest.mark.claim(NOISY)
def test_noisy(effcheck):
    samples = [2.0 * (1 + 0.02 * ((i * 7) % 5 - 2)) for i in range(9)]
    effcheck.check(Measurement(sorted(samples)[4], "x", "interleaved ratio", samples=samples))
'''


@pytest.fixture
def project(pytester, monkeypatch):
    for name in ("EFFCHECK_BRANCH", "GITHUB_ACTIONS", "GITHUB_BASE_REF", "GITHUB_HEAD_REF", "GITHUB_REF_NAME",
                 "CI_COMMIT_BRANCH", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    return pytester


def _facts(project):
    return [line for line in (project.path / "effcheck-facts.txt").read_text().splitlines()
            if not line.startswith("#")]


def _statuses(project, *args):
    result = project.runpytest("--effcheck-json=ledger.json", *args)
    ledger = json.loads((project.path / "ledger.json").read_text())
    return result, {d["claim_id"]: (d["status"], d["baseline_run"]) for d in ledger["comparison"]["deltas"]}


def test_accepting_writes_the_facts_sorted_one_per_line_and_never_the_timed_claims(project):
    project.runpytest("--effcheck-accept").assert_outcomes(passed=3)
    assert _facts(project) == ["fam/bytes = 10 B", "fam/ratio = 0.3333333333333333 x"]  # exact, not rounded
    _set(project, bytes=12)
    result = project.runpytest("--effcheck-accept=fam/bytes")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*effcheck-facts.txt: 1 accepted fact(s) written; review the diff and commit it:",
                                 "  fam/bytes 10 -> 12 B"])
    assert _facts(project) == ["fam/bytes = 12 B", "fam/ratio = 0.3333333333333333 x"]


def test_a_fresh_clone_with_no_history_gates_its_facts_against_the_file_and_fails_closed(project):
    project.runpytest("--effcheck-accept").assert_outcomes(passed=3)
    # a fresh clone: the repository's files, no saved run
    subprocess.run(["rm", "-rf", str(project.path / ".benchmarks")], check=True)
    result, found = _statuses(project, "--benchmark-compare", "--effcheck-require-baseline", "-m", "not timed")
    result.assert_outcomes(passed=2, deselected=1)
    assert found == {"fam/bytes": ("unchanged", "effcheck-facts.txt"), "fam/ratio": ("unchanged", "effcheck-facts.txt")}
    subprocess.run(["rm", "-rf", str(project.path / ".benchmarks")], check=True)
    _set(project, bytes=11)  # a fact changed and not accepted
    result = project.runpytest("--benchmark-compare", "--effcheck-require-baseline", "-m", "not timed")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fam/bytes: regression: bytes was 10 B in effcheck-facts.txt, now 11 B*"])
    (project.path / "effcheck-facts.txt").write_text("fam/bytes = 11 B\n")  # fam/ratio is no longer held
    subprocess.run(["rm", "-rf", str(project.path / ".benchmarks")], check=True)
    result = project.runpytest("--benchmark-compare", "--effcheck-require-baseline", "-m", "not timed")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*fam/ratio: no baseline*not in effcheck-facts.txt (accept it with "
                                 "--effcheck-accept=fam/ratio)*"])


def test_the_file_wins_over_the_history_for_facts_and_timed_claims_keep_their_history(project, capsys):
    project.runpytest().assert_outcomes(passed=3)  # run 0001: 10 bytes, the history's baseline
    (project.path / "effcheck-facts.txt").write_text("fam/bytes = 12 B\nfam/ratio = 0.3333333333333333 x\n")
    _set(project, bytes=12)  # a pull request changed the model and its facts file on purpose: merged = accepted
    result, found = _statuses(project, "--benchmark-compare")
    result.assert_outcomes(passed=3)
    assert found["fam/bytes"] == ("unchanged", "effcheck-facts.txt")
    assert found["fam/noisy"][1].startswith("0001_")  # timed claims keep their history baselines
    # the reviewer's report says the fact moved, accepted in the file: never a silent 'unchanged'
    result.stdout.fnmatch_lines(["*fam/bytes: unchanged*; accepted in effcheck-facts.txt: 10 -> 12 B against "
                                 "baseline run 0001_*"])
    capsys.readouterr()
    assert effcheck_main(["report", str(project.path / "ledger.json"), "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "1 fact accepted in the facts file" in markdown and "Nothing changed" not in markdown
    assert "unchanged (accepted in effcheck-facts.txt: 10 -> 12 B against baseline run 0001_" in markdown


def test_a_facts_file_that_does_not_parse_is_one_line_before_the_tests_and_stays_as_it_was(project):
    (project.path / "effcheck-facts.txt").write_text("fam/bytes = 10 B\n<<<<<<< HEAD\n")
    result = project.runpytest("--benchmark-compare", "--effcheck-accept")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*effcheck-facts.txt:2: a merge conflict marker: resolve the conflict*"])
    assert (project.path / "effcheck-facts.txt").read_text() == "fam/bytes = 10 B\n<<<<<<< HEAD\n"


def test_the_facts_file_can_live_elsewhere_or_nowhere(project):
    project.runpytest("--effcheck-accept", "--effcheck-facts=conf/facts.txt").assert_outcomes(passed=3)
    assert (project.path / "conf" / "facts.txt").exists() and not (project.path / "effcheck-facts.txt").exists()
    project.runpytest("--effcheck-accept", "--effcheck-facts=none").assert_outcomes(passed=3)
    assert not (project.path / "effcheck-facts.txt").exists()


def test_effcheck_accept_rewrites_the_facts_file_the_project_keeps(project, capsys):
    project.runpytest("--effcheck-accept").assert_outcomes(passed=3)
    _set(project, bytes=15)
    project.runpytest().assert_outcomes(passed=3)  # saved as 0002, a regression nobody accepted yet
    capsys.readouterr()
    assert effcheck_main(["accept", "latest", "fam/bytes", "--storage", str(project.path / ".benchmarks")]) == 0
    assert "fam/bytes 10 -> 15 B" in capsys.readouterr().out
    assert _facts(project)[0] == "fam/bytes = 15 B"
    project.runpytest("--benchmark-compare").assert_outcomes(passed=3)


def test_a_pull_requests_runs_never_become_mains_baseline(project, monkeypatch):
    project.makeini("[pytest]\neffcheck_facts = none\n")  # the history alone: what branches change there
    monkeypatch.setenv("EFFCHECK_BRANCH", "main")
    project.runpytest().assert_outcomes(passed=3)  # 0001 on main: 10 bytes
    monkeypatch.setenv("EFFCHECK_BRANCH", "feature")
    _set(project, bytes=15)
    project.runpytest("--effcheck-accept").assert_outcomes(passed=3)  # 0002: the pull request accepts 15
    result, found = _statuses(project, "--benchmark-compare")  # the pull request again: its own branch serves
    result.assert_outcomes(passed=3)
    assert found["fam/bytes"][0] == "unchanged" and found["fam/bytes"][1].startswith("0002_")
    monkeypatch.setenv("EFFCHECK_BRANCH", "main")  # main, still at 15 without the merge: never the PR's 15
    result, found = _statuses(project, "--benchmark-compare")
    result.assert_outcomes(passed=2, failed=1)
    assert found["fam/bytes"][0] == "regression" and found["fam/bytes"][1].startswith("0001_")
    monkeypatch.setenv("EFFCHECK_BRANCH", "other-feature")  # another pull request: main's runs, not the first PR's
    _, found = _statuses(project, "--benchmark-compare")
    assert found["fam/bytes"][1].startswith("0001_")
    _, found = _statuses(project, "--benchmark-compare", "--effcheck-baseline-branch=*")  # any branch, on request
    assert found["fam/bytes"][0] == "unchanged"


def test_runs_saved_before_branches_were_recorded_still_serve_every_branch(project, monkeypatch):
    project.makeini("[pytest]\neffcheck_facts = none\n")
    project.runpytest().assert_outcomes(passed=3)
    for run in (project.path / ".benchmarks").rglob("0001_*.json"):
        data = json.loads(run.read_text())
        del data["effcheck"]["environment"]["git"]  # as an older effcheck saved it
        run.write_text(json.dumps(data))
    monkeypatch.setenv("EFFCHECK_BRANCH", "feature")
    _set(project, bytes=15)
    result = project.runpytest("--benchmark-compare")  # forgetting that history would pass this regression
    result.assert_outcomes(passed=2, failed=1)


def test_a_run_records_its_branch_and_commit(project):
    subprocess.run(["git", "init", "-q", "-b", "topic"], cwd=project.path, check=True)
    subprocess.run(["git", "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x"],
                   cwd=project.path, check=True)
    project.runpytest("--effcheck-json=ledger.json").assert_outcomes(passed=3)
    git = json.loads((project.path / "ledger.json").read_text())["environment"]["git"]
    assert git["branch"] == "topic" and len(git["commit"]) == 40


def test_a_fresh_clone_fails_closed_for_a_fact_whose_library_vanished(pytester):
    from tests.test_user_paths import CLAIMS as PATH_CLAIMS
    from tests.test_user_paths import LIBRARY_SUITE

    pytester.makepyfile(claimsdata=PATH_CLAIMS, test_lib=LIBRARY_SUITE, fakelib="VALUE = 10\n")
    pytester.runpytest("--effcheck-accept").assert_outcomes(passed=1)
    subprocess.run(["rm", "-rf", str(pytester.path / ".benchmarks")], check=True)  # a fresh clone
    (pytester.path / "fakelib.py").unlink()  # and an image that lost the library
    closed = pytester.runpytest("--benchmark-compare", "--effcheck-require-baseline")
    closed.assert_outcomes(failed=1)
    closed.stdout.fnmatch_lines(["*fakelib is not installed*fam/bytes has its accepted value in "
                                 "effcheck-facts.txt*fails closed*"])


def test_effcheck_facts_lists_and_drops_the_lines_no_claim_carries_any_more(project, capsys):
    project.runpytest("--effcheck-accept").assert_outcomes(passed=3)
    facts = project.path / "effcheck-facts.txt"
    facts.write_text(facts.read_text() + "fam/renamed = 7 B\n")  # a claim the suite no longer has
    capsys.readouterr()
    assert effcheck_main(["facts", str(project.path)]) == 1
    said = capsys.readouterr().out
    assert "1 line(s) name a claim" in said and "  fam/renamed = 7 B" in said and "fam/bytes" not in said
    assert effcheck_main(["facts", str(project.path), "--drop-stale"]) == 0
    assert _facts(project) == ["fam/bytes = 10 B", "fam/ratio = 0.3333333333333333 x"]
    assert effcheck_main(["facts", str(project.path)]) == 0
    assert effcheck_main(["facts", "--facts", str(project.path / "missing.txt")]) == 2

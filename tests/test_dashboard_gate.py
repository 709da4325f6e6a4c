"""The history page shows the gate, not only the verdict (issue 20, item 4): each point carries the gate's
outcome for its run (an accepted move reads as accepted), a verdict flip is a change, the x axis names runs
and commits in the gate's order, and runs pulled from a team's branch are on the page, distinct from local
runs of the same number."""

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from effcheck.baseline import ordering_times
from effcheck.cli import main as effcheck_main
from effcheck.outcomes import MOVES, Outcome, gate_outcome, verdict_flip
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict
from effcheck.store import load_runs
from effcheck.timeline import Run, run_from_file, scopes

KEY = "AMD EPYC|cpu|torch2.14|float32"
MACHINE = "Linux-CPython-3.11-64bit"
STATUSES = ["regression", "improvement", "changed", "unchanged", "new", "missing", "not compared"]
SUITE_FACT = Claim(id="fam/ratio", statement="A is at least 2x B", source="suite check", metric="ratio", unit="x",
                   comparison=">=", expected=2.0, better="higher", source_kind="suite",
                   refuted="measured below 2x: recorded as a finding")


# -- pure rules -------------------------------------------------------------------------------------


@given(st.sampled_from([*STATUSES, None, "something newer"]), st.booleans())
def test_an_accepted_move_is_never_read_as_the_regression_it_was(status, accepted):
    outcome = gate_outcome(status, accepted)
    if accepted and status in {"regression", "improvement", "changed"}:
        assert outcome is Outcome.ACCEPTED
    elif status in STATUSES:
        assert outcome is Outcome(status)  # acceptance of a claim that did not move changes nothing
    else:
        assert outcome is Outcome.NOT_JUDGED  # nothing recorded, or a status this effcheck does not know
    assert not (accepted and outcome in MOVES)


@given(st.sampled_from(["", None, "PASS", "FAIL", "FINDING", "REFUTED (paper)"]),
       st.sampled_from(["", None, "PASS", "FAIL", "FINDING", "REFUTED (paper)"]))
def test_a_flip_is_named_exactly_when_two_known_verdicts_differ(before, after):
    flip = verdict_flip(before, after)
    assert bool(flip) == bool(before and after and before != after)
    if flip:
        assert flip == f"{before} -> {after}"


def _ledger(value, created, verdict=Verdict.PASS, deltas=None, claim=SUITE_FACT, environment=None):
    result = ClaimResult(claim, verdict, "m", Measurement(value, "x", "counted"), "t::x")
    comparison = None if deltas is None else {"baseline": "per-claim", "deltas": deltas}
    return Ledger((result,), environment or {"python": "3.11.7", "libraries": {"torch": "2.14.1"}}, KEY,
                  created.isoformat(), "0.1.0", comparison)


T0 = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)


@given(st.lists(st.tuples(st.integers(0, 72), st.booleans()), min_size=1, max_size=8))
def test_runs_of_one_folder_are_ordered_as_the_gate_orders_them(spec):
    """Recorded hours at random (a clock ahead, a clock behind): within a folder the page's order is the
    run numbers' (baseline.ordering_times caps each time by later-numbered runs), ties never reorder."""
    runs = [Run(f"{n + 1:04d}_r", T0 + dt.timedelta(hours=h), _ledger(1.0, T0 + dt.timedelta(hours=h)),
                key=f"/s/{MACHINE}/{n + 1:04d}_r.json", folder=f"/s/{MACHINE}") for n, (h, _) in enumerate(spec)]
    shuffled = [r for r, (_, first) in zip(runs, spec, strict=True) if first] + \
               [r for r, (_, first) in zip(runs, spec, strict=True) if not first]
    (scope,) = scopes(shuffled)
    assert [r.name for r in scope.runs] == [r.name for r in runs]
    now = dt.datetime.now(dt.timezone.utc)
    capped = ordering_times([(r.folder, int(r.number), r.created) for r in runs], now)
    assert [r.ordered_at for r in scope.runs] == capped
    (history,) = scope.claims
    assert [p.label for p in history.points] == [r.number for r in runs]  # the x axis: run numbers, in order


# -- saved runs, as users make them --------------------------------------------------------------------


CLAIMS = '''
from effcheck.records import Claim
BYTES = Claim(id="fam/bytes", statement="X needs at most 100 bytes", source="design doc", metric="bytes",
              unit="B", comparison="<=", expected=100, better="lower")
'''

SUITE = '''
import json, os, pytest
from claimsdata import BYTES
from effcheck.records import Measurement

VALUES = json.loads(open("values.json").read()) if os.path.exists("values.json") else {}

@pytest.mark.claim(BYTES)
def test_bytes(effcheck):
    effcheck.check(Measurement(VALUES.get("bytes", 10), "B", "counted"))
'''


@pytest.fixture
def project(pytester):
    pytester.makepyfile(claimsdata=CLAIMS, test_suite=SUITE)
    return pytester


def _set(project, **values):
    (project.path / "values.json").write_text(json.dumps(values))


def _history(storage):
    runs = [run_from_file(r.run.path, r.ledger, r.ledger.created) for r in load_runs(storage)]
    from effcheck.store import read_acceptances

    (scope,) = scopes(runs, read_acceptances(storage))
    return {h.claim.id: h for h in scope.claims}


def _changes(storage):
    from effcheck.dashboard import change_summary

    return change_summary(list(_history(storage).values()))


def _page(storage, out, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("jinja2")
    assert effcheck_main(["history", "--storage", str(storage), "--out", str(out)]) == 0
    capsys.readouterr()
    return (out / "index.html").read_text()


def test_a_regression_reads_red_until_accepted_then_accepted(project, capsys):
    storage = project.path / ".benchmarks"
    project.runpytest().assert_outcomes(passed=1)
    _set(project, bytes=15)
    project.runpytest().assert_outcomes(passed=1)  # a plain run: saved and judged, a regression recorded
    bytes_ = _history(storage)["fam/bytes"]
    assert [p.outcome for p in bytes_.points] == [Outcome.NEW, Outcome.REGRESSION]
    page = _page(storage, project.path / "before", capsys)
    assert '<span class="change regression">1 regression</span>: fam/bytes' in page

    assert effcheck_main(["accept", "0002", "--storage", str(storage)]) == 0  # afterwards, beside the history
    bytes_ = _history(storage)["fam/bytes"]
    assert [p.outcome for p in bytes_.points] == [Outcome.NEW, Outcome.ACCEPTED]
    page = _page(storage, project.path / "after", capsys)
    assert '<span class="change accepted">1 accepted</span>: fam/bytes (run 0002 is its baseline from now on)' in page
    assert "accepted (regression +5, +50.0%)" in page and "change regression" not in page

    _set(project, bytes=20)  # accepted on the run itself
    project.runpytest("--effcheck-accept=fam/*").assert_outcomes(passed=1)
    bytes_ = _history(storage)["fam/bytes"]
    assert [p.outcome for p in bytes_.points] == [Outcome.NEW, Outcome.ACCEPTED, Outcome.ACCEPTED]
    assert bytes_.outcome is Outcome.ACCEPTED and "regression" not in [c["kind"] for c in _changes(storage)]


def test_a_verdict_flip_inside_the_tolerance_is_a_change_the_summary_names(tmp_path, capsys):
    storage = tmp_path / ".benchmarks"
    same = {"claim_id": SUITE_FACT.id, "status": "unchanged", "message": "m", "baseline_run": "0001_a",
            "baseline_value": 2.0, "current_value": 2.0, "unit": "x", "change": 0.0}
    _save(storage, "0001_a", _ledger(2.0, T0, deltas=[]))
    _save(storage, "0002_b", _ledger(2.0, T0 + dt.timedelta(hours=1), deltas=[same]))
    page = _page(storage, tmp_path / "steady", capsys)
    assert "Nothing changed against the baseline: no value moved and no verdict flipped." in page

    within = dict(same, baseline_run="0002_b", current_value=1.99, change=-0.005, status="unchanged")
    _save(storage, "0003_c", _ledger(1.99, T0 + dt.timedelta(hours=2), Verdict.REFUTED, deltas=[within]))
    history = _history(storage)[SUITE_FACT.id]
    assert history.flip == "PASS -> FINDING" and history.changed
    assert [p.flip for p in history.points] == ["", "", "PASS -> FINDING"]
    page = _page(storage, tmp_path / "flipped", capsys)
    assert "Nothing changed against the baseline" not in page
    assert '<span class="change flip">1 verdict flip</span>: fam/ratio (PASS -&gt; FINDING)' in page
    assert "unchanged -0.5%; verdict PASS -&gt; FINDING" in page


def _save(storage, stem, ledger, folder=MACHINE, commit=None):
    path = storage / folder / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"datetime": ledger.created, "benchmarks": [], "effcheck": ledger.to_dict()}
    if commit:
        data["commit_info"] = {"id": commit, "dirty": False}
    path.write_text(json.dumps(data))
    return path


def test_pulled_runs_are_on_the_page_and_a_clashing_number_stays_distinct(tmp_path, capsys):
    storage = tmp_path / ".benchmarks"
    _save(storage, "0001_same", _ledger(2.0, T0, deltas=[]), commit="1111111aaaaaaa")
    _save(storage, "0002_x", _ledger(2.0, T0 + dt.timedelta(hours=2), deltas=[]), commit="2222222bbbbbbb")
    pulled = f"remote/{'ab' * 8}/{MACHINE}"  # another runner's 0001, by the same name (remote.pull)
    _save(storage, "0001_same", _ledger(2.5, T0 + dt.timedelta(hours=1), deltas=[]), folder=pulled,
          commit="3333333ccccccc")
    history = _history(storage)[SUITE_FACT.id]
    assert [p.label for p in history.points] == ["0001\n1111111", f"0001\n3333333\n@{'ab' * 3}a", "0002\n2222222"]
    assert [p.value for p in history.points] == [2.0, 2.5, 2.0]  # both 0001s, each with its own value
    assert len({p.run_id for p in history.points}) == 3
    # 0002 recorded no comparison: the page compares it with the newest earlier run, the pulled 0001
    assert history.baseline_id == str(storage / pulled / "0001_same.json")
    assert history.outcome is Outcome.REGRESSION and history.delta.baseline_value == 2.5
    assert effcheck_main(["history", "--storage", str(storage), "--out", str(tmp_path / "d")]) == 0
    assert "(3 runs, 1 hardware scope)" in capsys.readouterr().out
    page = (tmp_path / "d" / "index.html").read_text()
    assert "<td><code>0001 3333333 @abababa</code></td>" in page  # the grid's baseline: the pulled run, by origin


def test_the_x_axis_names_run_and_commit_and_the_version_change_sits_between_runs(tmp_path):
    storage = tmp_path / ".benchmarks"
    old = {"python": "3.11.7", "libraries": {"torch": "2.13.0"}}
    new = {"python": "3.11.7", "libraries": {"torch": "2.14.1"}}
    _save(storage, "0045_a", _ledger(2.0, T0, deltas=[], environment=old), commit="0123456789abcdef")
    _save(storage, "0046_b", _ledger(2.0, T0 + dt.timedelta(hours=1), deltas=[], environment=new))
    runs = [run_from_file(r.run.path, r.ledger, r.ledger.created) for r in load_runs(storage)]
    (scope,) = scopes(runs)
    assert [r.label for r in scope.runs] == ["0045\n0123456", "0046"]
    (change,) = scope.env_changes
    assert change.index == 1 and change.label == "torch 2.13.0 -> 2.14.1"
    (history,) = scope.claims  # the runs recorded no comparison: the page's own names the upgrade too
    assert history.delta is not None and history.delta.environment_change == "torch 2.13.0 -> 2.14.1"

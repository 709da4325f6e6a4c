"""The baseline selection's rules, property-tested: which saved measurement each claim compares with."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from effcheck.baseline import (
    ANY_MACHINE,
    BaselineIndex,
    accepted_by,
    acceptor,
    entries_from_facts,
    entries_of,
    facts_of,
    ordering_times,
    recorded_time,
    scope_of,
    select,
    standing,
)
from effcheck.env import device_key, software_diff
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict, ledger_header

CPU_A = {"device": "cpu", "cpu": "CPU A", "torch": "2.14.1"}
CPU_B = {"device": "cpu", "cpu": "CPU B", "torch": "2.14.1"}
GPU = {"device": "cuda:0", "cpu": "CPU A", "gpu_name": "NVIDIA H200", "gpu_count": 8}


def _claim(cid="fam/x", noisy=False):
    return Claim(id=cid, statement="s", source="src", metric="m", unit="x", comparison=">=", expected=0.0,
                 better="higher", noisy=noisy)


def _result(claim, value=1.0, method="counted", device="cpu", verdict=Verdict.PASS, samples=()):
    return ClaimResult(claim, verdict, "", Measurement(value, "x", method, device=device, samples=samples))


def test_scope_follows_what_the_metric_depends_on():
    exact, timed = _claim(), _claim(noisy=True)
    assert scope_of(_result(exact), CPU_A) == ANY_MACHINE
    assert scope_of(_result(exact, device="meta"), GPU) == ANY_MACHINE
    assert scope_of(_result(timed), CPU_A) == "cpu:CPU A"
    assert scope_of(_result(timed, device="cuda:0"), GPU) == "cuda:NVIDIA H200 x8"
    allocator = "peak of the c10 CPU allocator's running total (torch.profiler allocation events), minus start"
    assert scope_of(_result(exact, method=allocator), CPU_B) == "cpu:CPU B"
    cuda_peak = "torch.cuda.max_memory_allocated after reset, minus start"
    assert scope_of(_result(exact, method=cuda_peak, device="cuda:0"), GPU) == "cuda:NVIDIA H200 x8"


def test_software_is_never_part_of_a_key_and_is_shown_as_a_diff():
    old = {**CPU_A, "torch": "2.13.0", "libraries": {"transformers": "4.57.6", "timm": "1.0.0"}}
    new = {**CPU_A, "torch": "2.14.1", "libraries": {"transformers": "5.24.0", "timm": "1.0.0"}}
    assert device_key(old) == device_key(new) == "cpu:CPU A"
    assert software_diff(old, new) == "torch 2.13.0 -> 2.14.1, transformers 4.57.6 -> 5.24.0"
    assert software_diff(new, new) == ""


def test_standing_rules():
    claim, timed = _claim(), _claim(noisy=True)
    assert standing(_result(claim), True, None, False) == (True, "")
    assert standing(_result(claim), True, "unchanged", False)[0]
    assert not standing(_result(claim), False, "unchanged", False)[0]  # interrupted
    assert not standing(_result(claim), True, "regression", False)[0]
    assert not standing(_result(claim), True, "improvement", False)[0]  # a change waits for acceptance
    assert not standing(_result(claim), True, "changed", False)[0]  # an exact move within tolerance too
    assert standing(_result(timed), True, "changed", False)[0]  # a timed move that was not significant
    assert standing(_result(claim), True, "regression", True)[0]  # accepted on purpose
    assert not standing(_result(claim, verdict=Verdict.FAIL), True, "new", False)[0]
    assert standing(_result(claim, verdict=Verdict.REFUTED), True, "new", False)[0]


# -- histories as data: each run is (minutes after the epoch, complete, {claim: (value, status, accepted)}) -----

STATUSES = ["new", "unchanged", "changed", "regression", "improvement", "not compared", None]
CLAIM_IDS = ["fam/a", "fam/b", "fam/c"]
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


@st.composite
def histories(draw):
    n = draw(st.integers(0, 8))
    minutes = draw(st.lists(st.integers(0, 50), min_size=n, max_size=n))
    runs = []
    for number, minute in enumerate(minutes, start=1):
        claims = draw(st.dictionaries(st.sampled_from(CLAIM_IDS),
                                      st.tuples(st.integers(1, 5), st.sampled_from(STATUSES), st.booleans()),
                                      max_size=3))
        runs.append((number, minute, draw(st.booleans()), claims, draw(st.sampled_from([CPU_A, CPU_B]))))
    return runs


def _ledgers(runs):
    """Per run: (stem, number, ledger, claims accepted after the fact)."""
    for number, minute, complete, claims, env in runs:
        results = tuple(_result(_claim(cid), float(value)) for cid, (value, _, _) in claims.items())
        deltas = [{"claim_id": cid, "status": status} for cid, (_, status, _) in claims.items() if status]
        ledger = Ledger(results, env, "k", (EPOCH + dt.timedelta(minutes=minute)).isoformat(),
                        comparison={"deltas": deltas}, complete=complete)
        yield f"{number:04d}_run", number, ledger, [cid for cid, (_, _, yes) in claims.items() if yes]


def _entries(runs):
    return [e for run, number, ledger, accepted in _ledgers(runs) for e in entries_of(run, number, ledger, accepted)]


@given(histories())
def test_the_index_caches_facts_give_the_entries_the_ledgers_give(runs):
    for run, number, ledger, accepted in _ledgers(runs):
        header = ledger_header(ledger.to_dict())
        facts = [list(f) for f in facts_of(header) if f is not None]  # as the JSON cache holds them
        cached = entries_from_facts(run, number, header, facts, accepted, lambda cid: ({}, {}))
        assert cached == entries_of(run, number, ledger, accepted)


patterns = st.lists(st.text(st.sampled_from("ab/*?[]!-."), max_size=6), max_size=4)


@given(patterns, st.text(st.sampled_from("ab/*?[]!-."), max_size=6))
def test_a_runs_compiled_acceptance_matches_as_fnmatch_does(found, claim_id):
    assert acceptor(found)(claim_id) == accepted_by(found, claim_id)


@given(histories(), st.sampled_from(CLAIM_IDS))
def test_a_failing_or_interrupted_run_is_never_a_baseline(runs, cid):
    selection = BaselineIndex(_entries(runs)).select(cid, ANY_MACHINE)
    if selection.baseline is None:
        return
    number = int(selection.baseline.run[:4])
    _, _, complete, claims, _ = runs[number - 1]
    _, status, accepted = claims[cid]
    assert complete
    assert accepted or status in ("new", "unchanged", "not compared", None)
    assert all(e.eligible for e in selection.pool)


@given(histories(), st.sampled_from(CLAIM_IDS), st.integers(0, 60), st.booleans())
def test_a_subset_run_never_hides_an_older_measurement(runs, cid, minute, complete):
    before = BaselineIndex(_entries(runs)).select(cid, ANY_MACHINE)
    others = {c: (1, "new", False) for c in CLAIM_IDS if c != cid}  # the subset did not run cid
    after = BaselineIndex(_entries([*runs, (99, minute, complete, others, CPU_A)])).select(cid, ANY_MACHINE)
    assert after.baseline == before.baseline and after.history == before.history


@given(histories(), st.sampled_from(CLAIM_IDS), st.randoms())
def test_order_follows_recorded_time_not_the_order_files_are_met(runs, cid, random):
    entries = [e for e in _entries(runs) if e.result.claim.id == cid]
    shuffled = list(entries)
    random.shuffle(shuffled)
    assert select(shuffled, ANY_MACHINE).baseline == select(entries, ANY_MACHINE).baseline
    eligible = [e for e in entries if e.result.claim.id == cid and e.eligible]
    got = BaselineIndex(shuffled).select(cid, ANY_MACHINE).baseline
    assert got == (max(eligible, key=lambda e: (e.created, e.number)) if eligible else None)


@given(histories(), st.sampled_from(CLAIM_IDS))
def test_device_quantities_never_cross_devices(runs, cid):
    timed = []
    for number, minute, complete, claims, env in runs:
        results = tuple(_result(_claim(c, noisy=True), float(v), samples=(1.0, 2.0, 3.0))
                        for c, (v, _, _) in claims.items())
        ledger = Ledger(results, env, "k", (EPOCH + dt.timedelta(minutes=minute)).isoformat(), complete=complete)
        timed += entries_of(f"{number:04d}_run", number, ledger)
    selection = BaselineIndex(timed).select(cid, "cpu:CPU A")
    assert all(e.environment["cpu"] == "CPU A" for e in selection.pool)
    assert len(selection.pool) <= 5 and selection.history >= len(selection.pool)


def test_a_pinned_run_is_the_baseline_and_pools_only_older_runs():
    claim = _claim(noisy=True)
    entries = []
    for number in (1, 2, 3):
        ledger = Ledger((_result(claim, float(number), samples=(number,) * 3),), CPU_A,
                        "k", f"2026-01-01T00:0{number}:00+00:00")
        entries += entries_of(f"000{number}_r", number, ledger)
    pinned = select(entries, "cpu:CPU A", pinned="0002_r")
    assert pinned.baseline.run == "0002_r" and [e.run for e in pinned.pool] == ["0002_r", "0001_r"]
    assert pinned.history == 2
    assert select(entries, "cpu:CPU B", pinned="0002_r").note.endswith("not compared")
    assert "not measured in baseline run 0009_r" in select(entries, "cpu:CPU A", pinned="0009_r").note


runs_in_folders = st.lists(st.tuples(st.sampled_from(["Linux", "Other"]), st.integers(-600, 600)), max_size=8)


@given(runs_in_folders, st.integers(-600, 600))
def test_ordering_times_follow_numbers_within_a_folder_and_never_pass_now(found, now_minute):
    """A run's clock may be wrong, its number is not: within a folder, ordering times never decrease with the
    number, none is after now, and a run whose time is plausible (no later than every later run's and now)
    keeps it."""
    runs = [(folder, number, EPOCH + dt.timedelta(minutes=m)) for number, (folder, m) in enumerate(found, 1)]
    now = EPOCH + dt.timedelta(minutes=now_minute)
    times = ordering_times(runs, now)
    for i, (folder, number, recorded) in enumerate(runs):
        later = [times[j] for j, (f, n, _) in enumerate(runs) if f == folder and n > number]
        assert times[i] <= min([now, *later])
        if all(recorded <= runs[j][2] for j, (f, n, _) in enumerate(runs) if f == folder and n > number) \
                and recorded <= now:
            assert times[i] == recorded


@given(st.lists(st.sampled_from(["unchanged", "changed", "regression", "improvement"]), min_size=1, max_size=9),
       st.lists(st.booleans(), min_size=9, max_size=9))
def test_a_noisy_pool_holds_nothing_older_than_the_newest_accepted_move(statuses, accepted):
    claim = _claim(noisy=True)
    entries = []
    for number, status in enumerate(statuses, 1):
        ledger = Ledger((_result(claim, float(number), samples=(number,) * 3),), CPU_A, "k",
                        (EPOCH + dt.timedelta(minutes=number)).isoformat(),
                        comparison={"deltas": [{"claim_id": "fam/x", "status": status}]})
        entries += entries_of(f"{number:04d}_run", number, ledger, ["fam/x"] if accepted[number - 1] else [])
    selection = select(entries, "cpu:CPU A")
    moves = [e.number for e in entries if e.eligible and accepted[e.number - 1]
             and statuses[e.number - 1] in ("regression", "improvement")]
    if selection.baseline is None:
        return
    assert all(e.eligible for e in selection.pool) and len(selection.pool) <= 5
    if moves:
        assert min(e.number for e in selection.pool) >= max(moves)


def test_recorded_time_reads_naive_and_broken_datetimes():
    assert recorded_time("2026-01-01T00:00:00") == EPOCH
    assert recorded_time("2026-01-01T00:00:00Z") == EPOCH
    assert recorded_time("not a time") < EPOCH


@pytest.mark.parametrize("why, runs, expected", [
    ("nothing saved", [], "no saved run measured it"),
    ("only red runs", [(1, "regression")], "0001_run (regression, not accepted)"),
])
def test_no_baseline_says_why(why, runs, expected):
    entries = []
    for number, status in runs:
        ledger = Ledger((_result(_claim()),), CPU_A, "k", "2026-01-01T00:00:00",
                        comparison={"deltas": [{"claim_id": "fam/x", "status": status}]})
        entries += entries_of(f"{number:04d}_run", number, ledger)
    assert expected in select(entries, ANY_MACHINE).note


@given(st.text(st.sampled_from("ab/*?[]!-.12"), min_size=1, max_size=8),
       st.lists(st.text(st.sampled_from("ab/*?[]!-.12"), max_size=6), max_size=3))
def test_a_pattern_equal_to_a_claim_id_matches_it_brackets_and_all(claim_id, others):
    """A parametrized claim's id ("fam/p[1]") named as it is must match, though a glob reads [1] as a class."""
    assert accepted_by([claim_id], claim_id) and acceptor([*others, claim_id])(claim_id)
    for pattern in others:
        assert acceptor([pattern])(claim_id) == accepted_by([pattern], claim_id)


def test_the_run_a_facts_line_came_from_is_the_newest_accepted_one_of_that_value_within_the_recent_runs():
    from effcheck.baseline import SOURCE_SEARCH

    claim = _claim()
    values = [5.0] + [7.0] * (SOURCE_SEARCH + 3)  # 0001 measured 5, every later run 7
    reads = []
    entries = []
    for n, value in enumerate(values, 1):
        result = _result(claim, value)

        def stored(cid, result=result, n=n):
            reads.append(n)
            return result.to_dict(), CPU_A

        entries += entries_from_facts(f"{n:04d}_r", n, {"created": f"2026-12-01T00:00:{n:02d}", "complete": True,
                                                       "accepted": []},
                                      [(claim.id, ANY_MACHINE, False, "PASS", "unchanged")], (), stored)
    index = BaselineIndex(entries)
    assert index.newest_with_value(claim.id, 7.0).run == f"{len(values):04d}_r"
    reads.clear()
    assert index.newest_with_value(claim.id, 5.0) is None  # older than the recent runs: not searched for
    assert len(reads) <= SOURCE_SEARCH and 1 not in reads  # each read is a file: 20 at most, never all
    assert index.newest_with_value(claim.id, 9.0, frozenset({"main"})) is None

"""The history's storage: runs are created exclusively, never lost or rewritten; bad files are skipped."""

import json
import math
import multiprocessing
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from effcheck.baseline import ANY_MACHINE
from effcheck.errors import CorruptFileError, SchemaError
from effcheck.history import INDEX_FILE, load_history
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict
from effcheck.store import (
    ACCEPTED_FILE,
    create_run_file,
    load_ledger,
    read_acceptances,
    record_acceptance,
    remove_stale_temps,
    resolve_run,
)


def _ledger(value, cpu="CPU A", samples=(), created="2026-11-28T10:00:00+00:00"):
    claim = Claim(id="fam/x", statement="X is small", source="paper", metric="ratio", unit="x",
                  comparison=">=", expected=1.0, better="higher", noisy=bool(samples))
    result = ClaimResult(claim, Verdict.PASS, "ok", Measurement(value, "x", "counted", samples=samples), "t::x")
    return Ledger((result,), {"device": "cpu", "cpu": cpu}, f"cpu:{cpu}", created, "0.1.0")


def _save(folder, name, ledger):
    return create_run_file(folder, name, {"benchmarks": [], "effcheck": ledger.to_dict()})


def _create(args):
    folder, i = args
    return create_run_file(folder, "same", {"benchmarks": [], "i": i}).name


def test_concurrent_creates_never_share_a_name(tmp_path):
    with multiprocessing.get_context("fork").Pool(4) as pool:
        names = pool.map(_create, [(tmp_path, i) for i in range(16)])
    assert len(set(names)) == 16 and sorted(p.name for p in tmp_path.glob("*.json")) == sorted(names)
    assert sorted(json.loads(p.read_text())["i"] for p in tmp_path.glob("*.json")) == list(range(16))
    assert not list(tmp_path.glob(".effcheck-*"))


def test_a_clash_takes_the_next_number_and_never_overwrites(tmp_path):
    (tmp_path / "0003_theirs.json").write_text("theirs")
    path = create_run_file(tmp_path, "theirs", {"benchmarks": []})
    assert path.name == "0004_theirs.json" and (tmp_path / "0003_theirs.json").read_text() == "theirs"


def test_a_killed_writers_temporary_file_is_removed_a_live_one_kept(tmp_path, dead_pid):
    import fcntl

    dead = dead_pid
    stale = tmp_path / f".effcheck-{dead}-abc.tmp"
    stale.write_text("half")
    live = tmp_path / f".effcheck-{dead}-def.tmp"  # a writer's lock keeps it, whatever the name says
    fd = os.open(live, os.O_CREAT | os.O_WRONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    # a live writer's file before it took its lock: the moment a concurrent run once removed it in
    unlocked = tmp_path / f".effcheck-{os.getpid()}-fed.tmp"
    unlocked.write_text("being written")
    try:
        assert remove_stale_temps(tmp_path) == [stale]
        assert live.exists() and unlocked.exists() and not stale.exists()
    finally:
        os.close(fd)


@pytest.mark.parametrize("content, error", [
    (b"", CorruptFileError), (b"\xff\xfe", CorruptFileError), (b"{", CorruptFileError),
    (b'{"benchmarks": [], "effcheck": {"schema_version": true, "results": []}}', SchemaError),
    (b'{"benchmarks": [], "effcheck": {"schema_version": 0, "results": []}}', SchemaError),
    (b'{"benchmarks": [], "effcheck": {"schema_version": 2, "results": {}}}', SchemaError),
    (b'{"benchmarks": [], "effcheck": {"schema_version": 2, "results": [], "comparison": 3}}', SchemaError),
])
def test_bad_files_raise_one_error_naming_them(tmp_path, content, error):
    path = tmp_path / "0001_x.json"
    path.write_bytes(content)
    with pytest.raises(error, match="0001_x.json"):
        load_ledger(path)


def test_schema_1_files_keep_being_read(tmp_path):
    data = _ledger(2.0).to_dict()
    data.update(schema_version=1, hardware_key="CPU A|cpu|torch2.13|float32")
    del data["complete"], data["accepted"]
    path = tmp_path / "0001_old.json"
    path.write_text(json.dumps({"benchmarks": [], "effcheck": data}))
    ledger = load_ledger(path)
    assert ledger.complete and ledger.accepted == () and ledger.results[0].measurement.value == 2.0


def test_history_pools_accepted_same_device_runs_and_skips_bad_files(tmp_path):
    folder = tmp_path / "Linux"
    _save(folder, "a", _ledger(2.0, samples=(1.9, 2.0, 2.1), created="2026-11-28T10:01:00"))
    _save(folder, "b", _ledger(9.0, cpu="CPU B", samples=(9.0, 9.0, 9.0), created="2026-11-28T10:02:00"))
    _save(folder, "c", _ledger(2.5, samples=(2.4, 2.5, 2.6), created="2026-11-28T10:03:00"))
    (folder / "0004_bad.json").write_text("{")
    warnings = []
    history = load_history(tmp_path, warnings.append)
    assert len(warnings) == 1 and "0004_bad.json" in warnings[0]
    selection = history.index.select("fam/x", "cpu:CPU A")
    assert selection.baseline.run == "0003_c" and selection.history == 2
    assert sorted(selection.pooled_samples()) == [1.9, 2.0, 2.1, 2.4, 2.5, 2.6]
    assert resolve_run("latest", tmp_path).name == "0003_c.json"


def _baseline(storage, warnings=None):
    history = load_history(storage, (warnings if warnings is not None else []).append, update_index=True)
    return history.index.select("fam/x", ANY_MACHINE).baseline.run


def _edit(path, edit, keep_mtime=False):
    before = path.stat()
    data = json.loads(path.read_text())
    edit(data["effcheck"])
    path.write_text(json.dumps(data))
    # a hand edit comes well after the write; a restore from a backup (cp -p) keeps the old mtime
    mtime = before.st_mtime_ns if keep_mtime else before.st_mtime_ns + 10**9
    os.utime(path, ns=(before.st_atime_ns, mtime))


def test_the_index_cache_is_only_a_cache(tmp_path):
    folder = tmp_path / "Linux"
    _save(folder, "a", _ledger(1.0, created="2026-11-28T10:01:00+00:00"))
    b = _save(folder, "b", _ledger(2.0, created="2026-11-28T10:02:00+00:00"))
    (folder / "0003_bad.json").write_text("{")
    warnings = []
    assert _baseline(tmp_path, warnings) == "0002_b" and (tmp_path / INDEX_FILE).exists()
    assert _baseline(tmp_path, warnings) == "0002_b"  # from the cache
    assert len(warnings) == 2 and all("0003_bad.json" in w for w in warnings)  # one line per session

    def fail(ledger):
        ledger["results"][0]["verdict"] = "FAIL"

    def mend(ledger):
        ledger["results"][0]["verdict"] = "PASS"

    _edit(b, fail)
    assert _baseline(tmp_path) == "0001_a"
    _edit(b, mend, keep_mtime=True)  # same size, same mtime, same inode: the ctime still moved
    assert _baseline(tmp_path) == "0002_b"
    _edit(b, fail)
    record_acceptance(tmp_path, "0002_b", ["fam/*"])  # acceptance is read every time, never cached
    assert _baseline(tmp_path) == "0002_b"
    b.unlink()
    assert _baseline(tmp_path) == "0001_a"
    # another machine's folder: runs of different folders are ordered by their recorded times
    _save(tmp_path / "Other", "c", _ledger(3.0, created="2026-11-28T09:00:00+00:00"))
    assert _baseline(tmp_path) == "0001_a"
    (tmp_path / INDEX_FILE).write_text('{"version": 2, "files": {"Linux/0001_a.json": 7}}')
    assert _baseline(tmp_path) == "0001_a"
    (tmp_path / INDEX_FILE).write_text("{")
    assert _baseline(tmp_path) == "0001_a"


def test_a_clock_that_ran_ahead_orders_its_run_by_its_number(tmp_path):
    """A run a year 'in the future' was saved before every higher-numbered run of its folder: it is capped
    by them, said once, and later runs are newer (before, it stayed the baseline for a year)."""
    folder = tmp_path / "Linux"
    _save(folder, "a", _ledger(1.0, created="2026-11-28T10:00:00+00:00"))
    _save(folder, "ahead", _ledger(2.0, created="2027-11-28T10:00:00+00:00"))
    _save(folder, "b", _ledger(3.0, created="2026-11-28T11:00:00+00:00"))
    warnings = []
    assert _baseline(tmp_path, warnings) == "0003_b"
    assert len(warnings) == 1 and "0002_ahead says it was recorded at 2027-11-28T10:00:00" in warnings[0]
    assert resolve_run("latest", tmp_path).name == "0003_b.json"


def test_acceptances_are_appended_beside_the_runs_and_bad_lines_skipped(tmp_path):
    record_acceptance(tmp_path, "0002_x", ["fam/*"])
    with open(tmp_path / ACCEPTED_FILE, "a") as fh:
        fh.write("not json\n{\"run\": 3}\n")
    record_acceptance(tmp_path, "0002_x", ["other/y"])
    warnings = []
    assert read_acceptances(tmp_path, warnings.append) == {"0002_x": ("fam/*", "other/y")}
    assert len(warnings) == 2


def test_reading_the_history_leaves_the_garbage_collector_as_it_found_it(tmp_path):
    import gc

    _save(tmp_path / "Linux", "a", _ledger(2.0))
    (tmp_path / "Linux" / "0002_bad.json").write_text("{")
    assert gc.isenabled()
    load_history(tmp_path)
    assert gc.isenabled()

    def refuse(message):
        raise RuntimeError(message)

    with pytest.raises(RuntimeError, match="0002_bad.json"):
        load_history(tmp_path, refuse)
    assert gc.isenabled()
    gc.disable()
    try:
        load_history(tmp_path)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _stored(where, number):
    """A run file's JSON with `number` in one of the places a run stores numbers."""
    data = _ledger(2.0, samples=(1.9, 2.0, 2.1)).to_dict()
    result = data["results"][0]
    data["comparison"] = {"gated": True, "baseline": None, "deltas": [
        {"claim_id": "fam/x", "status": "unchanged", "message": "m", "baseline_value": 2.0, "current_value": 2.0,
         "unit": "x", "change": 0.0, "tolerance": 0.2}]}
    {"value": lambda: result["measurement"].update(value=number),
     "sample": lambda: result["measurement"]["samples"].__setitem__(0, number),
     "series": lambda: result["measurement"].update(series=[[number, 1.0]]),
     "expected": lambda: result["claim"].update(expected=number),
     "tolerance": lambda: result["claim"].update(tolerance=number),
     "delta value": lambda: data["comparison"]["deltas"][0].update(baseline_value=number),
     "delta change": lambda: data["comparison"]["deltas"][0].update(change=number)}[where]()
    return {"benchmarks": [], "effcheck": data}


def _a_float(number):
    try:
        return math.isfinite(number)
    except OverflowError:
        return False


@given(st.sampled_from(["value", "sample", "series", "expected", "tolerance", "delta value", "delta change"]),
       st.integers(-(10**320), 10**320) | st.floats() | st.sampled_from([10**308, 2**1024, -(2**1024), 10**400]))
def test_any_stored_number_reads_back_or_is_a_schema_error_never_an_overflow(where, number):
    from effcheck.gate import Delta
    from effcheck.store import ledger_from_json

    try:
        ledger = ledger_from_json(_stored(where, number), "0001_x.json")
    except SchemaError as exc:
        assert "0001_x.json" in str(exc) and len(str(exc)) < 300
        assert not _a_float(number) or (where == "tolerance" and number < 0)
        return
    assert _a_float(number)
    again = ledger_from_json(json.loads(json.dumps({"benchmarks": [], "effcheck": ledger.to_dict()},
                                                   allow_nan=False)), "0001_x.json")
    assert again == ledger
    assert [Delta.from_dict(d) for d in again.comparison["deltas"]] == [
        Delta.from_dict(d) for d in ledger.comparison["deltas"]]

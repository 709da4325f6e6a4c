"""`effcheck bisect`: which package moved which claim.

The pure parts (what differs, which claims, pip's reasons, the verdicts and the table) directly; the search
against a fake Runner (a model of which package moves which claim and which sets pip installs); the real
ScratchRunner with a fake subprocess (the commands it gives pip and pytest); the CLI with a fake runner.
No pip runs here unless EFFCHECK_BISECT_E2E=1 asks for the end-to-end test at the bottom (it builds three
small venvs with pip: two runs under different numpy and pytest-benchmark versions, then the bisection;
a few minutes, and pip needs an index or a cache holding those versions).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from effcheck.bisect.inputs import (
    ChangedClaim,
    Outcome,
    differs,
    fixed_differences,
    package_changes,
    recorded_packages,
    select_claims,
)
from effcheck.bisect.scratch import ScratchConfig, ScratchRunner, filter_constraints, moved_text, pin, pip_reason
from effcheck.bisect.search import search
from effcheck.bisect.table import Context, Numbers, render, rows
from effcheck.bisect.verdicts import ALL, BASELINE, GROUP, Installed, blame, blame_text, trial_verdict
from effcheck.cli import main
from effcheck.errors import BaselineError, UsageError
from effcheck.records import Claim, ClaimResult, Ledger, Measurement, Verdict
from tests.test_cli import _save  # a run file as pytest-benchmark saves it

ROOT = Path(__file__).resolve().parent.parent


def _env(**libraries):
    return {"device": "cpu", "python": "3.11.7", "libraries": libraries}


BASE_ENV = _env(torch="2.13.0", transformers="5.24.0", peft="0.18.1", numpy="2.4.6")
RUN_ENV = _env(torch="2.14.1", transformers="5.25.0", peft="0.21.2", numpy="2.4.6")
CHANGES = package_changes(BASE_ENV, RUN_ENV)


def _claim(cid, noisy=False):
    return Claim(id=cid, statement="s", source="src", metric="m", unit="B", comparison="==", expected=1.0,
                 noisy=noisy)


def _result(cid, value, noisy=False, verdict=Verdict.PASS, nodeid=None):
    measurement = None if value is None else Measurement(value, "B", "counted", samples=(value, value) if noisy else ())
    return ClaimResult(_claim(cid, noisy), verdict, "boom\nmore" if value is None else "ok", measurement,
                       f"t.py::{cid.replace('/', '_')}" if nodeid is None else nodeid)


def _ledger(results, env=BASE_ENV):
    return Ledger(tuple(results), env, "cpu:x", "2026-12-01T10:00:00+00:00", "0.1.0")


def _changed(cid, base, run, noisy=False):
    return ChangedClaim(cid, f"t.py::{cid.replace('/', '_')}", "B", noisy, 0.2 if noisy else 0.0,
                        Outcome(base, "PASS"), Outcome(run, "PASS"))


# -- what differs ------------------------------------------------------------------------------------------


def test_package_changes_are_the_recorded_versions_that_differ_in_recorded_order():
    assert [c.text() for c in CHANGES] == ["torch 2.13.0 -> 2.14.1", "transformers 5.24.0 -> 5.25.0",
                                           "peft 0.18.1 -> 0.21.2"]
    added = package_changes(_env(torch="2.13.0", rwkv=None), _env(torch="2.13.0", rwkv="0.8.32", timm="1.0.31"))
    assert [c.text() for c in added] == ["rwkv absent -> 0.8.32", "timm absent -> 1.0.31"]
    assert package_changes({}, {"libraries": "not a mapping"}) == ()


versions = st.dictionaries(st.sampled_from(["torch", "transformers", "peft", "timm", "numpy"]),
                           st.none() | st.sampled_from(["1.0", "1.1", "2.0"]))


@given(versions, versions)
def test_package_changes_take_the_baseline_to_the_run(before, after):
    changes = package_changes({"libraries": before}, {"libraries": after})
    moved = {**before, **{c.name: c.new for c in changes}}
    assert {n: v for n, v in moved.items() if v is not None} == {n: v for n, v in after.items() if v is not None}
    assert len({c.name for c in changes}) == len(changes)
    assert all(c.old != c.new for c in changes)


def test_fixed_differences_are_what_pip_cannot_move():
    assert fixed_differences({"python": "3.11.7", "cuda_build": "12.8"}, {"python": "3.12.1"}) == (
        "python 3.11.7 -> 3.12.1", "CUDA runtime 12.8 -> absent")
    assert recorded_packages({"libraries": {"torch": "2.14.1", "rwkv": None}}) == {"torch": "2.14.1", "rwkv": None}


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
       st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9), st.booleans())
def test_differs_is_symmetric_for_exact_values_and_never_for_itself(a, b, noisy):
    x, y = Outcome(a, "PASS"), Outcome(b, "FAIL")
    assert not differs(x, x, noisy, 0.2)
    assert differs(x, y, False, 0.0) == (a != b) == differs(y, x, False, 0.0)
    assert differs(x, Outcome(None, "ERROR"), noisy, 0.2)
    assert not differs(Outcome(None, "ERROR", "a"), Outcome(None, "ERROR", "b"), noisy, 0.2)


def test_noisy_values_differ_beyond_the_tolerance_only():
    assert not differs(Outcome(1.0, "PASS"), Outcome(1.15, "PASS"), True, 0.2)
    assert differs(Outcome(1.0, "PASS"), Outcome(1.25, "PASS"), True, 0.2)


def test_default_selection_is_the_exact_claims_that_moved_or_broke():
    base = _ledger([_result("a/moved", 20480), _result("a/same", 5), _result("a/timed", 1.0, noisy=True),
                    _result("a/broke", 3), _result("a/was_error", None, verdict=Verdict.ERROR),
                    _result("a/skipped_now", 4), _result("a/only_base", 1)])
    run = _ledger([_result("a/moved", 20496), _result("a/same", 5), _result("a/timed", 2.0, noisy=True),
                   _result("a/broke", None, verdict=Verdict.ERROR), _result("a/was_error", 7),
                   _result("a/skipped_now", None, verdict=Verdict.SKIP), _result("a/only_run", 1)], RUN_ENV)
    selection = select_claims(base, run)
    assert [c.id for c in selection.claims] == ["a/moved", "a/broke"]
    assert selection.claims[1].run == Outcome(None, "ERROR", "boom")
    assert len(selection.notes) == 1 and "a/timed" in selection.notes[0] and "name them" in selection.notes[0]


def test_named_claims_are_bisected_even_unchanged_and_timed():
    base = _ledger([_result("a/x", 1.0), _result("a/timed", 1.0, noisy=True)])
    run = _ledger([_result("a/x", 1.0), _result("a/timed", 1.1, noisy=True)], RUN_ENV)
    selection = select_claims(base, run, ["a/*"])
    assert [c.id for c in selection.claims] == ["a/x", "a/timed"]
    assert selection.claims[1].tolerance == pytest.approx(0.2) and selection.claims[0].tolerance == 0.0
    assert "timed claims bisected on request" in selection.notes[0]
    with pytest.raises(BaselineError, match="'b/\\*' matches no claim"):
        select_claims(base, run, ["b/*"])


def test_claims_without_a_node_id_are_named_and_left_out():
    base = _ledger([_result("a/x", 1.0, nodeid="")])
    run = _ledger([_result("a/x", 2.0, nodeid="")], RUN_ENV)
    selection = select_claims(base, run)
    assert selection.claims == () and "no test node id" in selection.notes[0]


# -- pip's words ---------------------------------------------------------------------------------------------

CONFLICT = """WARNING: Location 'file:///opt/pypi/simple/torch/' is ignored: it is neither a file nor a directory.
Collecting torch==2.14.1
ERROR: Cannot install torch==2.14.1 because these package versions have conflicting dependencies.

The conflict is caused by:
    The user requested torch==2.14.1
    torchvision 0.28.0 depends on torch==2.13.0
    The user requested (constraint) torchvision===0.28.0

To fix this you could try to:
1. loosen the range of package versions you've specified
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/
"""


def test_pip_reason_is_the_conflicting_dependency_in_one_line():
    assert pip_reason(CONFLICT) == "torchvision 0.28.0 depends on torch==2.13.0"
    missing = ("ERROR: Could not find a version that satisfies the requirement torch===9.9 (from versions: 1.0, 2.0)\n"
               "ERROR: No matching distribution found for torch===9.9\n")
    assert pip_reason(missing) == "Could not find a version that satisfies the requirement torch===9.9"
    assert pip_reason("WARNING: noise\nsomething broke\nWARNING: more\n") == "something broke"
    assert pip_reason("") == "pip failed without saying why"


def test_pins_constraints_and_moves():
    assert pin("torch", "2.13.0") == "torch===2.13.0" and pin("torch", "2.13.0+cpu") == "torch==2.13.0+cpu"
    lines = ["# pinned", "Torch==2.14.1", "huggingface_hub==2.4.0", "transformers>=5 ; python_version>'3'", "", "-e ."]
    assert filter_constraints(lines, ["torch", "transformers"]) == ["# pinned", "huggingface_hub==2.4.0", "", "-e ."]
    assert moved_text({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "3", "d": "1"}, skip=["C"]) == (
        "b 2 -> 3", "d absent -> 1")


def test_a_claims_values_print_alike_when_equal_and_apart_when_not():
    shown = Numbers([0.9991040780759023, 0.9990949909798736, 0.9991040780759023], "exponent")
    assert shown(Outcome(0.9991040780759023, "PASS")) == "0.9991 exponent"
    assert shown(Outcome(0.9990949909798736, "PASS")) == "0.99909 exponent"
    assert Numbers([20480, 20496.0], "bytes")(Outcome(20496.0, "PASS")) == "20,496 bytes"
    assert shown(Outcome(None, "ERROR", "x")) == "ERROR" and shown(None) == "-"


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15), min_size=1))
def test_numbers_tell_every_distinct_value_apart(values):
    shown = Numbers(values, "")
    assert len({shown(Outcome(v, "PASS")) for v in values}) == len(set(values))


# -- the search, against a model -------------------------------------------------------------------------------


class FakeRunner:
    """Each claim's value is its base plus the effect of every package (or set of packages) at its new
    version; pip installs a set unless `refuses` says why not."""

    def __init__(self, base, effects, refuses=lambda moved: "", setup_fails=""):
        self.base, self.effects, self.refuses, self.setup_fails = base, effects, refuses, setup_fails
        self.moved: frozenset[str] = frozenset()
        self.calls: list[tuple[str, ...]] = []
        self.baseline: dict = {}

    def setup(self, versions):
        self.baseline = dict(versions)
        self.calls.append(("setup",))
        return Installed(False, self.setup_fails) if self.setup_fails else Installed(True, seconds=3.0)

    def apply(self, moved):
        assert all(v != self.baseline.get(n) for n, v in moved.items())
        self.calls.append(("apply", *sorted(moved)))
        why = self.refuses(frozenset(moved))
        if why:
            return Installed(False, why)
        self.moved = frozenset(moved)
        return Installed(True, also_moved=("huggingface-hub 2.4.0 -> 2.5.0",) if "transformers" in moved else (),
                         seconds=2.0)

    def measure(self, claims):
        self.calls.append(("measure", *sorted(c.id for c in claims)))
        found = {}
        for claim in claims:
            value = self.base[claim.id]
            for group, effect in self.effects.get(claim.id, {}).items():
                if set(group) <= self.moved:
                    value = None if effect is None else value + effect
                    if value is None:
                        break
            found[claim.id] = Outcome(None, "ERROR", "ImportError") if value is None else Outcome(value, "PASS")
        return found


BASELINE_VERSIONS = recorded_packages(BASE_ENV)


def _search(claims, runner, **kw):
    return search(claims, CHANGES, BASELINE_VERSIONS, runner, **kw)


def test_one_package_per_claim_is_named_with_the_table():
    claims = [_changed("seq/cache_bytes", 20480, 20496), _changed("seq/growth", 0.99910, 0.99909)]
    runner = FakeRunner({"seq/cache_bytes": 20480, "seq/growth": 0.99910},
                        {"seq/cache_bytes": {("transformers",): 16}, "seq/growth": {("torch",): -0.00001}})
    found = _search(claims, runner)
    assert [t.purpose for t in found.trials] == [BASELINE, "single", "single", "single", ALL]
    blamed = {c.id: blame(c, found.trials, CHANGES) for c in claims}
    assert blamed["seq/cache_bytes"].culprits == (("transformers",),)
    assert blamed["seq/growth"].culprits == (("torch",),)
    text = render(claims, found.trials, Context("0001", "0002", CHANGES, seconds=75, workdir="/tmp/w"))
    assert "=> seq/cache_bytes (recorded 20,480 B -> 20,496 B): transformers 5.24.0 -> 5.25.0" in text
    assert "=> seq/growth (recorded 0.9991 B -> 0.99909 B): torch 2.13.0 -> 2.14.1" in text
    table = rows(claims, found.trials, CHANGES)
    cache = [r for r in table[:5]]
    assert cache[0][:2] == ("seq/cache_bytes", "(the baseline's versions)") and cache[0][5] == "reproduces the baseline"
    assert [r[1] for r in cache[1:4]] == ["torch", "transformers", "peft"]
    assert [r[5] for r in cache[1:]] == ["no effect", "moves it", "no effect", "moves it"]
    assert cache[2][2:5] == ("5.24.0 -> 5.25.0", "20,480 B", "20,496 B")
    assert "pip also moved huggingface-hub 2.4.0 -> 2.5.0" in text and "wall time 1 min 15 s" in text


def test_a_package_pip_installs_only_with_another_is_tried_in_the_smallest_set():
    def refuses(moved):
        if "peft" in moved and "transformers" not in moved:
            return "peft 0.21.2 depends on transformers>=5.25"
        return ""

    claims = [_changed("lora/params", 100, 90)]
    runner = FakeRunner({"lora/params": 100}, {"lora/params": {("peft",): -10}}, refuses)
    found = _search(claims, runner)
    groups = [t for t in found.trials if t.purpose == GROUP]
    assert [g.moved for g in groups] == [("transformers", "peft")] and groups[0].installed.ok
    result = blame(claims[0], found.trials, CHANGES)
    assert result.culprits == (("transformers", "peft"),) and result.kind == "together"
    text = render(claims, found.trials, Context("0001", "0002", CHANGES))
    assert "transformers 5.24.0 -> 5.25.0 + peft 0.18.1 -> 0.21.2 (pip installs them only together)" in text
    assert "could not install:\n  peft 0.18.1 -> 0.21.2 alone: peft 0.21.2 depends on transformers>=5.25" in text


def test_an_interaction_is_the_smallest_set_that_moves_the_claim():
    claims = [_changed("x/y", 10, 13), _changed("x/z", 1, 2)]
    runner = FakeRunner({"x/y": 10, "x/z": 1}, {"x/y": {("torch", "transformers"): 3}, "x/z": {("peft",): 1}})
    found = _search(claims, runner)
    interactions = [t for t in found.trials if t.purpose == "interaction"]
    assert interactions[0].moved == ("torch", "transformers")
    assert set(interactions[0].outcomes) == {"x/y"}  # only the claim still unexplained is rerun
    result = blame(claims[0], found.trials, CHANGES)
    assert result.culprits == (("torch", "transformers"),) and result.kind == "together"
    assert "together (neither alone)" in blame_text(result, CHANGES, found.trials)
    table = rows(claims, found.trials, CHANGES)
    assert sum(1 for r in table if r[1] == "torch + transformers") == 1  # x/z has no row for it


def test_no_package_moves_it_names_the_project_code():
    claims = [_changed("a/b", 5, 6)]
    runner = FakeRunner({"a/b": 5}, {})
    found = _search(claims, runner)
    result = blame(claims[0], found.trials, CHANGES)
    assert result.kind == "code" and "project's own code" in blame_text(result, CHANGES)
    assert any("with all the run's versions this checkout measures 5" in n for n in result.notes)
    already = blame(claims[0], _search(claims, FakeRunner({"a/b": 6}, {})).trials, CHANGES)
    assert already.kind == "code"
    assert any("already measures the run's value" in n for n in already.notes)
    assert any("not the recorded 5" in n for n in already.notes)


def test_a_package_that_breaks_the_claim_is_named():
    claims = [ChangedClaim("a/b", "t::b", "B", False, 0.0, Outcome(5, "PASS"), Outcome(None, "ERROR", "x"))]
    found = _search(claims, FakeRunner({"a/b": 5}, {"a/b": {("peft",): None}}))
    assert blame(claims[0], found.trials, CHANGES).culprits == (("peft",),)
    peft = next(t for t in found.trials if t.moved == ("peft",))
    assert trial_verdict(claims[0], Outcome(5, "PASS"), peft.outcomes["a/b"]) == "breaks it (ERROR)"


def test_two_packages_pip_moves_only_together_are_also_the_runs_versions():
    changes = package_changes(_env(torch="2.13.0", torchvision="0.28.0"), _env(torch="2.14.1", torchvision="0.29.1"))
    claims = [_changed("v/x", 1, 3)]
    runner = FakeRunner({"v/x": 1}, {"v/x": {("torch",): 1}}, lambda moved: "" if len(moved) == 2 else "pinned")
    found = search(claims, changes, {}, runner)
    assert [t.purpose for t in found.trials] == [BASELINE, "single", "single", GROUP]  # no separate ALL
    result = blame(claims[0], found.trials, changes)
    assert result.culprits == (("torch", "torchvision"),)
    assert any("with all the run's versions this checkout measures 2" in n for n in result.notes)


def test_a_baseline_pip_cannot_build_stops_and_says_so():
    claims = [_changed("a/b", 5, 6)]
    found = _search(claims, FakeRunner({"a/b": 5}, {}, setup_fails="No matching distribution found for torch"))
    assert len(found.trials) == 1 and not found.trials[0].installed.ok
    text = render(claims, found.trials, Context("1", "2", CHANGES))
    assert "the baseline's versions: No matching distribution found for torch" in text
    assert "not found (the baseline's versions could not be measured)" in text


def test_tests_that_cannot_run_with_the_baseline_stop_the_search():
    class Broken(FakeRunner):
        def measure(self, claims):
            return {c.id: Outcome(None, "ERROR", "E   ModuleNotFoundError: No module named 'hypothesis'")
                    for c in claims}

    claims = [_changed("a/b", 5, 6)]
    found = _search(claims, Broken({"a/b": 5}, {}))
    assert [t.purpose for t in found.trials] == [BASELINE]
    text = render(claims, found.trials, Context("1", "2", CHANGES))
    assert "stopped: no claim gave a value with the baseline's versions" in text
    assert "No module named 'hypothesis'" in text and "--with REQ" in text


def test_the_trial_limit_is_said():
    claims = [_changed("a/b", 5, 6)]
    found = _search(claims, FakeRunner({"a/b": 5}, {"a/b": {("peft",): 1}}), max_trials=2)
    assert len(found.trials) == 2 and found.skipped == ("transformers", "peft", "torch + transformers + peft")
    assert "not tried (the --max-trials limit)" in render(claims, found.trials,
                                                            Context("1", "2", CHANGES, skipped=found.skipped))


def test_a_noisy_claim_moves_only_beyond_its_tolerance():
    claims = [_changed("t/ratio", 1.0, 1.5, noisy=True)]
    found = _search(claims, FakeRunner({"t/ratio": 1.0}, {"t/ratio": {("torch",): 0.5, ("peft",): 0.1}}))
    assert blame(claims[0], found.trials, CHANGES).culprits == (("torch",),)


names = ("torch", "transformers", "peft")


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["c/1", "c/2", "c/3"]),
                       st.dictionaries(st.sampled_from(names), st.integers(1, 5), min_size=1), min_size=1))
def test_single_effects_are_always_found_exactly(effects):
    """Whatever package moves whatever claim on its own, the blame names exactly those packages."""
    claims = [_changed(cid, 100, 100 + sum(effects[cid].values())) for cid in sorted(effects)]
    runner = FakeRunner({cid: 100 for cid in effects},
                        {cid: {(n,): d for n, d in e.items()} for cid, e in effects.items()})
    found = _search(claims, runner)
    for claim in claims:
        result = blame(claim, found.trials, CHANGES)
        assert {g for g in result.culprits} == {(n,) for n in effects[claim.id]}
    assert not any(t.purpose == "interaction" for t in found.trials)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([g for size in (2, 3) for g in itertools.combinations(names, size)]))
def test_an_interaction_of_any_set_is_found_as_that_set(group):
    claims = [_changed("c/1", 0, 7)]
    found = _search(claims, FakeRunner({"c/1": 0}, {"c/1": {group: 7}}))
    assert blame(claims[0], found.trials, CHANGES).culprits == (group,)


# -- the real runner's commands, with a fake subprocess ---------------------------------------------------------


class FakeProcess:
    """Answers pip and pytest as the venv would: `pip list` from a dict that installs change."""

    def __init__(self, installed, refuse=""):
        self.installed, self.refuse = installed, refuse
        self.commands: list[list[str]] = []

    def __call__(self, args, **kw):
        self.commands.append(list(args))
        assert "PYTHONPATH" not in kw["env"]
        tool = args[2] if args[1] == "-m" else ""
        if tool == "pip" and args[3] == "list":
            return subprocess.CompletedProcess(args, 0, json.dumps([{"name": n, "version": v}
                                                                   for n, v in self.installed.items()]), "")
        if tool == "pip" and args[3] == "install":
            if self.refuse and any(a.startswith(self.refuse) for a in args):
                return subprocess.CompletedProcess(args, 1, "", CONFLICT)
            for spec in args[4:]:
                if "==" in spec and not spec.startswith("-"):
                    name, _, version = spec.partition("==")
                    self.installed[name] = version.lstrip("=")
            return subprocess.CompletedProcess(args, 0, "", "")
        if tool == "pip" and args[3] == "uninstall":
            for name in args[5:]:
                self.installed.pop(name, None)
            return subprocess.CompletedProcess(args, 0, "", "")
        if tool == "pytest":
            ledger = next(a for a in args if a.startswith("--effcheck-json=")).split("=", 1)[1]
            Path(ledger).write_text(json.dumps(_ledger([_result("a/x", 20496, nodeid="t.py::test_x")]).to_dict()))
            return subprocess.CompletedProcess(args, 0, "1 passed", "")
        return subprocess.CompletedProcess(args, 0, "", "")


def _config(tmp_path, **kw):
    return ScratchConfig(workdir=tmp_path / "w", rootdir=tmp_path, python=sys.executable, effcheck=("-e", str(ROOT)),
                         tools=("pytest==9.2.0",), **kw)


def test_scratch_runner_restores_the_baseline_then_moves_one_package_pinned(tmp_path):
    fake = FakeProcess({"torch": "2.13.0", "transformers": "5.24.0", "huggingface-hub": "2.4.0"})
    runner = ScratchRunner(_config(tmp_path, constraints=("transformers==5.24.0", "tokenizers==0.23.3")), run=fake)
    assert runner.setup({"torch": "2.13.0", "transformers": "5.24.0", "rwkv": None}).ok
    venv_create, install, effcheck_install = fake.commands[:3]
    assert venv_create[1:3] == ["-m", "venv"]
    assert install[4:7] == ["torch===2.13.0", "transformers===5.24.0", "pytest==9.2.0"]
    assert effcheck_install[4:] == ["--no-deps", "-e", str(ROOT)]
    constraints = (tmp_path / "w" / "constraints.txt").read_text().splitlines()
    assert constraints == ["torch===2.13.0", "transformers===5.24.0", "tokenizers==0.23.3"]

    fake.installed.update({"huggingface-hub": "2.5.0", "leftover": "1.0"})  # a previous candidate's traces
    fake.commands.clear()
    installed = runner.apply({"transformers": "5.25.0"})
    assert installed.ok
    commands = [c[3:] for c in fake.commands if c[3] not in ("list", "check")]
    assert commands[0] == ["uninstall", "-y", "leftover"]
    assert commands[1] == ["install", "--no-deps", "huggingface-hub===2.4.0"]
    # the others are requested at the baseline's versions, not only constrained: pip resolves only what it installs
    assert commands[2][:3] == ["install", "transformers===5.25.0", "torch===2.13.0"]
    assert (tmp_path / "w" / "constraints.txt").read_text().splitlines() == ["torch===2.13.0", "tokenizers==0.23.3"]
    assert installed.also_moved == ()

    fake.commands.clear()  # a superset of what the venv holds builds on it: torch is not put back to move again
    assert runner.apply({"transformers": "5.25.0", "torch": "2.14.1"}).ok
    assert [c[3] for c in fake.commands if c[3] not in ("list", "check")] == ["install"]
    fake.commands.clear()  # anything else starts from the baseline's versions
    assert runner.apply({"torch": "2.14.1"}).ok
    assert any(c[3:5] == ["install", "--no-deps"] and "transformers===5.24.0" in c for c in fake.commands)

    outcomes = runner.measure([ChangedClaim("a/x", "t.py::test_x", "B", False, 0.0, Outcome(1, "PASS"),
                                            Outcome(2, "PASS"))])
    assert outcomes == {"a/x": Outcome(20496, "PASS")}
    pytest_call = fake.commands[-1]
    assert pytest_call[1:4] == ["-m", "pytest", "t.py::test_x"]
    assert "-o" in pytest_call and "effcheck_autosave=false" in pytest_call
    assert f"--benchmark-storage={tmp_path / 'w' / 'storage'}" in pytest_call
    assert (tmp_path / "w" / "pip.log").is_file() and (tmp_path / "w" / "pytest-01.log").is_file()


def test_scratch_runner_reports_pips_refusal_and_a_run_without_ledger(tmp_path):
    fake = FakeProcess({"torch": "2.13.0"}, refuse="torch===2.14.1")
    runner = ScratchRunner(_config(tmp_path), run=fake)
    assert runner.setup({"torch": "2.13.0"}).ok
    refused = runner.apply({"torch": "2.14.1"})
    assert not refused.ok and refused.reason == "torchvision 0.28.0 depends on torch==2.13.0"

    def no_ledger(args, **kw):
        if args[2] == "pytest":
            return subprocess.CompletedProcess(args, 4, "", "ImportError while loading conftest\nE   boom")
        return fake(args, **kw)

    def inconsistent(args, **kw):
        if args[3:4] == ["check"]:
            return subprocess.CompletedProcess(args, 1, "torchvision 0.28.0 has requirement torch==2.13.0, but you "
                                               "have torch 2.14.1.\n", "")
        return fake(args, **kw)

    runner._run = inconsistent
    fake.refuse = ""
    assert runner.apply({"torch": "2.14.1"}).warning.startswith("torchvision 0.28.0 has requirement torch==2.13.0")
    runner._run = no_ledger
    outcome = runner.measure([ChangedClaim("a/x", "t::x", "B", False, 0.0, Outcome(1, "PASS"), Outcome(2, "PASS"))])
    assert outcome["a/x"].verdict == "ERROR" and "wrote no ledger (exit 4): E   boom" in outcome["a/x"].message


# -- the CLI ---------------------------------------------------------------------------------------------------


def test_cli_bisect_prints_the_table_and_removes_its_scratch_folder(tmp_path, monkeypatch, capsys):
    storage = tmp_path / ".benchmarks"
    _save(storage, "0001", _ledger([_result("seq/cache", 20480), _result("seq/same", 3)]))
    _save(storage, "0002", _ledger([_result("seq/cache", 20496), _result("seq/same", 3)], RUN_ENV))
    made = []

    class Fake(FakeRunner):
        def __init__(self, config, log):
            made.append(config)
            super().__init__({"seq/cache": 20480}, {"seq/cache": {("transformers",): 16}})

    monkeypatch.setattr("effcheck.bisect.scratch.ScratchRunner", Fake)
    assert main(["bisect", "1", "2", "--storage", str(storage), "--rootdir", str(tmp_path)]) == 2
    assert "not rerun, their recorded tests are not under" in capsys.readouterr().err  # t.py is not there
    (tmp_path / "t.py").write_text("")
    assert main(["bisect", "1", "2", "--storage", str(storage), "--rootdir", str(tmp_path),
                 "--with", "-r req.txt", "--with=./mypkg"]) == 0
    out = capsys.readouterr()
    assert "=> seq/cache (recorded 20,480 B -> 20,496 B): transformers 5.24.0 -> 5.25.0" in out.out
    assert "building: transformers 5.24.0 -> 5.25.0" in out.err
    config = made[0]
    assert config.device == "cpu" and config.effcheck == ("-e", str(ROOT)) and config.rootdir == tmp_path.resolve()
    assert config.tools[0].startswith("pytest==") and config.tools[1].startswith("hypothesis")
    assert config.extra == ("-r", "req.txt", "./mypkg")
    assert not config.workdir.exists() and "scratch folder removed" in out.out


def test_cli_bisect_nothing_to_do_and_bad_input(tmp_path, capsys):
    storage = tmp_path / ".benchmarks"
    _save(storage, "0001", _ledger([_result("seq/cache", 20480)]))
    _save(storage, "0002", _ledger([_result("seq/cache", 20480)], RUN_ENV))
    _save(storage, "0003", _ledger([_result("seq/cache", 20496)]))
    assert main(["bisect", "1", "2", "--storage", str(storage)]) == 0
    assert "nothing to bisect: no exact claim differs" in capsys.readouterr().out
    assert main(["bisect", "1", "3", "--storage", str(storage)]) == 0
    assert "recorded the same package versions" in capsys.readouterr().out
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    assert main(["bisect", "1", "3", "seq/*", "--storage", str(storage), "--workdir", str(tmp_path / "busy")]) == 0
    (tmp_path / "t.py").write_text("")
    assert main(["bisect", "2", "3", "--storage", str(storage), "--workdir", str(tmp_path / "busy"),
                 "--rootdir", str(tmp_path)]) == 2
    assert "is not an empty folder" in capsys.readouterr().err
    assert main(["bisect", "1", "9", "--storage", str(storage)]) == 2


def test_claims_whose_test_moved_are_found_by_id_under_tests(tmp_path):
    moved = tmp_path / "suite"
    moved.mkdir()
    (moved / "test_mine.py").write_text(
        "import pytest\nfrom effcheck import Claim\n"
        "C = Claim(id='a/x', statement='x', source='doc', metric='x', unit='u', comparison='==', expected=3)\n"
        "@pytest.mark.claim(C)\ndef test_x(): pass\n")
    claims = [_changed("a/x", 1, 2), _changed("a/gone", 1, 2)]
    from effcheck.bisect.command import locate_tests

    kept, notes = locate_tests(claims, tmp_path, [str(moved)])
    assert [(c.id, c.nodeid) for c in kept] == [("a/x", "suite/test_mine.py::test_x")]
    assert "a/gone (t.py::a_gone)" in notes[0] and f"nor under {moved}" in notes[0]
    (tmp_path / "t.py").write_text("")
    assert locate_tests(claims, tmp_path, []) == (tuple(claims), ())


def test_bisect_help_and_modules_import_no_heavy_library():
    code = ("import contextlib, io, sys\nfrom effcheck.cli import main\n"
            "import effcheck.bisect.command, effcheck.bisect.scratch, effcheck.bisect.search, effcheck.bisect.table\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try: main(['bisect', '--help'])\n"
            "    except SystemExit: pass\n"
            "print([m for m in ('torch', 'transformers', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_usage_errors_are_one_line():
    with pytest.raises(UsageError):
        from effcheck.bisect.command import _work_folder

        _work_folder(__file__)


# -- end to end (pip, real venvs) ------------------------------------------------------------------------------

E2E = os.environ.get("EFFCHECK_BISECT_E2E") == "1"
PROJECT = '''
import numpy
import pytest
from effcheck import Claim, Measurement

NAMES = Claim(id="np/namespace", statement="numpy's namespace has this many public names", source="numpy",
              metric="names", unit="names", comparison=">=", expected=1)

@pytest.mark.claim(NAMES)
def test_names(effcheck):
    effcheck.check(Measurement(len([n for n in dir(numpy) if not n.startswith("_")]), "names", "dir(numpy)"))
'''


def _venv(folder: Path, *requirements: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", *requirements], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True)
    return python


@pytest.mark.slow
@pytest.mark.skipif(not E2E, reason="builds venvs with pip: set EFFCHECK_BISECT_E2E=1 to run it")
def test_end_to_end_names_the_package_that_moved_the_claim(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_np.py").write_text(textwrap.dedent(PROJECT))
    storage = tmp_path / "storage"
    pytest_version = f"pytest=={__import__('pytest').__version__}"
    for name, numpy, benchmark in (("a", "2.3.5", "5.3.0"), ("b", "2.4.6", "5.3.1")):
        python = _venv(tmp_path / name, f"numpy=={numpy}", f"pytest-benchmark=={benchmark}", pytest_version)
        subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--benchmark-storage={storage}"],
                       cwd=project, check=True)
    out = subprocess.run([sys.executable, "-m", "effcheck", "bisect", "1", "2", "--storage", str(storage),
                          "--rootdir", str(project), "--workdir", str(tmp_path / "work")],
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "=> np/namespace" in out.stdout and ": numpy 2.3.5 -> 2.4.6" in out.stdout, out.stdout
    verdicts = {m[1]: m[2] for line in out.stdout.splitlines()
                if (m := re.match(r"^\S*\s+(numpy|pytest-benchmark)\s+\S+ -> \S+\s.*\s(moves it|no effect)$", line))}
    assert verdicts == {"numpy": "moves it", "pytest-benchmark": "no effect"}, out.stdout

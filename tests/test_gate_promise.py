"""The gate's promise, checked against a model: a regression is reported by the next gated run unless
someone accepted it.

Invariant: after every gated run, each claim the run measured has the status its accepted value gives it
(regression iff the value got worse, improvement iff better, unchanged iff equal, new iff it has none),
and its test fails iff that is a regression nobody accepted (or, under --effcheck-require-baseline, new).
A claim's accepted value is its value in the newest completed run (in the order the runs happened) that
measured it as new or unchanged, or whose change someone accepted (--effcheck-accept[=PATTERN] on that
run, `effcheck accept RUN [CLAIM]` afterwards); an unaccepted move, gated or plain, and an interrupted
run never are. An exact claim's accepted value is its line in the tracked facts file (effcheck-facts.txt)
once an acceptance wrote one: a completed run's --effcheck-accept writes (and first creates) the file,
`effcheck accept` rewrites it when it exists; a fresh clone (the history deleted) keeps it.

A hypothesis RuleBasedStateMachine plays the user: it changes numbers; breaks (ImportError, RuntimeError,
a vanished dependency), removes and restores an optional library; runs pytest plain, gated
(--benchmark-compare, --effcheck-require-baseline), on a -k subset (one matching nothing included), under
-n 2, with --effcheck-accept[=PATTERN]; stops a run (Ctrl-C in process, a real SIGKILL in a subprocess);
accepts saved runs afterwards (`effcheck accept N|latest [CLAIM]`); rewrites a saved run's recorded time a
year ahead or behind (a runner's wrong clock) and its recorded library versions (which may change the gate's message
only: it must name them); clones the project afresh (the saved history gone, the facts file kept).
Each example is a fresh pytester folder holding one project: exact claims fam/a and fam/b (tolerance 0),
a parametrized claim (fam/p[1], fam/p[2]: one claim per parameter), fam/lib
(its test needs `fakelib` through effcheck.models.require: broken means a failing test, never a skip
saying "not installed"; missing skips naming the extra, but fails under --effcheck-require-baseline once
the claim has an accepted value) and a timed noisy claim fam/noisy, whose levels are 25% or more apart
(always significant): its status follows the same rule (an accepted slowdown is the new level), and its
test must fail for a regression once its accepted level holds 3 accepted runs in a row (README "short
history"; with fewer it may pass).

Cost and replay: the counts follow the hypothesis profile the root conftest loads (SIZES below).
    HYPOTHESIS_PROFILE=ci pytest tests/test_gate_promise.py        # CI's: derandomized, 10 examples x 20
                                                                   # steps, some 100 pytest runs: 45-60 s
                                                                   # on a quiet 2-core box, ~90 s on a busy one
    pytest tests/test_gate_promise.py                              # dev: random draws, 4 x 20 steps (20 s)
    HYPOTHESIS_PROFILE=explore pytest tests/test_gate_promise.py   # by hand: 200 x 40 steps from a new
                                                                   # seed (20-60 minutes)
A failure says the claim, the model's and the gate's status, the accepted and the current value, and
the steps so far in words with the run numbers they saved; hypothesis adds the same steps as calls
(state.change(...), state.gated_run(...)). Shrinking stops after hypothesis's 5 minutes, so a long
sequence may keep steps that do nothing (a rewrite of the same run's versions, say). Under `ci`
rerunning the command replays a failure; under `explore` paste the printed @reproduce_failure line above
the test.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import importlib
import json
import os
import shutil
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from effcheck.cli import main as effcheck_main

# (max_examples, stateful_step_count) per profile of the root conftest
SIZES = {"ci": (10, 20), "dev": (4, 20), "explore": (200, 40)}

NOISY = "fam/noisy"
LIB = "fam/lib"
EXACT = ("fam/a", "fam/b", "fam/p[1]", "fam/p[2]", LIB)
TEST_OF = {"fam/a": "test_alpha", "fam/b": "test_beta", "fam/p[1]": "test_param[1]", "fam/p[2]": "test_param[2]",
           LIB: "test_library", NOISY: "test_timed"}
ITEMS = ("test_alpha", "test_beta", "test_param[1]", "test_param[2]", "test_stop", "test_library", "test_timed")
BEFORE_STOP = ("fam/a", "fam/b", "fam/p[1]", "fam/p[2]")  # what an interrupted run measured before test_stop
KEYWORDS = ("test_alpha", "test_beta", "test_param", "test_param[1]", "test_param[2]", "test_library", "test_timed")
VALUES = (90.0, 100.0, 110.0)  # bytes, lower is better
LEVELS = (1.5, 2.0, 2.6)  # speedup, higher is better: every pair 25% or more apart
PATTERNS = ("*", "fam/a", "fam/?", "fam/p*", "fam/p[1]", LIB, NOISY)

CLAIMS = '''
from effcheck.records import Claim


def exact(name):
    return Claim(id=f"fam/{name}", statement=f"{name} keeps under 1 MB", source="design doc", metric="bytes",
                 unit="B", comparison="<=", expected=1_000_000, better="lower")


A, B, P, LIB = exact("a"), exact("b"), exact("p"), exact("lib")
NOISY = Claim(id="fam/noisy", statement="the fast path is faster", source="design doc", metric="speedup", unit="x",
              comparison=">=", expected=1.0, better="higher", noisy=True)
'''

SUITE = '''
import json, os, pathlib, signal

import pytest
from claimsdata import A, B, LIB, NOISY, P
from effcheck.models import require
from effcheck.records import Measurement

HERE = pathlib.Path(__file__).parent


def value(key):
    return json.loads((HERE / "values.json").read_text())[key]


@pytest.mark.claim(A)
def test_alpha(effcheck):
    effcheck.check(Measurement(value("fam/a"), "B", "counted"))


@pytest.mark.claim(B)
def test_beta(effcheck):
    effcheck.check(Measurement(value("fam/b"), "B", "counted"))


@pytest.mark.claim(P)
@pytest.mark.parametrize("n", [1, 2])
def test_param(effcheck, n):
    effcheck.check(Measurement(value(f"fam/p[{n}]"), "B", "counted"))


def test_stop():
    stop = value("stop")
    if stop == "ctrl-c":
        raise KeyboardInterrupt
    if stop == "kill":
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.claim(LIB)
def test_library(effcheck):
    lib = require("fakelib", "extra")
    effcheck.check(Measurement(value("fam/lib") * lib.ONE, "B", "counted"))


@pytest.mark.timed
@pytest.mark.claim(NOISY)
def test_timed(effcheck):
    center = value("level")
    samples = [center * (1 + 0.02 * ((i * 7) % 5 - 2)) for i in range(9)]
    effcheck.check(Measurement(sorted(samples)[4], "x", "interleaved ratio", samples=samples))
'''

LIBRARY = {
    "ok": "ONE = 1\n",
    "raises ImportError": 'raise ImportError("broken upgrade: fakelib._core does not load")\n',
    "raises RuntimeError": 'raise RuntimeError("broken upgrade: fakelib needs a newer libfoo")\n',
    "imports a vanished dependency": "import fakelib_core_that_is_gone  # noqa: F401\nONE = 1\n",
}
LIBRARY_STATES = (*LIBRARY, "not installed")
CHANGES = (st.tuples(st.sampled_from(EXACT), st.sampled_from(VALUES))
           | st.tuples(st.just(NOISY), st.sampled_from(LEVELS))
           | st.tuples(st.just("fakelib"), st.sampled_from(LIBRARY_STATES)))
XDIST = st.sampled_from((False,) * 7 + (True,))  # -n 2 costs 3-6 s a run (two workers start): 1 gated run in 8


class BrokenPromise(AssertionError):
    """The plugin disagrees with the model. One subclass per kind of check: hypothesis tells failures apart by
    their exception type, so it shrinks and reports each kind on its own."""


class WrongStatus(BrokenPromise):
    """The gate's status of a claim is not the model's."""


class WrongOutcome(BrokenPromise):
    """A test passed or failed where the model says otherwise, or the run's exit code disagrees."""


class WrongLibraryOutcome(BrokenPromise):
    """A broken or missing optional library was reported the wrong way."""


class WrongSaving(BrokenPromise):
    """A run saved where it should not have, or not where it should (interrupted, killed, nothing selected)."""


class WrongAcceptance(BrokenPromise):
    """`effcheck accept` refused what the model accepts, or accepted another run."""


class WrongMessage(BrokenPromise):
    """The verdict is right, the message leaves out what changed (library versions since the baseline)."""


def _matches(claim_id: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """A claim named by a pattern, or by its own id (an id such as fam/p[1] is no glob of itself)."""
    return any(claim_id == p or fnmatch.fnmatchcase(claim_id, p) for p in patterns)


@dataclass
class Run:
    """A saved run as the model sees it."""

    path: Path
    complete: bool
    values: dict[str, float]  # the claims it measured
    statuses: dict[str, str]  # the model's status for each, at the time
    accepted: list[str] = field(default_factory=list)  # --effcheck-accept patterns, then `effcheck accept`'s
    other_versions: bool = False  # its recorded library versions were rewritten

    @property
    def number(self) -> str:
        return self.path.name.split("_", 1)[0]

    def eligible(self, cid: str) -> bool:
        return (self.complete and cid in self.values
                and (self.statuses[cid] in ("new", "unchanged") or _matches(cid, self.accepted)))


def _outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """test name -> (passed|failed|error|skipped, message)."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = child.get("message", "") or (child.text or "")
        found[case.get("name")] = (outcome, message)
    return found


class GatePromise(RuleBasedStateMachine):
    """The user's steps as rules, the model as state; the test function hands it its fixtures."""

    pytester: pytest.Pytester
    monkeypatch: pytest.MonkeyPatch
    capsys: pytest.CaptureFixture[str]
    examples = 0

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        cls.examples += 1
        self.root = self.pytester.mkdir(f"example{cls.examples}")
        self.monkeypatch.chdir(self.root)
        (self.root / "pytest.ini").write_text("[pytest]\n")  # effcheck's defaults: every run is saved
        (self.root / "claimsdata.py").write_text(CLAIMS)
        (self.root / "test_suite.py").write_text(SUITE)
        self.values = dict.fromkeys(EXACT, 100.0)
        self.level = 2.0
        self.library = "ok"
        self._write_library()
        self.runs: list[Run] = []
        self.steps: list[str] = []
        self.facts: dict[str, float] = {}  # effcheck-facts.txt, the tracked file acceptances write
        self.facts_file = False  # created by the first run-time acceptance of a fact

    # -- the model ---------------------------------------------------------------------------------
    def current(self, cid: str) -> float:
        return self.level if cid == NOISY else self.values[cid]

    def baseline_run(self, cid: str) -> Run | None:
        """The newest run (in the order they happened) whose measurement of cid stands as accepted."""
        return next((r for r in reversed(self.runs) if r.eligible(cid)), None)

    def accepted_value(self, cid: str) -> float | None:
        """A fact's line in the facts file, else the newest accepted run's measurement."""
        if cid in self.facts:
            return self.facts[cid]
        run = self.baseline_run(cid)
        return None if run is None else run.values[cid]

    def versions_run(self, cid: str) -> Run | None:
        """The run whose recorded versions the gate's message compares with: the baseline run, or for a fact
        from the file the newest accepted run that measured its line's value."""
        if cid not in self.facts:
            return self.baseline_run(cid)
        return next((r for r in reversed(self.runs) if r.eligible(cid) and r.values[cid] == self.facts[cid]), None)

    def _accept_facts(self, values: dict[str, float], patterns: list[str], create: bool) -> None:
        """What an acceptance writes to the facts file: the named exact claims' values (never the timed one)."""
        found = {c: v for c, v in values.items() if c != NOISY and _matches(c, patterns)}
        if found and (create or self.facts_file):
            self.facts.update(found)
            self.facts_file = True

    def status(self, cid: str, value: float) -> str:
        accepted = self.accepted_value(cid)
        if accepted is None:
            return "new"
        if value == accepted:
            return "unchanged"
        better = value > accepted if cid == NOISY else value < accepted
        return "improvement" if better else "regression"

    def accepted_streak(self) -> int:
        """Accepted runs in a row, newest first, at the noisy claim's accepted level."""
        level, streak = self.accepted_value(NOISY), 0
        for run in reversed(self.runs):
            if run.eligible(NOISY):
                if run.values[NOISY] != level:
                    break
                streak += 1
        return streak

    # -- the project -------------------------------------------------------------------------------
    def _write_library(self) -> None:
        path = self.root / "fakelib.py"
        if self.library == "not installed":
            path.unlink(missing_ok=True)
        else:
            path.write_text(LIBRARY[self.library])
        importlib.invalidate_caches()

    def _write_values(self, stop: str | None = None) -> None:
        (self.root / "values.json").write_text(json.dumps({**self.values, "level": self.level, "stop": stop}))

    def _saved(self) -> set[Path]:
        return set((self.root / ".benchmarks").rglob("0*.json"))

    def _measured(self, items: tuple[str, ...]) -> dict[str, float]:
        found = {cid: self.current(cid) for cid, test in TEST_OF.items() if test in items}
        if self.library != "ok":
            found.pop(LIB, None)
        return found

    # -- reporting -----------------------------------------------------------------------------------
    def _say(self, step: str) -> None:
        self.steps.append(step)

    def _story(self) -> str:
        return "\n".join(f"  {i}. {s}" for i, s in enumerate(self.steps, 1))

    def _fail(self, what: str, cid: str | None = None, model: str = "", gate: str = "",
              kind: type[BrokenPromise] = WrongStatus) -> None:
        lines = [f"{what}"]
        if cid is not None:
            accepted = self.accepted_value(cid)
            base = self.baseline_run(cid)
            lines += [f"  claim:          {cid}",
                      f"  model expects:  {model}",
                      f"  gate says:      {gate}",
                      f"  accepted value: {accepted}" + (f" (run {base.number})" if base else " (none)"),
                      f"  current value:  {self.current(cid)}"]
        lines += ["  steps so far:", self._story()]
        raise kind("\n".join(lines))

    # -- the user's steps ------------------------------------------------------------------------------
    @rule(change=CHANGES)
    def change(self, change: tuple[str, float | str]) -> None:
        """A number moves (a claim's value, the noisy claim's level) or the optional library changes state."""
        what, to = change
        if what == "fakelib":
            self.library = str(to)
            self._write_library()
            self._say(f"fakelib: {to}")
            return
        if what == NOISY:
            self.level = float(to)
        else:
            self.values[what] = float(to)
        self._say(f"{what} now measures {to:g}")

    @rule(accept=st.none() | st.sampled_from(PATTERNS))
    def plain_run(self, accept: str | None) -> None:
        self._run(gated=False, accept=accept)

    @rule(require=st.booleans(), accept=st.none() | st.sampled_from(PATTERNS), xdist=XDIST)
    def gated_run(self, require: bool, accept: str | None, xdist: bool) -> None:
        self._run(gated=True, require=require, accept=accept, xdist=xdist)

    @rule(keywords=st.lists(st.sampled_from(KEYWORDS), max_size=3, unique=True), gated=st.booleans())
    def subset_run(self, keywords: list[str], gated: bool) -> None:
        self._run(gated=gated, keywords=keywords)

    @rule(how=st.sampled_from(["ctrl-c", "kill"]), accept=st.booleans())
    def interrupted_run(self, how: str, accept: bool) -> None:
        """A run stopped in test_stop, after fam/a, fam/b and fam/p ran: Ctrl-C (saved, marked incomplete) or a
        real SIGKILL (nothing saved). --effcheck-accept on it accepts nothing: it did not complete."""
        self._write_values(stop=how)
        before = self._saved()
        args = ["--effcheck-accept"] if accept else []
        if how == "ctrl-c":
            result = self.pytester.runpytest(*args, no_reraise_ctrlc=True)
        else:  # a real kill: the process dies in test_stop, its session never ends
            result = self.pytester.runpytest_subprocess(*args, timeout=120)
        new = sorted(self._saved() - before)
        self._write_values()
        words = f"a run{' --effcheck-accept' if accept else ''} is stopped after fam/a, fam/b, fam/p ran"
        if how == "kill":
            self._say(f"{words}: killed (SIGKILL), exit {result.ret}, saved {[p.name[:4] for p in new]}")
            if result.ret in (0, 1) or new:
                self._fail("a killed run must not end, and leaves no run file", kind=WrongSaving)
            return
        complete = [json.loads(p.read_text())["effcheck"]["complete"] for p in new]
        self._say(f"{words}: Ctrl-C, exit {int(result.ret)}, saved {[p.name[:4] for p in new]} complete={complete}")
        if result.ret != pytest.ExitCode.INTERRUPTED or complete != [False]:
            self._fail("an interrupted run exits 2 and is saved once, marked incomplete", kind=WrongSaving)
        values = self._measured(BEFORE_STOP)
        self.runs.append(Run(new[0], False, values, {c: self.status(c, v) for c, v in values.items()},
                             ["*"] if accept else []))

    @precondition(lambda self: self.runs)
    @rule(which=st.just("latest") | st.integers(min_value=0, max_value=20),
          claim=st.none() | st.sampled_from(PATTERNS[1:]))
    def accept_afterwards(self, which: int | str, claim: str | None) -> None:
        """`effcheck accept RUN [CLAIM]`: RUN is 'latest' (the run saved last) or one counted back from it."""
        run = self.runs[-1] if which == "latest" else self.runs[-1 - int(which) % len(self.runs)]
        spec = "latest" if which == "latest" else run.number
        patterns = [claim] if claim else []
        storage = str(self.root / ".benchmarks")
        self.capsys.readouterr()
        rc = effcheck_main(["accept", spec, *patterns, "--storage", storage])
        said = self.capsys.readouterr()
        command = " ".join(["effcheck accept", spec, *patterns])
        self._say(f"{command} -> exit {rc}" + (f" (run {run.number})" if spec == "latest" else ""))
        named = all(any(_matches(c, [p]) for c in run.values) for p in patterns or ["*"])
        expected = 0 if run.complete and named else 2
        if rc != expected:
            self._fail(f"`{command}` exited {rc}, the model expects {expected} (run {run.number}: complete="
                       f"{run.complete}, measured {sorted(run.values)}): {(said.out + said.err).strip()[:300]}",
                       kind=WrongAcceptance)
        if rc == 0 and run.path.name not in said.out:
            self._fail(f"`{command}` accepted another run than {run.path.name}, the run saved last: "
                       f"{said.out.strip()[:300]}", kind=WrongAcceptance)
        if rc == 0:
            run.accepted.extend(patterns or ["*"])
            self._accept_facts(run.values, patterns or ["*"], create=False)  # the CLI rewrites a file kept

    @precondition(lambda self: self.runs)
    @rule()
    def fresh_clone(self) -> None:
        """A fresh clone of the project: no saved history, but the tracked facts file (if any) stays."""
        shutil.rmtree(self.root / ".benchmarks", ignore_errors=True)
        kept = "effcheck-facts.txt stays" if self.facts_file else "no facts file"
        self._say(f"a fresh clone: the saved history is gone, {kept}")
        self.runs = []

    @precondition(lambda self: self.runs)
    @rule(ahead=st.booleans())
    def skew_clock(self, ahead: bool) -> None:
        """The newest saved run was written by a runner whose clock is a year ahead (or behind)."""
        run = self.runs[-1]
        when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=365 if ahead else -365)

        def skew(data: dict) -> None:
            data["effcheck"]["created"] = when.isoformat(timespec="microseconds")
            data["datetime"] = when.isoformat()

        self._rewrite(run, skew)
        self._say(f"run {run.number}'s recorded time is rewritten a year {'ahead' if ahead else 'behind'} "
                  "(a runner's wrong clock)")

    @precondition(lambda self: self.runs)
    @rule()
    def other_library_versions(self) -> None:
        """The newest saved run was measured under other library versions."""
        run = self.runs[-1]

        def older(data: dict) -> None:
            environment = data["effcheck"]["environment"]
            environment["torch"] = "2.0.0"
            environment.setdefault("libraries", {})["pytest-benchmark"] = "5.3.0"
            environment["libraries"]["numpy"] = "1.24.0"

        self._rewrite(run, older)
        run.other_versions = True
        self._say(f"run {run.number}'s recorded library versions are rewritten (torch 2.0.0, numpy 1.24.0)")

    @staticmethod
    def _rewrite(run: Run, change) -> None:
        data = json.loads(run.path.read_text())
        change(data)
        run.path.write_text(json.dumps(data, indent=2))

    # -- one run -------------------------------------------------------------------------------------
    def _run(self, gated: bool, require: bool = False, accept: str | None = None,
             keywords: list[str] | None = None, xdist: bool = False) -> None:
        args = ["--junitxml=junit.xml"]
        words = "gated run" if gated else "plain run"
        if gated:  # the ledger only where the run gates anyway: a plain run stays as users run it
            args += ["--benchmark-compare", "--effcheck-json=ledger.json"]
        if require:
            args.append("--effcheck-require-baseline")
            words += " --effcheck-require-baseline"
        if accept:
            args.append("--effcheck-accept" if accept == "*" else f"--effcheck-accept={accept}")
            words += " " + args[-1]
        if xdist:
            args += ["-n", "2"]
            words += " -n 2"
        items = ITEMS
        if keywords is not None:
            expression = " or ".join(keywords) or "matches_no_test"
            args += ["-k", expression]
            words += f" -k '{expression}'"
            items = tuple(i for i in ITEMS if any(k in i for k in keywords))
        self._write_values()
        for name in ("ledger.json", "junit.xml"):
            (self.root / name).unlink(missing_ok=True)
        before = self._saved()
        result = self.pytester.runpytest(*args)
        new = sorted(self._saved() - before)
        if not any(TEST_OF[c] in items for c in TEST_OF):
            self._say(f"{words} -> exit {int(result.ret)}, nothing selected")
            if result.ret != pytest.ExitCode.NO_TESTS_COLLECTED or new:
                self._fail(f"a run selecting no test exited {result.ret} and saved {[p.name for p in new]}",
                           kind=WrongSaving)
            return
        measured = self._measured(items)
        statuses = {cid: self.status(cid, value) for cid, value in measured.items()}
        patterns = [accept] if accept else []
        gate = {}
        if gated and (self.root / "ledger.json").exists():
            ledger = json.loads((self.root / "ledger.json").read_text())
            gate = {d["claim_id"]: d for d in ((ledger.get("comparison") or {}).get("deltas") or [])}
        outcomes = _outcomes(self.root / "junit.xml")
        saved = new[0].name[:4] if len(new) == 1 else f"{len(new)} files saved"
        said = ", ".join(f"{c} {gate[c]['status'] if c in gate else '-'}" for c in sorted(measured))
        self._say(f"{words} -> {saved}, exit {int(result.ret)}" + (f" (gate: {said})" if gated else ""))
        # a run whose claims all skipped (only fam/lib selected, its library gone) may go unsaved: nothing measured
        all_skipped = all(TEST_OF[c] == "test_library" for c in TEST_OF if TEST_OF[c] in items) and (
            self.library == "not installed" and not (gated and require and self.accepted_value(LIB) is not None))
        if len(new) not in ((0, 1) if all_skipped else (1,)):
            self._fail(f"the run saved {len(new)} run files, not 1", kind=WrongSaving)
        must, may = self._check_library(outcomes, gated, require)
        if gated:
            for cid in sorted(measured):
                fails = self._check_claim(cid, statuses[cid], gate.get(cid), outcomes, require, patterns)
                must, may = must or fails == "must", may or fails != "never"
        if (must and result.ret != pytest.ExitCode.TESTS_FAILED) or (not may and result.ret != pytest.ExitCode.OK):
            self._fail(f"the run exited {int(result.ret)}, the model expects "
                       f"{'1 (a test must fail)' if must else '0 (no test may fail)'}:\n"
                       + "\n".join(result.outlines[-15:]), kind=WrongOutcome)
        if new:
            self.runs.append(Run(new[0], True, measured, statuses, patterns))
        if patterns:
            self._accept_facts(measured, patterns, create=True)

    def _check_library(self, outcomes: dict[str, tuple[str, str]], gated: bool, require: bool) -> tuple[bool, bool]:
        """(whether test_library must fail, may fail)."""
        if "test_library" not in outcomes or self.library == "ok":
            return False, False
        got, message = outcomes["test_library"]
        if self.library == "not installed":
            if gated and require and self.accepted_value(LIB) is not None:
                want = "failed (fails closed: fam/lib has an accepted value and the library vanished)"
                ok = got in ("failed", "error")
            else:
                want = "skipped, naming the extra to install"
                ok = got == "skipped" and "effcheck[extra]" in message
        else:
            want = "failed (the library is installed but its import raises: never a skip saying not installed)"
            ok = got in ("failed", "error") and "not installed" not in message
        if not ok:
            self._fail(f"test_library with fakelib {self.library}", LIB, want, f"test {got}: {message.strip()[:300]}",
                       kind=WrongLibraryOutcome)
        return got in ("failed", "error"), got in ("failed", "error")

    def _check_claim(self, cid: str, model: str, delta: dict | None, outcomes: dict[str, tuple[str, str]],
                     require: bool, patterns: list[str]) -> str:
        """Hold the gate's status and the test's outcome to the model's; say whether the test must fail
        ("must"), may ("may": a timed regression under a short history) or must not ("never")."""
        status = delta["status"] if delta else "absent from the ledger's comparison"
        outcome, message = outcomes.get(TEST_OF[cid], ("not run", ""))
        gate = f"{status}; test {outcome}" + (f": {message.strip()[:400]}" if message.strip() else "")
        if status != model:
            self._fail("the gate's status disagrees with the model", cid, model, gate)
        base = self.versions_run(cid)
        if base is not None and base.other_versions and "environment changed" not in (delta or {}).get("message", ""):
            self._fail(f"the baseline run {base.number} was measured under other library versions and the gate's "
                       "message does not say so", cid, model, f"{gate} ({(delta or {}).get('message')})",
                       kind=WrongMessage)
        accepted_here = model in ("regression", "improvement") and _matches(cid, patterns)
        fails = "must" if (model == "regression" and not accepted_here) or (model == "new" and require) else "never"
        if cid == NOISY and fails == "must" and model == "regression" and not require and self.accepted_streak() < 3:
            fails = "may"  # short history: reported; whether it fails depends on how the gate counts the history
        allowed = {"must": {"failed"}, "may": {"failed", "passed"}, "never": {"passed"}}[fails]
        if outcome not in allowed:
            accepted = f" accepted by this run (--effcheck-accept={patterns[0]})" if accepted_here else ""
            want = f"{model}{accepted}, test {' or '.join(sorted(allowed))}"
            self._fail("a regression nobody accepted must be a failing test, and nothing else may fail", cid, want,
                       gate, kind=WrongOutcome)
        return fails


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pytest_benchmark.logger.PytestBenchmarkWarning")  # "Can't compare": no run yet
def test_the_gate_keeps_its_promise(pytester, monkeypatch, capsys):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # fakelib.py is rewritten within one second
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")  # as the root conftest
    examples, steps = SIZES.get(profile, SIZES["dev"])
    machine = type("GatePromiseHere", (GatePromise,), {"pytester": pytester, "monkeypatch": monkeypatch,
                                                       "capsys": capsys})
    run_state_machine_as_test(machine, settings=settings(
        settings.default, max_examples=examples, stateful_step_count=steps, deadline=None,
        phases=[p for p in settings.default.phases if p is not Phase.explain],  # it reruns the slow steps
        suppress_health_check=[HealthCheck.too_slow]))

"""One pytest session's claim results: gathered from reports, gated, shown, saved with the history.

Registered by the plugin as a pytest plugin object. Only the controller (or a run without xdist)
gathers and writes: workers' results and gate verdicts reach it in the reports' user_properties.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import Counter
from typing import Any, cast

import pytest

from effcheck.baseline_sources import BaselineSources
from effcheck.errors import EffcheckError
from effcheck.gate import Delta, Status
from effcheck.options import Options, storage_dir
from effcheck.plan import RunPlan
from effcheck.records import Claim, ClaimResult, Ledger, Verdict
from effcheck.saving import Saved, prepare_saving, save_exclusively, save_nothing
from effcheck.timings import TIMING_KEY

RESULT_KEY = "effcheck_result"
CLAIMS_KEY = "effcheck_claims"
DELTA_KEY = "effcheck_delta"
SERIAL_KEY = "effcheck_ran_alone"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "skipped")


def _error_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or report.longreprtext or "error"
    return f"{report.when}: " + " ".join(str(text).split())[:300]


class EffcheckSession:
    def __init__(self, config: pytest.Config, options: Options, plan: RunPlan) -> None:
        self.config = config
        self.options = options
        self.plan = plan
        self.is_worker = hasattr(config, "workerinput")
        self._results: dict[tuple[str, str], ClaimResult] = {}
        self._deltas: dict[str, Delta] = {}
        self._env: dict[str, Any] | None = None
        self._ledger: Ledger | None = None
        self._history: Any = None  # history.History, read once on first use
        self.warnings: list[str] = []  # one line each: skipped files, settings that look wrong
        self.pinned: str | None = None  # the run named by --effcheck-baseline / --benchmark-compare=NNNN
        self.saved_path: str | None = None
        self.save_error: str | None = None
        self._session: pytest.Session | None = None
        self._interrupted = False
        self._lock_path: str | None = None
        self._ran_alone: set[str] = set()
        self.timings: dict[str, dict[str, Any]] = {}  # pytest-benchmark stats that xdist workers reported
        self.sources = BaselineSources(options.facts, options.baseline_branch, config.rootpath)
        self.facts_changes: list[Any] = []  # facts_file.FactChange: lines this run's acceptance wrote
        self._created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")
        # Why this run cannot check claims (a named run that is missing, storage effcheck cannot use): said
        # only once a claim is collected, so a project without claims runs as with pytest-benchmark alone.
        self.claims_error: str | None = None
        self.refused = False  # a usage error at collection: this run writes nothing, neither tool's files
        if self.is_worker:
            workerinput = getattr(config, "workerinput", {})
            self.pinned = workerinput.get("effcheck_pinned")  # xdist's, on workers
            self.claims_error = workerinput.get("effcheck_claims_error")
        else:
            try:
                self._check_before_tests()
            except EffcheckError as exc:
                raise pytest.UsageError(str(exc)) from None

    # -- before any test runs: say what cannot work now, not after minutes of measuring ------------------
    def _check_before_tests(self) -> None:
        if self.options.device.startswith("cuda"):
            self._require_cuda()
        if self.options.gate.overrides and not self.options.compare:
            self.warnings.append("--effcheck-compare-fail has no effect without --benchmark-compare or "
                                 "--effcheck-baseline")
        self.warnings.extend(self.options.gate.warnings())
        if self.options.baseline:
            self._pin_baseline(self.options.baseline)  # effcheck's own option: checked now, claims or not
        try:
            self._check_for_claims()
        except EffcheckError as exc:
            self.claims_error = str(exc)

    def _check_for_claims(self) -> None:
        """What matters only to a run that checks claims (effcheck.preflight): the storage effcheck saves to
        and reads baselines from, and a run named to --benchmark-compare (pytest-benchmark alone warns and runs)."""
        from effcheck import preflight

        if self.options.gate.accept or self.plan.gated:
            self.sources.facts()  # a facts file that does not parse: said before the tests, never rewritten
        if not (self.plan.saves or self.plan.gated):
            return
        storage = storage_dir(self.config)  # file storage only
        if self.plan.saves:
            preflight.check_storage_writable(storage)
            preflight.check_benchmark_json(self.config.getoption("benchmark_json", None), storage)
        if not self.options.baseline and preflight.named_to_benchmark(self.config):
            self._pin_baseline(None)

    def _require_cuda(self) -> None:
        from effcheck.preflight import require_cuda

        require_cuda(self.options.device)

    def _pin_baseline(self, named: str | None) -> None:
        from effcheck.preflight import pin_baseline

        self.pinned = pin_baseline(self.config, named, storage_dir(self.config))

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """What every xdist worker needs from the controller: the pinned run and the run's lock file."""
        from effcheck.serial import create_lock_file

        if self._lock_path is None:
            self._lock_path = create_lock_file()
        node.workerinput["effcheck_pinned"] = self.pinned
        node.workerinput["effcheck_claims_error"] = self.claims_error
        node.workerinput["effcheck_lock"] = self._lock_path

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        from effcheck.serial import remove_lock_file

        remove_lock_file(self._lock_path)

    # -- the baselines ----------------------------------------------------------------------------
    def history(self) -> Any:
        if self._history is None:
            from effcheck.history import load_history

            self._history = load_history(storage_dir(self.config), self.warnings.append,
                                         update_index=self.plan.saves and not self.is_worker)
        return self._history

    def gate(self, result: ClaimResult, record_only: bool = False) -> Delta | None:
        """The result against its claim's baseline (None when neither gating nor recording)."""
        if not (self.options.compare or record_only):
            return None
        try:
            return self.sources.compare(result, self.environment(), self.history().index, self.pinned,
                                        self.options.gate, self.warnings.append)
        except EffcheckError as exc:
            raise pytest.UsageError(str(exc)) from None

    def baselines_held(self, claims: list[Claim]) -> str:
        """Which of these claims have an accepted baseline in some scope, said as 'X has baseline run N'."""
        try:
            index = self.history().index
            facts = self.sources.facts()
        except (pytest.UsageError, EffcheckError):
            return ""
        in_file = [f"{c.id} has its accepted value in {facts.label}" for c in claims if facts and c.id in facts.facts]
        branches = self.sources.branches(self.environment())
        held = [(c.id, entry.run) for c in claims if (entry := index.latest_eligible(c.id, branches)) is not None]
        return "; ".join([*in_file, *(f"{cid} has baseline run {run.split('_', 1)[0]}" for cid, run in held
                                      if not (facts and cid in facts.facts))])

    def baseline_summary(self) -> str:
        """Which runs the claims compared with, and what software changed since the main one."""
        deltas = [d for d in self.deltas() if d.baseline_run and d.status not in (Status.NEW, Status.MISSING)]
        if not deltas:
            return "no baseline" + (f" in run {self.pinned}" if self.pinned else "")
        counts = Counter(d.baseline_run for d in deltas)
        main, _ = counts.most_common(1)[0]
        # a number two runs share (runs pulled from other runners) names neither: then the run's whole name
        from effcheck.store import list_runs

        shared = Counter(run.number for run in list_runs(storage_dir(self.config)))

        def label(run: str) -> str:
            number = run.split("_", 1)[0]
            return run if shared[number] > 1 else number

        runs = ", ".join(f"{label(run)} ({n} claim{'s' if n > 1 else ''})" for run, n in counts.most_common())
        text = ("pinned baseline " if self.pinned else "per-claim baselines: ") + runs
        change = next((d.environment_change for d in deltas if d.baseline_run == main and d.environment_change), "")
        if change:
            text += f"; environment changed since baseline {label(main)}: {change}"
        return text

    # -- gathering -------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        claims: list[Claim] = []
        # effcheck's keys hold the JSON forms its plugin wrote (pytest types every value as object)
        for key, value in cast("list[tuple[str, Any]]", report.user_properties):
            if key == RESULT_KEY:
                result = ClaimResult.from_dict(value)
                self._results[(report.nodeid, result.claim.id)] = result
                self._ledger = None
            elif key == DELTA_KEY:
                delta = Delta.from_dict(value)
                self._deltas[delta.claim_id] = delta
            elif key == CLAIMS_KEY:
                claims = [Claim.from_dict(c) for c in value]
            elif key == SERIAL_KEY:
                self._ran_alone.add(report.nodeid)
            elif key == TIMING_KEY:
                self.timings[report.nodeid] = value
        for claim in claims:
            if (report.nodeid, claim.id) in self._results:
                continue
            if report.skipped and not hasattr(report, "wasxfail"):
                self._add(claim, Verdict.SKIP, _skip_reason(report), report.nodeid)
            elif report.failed:
                self._add(claim, Verdict.ERROR, _error_line(report), report.nodeid)

    def _add(self, claim: Claim, verdict: Verdict, message: str, nodeid: str) -> None:
        self._results[(nodeid, claim.id)] = ClaimResult(claim, verdict, message, None, nodeid)
        self._ledger = None

    @property
    def results(self) -> list[ClaimResult]:
        return list(self._results.values())

    def deltas(self) -> list[Delta]:
        """The gate's deltas of the claims checked now (recorded even when not gating, so the history knows
        which measurements moved); with a pinned baseline, also its claims this run did not measure."""
        found = dict(self._deltas)
        if not self.plan.judged:
            return [found[k] for k in sorted(found)]
        for result in self.results:
            cid = result.claim.id
            if cid not in found and result.measurement is not None:
                delta = self.gate(result, record_only=True)
                if delta is not None:
                    found[cid] = delta
        if self.pinned is not None:
            measured = {r.claim.id for r in self.results if r.measurement is not None}
            for cid in sorted(self.history().measured_in(self.pinned)):
                if cid not in measured and cid not in found:
                    found[cid] = Delta(cid, Status.MISSING,
                                       f"{cid}: in baseline run {self.pinned} but not measured in this run",
                                       self.pinned)
        return [found[k] for k in sorted(found)]

    def not_run(self) -> int:
        """Claims with an accepted baseline that this run did not measure (a -k or one-family run)."""
        if self._history is None:
            return 0
        measured = {r.claim.id for r in self.results if r.measurement is not None}
        return len(self.history().index.claim_ids() - measured)

    # -- environment and ledger ------------------------------------------------------------------
    def environment(self) -> dict[str, Any]:
        if self._env is None:
            from effcheck.devices import resolve_device
            from effcheck.env import environment

            try:
                device = resolve_device(self.options.device)
            except (EffcheckError, ImportError):
                device = "cpu"
            self._env = environment(device)
            from effcheck.vcs import git_state

            self._env["git"] = git_state(self.config.rootpath).to_dict()  # branch-aware baselines
        return self._env

    def hardware_key(self) -> str:
        from effcheck.env import hardware_key

        return hardware_key(self.environment())

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from effcheck import __version__

            comparison = None
            if self.plan.judged:
                comparison = {
                    "gated": self.options.compare,
                    "baseline": self.pinned,  # None: each claim's own baseline, named in its delta
                    "deltas": [d.to_dict() for d in self.deltas()],
                }
            self._ledger = Ledger(
                results=tuple(sorted(self.results, key=lambda r: (r.claim.id, r.nodeid))),
                environment=self.environment(),
                hardware_key=self.hardware_key(),
                created=self._created,
                effcheck_version=__version__,
                comparison=comparison,
                complete=self._completed(),
                accepted=self.options.gate.accept,
            )
        return self._ledger

    # -- output ------------------------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker:
            return
        self.warnings.extend(self.options.gate.warnings([r.claim.id for r in self.results]))
        for line in dict.fromkeys(self.warnings):  # each once, in the order met
            terminalreporter.write_line(f"effcheck: warning: {line}", yellow=True)
        if not self._results:
            return
        from effcheck.report import gate_table, terminal_table

        terminalreporter.write_sep("=", "effcheck claims")
        terminalreporter.write_line(terminal_table(self.results))
        if self.options.compare:
            terminalreporter.write_sep("-", f"effcheck gate ({self.baseline_summary()}; {self.hardware_key()})")
            terminalreporter.write_line(gate_table(self.deltas(), self.options.gate))
            if self.not_run() and self.pinned is None:
                terminalreporter.write_line(f"gate: {self.not_run()} claim(s) in the history not run this time "
                                            "keep their baselines")
        if not self._completed():
            terminalreporter.write_line("effcheck: this run did not complete: saved, marked incomplete, never a "
                                        "baseline")
        if self._ran_alone:
            terminalreporter.write_line(
                f"effcheck: {len(self._ran_alone)} timed test(s) ran alone under pytest-xdist "
                "(an exclusive lock held the other workers' tests back while they measured)"
            )
        if self.facts_changes and self.sources.path is not None:
            from effcheck.facts_file import describe_changes

            terminalreporter.write_line(describe_changes(self.sources.path, self.facts_changes))
        for path in filter(None, (self.saved_path, self.options.json)):
            terminalreporter.write_line(f"effcheck: claims saved to {path}")
        if self.save_error:
            terminalreporter.write_line(f"effcheck: {self.save_error}", red=True)

    def _completed(self) -> bool:
        """Whether every selected test ran: not interrupted (Ctrl-C, pytest.exit), not stopped early (-x)."""
        session = self._session
        if session is None or self._interrupted:
            return not self._interrupted
        stopped = bool(session.shouldstop or session.shouldfail)
        return int(getattr(session, "exitstatus", 0)) in (0, 1, 5) and not stopped

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """A worker's environment is the controller's (same machine, interpreter and options): taking it
        spares the controller, which runs no test, importing torch after the last test (1.7 s of -n 2)."""
        found = getattr(node, "workeroutput", {}).get("effcheck_environment")
        if self._env is None and isinstance(found, dict):
            self._env = found

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            if "torch" in sys.modules:  # cheap once torch is in: hand it to the controller, as plain data
                self.config.workeroutput["effcheck_environment"] = json.loads(  # type: ignore[attr-defined]
                    json.dumps(self.environment()))
            return
        from effcheck.store import write_json_atomic

        try:
            if self.options.gate.accept and self._completed() and not self.refused and self.results:
                self.facts_changes = self.sources.accept(self.results, self.environment(), self.options.gate.accept)
            if self.options.json:  # written even when no claim ran: the file the user asked for exists
                write_json_atomic(self.options.json, self.ledger().to_dict())
        except EffcheckError as exc:
            self.save_error = str(exc)
        if self.save_error and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self._interrupted = True
        self._ledger = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self._session = session
        if not self.is_worker:
            save_exclusively(self.config, self._saved)

    def prepare_saving(self) -> None:
        """Before pytest-benchmark saves: whether this run's claims join the history (effcheck.saving)."""
        if self.refused:
            save_nothing(self.config)
            return
        measured = any(r.verdict is not Verdict.SKIP for r in self.results)
        prepare_saving(self.config, self.plan, measured, self.timings.values(), self._saved)

    def _saved(self, saved: Saved) -> None:
        self.saved_path = saved.path or self.saved_path
        self.save_error = saved.error or self.save_error

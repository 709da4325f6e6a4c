"""One pytest session's claim results: gathered from reports, gated, shown, saved with the history.

Registered by the plugin as a pytest plugin object. Only the controller (or a run without xdist)
gathers and writes: workers' results and gate verdicts reach it in the reports' user_properties.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from effcheck.errors import EffcheckError
from effcheck.gate import Delta, Status, compare_results
from effcheck.options import Options, storage_dir
from effcheck.records import Claim, ClaimResult, Ledger, Verdict

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
    def __init__(self, config: pytest.Config, options: Options) -> None:
        self.config = config
        self.options = options
        self.is_worker = hasattr(config, "workerinput")
        self._results: dict[tuple[str, str], ClaimResult] = {}
        self._deltas: dict[str, Delta] = {}
        self._env: dict[str, Any] | None = None
        self._ledger: Ledger | None = None
        self.baseline: Any = None  # store.Baseline, found at configure time when gating
        self.saved_path: str | None = None
        self._ran_alone: set[str] = set()
        if options.compare:
            self._load_baseline()

    # -- the baseline ----------------------------------------------------------------------------
    def _load_baseline(self) -> None:
        from effcheck.store import find_baseline

        try:
            self.baseline = find_baseline(storage_dir(self.config), self.hardware_key(), self.options.baseline)
        except EffcheckError as exc:
            raise pytest.UsageError(str(exc)) from None

    def gate(self, result: ClaimResult) -> Delta | None:
        """The result against the baseline run's result for the same claim (None when not gating)."""
        if not self.options.compare:
            return None
        if self.baseline is None:
            return Delta(
                result.claim.id, Status.NEW,
                f"{result.claim.id}: no baseline saved for {self.hardware_key()!r} in {storage_dir(self.config)}: "
                "run `pytest benchmarks/` once on this hardware to save one",
            )
        previous = self.baseline.ledger.by_id().get(result.claim.id)
        pooled = self.baseline.pooled_samples(result.claim.id, result.claim.metric) if result.claim.noisy else ()
        delta = compare_results(result, previous, self.options.gate, self.baseline.name, pooled)
        if delta.status is Status.NEW and self.options.gate.require_baseline:
            delta = Delta(delta.claim_id, delta.status, delta.message + ": rerun without "
                          "--effcheck-require-baseline once to save it", delta.baseline_run)
        return delta

    # -- gathering -------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        claims: list[Claim] = []
        for key, value in report.user_properties:
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
        """Deltas of the claims checked now, plus the baseline's claims this run did not measure."""
        found = dict(self._deltas)
        if self.baseline is not None:
            measured = {r.claim.id for r in self.results if r.measurement is not None}
            for cid, previous in self.baseline.ledger.by_id().items():
                if previous.measurement is not None and cid not in measured and cid not in found:
                    found[cid] = Delta(cid, Status.MISSING,
                                       f"{cid}: in baseline run {self.baseline.name} but not measured in this run",
                                       self.baseline.name)
        return [found[k] for k in sorted(found)]

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
        return self._env

    def hardware_key(self) -> str:
        from effcheck.env import hardware_key

        return hardware_key(self.environment())

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from effcheck import __version__

            comparison = None
            if self.options.compare:
                comparison = {
                    "baseline": None if self.baseline is None else str(self.baseline.path),
                    "deltas": [d.to_dict() for d in self.deltas()],
                }
            self._ledger = Ledger(
                results=tuple(sorted(self.results, key=lambda r: (r.claim.id, r.nodeid))),
                environment=self.environment(),
                hardware_key=self.hardware_key(),
                created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                effcheck_version=__version__,
                comparison=comparison,
            )
        return self._ledger

    # -- output ------------------------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self._results:
            return
        from effcheck.report import gate_table, terminal_table

        terminalreporter.write_sep("=", "effcheck claims")
        terminalreporter.write_line(terminal_table(self.results))
        if self.options.compare:
            against = "no baseline" if self.baseline is None else f"baseline {self.baseline.path}"
            terminalreporter.write_sep("-", f"effcheck gate ({against}; {self.hardware_key()})")
            terminalreporter.write_line(gate_table(self.deltas(), self.options.gate))
        if self._ran_alone:
            terminalreporter.write_line(
                f"effcheck: {len(self._ran_alone)} timed test(s) ran alone under pytest-xdist "
                "(an exclusive lock held the other workers' tests back while they measured)"
            )
        for path in filter(None, (self.saved_path, self.options.json)):
            terminalreporter.write_line(f"effcheck: claims saved to {path}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            return
        from effcheck.store import write_json_atomic

        try:
            if self._results:
                self._save_history_if_benchmark_did_not()
            if self.options.json:  # written even when no claim ran: the file the user asked for exists
                write_json_atomic(self.options.json, self.ledger().to_dict())
        except EffcheckError as exc:
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            self.config.get_terminal_writer().line(f"effcheck: {exc}", red=True)

    def _save_history_if_benchmark_did_not(self) -> None:
        """pytest-benchmark saves nothing under xdist or when no test timed with its fixture: then the
        claims would vanish from the history, so effcheck writes the run file itself, in the same place
        and format (no timing stats, the ledger under "effcheck")."""
        bench = getattr(self.config, "_benchmarksession", None)
        if bench is None or not (bench.save or bench.autosave) or (bench.benchmarks and not bench.disabled):
            return
        from effcheck.store import write_json_atomic

        hook = self.config.hook
        machine_info = bench.get_machine_info()
        commit_info = hook.pytest_benchmark_generate_commit_info(config=self.config)
        hook.pytest_benchmark_update_commit_info(config=self.config, commit_info=commit_info)
        output = hook.pytest_benchmark_generate_json(config=self.config, benchmarks=[], include_data=False,
                                                     machine_info=machine_info, commit_info=commit_info)
        hook.pytest_benchmark_update_json(config=self.config, benchmarks=[], output_json=output)
        target = bench.storage.get(f"{bench.storage._next_num}_{bench.save or bench.autosave}.json")
        self.saved_path = str(write_json_atomic(target, output))

    # -- pytest-benchmark: its JSON files are the history ------------------------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(self, config: pytest.Config, benchmarks: Any, output_json: dict) -> None:
        ledger = self.ledger()
        output_json["effcheck"] = ledger.to_dict()
        by_node: dict[str, list[dict[str, Any]]] = {}
        for result in ledger.results:
            by_node.setdefault(result.nodeid, []).append(result.to_dict())
        for bench in output_json.get("benchmarks", []):
            found = by_node.get(bench.get("fullname", ""))
            if found:
                bench.setdefault("extra_info", {})["effcheck"] = found

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_machine_info(self, config: pytest.Config, machine_info: dict) -> None:
        machine_info["effcheck"] = {"hardware_key": self.hardware_key(), **self.environment()}

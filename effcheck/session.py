"""One pytest session's claim results: gathered from reports, shown as a table, saved with the history.

Registered by the plugin as a pytest plugin object. Only the controller (or a run without xdist)
gathers and writes: workers' results reach it in the reports' user_properties.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from effcheck.options import Options
from effcheck.records import Claim, ClaimResult, Ledger, Verdict

RESULT_KEY = "effcheck_result"
CLAIMS_KEY = "effcheck_claims"


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
        self._env: dict[str, Any] | None = None
        self._ledger: Ledger | None = None

    # -- gathering -------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.is_worker:
            return
        claims: list[Claim] = []
        for key, value in report.user_properties:
            if key == RESULT_KEY:
                result = ClaimResult.from_dict(value)
                self._results[(report.nodeid, result.claim.id)] = result
            elif key == CLAIMS_KEY:
                claims = [Claim.from_dict(c) for c in value]
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

    # -- environment and ledger ------------------------------------------------------------------
    def environment(self) -> dict[str, Any]:
        if self._env is None:
            from effcheck.devices import resolve_device
            from effcheck.env import environment
            from effcheck.errors import EffcheckError

            try:
                device = resolve_device(self.options.device)
            except (EffcheckError, ImportError):
                device = "cpu"
            self._env = environment(device)
        return self._env

    def ledger(self) -> Ledger:
        if self._ledger is None:
            from effcheck import __version__
            from effcheck.env import hardware_key

            env = self.environment()
            self._ledger = Ledger(
                results=tuple(sorted(self.results, key=lambda r: (r.claim.id, r.nodeid))),
                environment=env,
                hardware_key=hardware_key(env),
                created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                effcheck_version=__version__,
            )
        return self._ledger

    # -- output ------------------------------------------------------------------------------------
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self._results:
            return
        from effcheck.report import terminal_table

        terminalreporter.write_sep("=", "effcheck claims")
        terminalreporter.write_line(terminal_table(self.results))
        if self.options.json:
            terminalreporter.write_line(f"effcheck ledger written to {self.options.json}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker or not self.options.json:
            return
        from effcheck.errors import EffcheckError
        from effcheck.store import write_json_atomic

        try:
            write_json_atomic(self.options.json, self.ledger().to_dict())
        except EffcheckError as exc:
            session.shouldfail = str(exc)
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
            self.config.get_terminal_writer().line(f"effcheck: {exc}", red=True)

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
        from effcheck.env import hardware_key

        env = self.environment()
        machine_info["effcheck"] = {"hardware_key": hardware_key(env), **env}

"""Where one session's baselines come from besides its pinned run: the tracked facts file and the branches
whose saved runs may serve (effcheck.accepted_facts, effcheck.vcs). Read once per process, on first use."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from effcheck.accepted_facts import baseline_result, facts_path, is_fact, to_accept
from effcheck.baseline import BaselineIndex, Entry
from effcheck.facts_file import FactChange, FactsFile, accept_facts, read_facts
from effcheck.formatting import fmt_pair
from effcheck.gate import Delta, GatePolicy, compare_results
from effcheck.records import ClaimResult

_UNREAD = object()


class BaselineSources:
    def __init__(self, facts_option: str | None, branch_option: str | None, rootdir: Path) -> None:
        self.path = facts_path(facts_option, rootdir)
        self._branch_option = branch_option
        self._rootdir = rootdir
        self._facts: Any = _UNREAD
        self._branches: Any = _UNREAD

    def facts(self) -> FactsFile | None:
        """The project's accepted facts (None: no file); BaselineError for a file that does not parse."""
        if self._facts is _UNREAD:
            self._facts = read_facts(self.path) if self.path is not None else None
        return self._facts  # type: ignore[no-any-return]

    def branches(self, environment: Mapping[str, Any]) -> frozenset[str] | None:
        """The branches whose runs may be this run's baselines (None: any)."""
        if self._branches is _UNREAD:
            from effcheck.vcs import allowed_branches, baseline_branches, branch_of

            self._branches = allowed_branches(branch_of(environment),
                                              baseline_branches(self._branch_option, self._rootdir))
        return self._branches  # type: ignore[no-any-return]

    def compare(self, result: ClaimResult, environment: Mapping[str, Any], index: BaselineIndex,
                pinned: str | None, policy: GatePolicy, warn: Callable[[str], None]) -> Delta:
        """The result against its baseline: the run the user pinned, else the facts file's line for a fact,
        else the newest accepted measurement in its scope from a branch that may serve."""
        from effcheck.baseline import scope_of
        from effcheck.checks import verdict_label
        from effcheck.env import software_diff

        scope = scope_of(result, environment)
        if pinned is None and (facts := self.facts()) is not None and is_fact(result, environment):
            base = baseline_result(facts, result)
            if base is not None:
                assert base.measurement is not None
                # the run the line was accepted from says which versions the fact was measured under
                source = index.newest_with_value(result.claim.id, base.measurement.value, self.branches(environment))
                change = software_diff(source.environment, environment) if source is not None else ""
                verdict = verdict_label(source.result) if source is not None else ""  # the file holds values only
                delta = compare_results(result, base, policy, facts.label, environment_change=change, scope=scope,
                                        baseline_verdict=verdict)
                return self._accepted_in_file(delta, index.select(result.claim.id, scope, None, warn,
                                                                  self.branches(environment)).baseline, base)
        selection = index.select(result.claim.id, scope, pinned, warn, self.branches(environment))
        chosen = selection.baseline
        if chosen is None:
            why = selection.note if pinned else f"no baseline on {scope}: {selection.note}" + self.missing_note(
                result, environment)
            if policy.require_baseline:
                why += ": rerun without --effcheck-require-baseline once to save it, or accept a run"
            return compare_results(result, None, policy, pinned or "", scope=scope, why_none=why)
        return compare_results(result, chosen.result, policy, chosen.run,
                               selection.pooled_samples() if result.claim.noisy else (), selection.history,
                               software_diff(chosen.environment, environment), scope)

    @staticmethod
    def _accepted_in_file(delta: Delta, history: Entry | None, line: ClaimResult) -> Delta:
        """Say so when the file's line differs from the history's accepted value: a change accepted in the
        file (the reviewed diff of a pull request) reads as such in the report, not as 'unchanged'."""
        before = history.result.measurement if history is not None else None
        after = line.measurement
        if history is None or before is None or after is None or before.value == after.value:
            return delta
        was, now = fmt_pair(before.value, after.value)
        said = f"{was} -> {now} {after.unit} against baseline run {history.run}"
        return replace(delta, facts_accepted=said,
                       message=f"{delta.message}; accepted in {delta.baseline_run}: {said}")

    def missing_note(self, result: ClaimResult, environment: Mapping[str, Any]) -> str:
        """Said beside 'no baseline' for a fact the file does not list."""
        facts = self.facts()
        if facts is None or not is_fact(result, environment):
            return ""
        return f"; not in {facts.label} (accept it with --effcheck-accept={result.claim.id})"

    def accept(self, results: Iterable[ClaimResult], environment: Mapping[str, Any],
               patterns: Iterable[str]) -> list[FactChange]:
        """Write the accepted facts' lines; the changes (none when facts are not kept in a file)."""
        if self.path is None:
            return []
        found = to_accept(results, environment, patterns)
        return accept_facts(self.path, found) if found else []

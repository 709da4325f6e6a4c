"""Between a run's claim results and the tracked facts file (effcheck.facts_file): which results are
facts, the file's line as a baseline, and the lines a run's acceptance writes.

A fact is a measured claim that is not timed and whose scope is any machine (effcheck.baseline.scope_of):
what the history would compare with any machine's run is what the repository can hold for everyone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from effcheck.baseline import ANY_MACHINE, scope_of
from effcheck.facts_file import FILE_NAME, Fact, FactsFile
from effcheck.patterns import matcher
from effcheck.records import ClaimResult, Measurement, Verdict

DISABLED = ("none", "off", "")


def is_fact(result: ClaimResult, environment: Mapping[str, Any]) -> bool:
    return (result.measurement is not None and not result.claim.noisy
            and scope_of(result, environment) == ANY_MACHINE)


def fact_of(result: ClaimResult) -> Fact:
    assert result.measurement is not None
    return Fact(result.claim.id, result.measurement.value, result.measurement.unit)


def baseline_result(facts: FactsFile, result: ClaimResult) -> ClaimResult | None:
    """The file's line for this claim as the record the gate compares with (None: the file lacks it)."""
    fact = facts.facts.get(result.claim.id)
    if fact is None:
        return None
    measurement = Measurement(fact.value, fact.unit, method=f"accepted in {facts.label}")
    return ClaimResult(result.claim, Verdict.PASS, f"accepted in {facts.label}", measurement)


def to_accept(results: Iterable[ClaimResult], environment: Mapping[str, Any], patterns: Iterable[str]) -> list[Fact]:
    """The facts of a run that its acceptance patterns name."""
    accepts = matcher(tuple(patterns))
    return [fact_of(r) for r in results if is_fact(r, environment) and accepts(r.claim.id)]


def facts_path(configured: str | None, rootdir: str | os.PathLike[str]) -> Path | None:
    """Where the project keeps its facts: the configured path (relative to rootdir), else FILE_NAME in
    pytest's rootdir; None when configured as 'none'."""
    if configured is not None and configured.strip().lower() in DISABLED:
        return None
    path = Path(configured.strip()) if configured else Path(FILE_NAME)
    return path if path.is_absolute() else Path(rootdir) / path

"""The claims of a test path: collect it with pytest (nothing runs) and read each test's claim markers.

This is how `effcheck list tests/perf` sees claims written in a user's own test files, wherever they live.
Collecting imports the test modules (and whatever they import at module level), as `pytest --collect-only`
does; nothing is measured.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from effcheck.errors import UsageError
from effcheck.item_claims import claims_of
from effcheck.records import Claim


@dataclass(frozen=True)
class FoundClaim:
    claim: Claim
    nodeid: str


class _Collector:
    def __init__(self) -> None:
        self.found: list[FoundClaim] = []

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        # as the plugin reads them: one id per parameter of a claim marked on a parametrized test
        self.found += [FoundClaim(claim, item.nodeid) for item in items for claim in claims_of(item)]


def _forget_collected(before: set[str], paths: Sequence[str]) -> None:
    """Collecting imports test modules by their bare names ("test_mine"): kept in sys.modules, the next
    collection in this process of another folder's test_mine.py fails with an import-file mismatch."""
    roots = [Path(p).resolve() for p in paths if not p.startswith("-") and Path(p).exists()]
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None)
        if file and any(root == Path(file).resolve() or root in Path(file).resolve().parents for root in roots):
            del sys.modules[name]


def claims_in(paths: Sequence[str]) -> list[FoundClaim]:
    """Every claim carried by a test under paths, in collection order; one-line error if collection fails."""
    collector = _Collector()
    out = io.StringIO()
    before = set(sys.modules)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = pytest.main([*paths, "--collect-only", "-q", "-p", "no:cacheprovider"], plugins=[collector])
    finally:
        _forget_collected(before, paths)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        lines = [ln for ln in out.getvalue().splitlines() if ln.startswith(("ERROR", "E "))]
        detail = lines[0] if lines else f"pytest exit status {int(code)}"
        raise UsageError(f"could not collect {' '.join(paths)}: {' '.join(detail.split())[:300]} "
                         f"(run `pytest --collect-only {' '.join(paths)}` to see why)")
    return collector.found

"""What a run does with its claims, decided once, when pytest configures: whether it is saved, judged, gated.

The gate's promise (README, "The history and the gate") rests on one rule: every run that is saved is
also judged, so a regression it measured is recorded as one and never becomes the next baseline, whether
or not that run was gated. Deciding "saved" in one place and "judged" in another is how a plain
`pytest benchmarks/` once slipped a regression into the history; so both are read off this record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunPlan:
    saves: bool  # a run that checks claims is saved to pytest-benchmark's storage, the history
    gated: bool  # its deltas fail tests: --benchmark-compare, --effcheck-baseline or --effcheck-require-baseline
    writes_ledger: bool  # --effcheck-json

    @property
    def judged(self) -> bool:
        """Each claim is compared with its baseline and the comparison recorded with the run."""
        return self.saves or self.gated or self.writes_ledger


def decide(config: Any, autosave: bool, gated: bool, writes_ledger: bool) -> RunPlan:
    """autosave: effcheck's own default (ini effcheck_autosave): a run that checked claims is saved unless
    pytest-benchmark is off or disabled; an explicit --benchmark-save/--benchmark-autosave always saves."""
    if not config.pluginmanager.has_plugin("benchmark"):  # -p no:benchmark: there is no storage to save to
        return RunPlan(False, gated, writes_ledger)
    get = config.getoption
    explicit = bool(get("benchmark_save", None) or get("benchmark_autosave", None))
    default = autosave and not get("benchmark_disable", False)
    return RunPlan(explicit or default, gated, writes_ledger)

"""What the gate made of one claim in one saved run, as the history page shows it. Pure: no files.

A run records the gate's comparison per claim (`comparison.deltas[].status`); a move someone accepted
(`--effcheck-accept` on the run, or `effcheck accept RUN` afterwards, recorded beside the history) is the
new baseline, so the page must read it as accepted, never as the regression it was measured as. The
verdict (PASS, FAIL, FINDING...) is a second, separate fact: a verdict that flips against the baseline is
a change even when the value stayed within the gate's tolerance.
"""

from __future__ import annotations

from enum import Enum


class Outcome(str, Enum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    CHANGED = "changed"  # moved within tolerance (or within a float's resolution)
    ACCEPTED = "accepted"  # a move someone accepted on purpose: the new baseline
    UNCHANGED = "unchanged"
    NEW = "new"  # the gate had no baseline for it
    NOT_COMPARED = "not compared"  # its baseline was measured on another device
    MISSING = "missing"
    NOT_JUDGED = "not judged"  # the run recorded no comparison for the claim (an older effcheck)


MOVES = frozenset({Outcome.REGRESSION, Outcome.IMPROVEMENT, Outcome.CHANGED})
# The page's legend order: what needs a reader first.
ORDER = (Outcome.REGRESSION, Outcome.ACCEPTED, Outcome.IMPROVEMENT, Outcome.CHANGED, Outcome.UNCHANGED,
         Outcome.NEW, Outcome.NOT_COMPARED, Outcome.MISSING, Outcome.NOT_JUDGED)


def gate_outcome(status: str | None, accepted: bool) -> Outcome:
    """status: the run's recorded comparison status for the claim (None: none recorded); accepted:
    the run's claim was accepted, at run time or afterwards. An accepted move is ACCEPTED; acceptance
    of a claim that did not move changes nothing. An unknown status (a newer effcheck) is not judged."""
    try:
        found = Outcome(status) if status is not None else Outcome.NOT_JUDGED
    except ValueError:
        return Outcome.NOT_JUDGED
    if found is Outcome.ACCEPTED:  # not a status the gate records; a hand-edited file
        return Outcome.NOT_JUDGED
    return Outcome.ACCEPTED if accepted and found in MOVES else found


def verdict_flip(before: str | None, after: str | None) -> str:
    """'PASS -> FINDING' when the verdict label differs from the baseline's; '' when either is unknown
    (no baseline, or not measured) or when it is the same."""
    if not before or not after or before == after:
        return ""
    return f"{before} -> {after}"

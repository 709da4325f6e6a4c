"""Which claims a collected test checks, and the collections that cannot be gated.

A claim id names one gated measurement: the history, the baseline and the gate are all keyed by it. So:
- a claim marked on a parametrized test (on the function, its class or module, not on one `pytest.param`)
  is one claim per parameter, its id suffixed with the parameter id as pytest writes it
  ("fam/bytes[1]"), so each parameter has its own baseline (a claim marked on a param keeps its id);
- two tests claiming one id would overwrite each other's measurement: a usage error at collection,
  naming both, as is a claim marker whose arguments are not Claims.
The ids follow from each test alone, never from which tests a `-k` selected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from effcheck.records import Claim

ITEM_CLAIMS = pytest.StashKey["list[Claim]"]()


def _marked_claims(item: pytest.Item) -> list[Claim]:
    """The item's claims, validated; raises TypeError naming a marker argument that is not a Claim."""
    from effcheck.records import Claim

    callspec = getattr(item, "callspec", None)
    per_param = callspec.marks if callspec is not None else ()
    found = []
    for mark in item.iter_markers("claim"):
        for arg in mark.args:
            if not isinstance(arg, Claim):
                raise TypeError(f"@pytest.mark.claim takes effcheck Claim objects, got {arg!r} "
                                f"({type(arg).__name__}); build one with effcheck.Claim(id=..., ...)")
            if callspec is not None and not any(mark is m for m in per_param):
                arg = dataclasses.replace(arg, id=f"{arg.id}[{callspec.id}]")
            found.append(arg)
    return found


def claims_of(item: pytest.Item) -> list[Claim]:
    """The claims this test checks (worked out once per item)."""
    found = item.stash.get(ITEM_CLAIMS, None)
    if found is None:
        found = _marked_claims(item)
        item.stash[ITEM_CLAIMS] = found
    return found


def collection_problems(items: Iterable[pytest.Item]) -> dict[str, str]:
    """nodeid -> why its claims cannot be gated (a claim marker that is not a Claim, a claim id two tests share)."""
    problems: dict[str, str] = {}
    owner: dict[str, str] = {}
    for item in items:
        try:
            claims = claims_of(item)
        except TypeError as exc:
            problems[item.nodeid] = f"{item.nodeid}: {exc}"
            item.stash[ITEM_CLAIMS] = []  # said once, here; pytest still runs the collection-finish hooks
            continue
        for claim in claims:
            first = owner.setdefault(claim.id, item.nodeid)
            if first != item.nodeid:
                problems[item.nodeid] = (
                    f"{item.nodeid} and {first} both claim {claim.id!r}: one id is one gated measurement, and "
                    "the second would overwrite the first's; give each test its own claim id (a claim marked "
                    "on a parametrized test gets one id per parameter)")
    return problems

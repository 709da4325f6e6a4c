"""The claim catalogue: every claim effcheck checks, as data, one module per family.

A family module defines its claims as module-level Claim constants; benchmarks import them and mark
their tests with them, and `effcheck list` reads them here without running anything.
"""

from __future__ import annotations

import importlib
import pkgutil

from effcheck.records import Claim


def _claims_in(value: object) -> list[Claim]:
    """A module-level Claim, or the Claims in a module-level dict/tuple/list (per-model families)."""
    if isinstance(value, Claim):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, Claim)]
    return []


def catalogue() -> dict[str, Claim]:
    """Every claim, by id; a duplicate id is a bug in the catalogue and raises."""
    found: dict[str, Claim] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            for claim in _claims_in(value):
                if claim.id in found and found[claim.id] != claim:
                    raise ValueError(f"claim id {claim.id} is defined twice")
                found[claim.id] = claim
    return dict(sorted(found.items()))

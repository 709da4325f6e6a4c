"""The claim catalogue: every claim effcheck checks, as data, one module per family.

A family module defines its claims as module-level Claim constants; benchmarks import them and mark
their tests with them, and `effcheck list` reads them here without running anything.
"""

from __future__ import annotations

import importlib
import pkgutil

from effcheck.records import Claim


def catalogue() -> dict[str, Claim]:
    """Every claim, by id; a duplicate id is a bug in the catalogue and raises."""
    found: dict[str, Claim] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Claim):
                if value.id in found and found[value.id] is not value:
                    raise ValueError(f"claim id {value.id} is defined twice")
                found[value.id] = value
    return dict(sorted(found.items()))

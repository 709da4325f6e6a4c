"""Claim-id patterns (--effcheck-accept, --effcheck-compare-fail, `effcheck accept RUN CLAIM`): a glob, or
the claim id itself. A parametrized claim's id holds brackets ("fam/bytes[1]"), which a glob reads as a
character class, so a pattern that equals an id always matches it."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable


def id_matches(claim_id: str, pattern: str) -> bool:
    return claim_id == pattern or fnmatch.fnmatchcase(claim_id, pattern)


def matcher(patterns: Iterable[str]) -> Callable[[str], bool]:
    """id_matches for any of several patterns, compiled once (a run's many claims share its few patterns)."""
    found = tuple(patterns)
    if not found:
        return _none
    match = re.compile("|".join(f"(?:{re.escape(p)}\\Z)|(?:{fnmatch.translate(p)})" for p in found)).match
    return lambda claim_id: match(claim_id) is not None


def _none(claim_id: str) -> bool:
    return False

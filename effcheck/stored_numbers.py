"""Numbers as a stored file gives them: finite reals, or a one-line ValueError that names the field.

A run file is read, never trusted: a null, a string, 1e400 or an integer of 400 digits where a number
belongs is refused where it is read (the readers turn the ValueError into SchemaError: that file is
skipped with one warning line, or refused when named), never an OverflowError in the gate or a printer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any


def finite(name: str, value: Any) -> None:
    if value is not None and not is_finite(value):
        raise ValueError(f"{name} must be a finite number, got {shown(value)}")


def is_finite(value: Any) -> bool:
    """math.isfinite, where an integer beyond the float range (10**400, from a JSON file) is not finite:
    math.isfinite and float() raise OverflowError on it, which no reader of a file expects."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def shown(value: Any) -> str:
    """A bad value for a one-line message: a 400-digit integer is named by its size, not printed."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 64:
        return f"an integer of about {int(abs(value).bit_length() * math.log10(2)) + 1} digits"
    return repr(value)


def number(name: str, value: Any) -> float:
    """A finite real number (a stored null, string, 1e400 or 10**400 is refused where it is read, not in
    the gate: ValueError, which the readers turn into SchemaError)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {shown(value)}")
    finite(name, value)
    return float(value)


def point(value: Any) -> float:
    """A series coordinate: what float() takes (a 0-d tensor from a benchmark too), finite."""
    if isinstance(value, (bool, str, bytes)):
        raise ValueError(f"a series point must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"a series point must be a finite number, got {shown(value)}")
    return number


# The numbers of a gate delta (effcheck.gate.Delta) as a ledger's comparison stores them.
DELTA_NUMBERS = ("baseline_value", "current_value", "change", "tolerance", "p_value")
# A move from zero's infinite change as effcheck first wrote it (str(math.inf)), before it wrote null.
_OLD_INFINITE_CHANGE = ("inf", "-inf")


def delta_numbers(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored delta's numbers (those present), validated: each a finite number or null. A change stored
    as "inf"/"-inf" (a move from zero, as older effcheck wrote it) reads as null: the reader derives it
    from the two values. Raises ValueError (an ill-typed or out-of-range number)."""
    found: dict[str, Any] = {}
    for name in DELTA_NUMBERS:
        if name not in data:
            continue
        value = data[name]
        if name == "change" and value in _OLD_INFINITE_CHANGE:
            value = None
        if value is not None or name == "tolerance":
            number(f"delta {name}", value)
        found[name] = value
    return found

"""Numbers as a reader sees them: one value at a glance, two values that never read alike, percentages.

A gate message or verdict that prints "was 1.362e+06, now 1.362e+06 (+0.0%)" hides the move it reports:
values a sentence sets side by side go through fmt_pair, and a change through fmt_percent, which reads
0.0% only for zero. _fmt is for a value read alone (tables), where width matters more than digits.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def _fmt(x: float | None) -> str:
    """One value, readable at a glance (3-4 significant digits): tables, and values read alone. Two values
    a sentence sets side by side go through fmt_pair, which never prints different values alike."""
    if x is None:
        return "-"
    ax = abs(x)
    if ax != 0 and (ax >= 1e6 or ax < 1e-3):
        return f"{x:.4g}"
    if float(x).is_integer():
        return f"{int(x)}"
    return f"{x:.3g}" if ax < 100 else f"{x:.1f}"


_WHOLE_LIMIT = 10**18  # exact integers below this print in full (a count of parameters, MACs, bytes)


def integer_pair(a: Any, b: Any) -> tuple[int, int] | None:  # floats, or ints a float would round
    """Both values as exact integers when both are whole (a count), else None."""
    if not all(isinstance(x, numbers.Integral) or float(x).is_integer() for x in (a, b)):
        return None
    whole = int(a), int(b)
    return whole if max(abs(whole[0]), abs(whole[1])) < _WHOLE_LIMIT else None


def fmt_pair(a: float | None, b: float | None) -> tuple[str, str]:
    """Two values a sentence sets side by side (was/now, claimed/measured), printed differently whenever
    they differ: exact integers in full with thousands separators ("1,362,344" and "1,362,345"), other
    values as _fmt prints them, or with the fewest significant digits that tell them apart ("0.9991" and
    "0.9994" where _fmt says 0.999 twice)."""
    if a is None or b is None:
        return _fmt(a), _fmt(b)
    whole = integer_pair(a, b)
    if whole is not None:
        return f"{whole[0]:,}", f"{whole[1]:,}"
    first, second = _fmt(a), _fmt(b)
    if first != second or a == b:
        return first, second
    for digits in range(4, 18):  # 17 significant digits tell any two doubles apart
        first, second = f"{float(a):,.{digits}g}", f"{float(b):,.{digits}g}"
        if first != second:
            return first, second
    # alike as doubles: integers beyond 2**53 that a float rounds together, printed exactly
    return f"{int(a):,}", f"{int(b):,}"


def fmt_percent(fraction: float, signed: bool = False) -> str:
    """A fraction as a percentage that reads 0.0% only when it is 0: "+2.2%", then as many decimals as the
    first significant digit needs ("+0.00007%"), and beyond that or beyond a million percent, exponents."""
    sign = "+" if signed else ""
    percent = fraction * 100
    if percent == 0:
        return f"{sign}0.0%"
    size = abs(percent)
    if not math.isfinite(percent) or size >= 1e6 or size < 1e-6:
        return f"{percent:{sign}.2g}%"
    if size >= 0.1:
        return f"{percent:{sign}.1f}%"
    return f"{percent:{sign}.{-math.floor(math.log10(size))}f}%"

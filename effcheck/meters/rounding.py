"""How far a measured number is from a figure printed in a paper, in units of that figure's own rounding.

A paper that prints "9.2M" claims the count lies in [9.15M, 9.25M): half a unit in the last printed
digit (a half-step) on either side. Measuring deviations in half-steps holds every entry of a table to
exactly the precision it was printed with: |deviation| <= 1 half-step means the measured count, rounded
the way the paper rounded, is the paper's figure. A single relative margin cannot do that, since "1.0"
(+-5%) and "9.9" (+-0.5%) carry very different precision.

Pure Python: no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIGURE = re.compile(r"^\s*(\d+(?:\.(\d+))?)\s*([kKMGB]?)\s*$")
_SCALE = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "B": 1e9}


@dataclass(frozen=True)
class PrintedFigure:
    """A number as printed, e.g. '9.2M': its value and the half-step its last digit implies."""

    text: str
    value: float
    half_step: float

    @property
    def low(self) -> float:
        return self.value - self.half_step

    @property
    def high(self) -> float:
        return self.value + self.half_step


def parse_figure(text: str) -> PrintedFigure:
    """'9.2M' -> 9.2e6 +- 0.05e6; '0.39B' -> 0.39e9 +- 0.005e9; '12' -> 12 +- 0.5."""
    match = _FIGURE.match(text)
    if not match:
        raise ValueError(f"not a printed figure: {text!r} (expected digits with an optional k/M/G/B suffix)")
    number, decimals, suffix = match.group(1), match.group(2) or "", match.group(3)
    scale = _SCALE[suffix]
    return PrintedFigure(text, float(number) * scale, 0.5 * 10.0 ** -len(decimals) * scale)


def half_steps(measured: float, printed: PrintedFigure) -> float:
    """Signed deviation of measured from the printed figure, in half-steps of its last printed digit."""
    return (measured - printed.value) / printed.half_step


def ratio_floor(numerator: PrintedFigure, denominator: PrintedFigure) -> float:
    """The lowest ratio numerator/denominator that the two printed (rounded) figures allow."""
    if denominator.high <= 0:
        raise ValueError(f"ratio with a non-positive denominator ({denominator.text})")
    return numerator.low / denominator.high


def margin_for(claimed: float, floor: float) -> float:
    """The relative margin below `claimed` that reaches `floor` (a Claim's '>=' margin)."""
    if not 0 < floor <= claimed:
        raise ValueError(f"floor {floor} must lie in (0, claimed={claimed}]")
    return 1.0 - floor / claimed

"""EfficientNet's compound scaling, as arithmetic on published coefficients (Tan & Le 2019, §3.3).

Eq. 3: depth d = alpha^phi, width w = beta^phi, resolution r = gamma^phi (relative to B0), with
alpha * beta^2 * gamma^2 ~= 2 so that FLOPS (proportional to d * w^2 * r^2) grow by ~2^phi.

The published coefficients are printed with one decimal (d, w) and resolutions in whole pixels, so each
one pins phi only to an interval; a variant follows Eq. 3 when one phi lies in all three intervals.
The same holds for what a library builds: block counts are whole per stage (ceil of d * repeats), channels
multiples of 8, resolutions whole pixels, so a built network pins each multiplier to an interval too
(depth_multiplier_interval, channel_multiplier_interval), and intervals_gap says whether one phi fits.
Pure Python: no torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # paper §3.3, found by grid search on B0
COEFFICIENT_HALF_STEP = 0.05  # d and w are printed with one decimal
RESOLUTION_HALF_STEP = 0.5  # resolutions are whole pixels


def phi_interval(coefficient: float, base: float, half_step: float) -> tuple[float, float]:
    """The phi values for which base^phi rounds to the printed coefficient."""
    if base <= 1 or coefficient - half_step <= 0:
        raise ValueError(f"phi of coefficient {coefficient} (+-{half_step}) with base {base} is undefined")
    return math.log(coefficient - half_step, base), math.log(coefficient + half_step, base)


@dataclass(frozen=True)
class ScaledVariant:
    """One variant's published coefficients, relative to B0 at base_resolution."""

    name: str
    width: float
    depth: float
    resolution: int
    base_resolution: int = 224

    def phi_intervals(self) -> dict[str, tuple[float, float]]:
        base = self.base_resolution
        return {
            "depth": phi_interval(self.depth, ALPHA, COEFFICIENT_HALF_STEP),
            "width": phi_interval(self.width, BETA, COEFFICIENT_HALF_STEP),
            "resolution": phi_interval(self.resolution / base, GAMMA, RESOLUTION_HALF_STEP / base),
        }

    def phi_gap(self) -> float:
        """How far apart the per-dimension phi intervals are: 0 when one phi fits all three."""
        return intervals_gap(list(self.phi_intervals().values()))

    def flops_growth_bounds(self) -> tuple[float, float]:
        """FLOPS relative to B0 that d * w^2 * r^2 predicts, over the printed precision of d, w and r."""
        h, base = COEFFICIENT_HALF_STEP, self.base_resolution
        r_lo = (self.resolution - RESOLUTION_HALF_STEP) / base
        r_hi = (self.resolution + RESOLUTION_HALF_STEP) / base
        return (
            (self.depth - h) * (self.width - h) ** 2 * r_lo**2,
            (self.depth + h) * (self.width + h) ** 2 * r_hi**2,
        )


def depth_multiplier_interval(blocks: int, repeats: tuple[int, ...]) -> tuple[float, float]:
    """The depth multipliers d for which sum(ceil(d * r) for r in repeats) == blocks (EfficientNet's
    per-stage rounding, timm's depth_trunc='ceil'), as (lowest, highest); lowest is exclusive."""
    if not repeats or any(r < 1 for r in repeats):
        raise ValueError(f"stage repeats must be positive, got {repeats}")
    if blocks < len(repeats):
        raise ValueError(f"{blocks} blocks cannot fill {len(repeats)} stages")

    def built(d: float) -> int:
        return sum(math.ceil(d * r - 1e-12) for r in repeats)  # ceil, robust to k/r computed inexactly

    # built(d) is a step function, constant between consecutive breakpoints k/r
    top = blocks / min(repeats) + 1
    points = sorted({k / r for r in repeats for k in range(1, int(top * r) + 2)})
    inside = [(lo, hi) for lo, hi in zip([0.0, *points[:-1]], points, strict=True) if built(hi) == blocks]
    if not inside:
        raise ValueError(f"no depth multiplier builds {blocks} blocks from stage repeats {repeats}")
    return inside[0][0], inside[-1][1]


def channel_multiplier_interval(channels: int, base: int, divisor: int = 8) -> tuple[float, float]:
    """The width multipliers w for which base * w rounds to `channels` at the nearest multiple of divisor
    (timm's make_divisible, as the official round_filters): [channels - divisor/2, channels + divisor/2)."""
    if channels % divisor or channels < divisor or base < 1:
        raise ValueError(f"{channels} channels are not a positive multiple of {divisor} (base {base})")
    return (channels - divisor / 2) / base, (channels + divisor / 2) / base


def phi_of(low: float, high: float, base: float) -> tuple[float, float]:
    """The phi interval for which base^phi lies in [low, high]."""
    if base <= 1 or low <= 0 or high < low:
        raise ValueError(f"phi of [{low}, {high}] with base {base} is undefined")
    return math.log(low, base), math.log(high, base)


def intervals_gap(intervals: list[tuple[float, float]]) -> float:
    """How far apart intervals are: 0 when one value lies in all of them."""
    if not intervals:
        raise ValueError("no intervals")
    return max(0.0, max(lo for lo, _ in intervals) - min(hi for _, hi in intervals))


def flops_per_phi() -> float:
    """alpha * beta^2 * gamma^2: the FLOPS factor one unit of phi buys (the paper rounds it to 2)."""
    return ALPHA * BETA**2 * GAMMA**2


def outside(value: float, low: float, high: float) -> float:
    """Relative distance of value outside [low, high]: 0 inside, else (value-high)/high or (low-value)/low."""
    if value > high:
        return (value - high) / high
    if value < low:
        return (low - value) / low
    return 0.0

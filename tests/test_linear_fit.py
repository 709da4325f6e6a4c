"""The least-squares line and the interleaved sweep timer: properties, and the order points are visited in
(no wall-clock assertion: only counts and order)."""

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from effcheck.meters.linear_fit import LinearFit, interleaved_times, linear_fit, medians

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
xs_strategy = st.lists(st.integers(min_value=0, max_value=64), min_size=2, max_size=8, unique=True)


@given(xs_strategy, finite, finite)
@example(xs=[0, 1, 2], slope=0.0, intercept=0.1)  # flat: the mean of three 0.1s rounds, R^2 was 0
@example(xs=[0, 1], slope=0.0, intercept=-1.0)
@example(xs=[3, 5, 9], slope=1e-13, intercept=1000.0)  # rises by a few ulps only: still an exact line
@example(xs=[0, 64], slope=5e-324, intercept=0.0)  # subnormal slope
def test_an_exact_line_is_recovered_with_r_squared_one(xs, slope, intercept):
    fit = linear_fit([(x, intercept + slope * x) for x in xs])
    assert fit.slope == pytest.approx(slope, abs=1e-6 * (1 + abs(slope)))
    assert fit.intercept == pytest.approx(intercept, abs=1e-5 * (1 + abs(intercept) + abs(slope)))
    assert fit.r_squared == pytest.approx(1.0, abs=1e-6)


@given(xs_strategy, st.lists(finite, min_size=8, max_size=8))
@example(xs=[0, 1], ys=[0.0, 2.2250738585e-313] + [0.0] * 6)  # subnormal y: ss_tot underflowed to 0 (seed 209972)
def test_r_squared_is_a_fraction_and_the_fit_ignores_point_order(xs, ys):
    points = list(zip(xs, ys[: len(xs)], strict=True))
    fit = linear_fit(points)
    assert 0.0 <= fit.r_squared <= 1.0
    again = linear_fit(list(reversed(points)))
    assert again.slope == pytest.approx(fit.slope, rel=1e-9, abs=1e-9)
    assert again.r_squared == pytest.approx(fit.r_squared, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("c", [0.1, 1 / 3, 0.0, -7.25, 1e-300, 999.999])
def test_a_flat_line_is_a_perfect_fit(c):
    fit = linear_fit([(n, c) for n in (1, 2, 4)])
    assert (fit.slope, fit.r_squared) == (pytest.approx(0.0, abs=1e-12 * (1 + abs(c))), 1.0)
    assert fit.at(32) == pytest.approx(c)


def test_scatter_well_above_rounding_is_not_called_exact():
    # the exact-fit rule covers only rounding: a real wobble of a part in 10^6 or 10^9 still lowers R^2
    fit = linear_fit([(1, 1.0), (2, 2.0 + 2e-6), (3, 3.0), (4, 4.0 - 2e-6)])
    assert fit.r_squared < 1.0
    flat_with_wobble = linear_fit([(1, 5.0), (2, 5.0 + 1e-9), (3, 5.0), (4, 5.0 + 1e-9)])
    assert flat_with_wobble.r_squared < 0.5


def test_a_bent_curve_explains_less_than_a_line():
    line = linear_fit([(n, 0.05 + 0.04 * n) for n in (1, 2, 4, 8)])
    quadratic = linear_fit([(n, 0.05 + 0.04 * n * n) for n in (1, 2, 4, 8)])
    assert line.r_squared > quadratic.r_squared
    assert LinearFit(2.0, 1.0, 1.0).at(3) == 7.0


def test_a_line_needs_two_distinct_x():
    with pytest.raises(ValueError, match="two or more distinct x"):
        linear_fit([(1, 2.0), (1, 3.0)])
    with pytest.raises(ValueError):
        linear_fit([(1, 2.0)])


def test_interleaved_times_visit_every_point_once_a_round_in_alternating_order():
    visits = []
    fns = {n: (lambda n=n: visits.append(n)) for n in (1, 2, 4)}
    samples = interleaved_times(fns, rounds=4, warmup=1)
    assert visits == [1, 2, 4] + [1, 2, 4, 4, 2, 1, 1, 2, 4, 4, 2, 1]
    assert {n: len(v) for n, v in samples.items()} == {1: 4, 2: 4, 4: 4}
    assert all(t >= 0 for v in samples.values() for t in v)
    assert medians({1: [3.0, 1.0, 2.0], 2: [5.0, 4.0, 6.0]}) == ((1.0, 2.0), (2.0, 5.0))
    with pytest.raises(ValueError, match="rounds"):
        interleaved_times(fns, rounds=2)

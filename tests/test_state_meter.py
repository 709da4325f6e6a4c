"""meters.state: an object's tensors split into the state a claim reads and what it holds beside it, the
constancy ratio and the slope of a linear growth."""

from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from effcheck.meters.memory import tensor_bytes  # noqa: E402
from effcheck.meters.state import held_tensors, read_state, slopes, spread_ratio  # noqa: E402


class _Layer:
    def __init__(self, width: int) -> None:
        self.conv_states = {0: torch.zeros(1, width, 4)}
        self.recurrent_states = {0: torch.zeros(1, width, 16)}
        self.counter = torch.zeros((), dtype=torch.int64)
        self.offset = 3  # not a tensor: not held bytes


class _Cache:
    def __init__(self, layers: int = 2, width: int = 8) -> None:
        self.layers = [_Layer(width) for _ in range(layers)]


def test_held_tensors_name_every_tensor_once_and_sum_to_tensor_bytes():
    cache = _Cache()
    cache.alias = cache.layers[0].conv_states[0][:, :2]  # a view of a held storage is not counted again
    held = held_tensors(cache)
    assert [t.path for t in held] == [
        "layers[0].conv_states[0]", "layers[0].recurrent_states[0]", "layers[0].counter",
        "layers[1].conv_states[0]", "layers[1].recurrent_states[0]", "layers[1].counter",
    ]
    assert sum(t.nbytes for t in held) == tensor_bytes(cache)


def test_read_state_splits_state_from_bookkeeping():
    reading = read_state(_Cache(), ("conv_states", "recurrent_states"))
    assert reading.state_bytes == 2 * 8 * (4 + 16) * 4
    assert reading.others() == {"layers[0].counter": "int64[], 8 B", "layers[1].counter": "int64[], 8 B"}
    assert reading.object_bytes == reading.state_bytes + 16 == tensor_bytes(_Cache())
    assert reading.state_layout() == {"float32[1, 8, 4]": 2, "float32[1, 8, 16]": 2}


def test_read_state_without_fields_is_all_state():
    state = [torch.zeros(5), torch.zeros(5, dtype=torch.float64)]
    reading = read_state(state)
    assert reading.state_bytes == 5 * 4 + 5 * 8 and reading.other == () and reading.others() == {}


def test_read_state_refuses_an_object_without_the_named_state():
    with pytest.raises(LookupError, match=r"holds no tensor under \['ssm_states'\]"):
        read_state(_Cache(), ("ssm_states",))


def test_meta_tensors_count_their_would_be_bytes():
    layer = SimpleNamespace(keys=torch.empty(2, 3, device="meta", dtype=torch.float16))
    reading = read_state(SimpleNamespace(layers=[layer]), ("keys",))
    assert reading.state_bytes == 12 and reading.state[0].path == "layers[0].keys"


@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=6))
def test_spread_ratio_is_one_exactly_when_constant(values):
    ratio = spread_ratio(values)
    assert (ratio == 1.0) == (len(set(values)) == 1)
    assert ratio == max(values) / min(values)


def test_spread_ratio_needs_positive_values():
    with pytest.raises(ValueError):
        spread_ratio([0, 8])
    with pytest.raises(ValueError):
        spread_ratio([])


@given(st.integers(0, 10**6), st.integers(0, 4096),
       st.lists(st.integers(1, 10**5), min_size=2, max_size=6, unique=True))
def test_slopes_are_the_per_token_growth_whatever_the_intercept(intercept, per_token, tokens):
    points = {n: intercept + per_token * n for n in tokens}
    assert set(slopes(points).values()) == {per_token}
    assert list(slopes(points)) == list(zip(sorted(tokens), sorted(tokens)[1:], strict=False))


def test_slopes_need_two_points():
    with pytest.raises(ValueError):
        slopes({5: 100})

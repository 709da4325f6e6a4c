"""Meters on tiny modules, against closed-form counts. No wall-clock assertion: time is faked."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from effcheck.meters import latency  # noqa: E402
from effcheck.meters.flops import count_macs  # noqa: E402
from effcheck.meters.memory import peak_memory, tensor_bytes  # noqa: E402
from effcheck.meters.params import count_params, ratio_measurement  # noqa: E402

small = st.integers(min_value=1, max_value=24)


@given(small, small, st.booleans())
def test_linear_params_and_macs_match_closed_form(n_in, n_out, bias):
    layer = torch.nn.Linear(n_in, n_out, bias=bias, device="meta")
    assert count_params(layer) == n_in * n_out + (n_out if bias else 0)
    x = torch.empty(3, n_in, device="meta")
    assert count_macs(layer, x) == 3 * n_in * n_out


@given(small, small, st.sampled_from([1, 3, 5]), st.integers(4, 12), st.sampled_from([1, 2]))
def test_conv2d_params_and_macs_match_closed_form(c_in, c_out, k, size, stride):
    conv = torch.nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False, device="meta")
    assert count_params(conv) == c_out * c_in * k * k
    out = (size + 2 * (k // 2) - k) // stride + 1
    assert count_macs(conv, torch.empty(1, c_in, size, size, device="meta")) == c_out * c_in * k * k * out * out


@given(st.integers(1, 8), st.integers(1, 4), st.integers(4, 10))
def test_depthwise_conv_macs(channels, mult, size):
    conv = torch.nn.Conv2d(channels, channels * mult, 3, padding=1, groups=channels, bias=False, device="meta")
    assert count_macs(conv, torch.empty(1, channels, size, size, device="meta")) == channels * mult * 9 * size * size


def test_tied_weights_are_counted_once():
    emb = torch.nn.Embedding(10, 4)
    head = torch.nn.Linear(4, 10, bias=False)
    head.weight = emb.weight
    assert count_params(torch.nn.ModuleList([emb, head])) == 40


def test_ratio_measurement_keeps_both_counts():
    m = ratio_measurement(10, 4, method="counts", a=10)
    assert m.value == 2.5 and m.details["numerator"] == 10 and m.details["a"] == 10
    with pytest.raises(ValueError):
        ratio_measurement(1, 0, method="counts")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        return self.now


def test_ab_ratio_is_the_median_of_interleaved_rounds(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(latency, "time", clock)
    order = []

    def slow():
        order.append("a")
        clock.now += 0.03

    def fast():
        order.append("b")
        clock.now += 0.01

    m = latency.ab_ratio(slow, fast, rounds=5, warmup=1, min_block_s=0.02, label_a="slow", label_b="fast")
    assert m.value == pytest.approx(3.0)
    assert len(m.samples) == 5 and m.spread == pytest.approx((3.0, 3.0))
    assert m.details["fast_calls_per_block"] == 2 and m.details["slow_calls_per_block"] == 1
    timed = "".join(order[4:])  # after warmup and calibration, rounds alternate AB, BA, ...
    assert timed.startswith("abbbba")


def test_ab_ratio_needs_enough_rounds_for_a_spread():
    with pytest.raises(ValueError):
        latency.ab_ratio(lambda: None, lambda: None, rounds=2)


def _alloc_pattern():
    a = torch.zeros(1000)  # 4000 bytes
    b = torch.zeros(2000)  # +8000 = 12000 (peak)
    del a
    view = b.view(2, 1000)  # a view allocates nothing
    b.add_(1)  # in place allocates nothing
    return view, torch.ones(500)  # +2000 = 10000


def test_cpu_peak_memory_counts_live_tensor_bytes_exactly_and_repeatably():
    peaks = {peak_memory(_alloc_pattern)[1].peak_bytes for _ in range(3)}
    assert peaks == {12000}


def test_cpu_peak_memory_of_a_forward_pass():
    layer = torch.nn.Linear(100, 100)

    def forward():
        with torch.no_grad():
            x = torch.randn(8, 100)
            return layer(layer(x))

    _, peak = peak_memory(forward)
    assert peak.peak_bytes == 3 * 8 * 100 * 4  # input and two activations; weights existed before


def test_tensor_bytes_counts_each_storage_once_and_meta_shapes():
    t = torch.zeros(10)
    state = {"k": [t, t[:5]], "v": (torch.zeros(3, dtype=torch.float16),), "m": torch.empty(7, device="meta")}
    assert tensor_bytes(state) == 40 + 6 + 28


def test_time_calls_rejects_zero_calls():
    with pytest.raises(ValueError):
        latency.time_calls(lambda: None, 0)


def test_roofline_arithmetic():
    from effcheck.meters.roofline import roofline

    r = roofline(flops=2_000_000_000, seconds=0.5, peak_flops_per_s=8e9)
    assert r.achieved_flops_per_s == 4e9 and r.fraction_of_peak == 0.5
    assert r.details() == {"achieved_GFLOP_per_s": 4.0, "matmul_peak_GFLOP_per_s": 8.0, "fraction_of_peak": 0.5}
    with pytest.raises(ValueError):
        roofline(1, 0.0, 1.0)


def test_matmul_peak_is_a_positive_rate():
    from effcheck.meters.roofline import matmul_peak

    assert matmul_peak("cpu", size=64, rounds=2) > 0


def test_cpu_attention_is_counted_like_the_meta_formula():
    from effcheck.meters.flops import count_flops

    b, h, n, d = 1, 2, 16, 8
    sdpa = torch.nn.functional.scaled_dot_product_attention
    cpu = count_flops(sdpa, *(torch.randn(b, h, n, d) for _ in range(3)))
    meta = count_flops(sdpa, *(torch.empty(b, h, n, d, device="meta") for _ in range(3)))
    assert cpu == meta == 2 * (2 * b * h * n * n * d)  # QK^T and PV, 2 FLOPs per multiply-add


def test_ab_ratio_with_fixed_blocks_skips_the_sizing_calls(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(latency, "time", clock)
    calls = []

    def a():
        calls.append("a")
        clock.now += 2.0

    def b():
        calls.append("b")
        clock.now += 0.5

    m = latency.ab_ratio(a, b, rounds=3, warmup=0, calls_per_block=(1, 1))
    assert m.value == pytest.approx(4.0) and "".join(calls) == "abbaab"

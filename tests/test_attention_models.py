"""Attention builders, the exactness measure, the allocator meter and the arithmetic counter, on small
inputs against closed forms. No wall-clock assertion."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from effcheck.meters.allocator import allocator_peak, peak_above_start  # noqa: E402
from effcheck.meters.arithmetic import count_arithmetic  # noqa: E402
from effcheck.meters.memory import peak_memory  # noqa: E402
from effcheck.models.attention import (  # noqa: E402
    AttentionShape,
    BackendUnavailable,
    attention_inputs,
    backend_runner,
    exactness,
    naive_attention,
    sdpa,
    sdpa_ops,
)


def _loop_attention(q, k, v, causal):
    """Attention one query at a time in float64, the definition with no tricks."""
    out = torch.empty(q.shape, dtype=torch.float64)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            for i in range(q.shape[2]):
                keys = k[b, h, : i + 1] if causal else k[b, h]
                values = v[b, h, : i + 1] if causal else v[b, h]
                scores = keys.double() @ q[b, h, i].double() / math.sqrt(q.shape[-1])
                out[b, h, i] = torch.softmax(scores, 0) @ values.double()
    return out


@settings(max_examples=15, deadline=None)
@given(length=st.integers(1, 12), extra=st.integers(0, 5), head_dim=st.sampled_from([4, 8]),
       causal=st.booleans())
def test_naive_attention_is_the_definition(length, extra, head_dim, causal):
    shape = AttentionShape(1, 2, length, head_dim, kv_length=length if causal else length + extra)
    q, k, v = attention_inputs(shape, seed=length)
    exact = naive_attention(q.double(), k.double(), v.double(), causal)
    torch.testing.assert_close(exact, _loop_attention(q, k, v, causal))


def test_attention_inputs_are_seeded_and_shaped():
    shape = AttentionShape(2, 3, 5, 8, kv_length=7)
    q, k, v = attention_inputs(shape, seed=3)
    assert q.shape == (2, 3, 5, 8) and k.shape == v.shape == (2, 3, 7, 8)
    assert torch.equal(q, attention_inputs(shape, seed=3)[0])
    assert attention_inputs(AttentionShape(1, 1, 2, 4, "bfloat16"))[0].dtype == torch.bfloat16


@pytest.mark.parametrize("bad, message", [
    (dict(batch=0), "batch"), (dict(head_dim=0), "head_dim"), (dict(dtype="int8"), "dtype"),
    (dict(kv_length=0), "kv_length"),
])
def test_attention_shape_rejects_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        AttentionShape(**{**dict(batch=1, heads=1, length=4, head_dim=8), **bad})


def test_exactness_passes_sdpa_and_fails_an_approximation():
    q, k, v = attention_inputs(AttentionShape(1, 2, 64, 32))
    exact = exactness(sdpa(q, k, v, True), q, k, v, True)
    assert exact.ratio <= 1.0 and exact.tolerance >= 1e-5
    # an approximation at the 1e-3 level (what a low-rank or sparse attention errs by) must fail
    approximate = exactness(sdpa(q, k, v, True) + 1e-3, q, k, v, True)
    assert approximate.ratio > 1.0


def test_exactness_tolerance_follows_low_precision_rounding():
    q, k, v = attention_inputs(AttentionShape(1, 2, 64, 32, "bfloat16"))
    result = exactness(sdpa(q, k, v), q, k, v, False)
    assert result.naive_error > 1e-4  # bfloat16 rounding, far above float32's
    assert result.tolerance == pytest.approx(4 * result.naive_error)
    assert result.ratio <= 1.0


def test_sdpa_ops_name_the_kernel_that_ran():
    q, k, v = attention_inputs(AttentionShape(1, 2, 64, 16))
    ops = sdpa_ops(q, k, v)
    assert ops, "SDPA dispatched no aten op"
    if hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"):
        assert "_scaled_dot_product_flash_attention_for_cpu" in ops


def test_backend_runner_reports_why_a_backend_cannot_run():
    with pytest.raises(ValueError, match="unknown attention backend"):
        backend_runner("nope")
    q, k, v = attention_inputs(AttentionShape(1, 2, 16, 16))
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailable, match="EFFICIENT_ATTENTION"):
            backend_runner("efficient")(q, k, v, False)
    torch.testing.assert_close(backend_runner("math")(q, k, v, True), naive_attention(q, k, v, True))


def test_missing_attention_package_is_unavailable_not_an_import_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_packages(name, *args, **kwargs):
        if name.split(".")[0] in ("flash_attn", "xformers"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_packages)
    for name in ("flash_attn", "xformers"):
        with pytest.raises(BackendUnavailable, match="not installed"):
            backend_runner(name)


# -- allocator meter ---------------------------------------------------------------------------------


def test_allocator_peak_equals_tracker_for_plain_ops():
    def work():
        a = torch.ones(1000)  # 4000 bytes
        b = a + a  # 4000 more while a lives (a Python scalar operand would add a hidden wrapped tensor)
        return b.sum()

    _, at_allocator = allocator_peak(work)
    _, at_tracker = peak_memory(work)
    assert at_allocator.peak_bytes == at_tracker.peak_bytes == 8000 + 4  # + the 0-d sum


def test_allocator_peak_sees_fused_kernel_scratch_the_tracker_misses():
    q, k, v = attention_inputs(AttentionShape(1, 2, 1024, 64))
    out_bytes = q.numel() * 4
    with torch.no_grad():
        _, at_allocator = allocator_peak(lambda: sdpa(q, k, v))
        _, at_tracker = peak_memory(lambda: sdpa(q, k, v))
        _, again = allocator_peak(lambda: sdpa(q, k, v))
    assert at_tracker.peak_bytes >= out_bytes
    assert at_allocator.peak_bytes > at_tracker.peak_bytes  # the per-thread scratch buffer
    assert again.peak_bytes == at_allocator.peak_bytes  # deterministic


def test_allocator_peak_rejects_unknown_devices():
    with pytest.raises(ValueError, match="cpu or cuda"):
        allocator_peak(lambda: None, "mps")


@given(st.lists(st.integers(1, 10**6), max_size=20), st.integers(0, 10**6))
def test_peak_above_start_of_alloc_free_sequences(sizes, start):
    events, total = [], start
    for t, size in enumerate(sizes):  # allocate all, then free all
        total += size
        events.append((t, size, total))
    for t, size in enumerate(reversed(sizes), start=len(sizes)):
        total -= size
        events.append((t, -size, total))
    assert peak_above_start(events) == sum(sizes)


# -- arithmetic counter ------------------------------------------------------------------------------


@given(st.integers(1, 16), st.integers(1, 64))
def test_arithmetic_of_norms_matches_closed_form(rows, d):
    from effcheck.models.language import layer_norm_ops, rms_norm_ops

    x, w, b = torch.randn(rows, d), torch.randn(d), torch.randn(d)
    n = rows * d
    # LayerNorm: mean, sub, square, mean, 2 scale + 1 shift per element; eps add and rsqrt per row
    assert sum(count_arithmetic(layer_norm_ops, x, w, b, 1e-5).values()) == 7 * n + 2 * rows
    # RMSNorm: square, mean, scale by 1/rms, gain per element; eps add and rsqrt per row
    assert sum(count_arithmetic(rms_norm_ops, x, w, 1e-6).values()) == 4 * n + 2 * rows


def test_arithmetic_counter_refuses_ops_it_has_no_rule_for():
    with pytest.raises(ValueError, match="no rule for aten.mm"):
        count_arithmetic(torch.mm, torch.ones(2, 2), torch.ones(2, 2))


def test_arithmetic_counter_charges_nothing_for_views():
    assert count_arithmetic(lambda t: t.view(4).t().unsqueeze(0), torch.ones(2, 2)) == {}


# -- training step and footprint ---------------------------------------------------------------------


def test_training_step_gives_the_gradients_of_attention():
    from effcheck.models.attention import training_step

    q, k, v = attention_inputs(AttentionShape(1, 2, 16, 8))
    naive_grads = training_step(naive_attention, q, k, v)()
    fused_grads = training_step(sdpa, q, k, v)()
    for a, b in zip(naive_grads, fused_grads, strict=True):
        torch.testing.assert_close(a, b)
    assert all(g.shape == q.shape for g in naive_grads)


def test_training_footprint_counts_inputs_scores_and_gradients():
    from effcheck.models.attention import training_footprint

    n, d = 256, 16
    q, k, v = attention_inputs(AttentionShape(1, 1, n, d))
    naive = training_footprint(naive_attention, q, k, v)
    # at least: q, k, v copied in, their three gradients, and one N x N buffer (the softmax kept for backward)
    assert naive >= (6 * n * d + n * n) * 4
    assert training_footprint(naive_attention, q, k, v) == naive  # deterministic
    assert training_footprint(sdpa, q, k, v) < naive / 2  # no N x N buffer: the fused kernel's point


def test_training_footprint_sees_an_injected_buffer():
    """The meter can fail: an attention that keeps one extra N x N float32 buffer alive is charged for it."""
    from effcheck.models.attention import training_footprint

    n = 256
    q, k, v = attention_inputs(AttentionShape(1, 1, n, 16))
    kept = []

    def leaky(q, k, v, is_causal=False):
        kept.append(torch.ones(n, n))
        return sdpa(q, k, v, is_causal)

    assert training_footprint(leaky, q, k, v) >= training_footprint(sdpa, q, k, v) + n * n * 4

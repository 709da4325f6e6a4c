"""Attention claims (article §2.4, §3, §8): FlashAttention-style fused attention (torch SDPA) and GQA.

Sizes follow the device: on a GPU the FlashAttention README's benchmark setting (fp16, 32 heads of 64,
16K tokens per batch); on a 2-core CPU one sequence of 8 heads of 64 in float32, so the pair of files
stays under two minutes. The CPU SDPA kernel is PyTorch's tiled flash kernel for CPU, so a CPU run checks
the same algorithm against the CPU's cache hierarchy, not FlashAttention's CUDA kernels.
"""

import pytest

from effcheck.claims import attention as claims
from effcheck.models.attention import AttentionShape
from effcheck.records import Measurement

LENGTHS = (1024, 2048, 4096)


def _shape(device: str, length: int) -> AttentionShape:
    if device.startswith("cuda"):
        batch = max(1, 16384 // length)  # 16K tokens per batch, as the README's benchmark
        return AttentionShape(batch=batch, heads=32, length=length, head_dim=64, dtype="float16")
    return AttentionShape(batch=1, heads=8, length=length, head_dim=64, dtype="float32")


# -- exactness ---------------------------------------------------------------------------------------


@pytest.mark.claim(claims.SDPA_EXACT)
def test_sdpa_exact(effcheck, device):
    """Property test: SDPA against exact attention over random shapes, causal or not, every device dtype."""
    import torch

    from effcheck.models import require
    from effcheck.models.attention import attention_inputs, exactness, sdpa

    require("hypothesis", "test")
    from hypothesis import HealthCheck, example, given, settings
    from hypothesis import strategies as st

    dtypes = ["float16", "bfloat16", "float32"] if device.startswith("cuda") else ["float32", "bfloat16"]
    worst: dict[str, object] = {"ratio": -1.0}
    examples: list[float] = []
    by_dtype: dict[str, float] = {}

    # edge cases the CPU kernel treats apart: a single query (decode), one block of 32, block tails past
    # 768 tokens (q blocks of 256, kv blocks of 512), more keys than queries, an odd head size
    @settings(max_examples=30, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(batch=st.integers(1, 2), heads=st.integers(1, 4), length=st.integers(1, 300),
           extra_keys=st.integers(0, 64), head_dim=st.sampled_from([16, 32, 64, 80, 128]),
           causal=st.booleans(), dtype=st.sampled_from(dtypes), seed=st.integers(0, 2**16))
    @example(batch=1, heads=2, length=1, extra_keys=300, head_dim=64, causal=False, dtype="float32", seed=1)
    @example(batch=1, heads=2, length=32, extra_keys=0, head_dim=64, causal=True, dtype="float32", seed=2)
    @example(batch=1, heads=4, length=777, extra_keys=0, head_dim=64, causal=True, dtype="float32", seed=3)
    @example(batch=1, heads=2, length=1100, extra_keys=0, head_dim=128, causal=False, dtype=dtypes[0], seed=4)
    def check(batch, heads, length, extra_keys, head_dim, causal, dtype, seed):
        # is_causal masks key j > query i (top-left): keep keys == queries so no row is fully masked
        keys = length if causal else length + extra_keys
        shape = AttentionShape(batch, heads, length, head_dim, dtype, kv_length=keys)
        q, k, v = attention_inputs(shape, device, seed)
        with torch.no_grad():
            result = exactness(sdpa(q, k, v, causal), q, k, v, causal)
        examples.append(result.ratio)
        by_dtype[dtype] = max(by_dtype.get(dtype, 0.0), result.ratio)
        if result.ratio > worst["ratio"]:
            worst.update(ratio=result.ratio, shape=str(shape), causal=causal, fused_error=result.fused_error,
                         naive_error=result.naive_error, tolerance=result.tolerance)

    check()
    effcheck.check(Measurement(
        value=float(worst["ratio"]),
        unit="x tolerance",
        method=f"hypothesis, {len(examples)} derandomized examples (+ edge cases): max |SDPA - float64 naive "
               f"attention| / max(assert_close atol, 4 x naive same-dtype error)",
        device=device,
        details={"dtypes": dtypes, "worst": worst, "worst_ratio_by_dtype": by_dtype,
                 "ratio_per_example": [round(r, 5) for r in examples]},
    ))


@pytest.mark.gpu
@pytest.mark.parametrize("backend", [
    pytest.param(b, marks=pytest.mark.claim(claims.BACKENDS_EXACT[b]), id=b) for b in claims.BACKENDS
])
def test_backend_exact(effcheck, device, backend):
    import torch

    from effcheck.models.attention import BackendUnavailable, attention_inputs, backend_runner, exactness

    shape = AttentionShape(batch=2, heads=16, length=1024, head_dim=64, dtype="float16")
    q, k, v = attention_inputs(shape, device, seed=0)
    try:
        run = backend_runner(backend)
        with torch.no_grad():
            out = run(q, k, v, True)
    except BackendUnavailable as exc:
        pytest.skip(f"{backend} unavailable on {torch.cuda.get_device_name(device)}: {exc}")
    torch.cuda.synchronize(device)
    result = exactness(out, q, k, v, True)
    effcheck.check(Measurement(
        value=result.ratio, unit="x tolerance",
        method=f"{backend}: max |out - float64 naive| / max(atol, 4 x naive fp16 error), causal {shape}",
        device=device,
        details={"fused_error": result.fused_error, "naive_error": result.naive_error,
                 "tolerance": result.tolerance},
    ))


# -- memory ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def memory_sweep(device):
    """Peak bytes of one naive and one SDPA forward per length: allocator-level (scratch included), and on
    CPU also the live-tensor tracker's figure, which cannot see the fused kernel's internal scratch."""
    import torch

    from effcheck.meters.allocator import allocator_peak
    from effcheck.meters.memory import peak_memory
    from effcheck.models.attention import attention_inputs, naive_attention, sdpa, sdpa_ops

    def measure(length: int) -> dict:
        shape = _shape(device, length)
        q, k, v = attention_inputs(shape, device)
        point = {"shape": str(shape)}
        with torch.no_grad():
            _, fused = allocator_peak(lambda: sdpa(q, k, v), device)
            point["sdpa_bytes"] = fused.peak_bytes
            try:
                _, naive = allocator_peak(lambda: naive_attention(q, k, v), device)
                point["naive_bytes"] = naive.peak_bytes
            except torch.OutOfMemoryError as exc:  # a small GPU at 4K: that point's outcome is the OOM
                point["naive_outcome"] = f"out of memory: {' '.join(str(exc).split())[:200]}"
                torch.cuda.empty_cache()
            if device == "cpu":
                point["sdpa_tracker_bytes"] = peak_memory(lambda: sdpa(q, k, v))[1].peak_bytes
                point["naive_tracker_bytes"] = peak_memory(lambda: naive_attention(q, k, v))[1].peak_bytes
            point["sdpa_kernel"] = sorted(set(sdpa_ops(q, k, v)) - {"scaled_dot_product_attention"})
        point["method"] = fused.method
        return point

    return {length: measure(length) for length in LENGTHS}


def _memory_measurement(sweep: dict, length: int, device: str) -> Measurement:
    import torch

    point = sweep[length]
    if "naive_bytes" not in point:
        pytest.skip(f"naive attention at {length} tokens: {point['naive_outcome']} (SDPA peak "
                    f"{point['sdpa_bytes']} bytes): recorded as this point's outcome")
    series = tuple((n, p["naive_bytes"] / p["sdpa_bytes"]) for n, p in sweep.items() if "naive_bytes" in p)
    details = {"per_length": {str(n): p for n, p in sweep.items()}, "threads": torch.get_num_threads()}
    if device == "cpu":
        details["tracker_factor_series"] = [
            (n, p["naive_tracker_bytes"] / p["sdpa_tracker_bytes"]) for n, p in sweep.items()]
    return Measurement(
        value=point["naive_bytes"] / point["sdpa_bytes"],
        unit="x",
        method=f"peak bytes naive / SDPA, one forward of {point['shape']}; {point['method']}",
        device=device,
        series=series,
        details=details,
    )


@pytest.mark.claim(claims.SDPA_MEMORY_2K)
def test_sdpa_memory_saving_2k(effcheck, device, memory_sweep):
    effcheck.check(_memory_measurement(memory_sweep, 2048, device))


@pytest.mark.claim(claims.SDPA_MEMORY_4K)
def test_sdpa_memory_saving_4k(effcheck, device, memory_sweep):
    effcheck.check(_memory_measurement(memory_sweep, 4096, device))


# -- speed -------------------------------------------------------------------------------------------


@pytest.mark.timed
@pytest.mark.claim(claims.SDPA_SPEEDUP_2K)
def test_sdpa_speedup_2k(effcheck, device, matmul_peak_flops):
    import torch

    from effcheck.meters.flops import count_flops
    from effcheck.meters.latency import ab_ratio
    from effcheck.meters.roofline import roofline
    from effcheck.models.attention import attention_inputs, naive_attention, sdpa, sdpa_ops

    shape = _shape(device, 2048)
    if device.startswith("cuda"):
        shape = AttentionShape(batch=8, heads=32, length=2048, head_dim=64, dtype="float16")
    q, k, v = attention_inputs(shape, device)
    with torch.no_grad():
        m = ab_ratio(lambda: naive_attention(q, k, v), lambda: sdpa(q, k, v), device=device, rounds=9,
                     label_a="naive", label_b="sdpa")
        kernel = sorted(set(sdpa_ops(q, k, v)) - {"scaled_dot_product_attention"})
    # Roofline: the same matmul FLOPs on both sides; the fused kernel's win is memory traffic, not arithmetic
    flops = {"naive": count_flops(naive_attention, q, k, v), "sdpa": count_flops(sdpa, q, k, v)}
    peak = matmul_peak_flops()
    speed = {f"{side}_{key}": value for side in flops
             for key, value in roofline(flops[side], m.details[f"{side}_median_s"], peak).details().items()}
    effcheck.check(Measurement(
        value=m.value, unit=m.unit, method=f"{m.method}; attention forward {shape}", device=device,
        samples=m.samples,
        details={**m.details, **speed, "flops": flops, "sdpa_kernel": kernel, "threads": torch.get_num_threads(),
                 "within_article_range_2_to_4": 2.0 <= m.value <= 4.0},
    ))


# -- grouped-query attention -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_cache_bytes():
    """Real DynamicCache bytes after a 64-token prompt, 32 query heads sharing 32, 8 or 1 K/V heads."""
    from effcheck.meters.memory import tensor_bytes
    from effcheck.models.language import kv_bytes, prefill_cache, tiny_llama

    found = {}
    for kv_heads in (32, 8, 1):
        cache = prefill_cache(tiny_llama(kv_heads), tokens=64)
        found[kv_heads] = {"bytes": kv_bytes(cache), "cache_object_bytes": tensor_bytes(cache),
                           "cache": type(cache).__name__, "key_shape_layer0": _key_shape(cache)}
    return found


def _key_shape(cache) -> list[int]:
    layers = getattr(cache, "layers", None)
    if layers:  # transformers 5: DynamicCache.layers[i].keys
        return list(layers[0].keys.shape)
    return list(cache[0][0].shape)  # 4.x: legacy (key, value) per layer


_TINY_METHOD = ("key+value tensor bytes of the transformers cache after one 64-token prompt, tiny Llama "
                "(2 layers, 32 heads of 8)")


@pytest.mark.claim(claims.GQA_KV_CACHE_4X)
def test_gqa_kv_cache_4x(effcheck, tiny_cache_bytes):
    mha, gqa = tiny_cache_bytes[32]["bytes"], tiny_cache_bytes[8]["bytes"]
    effcheck.check(Measurement(
        value=mha / gqa, unit="x", device="cpu",
        method=_TINY_METHOD,
        details={"mha_bytes": mha, "gqa_bytes": gqa, "caches": tiny_cache_bytes},
    ))


@pytest.mark.claim(claims.MQA_KV_CACHE_32X)
def test_mqa_kv_cache_32x(effcheck, tiny_cache_bytes):
    mha, mqa = tiny_cache_bytes[32]["bytes"], tiny_cache_bytes[1]["bytes"]
    effcheck.check(Measurement(
        value=mha / mqa, unit="x", device="cpu",
        method=_TINY_METHOD,
        details={"mha_bytes": mha, "mqa_bytes": mqa, "caches": tiny_cache_bytes},
    ))


def _full_size_cache_ratio(name: str, dtype: str, mha_kv_heads: int) -> Measurement:
    from effcheck.models.language import causal_lm, kv_bytes, prefill_cache

    tokens = 1024
    model = causal_lm(name, "meta", dtype)
    gqa = kv_bytes(prefill_cache(model, tokens, "meta"))
    mha_model = causal_lm(name, "meta", dtype, num_key_value_heads=mha_kv_heads)
    mha = kv_bytes(prefill_cache(mha_model, tokens, "meta"))
    # a sliding-window cache (Mistral: 4096) never holds more tokens than the window
    held = min(model.config.max_position_embeddings, getattr(model.config, "sliding_window", None) or 2**62)
    return Measurement(
        value=mha / gqa, unit="x", device="meta",
        method=f"key+value tensor bytes of the transformers cache after a {tokens}-token prompt, full-size "
               f"{name} ({dtype}) on meta, num_key_value_heads {model.config.num_key_value_heads} vs "
               f"{mha_kv_heads}",
        details={"gqa_bytes_per_token": gqa // tokens, "mha_bytes_per_token": mha // tokens,
                 "tokens_held_at_full_context": held, "gqa_gib_at_full_context": gqa / tokens * held / 2**30,
                 "mha_gib_at_full_context": mha / tokens * held / 2**30},
    )


@pytest.mark.claim(claims.GQA_MISTRAL_7B)
def test_gqa_mistral_7b(effcheck):
    effcheck.check(_full_size_cache_ratio("mistral-7b", "bfloat16", 32))


@pytest.mark.claim(claims.GQA_LLAMA2_70B)
def test_gqa_llama2_70b(effcheck):
    effcheck.check(_full_size_cache_ratio("llama-2-70b", "float16", 64))

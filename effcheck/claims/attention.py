"""Attention claims: FlashAttention / SDPA and grouped-query attention (article §2.4, §3, §8, §10)."""

from effcheck.records import Claim

SDPA_EXACT = Claim(
    id="attention/sdpa/exact",
    statement="Flash-style fused attention (torch SDPA) is exact: its output equals standard attention "
              "within float tolerance, not an approximation",
    source="article §2.4 ('numerically identical to standard attention (exact computation, not "
           "approximation)'); Dao et al. 2022 (FlashAttention) §3.1, Theorem 1; tolerance: "
           "torch.testing.assert_close default atol, or 4x the error of naive attention in the same dtype "
           "(PyTorch test_transformers.py fudge factor for fused kernels), whichever is larger",
    metric="max |SDPA - exact float64 attention| / tolerance, worst case over property-tested shapes",
    unit="x tolerance",
    comparison="<=",
    expected=1.0,
    better="lower",
    tolerance=1.0,  # rounding-level errors move with kernel versions; only crossing the tolerance matters
)

_MEMORY_SOURCE = ("article §2.4 ('5-20x memory savings'); Dao-AILab/flash-attention README ('10X memory "
                  "savings at sequence length 2K, and 20X at 4K'); measured: peak bytes of one attention "
                  "forward above its q/k/v inputs, scratch included")

SDPA_MEMORY_2K = Claim(
    id="attention/sdpa/memory_saving_2k",
    statement="Fused attention needs at least 10x less peak memory than standard attention at 2K tokens",
    source=_MEMORY_SOURCE,
    metric="peak bytes naive / peak bytes SDPA at 2048 tokens",
    unit="x",
    comparison=">=",
    expected=10.0,
    better="higher",
)

SDPA_MEMORY_4K = Claim(
    id="attention/sdpa/memory_saving_4k",
    statement="Fused attention needs at least 20x less peak memory than standard attention at 4K tokens",
    source=_MEMORY_SOURCE,
    metric="peak bytes naive / peak bytes SDPA at 4096 tokens",
    unit="x",
    comparison=">=",
    expected=20.0,
    better="higher",
)

SDPA_SPEEDUP_2K = Claim(
    id="attention/sdpa/speedup_2k",
    statement="Fused (Flash-style) attention is 2-4x faster than standard attention at 2K tokens",
    source="article §2.4 and §8 ('2-4x speedup'); Dao et al. 2022 (FlashAttention) §4; the lower end is the "
           "promise; margin 10%: interleaved-ratio noise on a shared machine",
    metric="time naive / time SDPA, attention forward at 2048 tokens",
    unit="x",
    comparison=">=",
    expected=2.0,
    margin=0.10,
    better="higher",
    noisy=True,
)

BACKENDS = ("flash", "efficient", "cudnn", "math", "flash_attn", "xformers")

# One claim per backend: each keys its own history, and an unavailable one is its own SKIP row.
BACKENDS_EXACT = {
    backend: Claim(
        id=f"attention/backends/{backend}",
        statement=f"The {backend} attention backend on this GPU computes exact attention (SDPA backends flash, "
                  "memory-efficient, cuDNN, math through sdpa_kernel; the flash-attn and xformers packages)",
        source="article §2.4 and §8 (Flash Attention, xFormers memory-efficient attention: exact); "
               "tolerance as attention/sdpa/exact",
        metric="max |backend - exact float64 attention| / tolerance at fp16, causal",
        unit="x tolerance",
        comparison="<=",
        expected=1.0,
        better="lower",
        tolerance=1.0,
    )
    for backend in BACKENDS
}

_GQA_SOURCE = ("article §2.4 ('32 heads divided into 8 groups reduces KV cache memory by 4x'); "
               "Ainslie et al. 2023 (GQA) §2; Shazeer 2019 (MQA)")

GQA_KV_CACHE_4X = Claim(
    id="attention/gqa/kv_cache_4x",
    statement="32 query heads in 8 K/V groups cut the KV cache 4x against multi-head attention",
    source=_GQA_SOURCE + "; measured on a real transformers cache (tiny Llama, random weights)",
    metric="cache bytes MHA (32 K/V heads) / GQA (8 K/V heads), same prompt",
    unit="x",
    comparison="==",
    expected=4.0,
    better="higher",
)

MQA_KV_CACHE_32X = Claim(
    id="attention/mqa/kv_cache_32x",
    statement="Multi-query attention (all 32 heads share one K/V head) cuts the KV cache 32x",
    source=_GQA_SOURCE + "; measured on a real transformers cache (tiny Llama, random weights)",
    metric="cache bytes MHA (32 K/V heads) / MQA (1 K/V head), same prompt",
    unit="x",
    comparison="==",
    expected=32.0,
    better="higher",
)

GQA_MISTRAL_7B = Claim(
    id="attention/gqa/mistral_7b_kv_cache_4x",
    statement="Mistral-7B's GQA (32 query heads, 8 K/V heads) holds a 4x smaller KV cache than the same "
              "model with multi-head attention",
    source="article §2.4 (Mistral adopted GQA); mistralai/Mistral-7B-v0.1 config.json "
           "(num_key_value_heads 8)",
    metric="cache bytes with 32 K/V heads / with 8, full-size model on meta",
    unit="x",
    comparison="==",
    expected=4.0,
    better="higher",
)

GQA_LLAMA2_70B = Claim(
    id="attention/gqa/llama2_70b_kv_cache_8x",
    statement="Llama-2-70B's GQA (64 query heads, 8 K/V heads) holds an 8x smaller KV cache than the same "
              "model with multi-head attention",
    source="article §2.4 (LLaMA-2 adopted GQA); meta-llama/Llama-2-70b-hf config.json "
           "(num_key_value_heads 8); Llama 2 paper §2.2",
    metric="cache bytes with 64 K/V heads / with 8, full-size model on meta",
    unit="x",
    comparison="==",
    expected=8.0,
    better="higher",
)

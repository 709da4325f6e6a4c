"""LLM design claims: LLaMA's architecture choices, parameter scale, Phi-3 vs Mixtral (article §1, §2.5, §9).

Published parameter counts are printed rounded (or truncated) to their last digit. A count printed as
x with one decimal in billions is honoured by any exact count in [x - 0.05B, x + 0.1B]: round-half or
truncation, whichever the paper used (LLaMA's Table 2 truncates: 65.29B is printed 65.2B).
"""

from effcheck.records import Claim

B = 1e9


def _printed_count(claim_id: str, model: str, printed_b: float, unit_b: float, source: str) -> Claim:
    """A published count printed to `unit_b` billions, checked against the exact count."""
    return Claim(
        id=claim_id,
        statement=f"{model} has {printed_b:g}B parameters as published (printed to {unit_b:g}B: rounded or "
                  f"truncated, so [{printed_b - unit_b / 2:g}B, {printed_b + unit_b:g}B])",
        source=source,
        metric=f"exact parameter count of {model} built from its published config on meta",
        unit="params",
        comparison="between",
        expected=(printed_b - unit_b / 2) * B,
        expected_high=(printed_b + unit_b) * B,
    )


_LLAMA_TABLE = "LLaMA (Touvron et al. 2023) Table 2; shapes from the official params.json"
LLAMA_7B_PARAMS = _printed_count("llm/llama/params_table/7b", "LLaMA-7B", 6.7, 0.1, _LLAMA_TABLE)
LLAMA_13B_PARAMS = _printed_count("llm/llama/params_table/13b", "LLaMA-13B", 13.0, 0.1, _LLAMA_TABLE)
LLAMA_33B_PARAMS = _printed_count("llm/llama/params_table/33b", "LLaMA-33B", 32.5, 0.1, _LLAMA_TABLE)
LLAMA_65B_PARAMS = _printed_count("llm/llama/params_table/65b", "LLaMA-65B", 65.2, 0.1, _LLAMA_TABLE)

GPT3_PARAMS = _printed_count(
    "llm/gpt3_175b/params", "GPT-3 175B", 175, 1,
    "article §1 and §2.5 ('GPT-3 175B'); Brown et al. 2020 Table 2.1 (shapes; it prints 175.0B)")
PHI3_MINI_PARAMS = _printed_count(
    "llm/phi3_mini/params", "Phi-3-mini", 3.8, 0.1,
    "article §2.5 and §3 ('Phi-3-mini has only 3.8B parameters'); Phi-3 Technical Report §2")
MIXTRAL_PARAMS = _printed_count(
    "llm/mixtral_8x7b/params", "Mixtral 8x7B", 46.7, 0.1,
    "article §2.5 ('Mixtral 8x7B (46.7B parameters)'); Mixtral of Experts (Jiang et al. 2024) §2 ('47B')")

LLAMA13B_VS_GPT3 = Claim(
    id="llm/llama13b/params_vs_gpt3_175b",
    statement="LLaMA-13B has 1/13 of GPT-3 175B's parameters (the fraction's denominator is a whole number, "
              "so it stands for any ratio that rounds to 13: 12.5..13.5)",
    source="article §1 and §2.5 ('with 1/13 of the parameters'); LLaMA Table 2; Brown et al. 2020 Table 2.1",
    metric="exact params GPT-3 175B / exact params LLaMA-13B",
    unit="x",
    comparison="~",
    expected=13.0,
    margin=0.5 / 13.0,
)

LLAMA13B_TRAINING_VS_GPT3 = Claim(
    id="llm/llama13b/training_compute_vs_gpt3",
    statement="LLaMA-13B's training cost is less than 1/13 of GPT-3 175B's",
    source="article §9; training tokens: LLaMA Table 2 (13B: 1.0T), Brown et al. 2020 §2.2 and Table D.1 "
           "(GPT-3: 300B); cost = forward FLOPs per token (FlopCounterMode, full models on meta, 2048-token "
           "context) x training tokens; backward = 2x forward for both dense Transformers, so it cancels",
    metric="training FLOPs GPT-3 175B / training FLOPs LLaMA-13B",
    unit="x",
    comparison=">=",
    expected=13.0,
    better="higher",
    refuted="training cost is FLOPs per token times tokens; LLaMA-13B saw 1.0T tokens to GPT-3's 300B, so "
            "most of its per-token saving is spent on 3.3x more data: the article divides by the parameter "
            "ratio and forgets the data",
)

PHI3_VS_MIXTRAL = Claim(
    id="llm/phi3_mini/params_vs_mixtral",
    statement="Mixtral 8x7B (46.7B) has ~12x the parameters of Phi-3-mini (3.8B) it competes with",
    source="article §2.5; range from the printed figures: 46.65..46.8B over 3.75..3.9B",
    metric="exact total params Mixtral 8x7B / Phi-3-mini",
    unit="x",
    comparison="between",
    expected=46.65 / 3.9,
    expected_high=46.8 / 3.75,
)

PHI3_VS_MIXTRAL_ACTIVE = Claim(
    id="llm/phi3_mini/params_vs_mixtral_active",
    statement="Per token, Mixtral 8x7B uses 13B active parameters (2 of 8 experts): ~3.4x Phi-3-mini's 3.8B, "
              "not the 12x its total suggests",
    source="Mixtral of Experts (Jiang et al. 2024) §2 ('13B active parameters'); article §2.5 (3.8B); "
           "range from the printed figures: 12.5..14B over 3.75..3.9B",
    metric="exact active params per token Mixtral 8x7B / Phi-3-mini",
    unit="x",
    comparison="between",
    expected=12.5 / 3.9,
    expected_high=14.0 / 3.75,
)

_RMSNORM_SOURCE = ("article §2.5 ('RMSNorm: eliminates mean computation, more stable and faster training'); "
                   "Zhang & Sennrich 2019 (RMSNorm) §4; shapes: LLaMA-7B hidden 4096, 2048 tokens")

RMSNORM_SPEED_CPU = Claim(
    id="llm/llama/rmsnorm_vs_layernorm/cpu",
    statement="RMSNorm (as LLaMA runs it in transformers) is faster than LayerNorm, on the CPU",
    source=_RMSNORM_SOURCE + "; torch.nn.LayerNorm vs transformers' LlamaRMSNorm, float32",
    metric="time LayerNorm / time LlamaRMSNorm",
    unit="x",
    comparison=">=",
    expected=1.0,
    better="higher",
    noisy=True,
    refuted="on CPU PyTorch runs LayerNorm as one fused kernel that keeps each row in cache, while RMSNorm "
            "runs as separate eager ops (square, mean, rsqrt, multiply by it, multiply by the gain), each a "
            "full pass over the tensor in memory: fewer FLOPs, more memory traffic, slower",
)

RMSNORM_SPEED_GPU = Claim(
    id="llm/llama/rmsnorm_vs_layernorm/gpu",
    statement="RMSNorm (as LLaMA runs it in transformers) is faster than LayerNorm, on the GPU",
    source=_RMSNORM_SOURCE + "; torch.nn.LayerNorm vs transformers' LlamaRMSNorm, bfloat16",
    metric="time LayerNorm / time LlamaRMSNorm",
    unit="x",
    comparison=">=",
    expected=1.0,
    better="higher",
    noisy=True,
)

RMSNORM_FLOPS = Claim(
    id="llm/llama/rmsnorm_vs_layernorm/flops",
    statement="RMSNorm does 4 operations per element where LayerNorm does 7 (no mean, no centering, no bias)",
    source="article §2.5 ('eliminates mean computation'); Zhang & Sennrich 2019 eq. 2 vs eq. 4; margin 1%: "
           "the per-row rsqrt and epsilon add (2 per 4096 elements)",
    metric="arithmetic ops LayerNorm / RMSNorm, counted per aten op of op-by-op implementations",
    unit="x",
    comparison="~",
    expected=7 / 4,
    margin=0.01,
)

NO_BIAS = Claim(
    id="llm/llama/no_bias",
    statement="Removing all bias terms cuts LLaMA-7B's parameters by exactly its 7 bias vectors per block "
              "(q, k, v, o, gate, up, down): 32 x (5 x 4096 + 2 x 11008), about 0.02%",
    source="article §2.5 ('Removing all bias terms: reduces parameter count'); LLaMA-7B params.json shapes",
    metric="params of LLaMA-7B with attention and MLP biases minus without",
    unit="params",
    comparison="==",
    expected=32 * (5 * 4096 + 2 * 11008),
)

SWIGLU_PARAMS = Claim(
    id="llm/llama/swiglu_params",
    statement="A SwiGLU FFN of width 2/3 x 4d holds the same parameters as a 4d GELU FFN",
    source="article §2.5; Shazeer 2020 (GLU variants) §2; LLaMA §2.2 ('2/3 4d instead of 4d as in PaLM'); "
           "margin 2.34%: LLaMA rounds the width up to a multiple of 256, at most 3 x 255 x d extra weights "
           "against 8 d^2 at d=4096",
    metric="FFN weights SwiGLU (LLaMA-7B block) / GELU 4d (GPT-2 block), same d",
    unit="x",
    comparison="~",
    expected=1.0,
    margin=3 * 256 / (8 * 4096),
)

ROPE_PARAMS = Claim(
    id="llm/llama/rope",
    statement="RoPE adds no parameters (learned absolute positions add context x d)",
    source="article §2.5; Su et al. 2021 (RoFormer) §3.4; LLaMA §2",
    metric="LLaMA-7B params minus the closed form of its non-positional weights",
    unit="params",
    comparison="==",
    expected=0.0,
)

"""LLM design claims (article §1, §2.5, §9): parameter scale and LLaMA's architecture choices.

Full-size models are built from their published configs on `meta` (shapes only, no weights, no memory);
counts are exact. Timed norm comparisons use LLaMA-7B's hidden size.
"""

import pytest

from effcheck.claims import llm as claims
from effcheck.meters.params import count_params, ratio_measurement
from effcheck.models.language import causal_lm
from effcheck.records import Measurement

PUBLISHED_COUNTS = [
    (claims.LLAMA_7B_PARAMS, "llama-7b"),
    (claims.LLAMA_13B_PARAMS, "llama-13b"),
    (claims.LLAMA_33B_PARAMS, "llama-33b"),
    (claims.LLAMA_65B_PARAMS, "llama-65b"),
    (claims.GPT3_PARAMS, "gpt-3-175b"),
    (claims.PHI3_MINI_PARAMS, "phi-3-mini"),
    (claims.MIXTRAL_PARAMS, "mixtral-8x7b"),
]


@pytest.mark.parametrize(
    "claim, name", [pytest.param(c, n, marks=pytest.mark.claim(c), id=n) for c, n in PUBLISHED_COUNTS])
def test_published_param_count(effcheck, claim, name):
    from effcheck.models.language import spec

    model = causal_lm(name)
    effcheck.check(Measurement(
        value=float(count_params(model)), unit="params", device="meta",
        method="sum of parameter numel (tied weights once) of the transformers model built from the "
               "published config on meta",
        details={"billions": count_params(model) / 1e9, "config_source": spec(name).source},
    ), claim)


@pytest.mark.claim(claims.LLAMA13B_VS_GPT3)
def test_llama13b_vs_gpt3_params(effcheck):
    llama13b, gpt3 = count_params(causal_lm("llama-13b")), count_params(causal_lm("gpt-3-175b"))
    # what LLaMA's choices change at equal shapes: GPT-3's (GPT-2) block at LLaMA-13B's width, depth,
    # vocabulary and untied head, with biases, LayerNorm, a 4d GELU FFN and learned positions
    gpt_style = count_params(causal_lm("gpt-3-175b", n_layer=40, n_embd=5120, n_head=40, vocab_size=32000,
                                       tie_word_embeddings=False))
    effcheck.check(ratio_measurement(
        gpt3, llama13b, method="exact parameter counts on meta", device="meta",
        gpt3_175b=gpt3, llama_13b=llama13b, nominal_175_over_13=175 / 13,
        gpt2_style_block_at_llama13b_shapes=gpt_style,
        llama_choices_change_params_by=gpt_style / llama13b,
    ))


@pytest.mark.claim(claims.LLAMA13B_TRAINING_VS_GPT3)
def test_llama13b_vs_gpt3_training_compute(effcheck):
    import torch

    from effcheck.meters.flops import count_flops

    context = 2048  # both were trained with a 2048-token context (LLaMA §2.4, Brown et al. §2.1)
    ids = torch.zeros(1, context, dtype=torch.long, device="meta")
    per_token = {name: count_flops(causal_lm(name), ids) / context for name in ("llama-13b", "gpt-3-175b")}
    tokens = {"llama-13b": 1.0e12, "gpt-3-175b": 300e9}  # LLaMA Table 2; Brown et al. §2.2
    train = {name: 3 * per_token[name] * tokens[name] for name in per_token}  # forward + 2x backward
    effcheck.check(Measurement(
        value=train["gpt-3-175b"] / train["llama-13b"], unit="x", device="meta",
        method=f"(forward FLOPs per token by FlopCounterMode at {context} tokens on meta) x training tokens",
        details={"forward_flops_per_token": per_token, "training_tokens": tokens, "training_flops": train,
                 "per_token_ratio": per_token["gpt-3-175b"] / per_token["llama-13b"],
                 "gpt3_table_d1_total_flops": 3.14e23},
    ))


def _mixtral_and_phi3() -> dict[str, int]:
    from effcheck.models.language import active_params

    mixtral, phi3 = causal_lm("mixtral-8x7b"), causal_lm("phi-3-mini")
    total = count_params(mixtral)
    return {"mixtral_total": total, "mixtral_active": active_params(mixtral, total),
            "phi3_mini": count_params(phi3)}


@pytest.mark.claim(claims.PHI3_VS_MIXTRAL)
def test_phi3_vs_mixtral_total(effcheck):
    counts = _mixtral_and_phi3()
    effcheck.check(ratio_measurement(counts["mixtral_total"], counts["phi3_mini"], device="meta",
                                     method="exact parameter counts on meta", **counts))


@pytest.mark.claim(claims.PHI3_VS_MIXTRAL_ACTIVE)
def test_phi3_vs_mixtral_active(effcheck):
    counts = _mixtral_and_phi3()
    effcheck.check(ratio_measurement(
        counts["mixtral_active"], counts["phi3_mini"], device="meta",
        method="exact counts on meta; active = all parameters minus the 6 of 8 experts a token skips",
        **counts))


# -- RMSNorm vs LayerNorm ----------------------------------------------------------------------------


def _norm_speed(device: str, dtype: str) -> Measurement:
    import torch

    from effcheck.meters.latency import ab_ratio
    from effcheck.models.language import llama_rms_norm

    d, tokens = 4096, 2048
    x = torch.randn(tokens, d, device=device, dtype=getattr(torch, dtype))
    layer_norm = torch.nn.LayerNorm(d, device=device, dtype=x.dtype)
    llama = llama_rms_norm(d, device=device).to(x.dtype)
    torch_rms = torch.nn.RMSNorm(d, eps=1e-6, device=device, dtype=x.dtype)
    with torch.no_grad():
        m = ab_ratio(lambda: layer_norm(x), lambda: llama(x), device=device, rounds=9,
                     label_a="layernorm", label_b="llama_rmsnorm")
        builtin = ab_ratio(lambda: layer_norm(x), lambda: torch_rms(x), device=device, rounds=5,
                           label_a="layernorm", label_b="torch_rmsnorm")
    return Measurement(
        value=m.value, unit="x", method=f"{m.method}; ({tokens}, {d}) {dtype}", device=device,
        samples=m.samples,
        details={**m.details, "layernorm_over_torch_nn_rmsnorm": builtin.value,
                 "torch_nn_rmsnorm_samples": list(builtin.samples)},
    )


@pytest.mark.timed
@pytest.mark.claim(claims.RMSNORM_SPEED_CPU)
def test_rmsnorm_vs_layernorm_speed_cpu(effcheck):
    effcheck.check(_norm_speed("cpu", "float32"))


@pytest.mark.gpu
@pytest.mark.timed
@pytest.mark.claim(claims.RMSNORM_SPEED_GPU)
def test_rmsnorm_vs_layernorm_speed_gpu(effcheck, device):
    effcheck.check(_norm_speed(device, "bfloat16"))


@pytest.mark.claim(claims.RMSNORM_FLOPS)
def test_rmsnorm_vs_layernorm_flops(effcheck):
    import torch

    from effcheck.meters.arithmetic import count_arithmetic
    from effcheck.meters.flops import count_flops
    from effcheck.models.language import layer_norm_ops, llama_rms_norm

    d, tokens = 4096, 64
    x = torch.randn(tokens, d)
    layer_norm = torch.nn.LayerNorm(d)
    torch.nn.init.normal_(layer_norm.weight)
    torch.nn.init.normal_(layer_norm.bias)
    rms = llama_rms_norm(d)
    with torch.no_grad():
        # the counted op-by-op LayerNorm is the computation torch's fused kernel does
        torch.testing.assert_close(layer_norm_ops(x, layer_norm.weight, layer_norm.bias, layer_norm.eps),
                                   layer_norm(x))
    ln_ops = count_arithmetic(layer_norm_ops, x, layer_norm.weight, layer_norm.bias, layer_norm.eps)
    rms_ops = count_arithmetic(rms, x)  # transformers' LlamaRMSNorm is already op by op
    effcheck.check(Measurement(
        value=sum(ln_ops.values()) / sum(rms_ops.values()), unit="x", device="cpu",
        method=f"arithmetic per aten op (pointwise: 1 per output element, reduction: 1 per input element) "
               f"of LayerNorm written op by op vs transformers' LlamaRMSNorm, ({tokens}, {d})",
        details={"layernorm_ops": ln_ops, "rmsnorm_ops": rms_ops,
                 "flopcountermode_layernorm": count_flops(layer_norm, x),
                 "flopcountermode_rmsnorm": count_flops(rms, x)},
    ))


# -- LLaMA's other choices ---------------------------------------------------------------------------


@pytest.mark.claim(claims.NO_BIAS)
def test_no_bias(effcheck):
    without = count_params(causal_lm("llama-7b"))
    with_bias = count_params(causal_lm("llama-7b", attention_bias=True, mlp_bias=True))
    effcheck.check(Measurement(
        value=float(with_bias - without), unit="params", device="meta",
        method="LLaMA-7B on meta with attention_bias and mlp_bias minus without",
        details={"with_biases": with_bias, "without": without,
                 "fraction_saved": (with_bias - without) / with_bias},
    ))


@pytest.mark.claim(claims.SWIGLU_PARAMS)
def test_swiglu_params(effcheck):
    from effcheck.models.language import gelu_ffn

    def ffn_ratio(name: str) -> tuple[int, float]:
        model = causal_lm(name)
        d = model.config.hidden_size
        swiglu = count_params(model.model.layers[0].mlp)
        gelu = sum(p.numel() for n, p in gelu_ffn(d, 4 * d).named_parameters() if n.endswith("weight"))
        return d, swiglu / gelu

    series = [ffn_ratio(name) for name in ("llama-7b", "llama-13b", "llama-33b", "llama-65b")]
    effcheck.check(Measurement(
        value=series[0][1], unit="x", device="meta",
        method="params of LLaMA-7B's SwiGLU MLP (gate, up, down; no biases) / weights of GPT-2's 4d GELU MLP "
               "at d=4096; series over LLaMA 7B..65B (x = d)",
        series=tuple(series),
    ))


@pytest.mark.claim(claims.ROPE_PARAMS)
def test_rope_params(effcheck):
    from effcheck.models.language import llama_weight_count

    model = causal_lm("llama-7b")
    total = count_params(model)
    learned = causal_lm("gpt-3-175b", n_layer=1, n_embd=4096, n_head=32).transformer.wpe
    effcheck.check(Measurement(
        value=float(total - llama_weight_count(model.config)), unit="params", device="meta",
        method="LLaMA-7B params on meta minus the closed form of its embedding, attention, SwiGLU, norm and "
               "head weights (no position term)",
        details={"llama_7b": total, "rotary_module_params": count_params(model.model.rotary_emb),
                 "learned_absolute_positions_at_2048x4096": count_params(learned)},
    ))

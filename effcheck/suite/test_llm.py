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

    from effcheck.meters.flops import count_flops_by_layers

    context = 2048  # both were trained with a 2048-token context (LLaMA §2.4, Brown et al. §2.1)
    ids = torch.zeros(1, context, dtype=torch.long, device="meta")
    depth = {"llama-13b": "num_hidden_layers", "gpt-3-175b": "n_layer"}
    per_token = {name: count_flops_by_layers(lambda n, name=name, key=key: causal_lm(name, **{key: n}),
                                             getattr(causal_lm(name).config, key), ids) / context
                 for name, key in depth.items()}
    tokens = {"llama-13b": 1.0e12, "gpt-3-175b": 300e9}  # LLaMA Table 2; Brown et al. §2.2
    train = {name: 3 * per_token[name] * tokens[name] for name in per_token}  # forward + 2x backward
    effcheck.check(Measurement(
        value=train["gpt-3-175b"] / train["llama-13b"], unit="x", device="meta",
        method=f"(forward FLOPs per token by FlopCounterMode at {context} tokens on meta, the full depth from "
               f"1- and 2-layer builds: f(1) + (layers - 1) x (f(2) - f(1))) x training tokens",
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


def _norm_training_speed(device: str, dtype: str, implementation: str) -> Measurement:
    """Interleaved A/B training steps (forward, then backward to the input and the gain) of LayerNorm and
    one RMSNorm, at LLaMA-7B's hidden size. On CPU one torch thread: a two-thread op waits for its slower
    thread, and on a shared 2-core machine one preempted thread stalled whichever side was running."""
    import resource

    import torch

    from effcheck.meters.latency import ab_ratio
    from effcheck.models.language import llama_rms_norm

    d, tokens = claims.RMSNORM_HIDDEN, claims.RMSNORM_TOKENS["cpu" if device == "cpu" else "gpu"]
    x = torch.randn(tokens, d, device=device, dtype=getattr(torch, dtype), requires_grad=True)
    grad_out = torch.randn_like(x)
    layer_norm = torch.nn.LayerNorm(d, device=device, dtype=x.dtype)
    rms = (torch.nn.RMSNorm(d, eps=1e-6, device=device, dtype=x.dtype) if implementation == "torch"
           else llama_rms_norm(d, device=device).to(x.dtype))

    def step(norm):
        return lambda: torch.autograd.grad(norm(x), (x, norm.weight), grad_out)

    def page_faults_per_call(fn, calls: int = 5) -> float:  # allocator state: fresh pages per call
        fn()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(calls):
            fn()
        return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls

    saved = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(1)
    try:
        # blocks of >= 0.1 s (at 32 tokens some 400-500 LayerNorm and 90-230 RMSNorm steps) and 15 rounds: at
        # 20 ms blocks and 9 rounds the median moved 0.30-0.34 between quiet reruns (then at 512 tokens)
        m = ab_ratio(step(layer_norm), step(rms), device=device, rounds=15, min_block_s=0.1, label_a="layernorm",
                     label_b=f"{implementation}_rmsnorm")
        faults = {"layernorm": page_faults_per_call(step(layer_norm)), "rmsnorm": page_faults_per_call(step(rms))}
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(saved)
    return Measurement(
        value=m.value, unit="x", method=f"{m.method}; forward + backward, ({tokens}, {d}) {dtype}", device=device,
        samples=m.samples,
        details={**m.details, "threads": threads, "page_faults_per_call": faults,
                 "rmsnorm_module": type(rms).__module__ + "." + type(rms).__name__},
    )


@pytest.mark.timed
@pytest.mark.parametrize("implementation", [
    pytest.param(i, marks=pytest.mark.claim(claims.RMSNORM_SPEED[i, "cpu"]), id=i)
    for i in claims.RMSNORM_IMPLEMENTATIONS])
def test_rmsnorm_vs_layernorm_training_cpu(effcheck, implementation):
    effcheck.check(_norm_training_speed("cpu", "float32", implementation))


@pytest.mark.gpu
@pytest.mark.timed
@pytest.mark.parametrize("implementation", [
    pytest.param(i, marks=pytest.mark.claim(claims.RMSNORM_SPEED[i, "gpu"]), id=i)
    for i in claims.RMSNORM_IMPLEMENTATIONS])
def test_rmsnorm_vs_layernorm_training_gpu(effcheck, device, implementation):
    effcheck.check(_norm_training_speed(device, "bfloat16", implementation))


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


# -- what later open LLMs took from LLaMA ------------------------------------------------------------


@pytest.mark.claim(claims.LLAMA_DESIGN_STANDARD)
def test_llama_design_is_the_standard(effcheck):
    from effcheck.models.language import design_choices

    found = {}
    for name in claims.LATER_OPEN_MODELS:
        choices = design_choices(causal_lm(name))
        found[name] = {"follows": choices.follows_llama(), "norms": list(choices.norms), "ffn": choices.ffn,
                       "positions": choices.positions, "bias_params": choices.bias_params}
    pairs = [ok for f in found.values() for ok in f["follows"].values()]
    control = design_choices(causal_lm("gpt-3-175b", n_layer=1)).follows_llama()  # GPT-2/3: none of the four
    effcheck.check(Measurement(
        value=sum(pairs) / len(pairs), unit="fraction", device="meta",
        method="norm classes, gated FFN weights and activation, rotary module vs position table, bias parameters "
               "read from each model built in transformers from its published config on meta",
        details={"models": found, "departures": {n: [c for c, ok in f["follows"].items() if not ok]
                                                 for n, f in found.items() if not all(f["follows"].values())},
                 "gpt3_control_follows": control},
    ))


# -- deployment: phones and quantization -------------------------------------------------------------


@pytest.mark.claim(claims.PHI3_ON_PHONE)
def test_phi3_mini_fits_phone_unquantized(effcheck):
    from effcheck.meters.memory import tensor_bytes

    fp16 = tensor_bytes(list(causal_lm("phi-3-mini", "meta", "float16").parameters()))
    params = count_params(causal_lm("phi-3-mini"))
    effcheck.check(Measurement(
        value=fp16 / claims.PHONE_MEMORY_BYTES, unit="x phone memory", device="meta",
        method="parameter bytes of Phi-3-mini built on meta in float16 / iPhone 14 memory (6 GB)",
        details={"fp16_weight_bytes": fp16, "params": params, "int4_weight_bytes": params // 2,
                 "phone_memory_bytes": claims.PHONE_MEMORY_BYTES,
                 "phi3_report_4bit_footprint": "about 1.8 GB (Phi-3 report §2)"},
    ))


@pytest.mark.claim(claims.QUANTIZATION_4X)
def test_quantization_int8_memory_4x(effcheck):
    import torch

    def quantized_bytes(rows: int, cols: int) -> tuple[int, int]:
        weight = torch.randn(rows, cols, generator=torch.Generator().manual_seed(rows))
        scales = weight.abs().amax(dim=1).double() / 127
        zero_points = torch.zeros(rows, dtype=torch.long)
        q = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
        stored = q.int_repr().numel() * q.int_repr().element_size()
        stored += scales.numel() * scales.element_size() + zero_points.numel() * zero_points.element_size()
        return weight.numel() * weight.element_size(), stored

    shapes = {"q_proj": (4096, 4096)}  # LLaMA-7B's; the overhead is per output row: 16 bytes per 4096 weights
    sizes = {name: quantized_bytes(*shape) for name, shape in shapes.items()}
    fp32, int8 = (sum(s[i] for s in sizes.values()) for i in (0, 1))
    effcheck.check(Measurement(
        value=fp32 / int8, unit="x", device="cpu",
        method="torch.quantize_per_channel to qint8 of LLaMA-7B's q_proj shape: float32 bytes / "
               "(int8 values + float64 scale + int64 zero point per output channel)",
        details={"bytes": {n: {"float32": a, "int8_with_scales": b} for n, (a, b) in sizes.items()},
                 "fp16_to_int4_bits_ratio": 16 / 4},
    ))


# -- not checkable offline ---------------------------------------------------------------------------

_OFFLINE = {
    claims.LLAMA13B_MATCHES_GPT3: "needs both models' trained weights and the benchmark suites (LLaMA Tables 3-7)",
    claims.PHI3_MMLU: "needs Phi-3-mini's trained weights and the MMLU data set",
    claims.ROPE_EXTRAPOLATION: "needs trained models with each position encoding, evaluated past their "
                               "training length",
}


@pytest.mark.parametrize("claim", [pytest.param(c, marks=pytest.mark.claim(c), id=c.id.rsplit("/", 1)[-1])
                                   for c in _OFFLINE])
def test_not_checkable_offline(claim):
    pytest.skip(f"not checkable offline: {_OFFLINE[claim]}")

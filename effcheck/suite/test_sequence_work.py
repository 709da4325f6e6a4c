"""Sequence-model claims, work and structure (article §2.6 and its table, §6.1, §8): how decode and
training work grows with the sequence, RWKV's parallel training and softmax-free mixing, Mamba's
selectivity, and the published RWKV sizes.

Work is counted with `count_work` (matmul FLOPs + every elementwise op), so an elementwise recurrence
FlopCounterMode cannot see counts. RWKV inference runs through the rwkv package; RWKV training and the
meta-device counts through transformers' RwkvForCausalLM (same RWKV-4 weights), Mamba and the Llama-style
control through transformers.
"""

import math

import pytest

from effcheck.claims import sequence_work as claims
from effcheck.meters.sweep import farthest_from
from effcheck.models.rwkv import (
    RWKV4_PILE,
    RWKV4_TINY_PILE,
    forward_tokens,
    hf_rwkv,
    load_rwkv4,
    rwkv4_layout,
    rwkv4_param_count,
    write_rwkv4_checkpoint,
)
from effcheck.models.sequence import (
    TINY_LLAMA,
    TINY_MAMBA,
    decode_step,
    hf_model,
    mamba_transitions,
    prefill,
    token_ids,
)
from effcheck.records import Measurement

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


@pytest.fixture(scope="module")
def tiny_rwkv_cpu(tmp_path_factory):
    path = write_rwkv4_checkpoint(tmp_path_factory.mktemp("rwkv") / "tiny-pile", RWKV4_TINY_PILE)
    return load_rwkv4(path, "cpu fp32")


# -- work per generated token (table: Inference Complexity) -------------------------------------------
@pytest.mark.claim(claims.DECODE_COST_RWKV)
def test_decode_cost_rwkv(effcheck, tiny_rwkv_cpu):
    from effcheck.meters.arithmetic import count_work, per_step_work_measurement

    model, works, state, done = tiny_rwkv_cpu, {}, None, 0
    ids = token_ids(claims.DECODE_CONTEXTS[-1], vocab=RWKV4_TINY_PILE.vocab_size)[0].tolist()
    for context in claims.DECODE_CONTEXTS:  # one long prompt, its state read at each context length
        _, state = forward_tokens(model, ids[done:context], state)
        done = context
        works[context] = count_work(model.forward, [ids[0]], list(state))
    effcheck.check(per_step_work_measurement(works, "tiny RWKV-4 through rwkv, cpu fp32"))


@pytest.mark.claim(claims.DECODE_COST_MAMBA)
def test_decode_cost_mamba(effcheck):
    from effcheck.meters.arithmetic import count_work, per_step_work_measurement

    model, works = hf_model(TINY_MAMBA, "cpu"), {}
    for context in claims.DECODE_CONTEXTS:
        cache, token = prefill(model, context)
        works[context] = count_work(decode_step, model, cache, token)
    effcheck.check(per_step_work_measurement(works, "tiny Mamba through transformers, cpu fp32"))


@pytest.mark.claim(claims.DECODE_COST_TRANSFORMER)
def test_decode_cost_transformer(effcheck):
    from effcheck.meters.arithmetic import count_work

    model, works = hf_model(TINY_LLAMA, "meta", attn="eager"), {}
    for context in claims.DECODE_CONTEXTS:
        cache, token = prefill(model, context, "meta")
        works[context] = count_work(decode_step, model, cache, token)
    c = claims.DECODE_CONTEXTS
    segments = list(zip(c, c[1:], strict=False))
    slopes = [(works[b].matmul_flops - works[a].matmul_flops) / (b - a) for a, b in segments]
    total_slopes = [(works[b].total - works[a].total) / (b - a) for a, b in segments]
    effcheck.check(Measurement(
        value=farthest_from(slopes, effcheck.claim.expected),
        unit="FLOPs/token",
        method="matmul FLOPs (FlopCounterMode's formulas, in count_work) of one decode step after each "
               "context length, tiny Llama-style on meta with eager attention (explicit matmuls); slope "
               "between consecutive contexts",
        device="meta",
        series=tuple((n, w.matmul_flops) for n, w in works.items()),
        details={**{f"decode_matmul_flops_at_{n}": w.matmul_flops for n, w in works.items()},
                 **{f"slope_{a}_{b}": s for (a, b), s in zip(segments, slopes, strict=True)},
                 **{f"total_work_slope_{a}_{b}": s for (a, b), s in zip(segments, total_slopes, strict=True)}},
    ))


# -- training work against the sequence length (table: Training Complexity) --------------------------
def _training_step_work(model, ids, use_cache):
    """(forward work, backward work) of one training step: loss over every position, then backward."""
    from effcheck.meters.arithmetic import count_work

    loss = []
    was_training = model.training
    model.train()
    try:
        forward = count_work(lambda: loss.append(model(input_ids=ids, labels=ids, use_cache=use_cache).loss),
                             inference=False)
        backward = count_work(loss[0].backward, inference=False)
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return forward, backward


_TRAINING_MODELS = {
    "transformer": lambda: (hf_model(TINY_LLAMA, "meta", attn="eager"), "meta"),
    "mamba": lambda: (hf_model(TINY_MAMBA, "cpu"), "cpu"),
    "rwkv": lambda: (hf_rwkv(RWKV4_TINY_PILE, "cpu"), "cpu"),
}


@pytest.mark.parametrize("arch", [
    pytest.param(a, marks=pytest.mark.claim(c), id=a) for a, c in claims.TRAINING_WORK_GROWTH.items()])
def test_training_work_growth(effcheck, arch):
    model, device = _TRAINING_MODELS[arch]()
    lengths = claims.TRAINING_LENGTHS[arch]
    steps = {n: _training_step_work(model, token_ids(n, device, vocab=1000), device == "meta") for n in lengths}
    work = {n: f.total + b.matmul_flops for n, (f, b) in steps.items()}
    backward_elementwise = {n: b.elementwise_ops for n, (_, b) in steps.items()}
    n1, n2, n4 = lengths
    second_difference = work[n4] - 3 * work[n2] + 2 * work[n1]  # 6 a n^2 for a n^2 + b n + c
    effcheck.check(Measurement(
        value=math.log2(work[n4] / work[n2]),
        unit="exponent",
        method=f"training step (loss over every position, backward) at n = {n1}, {n2}, {n4} tokens on "
               f"{device}; work = forward+backward matmul FLOPs + forward elementwise ops (count_work); "
               f"value: log2(W({n4}) / W({n2}))",
        device=device,
        series=tuple(work.items()),
        details={
            **{f"work_at_{n}": w for n, w in work.items()},
            "quadratic_coefficient_per_token2": second_difference / (6 * n1 * n1),
            "matmul_only_exponent": math.log2(steps[n4][0].matmul_flops / steps[n2][0].matmul_flops),
            **{f"backward_elementwise_ops_at_{n}": e for n, e in backward_elementwise.items()},
            "backward_elementwise_exponent": math.log2(backward_elementwise[n4] / backward_elementwise[n2]),
        },
    ))


# -- RWKV: parallel training, no softmax ----------------------------------------------------------------
_MATMULS = ("mm", "addmm", "bmm", "baddbmm")


@pytest.mark.claim(claims.RWKV_PARALLEL_TRAINING)
def test_rwkv_parallel_training_mode(effcheck):
    import torch

    from effcheck.meters.arithmetic import count_work

    model = hf_rwkv(RWKV4_TINY_PILE, "cpu")
    ids = token_ids(claims.PARALLEL_TOKENS, vocab=RWKV4_TINY_PILE.vocab_size)
    model.train()
    try:
        parallel_out = []
        whole = count_work(lambda: parallel_out.append(model(input_ids=ids).logits), inference=False)
        one = count_work(lambda: model(input_ids=ids[:, :1]), inference=False)
    finally:
        model.eval()
    with torch.no_grad():
        state, recurrent = None, []
        for t in range(ids.shape[1]):
            out = model(input_ids=ids[:, t:t + 1], state=state, use_cache=True)
            state = out.state
            recurrent.append(out.logits[:, -1])
    parallel = parallel_out[0].detach()[0]
    recurrent_logits = torch.stack(recurrent, dim=1)[0]
    max_diff = float((parallel - recurrent_logits).abs().max())
    scale = float(recurrent_logits.abs().max())
    measurement = Measurement(
        value=whole.calls_of(*_MATMULS) / one.calls_of(*_MATMULS),
        unit="x",
        method=f"aten matmul dispatches of one training-mode forward of {claims.PARALLEL_TOKENS} tokens over "
               "those of a 1-token forward (transformers RwkvForCausalLM, tiny RWKV-4, cpu); its logits "
               "against the recurrent mode's, one token per call with the state carried",
        details={"matmul_dispatches_parallel": whole.calls_of(*_MATMULS),
                 "matmul_dispatches_one_token": one.calls_of(*_MATMULS),
                 "matmul_dispatches_recurrent_mode": claims.PARALLEL_TOKENS * one.calls_of(*_MATMULS),
                 "wkv_exp_dispatches_parallel": whole.calls_of("exp"),
                 "wkv_exp_dispatches_one_token": one.calls_of("exp"),
                 "max_abs_logit_difference_vs_recurrent": max_diff, "max_abs_logit": scale},
    )
    if not max_diff <= 1e-4 * max(scale, 1.0):
        effcheck.fail(measurement, f"the parallel and recurrent modes disagree: max |logit difference| "
                                   f"{max_diff:.3g} (logits up to {scale:.3g})")
    effcheck.check(measurement)


_SOFTMAX = ("_softmax", "softmax", "_log_softmax", "log_softmax", "_safe_softmax")


@pytest.mark.claim(claims.RWKV_NO_SOFTMAX)
def test_rwkv_no_softmax(effcheck, tiny_rwkv_cpu):
    from effcheck.meters.arithmetic import count_work

    ids = token_ids(16, vocab=RWKV4_TINY_PILE.vocab_size)[0].tolist()

    def prompt_then_step():
        _, state = forward_tokens(tiny_rwkv_cpu, ids)
        tiny_rwkv_cpu.forward([ids[0]], state)

    rwkv = count_work(prompt_then_step)
    llama = hf_model(TINY_LLAMA, "meta", attn="eager")
    control = count_work(lambda: llama(input_ids=token_ids(16, "meta"), use_cache=True))
    layers = TINY_LLAMA.config["num_hidden_layers"]
    assert control.calls_of(*_SOFTMAX) == layers, (
        f"the counter sees {control.calls_of(*_SOFTMAX)} softmax calls in a {layers}-layer eager Transformer")
    effcheck.check(Measurement(
        value=rwkv.calls_of(*_SOFTMAX),
        unit="calls",
        method="aten softmax dispatches (count_work) in rwkv's RWKV-4 forward over a 16-token prompt and one "
               "decode step (tiny, cpu fp32); control: a tiny Llama-style eager forward on meta",
        details={"transformer_control_softmax_calls": control.calls_of(*_SOFTMAX),
                 "rwkv_exp_calls": rwkv.calls_of("exp"), "rwkv_div_calls": rwkv.calls_of("div")},
    ))


# -- Mamba: selectivity -----------------------------------------------------------------------------
def _differing_fraction(first, second) -> float:
    differ = sum(int((a != b).sum()) for a, b in zip(first, second, strict=True))
    return differ / sum(a.numel() for a in first)


@pytest.mark.claim(claims.MAMBA_SELECTIVE)
def test_mamba_selective_transition(effcheck):
    import copy

    model = hf_model(TINY_MAMBA, "cpu")
    prompts = token_ids(16, seed=1), token_ids(16, seed=2)
    selective = _differing_fraction(*(mamba_transitions(model, p) for p in prompts))
    control = copy.deepcopy(model)
    for layer in control.backbone.layers:
        layer.mixer.x_proj.weight.data.zero_()  # Delta, B, C no longer depend on the input
    fixed = _differing_fraction(*(mamba_transitions(control, p) for p in prompts))
    assert fixed == 0.0, f"the LTI control's transitions differ in {fixed:.1%} of entries: the measure is broken"
    effcheck.check(Measurement(
        value=selective,
        unit="fraction",
        method="A_bar = exp(Delta*A) as transformers' Mamba layer computes it (its aten.exp output), for two "
               "16-token prompts; fraction of entries (all layers, channels, positions, states) that differ",
        details={"lti_control_fraction": fixed,
                 "a_log_is_a_parameter": all(layer.mixer.A_log.requires_grad for layer in model.backbone.layers)},
    ))


# -- published sizes --------------------------------------------------------------------------------
def _rwkv_params(config) -> int:
    from effcheck.meters.params import count_params

    counted = count_params(hf_rwkv(config, "meta"))
    assert counted == rwkv4_param_count(config), (
        f"{config}: transformers builds {counted} parameters, rwkv's key layout holds {rwkv4_param_count(config)}")
    return counted


@pytest.mark.parametrize("end", [
    pytest.param(e, marks=pytest.mark.claim(c), id=e) for e, c in claims.RWKV_PUBLISHED_SCALES.items()])
def test_rwkv_published_scales(effcheck, end):
    params = {size: _rwkv_params(config) for size, config in RWKV4_PILE.items()}
    pick = min if end == "smallest" else max
    size = pick(params, key=params.get)
    effcheck.check(Measurement(
        value=params[size] / 1e9,
        unit="B params",
        method="parameters of transformers' RwkvForCausalLM built on meta from each published RWKV-4 Pile "
               "shape, equal to rwkv's checkpoint key layout; the series' " + end,
        device="meta",
        details={"model": f"RWKV-4-Pile-{size}", **{f"params_{s}": p for s, p in params.items()}},
    ))


@pytest.mark.claim(claims.RWKV_169M_PARAMS)
def test_rwkv4_169m_params(effcheck):
    params = _rwkv_params(RWKV4_PILE["169M"])
    effcheck.check(Measurement(
        value=params / 1e6,
        unit="M params",
        method="parameters of transformers' RwkvForCausalLM on meta, RWKV-4 Pile 169M shape, equal to "
               "rwkv's key layout",
        device="meta",
        details={"params": params},
    ))


class _ByteCounter:
    """A write-only file that keeps only the count of bytes written."""

    def __init__(self) -> None:
        self.written = 0

    def write(self, data) -> int:
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        pass


@pytest.mark.claim(claims.RWKV_169M_CHECKPOINT)
def test_rwkv4_169m_checkpoint_fits_free_colab(effcheck):
    import torch

    layout = rwkv4_layout(RWKV4_PILE["169M"])
    sink = _ByteCounter()
    torch.save({key: torch.zeros(shape, dtype=torch.float16) for key, shape in layout.items()}, sink)
    params = sum(math.prod(s) for s in layout.values())
    effcheck.check(Measurement(
        value=sink.written,
        unit="bytes",
        method="torch.save of every RWKV-4 169M key at its shape in fp16, bytes written (no file kept)",
        details={"params": params, "fp16_tensor_bytes": 2 * params, "fp32_tensor_bytes": 4 * params,
                 "fp32_pth_bytes_estimate": sink.written + 2 * params,
                 "t4_memory_bytes": effcheck.claim.expected},
    ))


# -- not checkable offline --------------------------------------------------------------------------
@pytest.mark.parametrize("which", [
    pytest.param(w, marks=pytest.mark.claim(c), id=w) for w, c in claims.QUALITY_CLAIMS.items()])
def test_quality_claims(which):
    pytest.skip(claims.QUALITY_SKIP_REASON)

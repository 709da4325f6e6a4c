"""Sequence-model claims (article §2.6, §3, §6): RWKV and Mamba hold a constant inference state, a
Transformer's KV cache grows with the sequence.

RWKV runs through the `rwkv` package (the article's engine) from random-weight RWKV-4 checkpoints with the
real key layout; Mamba and a Llama-style Transformer run through transformers from explicit configs. Tiny
configs for everything generated; full published sizes only on `meta` or as constant-valued checkpoints.
"""

import pytest

from effcheck.claims import sequence as claims
from effcheck.meters.sweep import farthest_from, growth_measurement, peak_at_counts, peak_per_run
from effcheck.models.rwkv import (
    LAB_PROMPT,
    RWKV4_PILE_169M,
    RWKV4_TINY_WORLD,
    RWKV4_WORLD_0B1,
    forward_tokens,
    generate_lab,
    load_rwkv4,
    replay_lab_calls,
    shipped_tokenizer_files,
    world_pipeline,
    write_rwkv4_checkpoint,
)
from effcheck.models.sequence import (
    MAMBA_130M,
    PYTHIA_160M,
    TINY_LLAMA,
    TINY_MAMBA,
    decode_step,
    generate_greedy,
    hf_model,
    kv_cache_bytes,
    mamba_state_bytes,
    prefill,
    token_ids,
)
from effcheck.records import Measurement

PROMPT_TOKENS = 8


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


def rwkv_strategy(device: str, dtype: str = "") -> str:
    return f"{device} {dtype or ('fp16' if device.startswith('cuda') else 'fp32')}"


@pytest.fixture(scope="module")
def rwkv_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rwkv")


@pytest.fixture(scope="module")
def tiny_rwkv_cpu(rwkv_dir):
    return load_rwkv4(write_rwkv4_checkpoint(rwkv_dir / "tiny-world", RWKV4_TINY_WORLD), "cpu fp32")


@pytest.fixture(scope="module")
def tiny_pipeline(rwkv_dir, tiny_rwkv_cpu, device):
    if device == "cpu":
        return world_pipeline(tiny_rwkv_cpu)
    return world_pipeline(load_rwkv4(rwkv_dir / "tiny-world.pth", rwkv_strategy(device)))


# -- the lab as written, and the lab on the current API ---------------------------------------------
@pytest.mark.claim(claims.LAB_API_CURRENT)
def test_lab_api_current(effcheck, tmp_path, device):
    calls = replay_lab_calls(tmp_path, rwkv_strategy(device))
    prompt_ids = world_pipeline(None).encode(LAB_PROMPT)
    effcheck.check(Measurement(
        value=sum(c.error is None for c in calls),
        unit="calls",
        method=f"the lab's calls run as written against the installed rwkv, in a folder holding only the "
               f"lab's download (rwkv-169m.pth: a tiny RWKV-4 with its Pile vocabulary); strategy "
               f"'{rwkv_strategy(device)}' for the lab's 'cuda fp16' where no GPU is present",
        device=device,
        details={
            **{c.code: c.error or "ran" for c in calls},
            "tokenizers_shipped": shipped_tokenizer_files(),
            "lab_prompt_max_id_with_shipped_tokenizer": max(prompt_ids),
            "lab_model_vocab": RWKV4_PILE_169M.vocab_size,
        },
    ))


def _fail_incomplete(effcheck, sweep):
    """An out-of-memory (or other error) at one sweep point is that point's outcome: FAIL, keeping the
    points that completed in the ledger."""
    effcheck.fail(
        Measurement(
            value=float(max((b for _, b in sweep.series), default=0)),
            unit="bytes",
            method=sweep.method,
            device=sweep.device,
            series=sweep.series,
            details={f"{p.tokens}_tokens": p.error for p in sweep.failures},
        ),
        sweep.failure_message(effcheck.claim.id),
    )


def _check_sweep(effcheck, sweep, **details):
    if sweep.failures:
        _fail_incomplete(effcheck, sweep)
    return effcheck.check(growth_measurement(sweep, **details))


@pytest.mark.claim(claims.RWKV_MEMORY_FLAT)
def test_rwkv_memory_flat(effcheck, tiny_pipeline, device):
    sweep = peak_at_counts(lambda tick: generate_lab(tiny_pipeline, claims.LAB_SWEEP[-1], tick),
                           claims.LAB_SWEEP, device)
    _check_sweep(effcheck, sweep, model=f"tiny RWKV-4 {RWKV4_TINY_WORLD}", strategy=rwkv_strategy(device),
                 generation="rwkv PIPELINE.generate, the lab's prompt and sampling arguments, World "
                            "tokenizer")


@pytest.mark.claim(claims.MAMBA_MEMORY_FLAT)
def test_mamba_memory_flat(effcheck, device):
    model = hf_model(TINY_MAMBA, device)
    prompt = token_ids(PROMPT_TOKENS, device)
    sweep = peak_at_counts(lambda tick: generate_greedy(model, prompt, claims.LAB_SWEEP[-1], tick),
                           claims.LAB_SWEEP, device)
    _check_sweep(effcheck, sweep, model=TINY_MAMBA.name, generation="MambaForCausalLM.generate, greedy")


@pytest.mark.claim(claims.TRANSFORMER_MEMORY_GROWS)
def test_transformer_memory_grows(effcheck, device):
    model = hf_model(TINY_LLAMA, device)
    prompt = token_ids(PROMPT_TOKENS, device)
    sweep = peak_at_counts(lambda tick: generate_greedy(model, prompt, claims.LAB_SWEEP[-1], tick),
                           claims.LAB_SWEEP, device)
    if sweep.failures:
        _fail_incomplete(effcheck, sweep)
    (first_n, first), (last_n, last) = sweep.series[0], sweep.series[-1]
    kv = kv_cache_bytes(TINY_LLAMA, last_n - first_n, 4)
    effcheck.check(Measurement(
        value=(last - first) / kv,
        unit="x",
        method=f"peak growth from {first_n} to {last_n} generated tokens over the closed-form KV bytes of "
               f"the tokens in between; {sweep.method}",
        device=device,
        series=sweep.series,
        details={**{f"peak_bytes_at_{n}": b for n, b in sweep.series}, "kv_bytes_added": kv,
                 "growth_bytes_per_token": (last - first) / (last_n - first_n), "model": TINY_LLAMA.name},
    ))


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.claim(claims.RWKV_MEMORY_FLAT_CUDA)
def test_rwkv_lab_memory_flat_cuda_fp16(effcheck, device, tmp_path):
    import torch

    path = write_rwkv4_checkpoint(tmp_path / "rwkv-4-world-0.1b", RWKV4_WORLD_0B1, dtype=torch.float16)
    pipeline = world_pipeline(load_rwkv4(path, rwkv_strategy(device, "fp16")))
    sweep = peak_per_run(lambda n: generate_lab(pipeline, n), claims.LAB_SWEEP, device)
    _check_sweep(effcheck, sweep, model=f"RWKV-4 World 0.1B shape {RWKV4_WORLD_0B1}",
                 strategy=rwkv_strategy(device, "fp16"),
                 allocated_after_load=torch.cuda.memory_allocated(device))


# -- the state itself, exactly ---------------------------------------------------------------------
def _exact_points(points: dict[int, int], expected: float, unit_per_token: bool, **details) -> Measurement:
    values = {n: (b / n if unit_per_token else b) for n, b in points.items()}
    return Measurement(
        value=farthest_from(values.values(), expected),
        unit="bytes/token" if unit_per_token else "bytes",
        method="tensor bytes of the real state/cache object after each number of processed tokens "
               "(prompt, then greedy tokens fed back one at a time), on cpu",
        series=tuple(points.items()),
        details={**{f"bytes_at_{n}": b for n, b in points.items()}, **details},
    )


@pytest.mark.claim(claims.RWKV_STATE_CONSTANT)
def test_rwkv_state_bytes_constant(effcheck, tiny_rwkv_cpu):
    from effcheck.meters.memory import tensor_bytes

    model, points = tiny_rwkv_cpu, {}
    logits, state = forward_tokens(model, world_pipeline(None).encode(LAB_PROMPT)[:PROMPT_TOKENS])
    for done in range(PROMPT_TOKENS, claims.LAB_SWEEP[-1] + 1):
        if done in claims.LAB_SWEEP:
            points[done] = tensor_bytes(state)
        logits, state = model.forward([int(logits.argmax())], state)
    effcheck.check(_exact_points(points, effcheck.claim.expected, False,
                                 tensors=len(state), shapes=sorted({tuple(t.shape) for t in state})))


def _hf_state_points(arch):
    from effcheck.meters.memory import tensor_bytes

    model = hf_model(arch, "cpu")
    cache, token = prefill(model, PROMPT_TOKENS)
    points, lengths = {}, {}
    for done in range(PROMPT_TOKENS, claims.LAB_SWEEP[-1] + 1):
        if done in claims.LAB_SWEEP:
            points[done] = tensor_bytes(cache)
            if arch.family != "mamba":  # a linear-attention cache has no sequence length to report
                lengths[done] = cache.get_seq_length()
        token = decode_step(model, cache, token)
    return points, lengths, type(cache).__name__


@pytest.mark.claim(claims.MAMBA_STATE_CONSTANT)
def test_mamba_state_bytes_constant(effcheck):
    points, _, cache_type = _hf_state_points(TINY_MAMBA)
    effcheck.check(_exact_points(points, effcheck.claim.expected, False, cache=cache_type))


@pytest.mark.claim(claims.KV_CACHE_LINEAR)
def test_transformer_kv_cache_linear(effcheck):
    points, lengths, cache_type = _hf_state_points(TINY_LLAMA)
    assert lengths == {n: n for n in points}, f"the cache holds {lengths} tokens, not one per token processed"
    effcheck.check(_exact_points(points, effcheck.claim.expected, True, cache=cache_type,
                                 formula="2 x layers x kv_heads x head_dim x tokens x 4 bytes"))


# -- full published sizes --------------------------------------------------------------------------
@pytest.mark.claim(claims.STATE_VS_KV_AT_100K)
def test_state_vs_kv_at_100k(effcheck, rwkv_dir):
    from effcheck.meters.memory import tensor_bytes

    rwkv = load_rwkv4(write_rwkv4_checkpoint(rwkv_dir / "rwkv-4-pile-169m-shapes", RWKV4_PILE_169M,
                                             values="constant"), "cpu fp16")
    _, state = forward_tokens(rwkv, list(range(1, PROMPT_TOKENS + 1)))
    rwkv_prompt = tensor_bytes(state)  # token-shift vectors still view the prompt chunk's activations
    rwkv_bytes = []
    for _ in range(2):
        _, state = rwkv.forward([1], state)
        rwkv_bytes.append((tensor_bytes(state), [tuple(t.shape) for t in state]))
    (rwkv_before, before_shapes), (rwkv_after, after_shapes) = rwkv_bytes

    mamba = hf_model(MAMBA_130M, "meta", "float16")
    cache, token = prefill(mamba, PROMPT_TOKENS, "meta")
    mamba_bytes = []
    for _ in range(2):
        token = decode_step(mamba, cache, token)
        mamba_bytes.append(tensor_bytes(cache))
    mamba_before, mamba_after = mamba_bytes

    pythia = hf_model(PYTHIA_160M, "meta", "float16")
    kv = {n: tensor_bytes(prefill(pythia, n, "meta")[0]) for n in (1_000, 100_000)}
    formula = {n: kv_cache_bytes(PYTHIA_160M, n, 2) for n in kv}
    assert kv == formula, f"Pythia-160m cache {kv} is not 2 x layers x heads x head_dim x tokens x 2 B"
    assert before_shapes == after_shapes, f"a step changed RWKV's state: {before_shapes} -> {after_shapes}"
    # the closed forms, with the dtypes the libraries keep: rwkv holds token shifts in fp16 and the WKV
    # sums in fp32; transformers' Mamba keeps the conv window in fp16 and the SSM state in fp32
    rwkv_closed = claims.rwkv4_state_bytes(RWKV4_PILE_169M.n_layer, RWKV4_PILE_169M.n_embd, 2)
    mamba_closed = mamba_state_bytes(MAMBA_130M, 2, 4)
    assert (rwkv_after, mamba_after) == (rwkv_closed, mamba_closed), "full-size state is not the closed form"
    effcheck.check(Measurement(
        value=max(rwkv_after / rwkv_before, mamba_after / mamba_before),
        unit="x",
        method="RWKV-4 169M through rwkv ('cpu fp16', a checkpoint with every real shape and constant "
               "values) and Mamba-130m through transformers (meta, fp16): state bytes after two consecutive "
               "decode steps (after an 8-token prompt); a step takes no position and maps the state onto the "
               "same shapes, so these are the bytes at 1K and at 100K generated tokens. Pythia-160m (meta, "
               "fp16): its "
               "DynamicCache after 1K- and 100K-token prompts",
        device="cpu+meta",
        series=tuple(kv.items()),
        details={
            "rwkv4_169m_state_bytes_at_1k": rwkv_before, "rwkv4_169m_state_bytes_at_100k": rwkv_after,
            "rwkv4_169m_state_bytes_right_after_the_prompt": rwkv_prompt,
            "mamba_130m_state_bytes_at_1k": mamba_before, "mamba_130m_state_bytes_at_100k": mamba_after,
            "pythia_160m_kv_bytes_at_1k": kv[1_000], "pythia_160m_kv_bytes_at_100k": kv[100_000],
            "pythia_160m_kv_ratio_100k_over_1k": kv[100_000] / kv[1_000],
        },
    ))


# -- work per generated token ----------------------------------------------------------------------
def _flops_ratio_measurement(flops: dict[int, int], what: str) -> Measurement:
    return Measurement(
        value=max(flops.values()) / min(flops.values()),
        unit="x",
        method=f"FlopCounterMode FLOPs of one decode step after each context length; {what}",
        series=tuple(flops.items()),
        details={f"decode_flops_at_{n}": f for n, f in flops.items()},
    )


@pytest.mark.claim(claims.DECODE_COST_RWKV)
def test_decode_cost_rwkv(effcheck, tiny_rwkv_cpu):
    from effcheck.meters.flops import count_flops

    model, flops, state, done = tiny_rwkv_cpu, {}, None, 0
    ids = token_ids(claims.DECODE_CONTEXTS[-1], vocab=RWKV4_TINY_WORLD.vocab_size)[0].tolist()
    for context in claims.DECODE_CONTEXTS:  # one long prompt, its state read at each context length
        _, state = forward_tokens(model, ids[done:context], state)
        done = context
        flops[context] = count_flops(model.forward, [ids[0]], list(state))
    effcheck.check(_flops_ratio_measurement(flops, "tiny RWKV-4 through rwkv, cpu fp32"))


@pytest.mark.claim(claims.DECODE_COST_MAMBA)
def test_decode_cost_mamba(effcheck):
    from effcheck.meters.flops import count_flops

    model, flops = hf_model(TINY_MAMBA, "cpu"), {}
    for context in claims.DECODE_CONTEXTS:
        cache, token = prefill(model, context)
        flops[context] = count_flops(decode_step, model, cache, token)
    effcheck.check(_flops_ratio_measurement(flops, "tiny Mamba through transformers, cpu fp32"))


@pytest.mark.claim(claims.DECODE_COST_TRANSFORMER)
def test_decode_cost_transformer(effcheck):
    from effcheck.meters.flops import count_flops

    model, flops = hf_model(TINY_LLAMA, "meta", attn="eager"), {}
    for context in claims.DECODE_CONTEXTS:
        cache, token = prefill(model, context, "meta")
        flops[context] = count_flops(decode_step, model, cache, token)
    c = claims.DECODE_CONTEXTS
    segments = list(zip(c, c[1:], strict=False))
    slopes = [(flops[b] - flops[a]) / (b - a) for a, b in segments]
    effcheck.check(Measurement(
        value=farthest_from(slopes, effcheck.claim.expected),
        unit="FLOPs/token",
        method="FlopCounterMode FLOPs of one decode step after each context length, tiny Llama-style on "
               "meta with eager attention (explicit matmuls); slope between consecutive contexts",
        device="meta",
        series=tuple(flops.items()),
        details={**{f"decode_flops_at_{n}": f for n, f in flops.items()},
                 **{f"slope_{a}_{b}": s for (a, b), s in zip(segments, slopes, strict=True)}},
    ))

"""Sequence-model claims, memory and state (article §2.6, §6): RWKV and Mamba hold a constant inference
state, a Transformer's KV cache grows with the sequence.

RWKV runs through the `rwkv` package (the article's engine) from random-weight RWKV-4 checkpoints with the
real key layout; Mamba and a Llama-style Transformer run through transformers from explicit configs. Tiny
configs for everything generated; full published sizes only on `meta` or as constant-valued checkpoints.
One generation per model serves both its memory sweep and its state claim (the state is read at the same
ticks the running peak is), so no sweep runs twice.
"""

import pytest

from effcheck.claims import sequence as claims
from effcheck.meters.state import (
    closed_form_measurement,
    constancy_measurement,
    held_details,
    read_state,
    slopes,
    spread_ratio,
)
from effcheck.meters.sweep import farthest_from, growth_measurement, peak_at_counts, peak_per_run
from effcheck.models.rwkv import RWKV4_PILE_169M, RWKV4_TINY_PILE, forward_tokens, load_rwkv4, write_rwkv4_checkpoint
from effcheck.models.rwkv_lab import (
    LAB_PROMPT,
    LAB_TOKENIZER_FILE,
    generate_lab,
    lab_pipeline,
    replay_lab_calls,
    shipped_tokenizer_files,
    write_stand_in_tokenizer,
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
    kv_state,
    mamba_state,
    mamba_state_bytes,
    prefill,
    token_ids,
)
from effcheck.records import Measurement

PROMPT_TOKENS = 8
CHUNK = 256  # rwkv PIPELINE_ARGS().chunk_len: how PIPELINE feeds a long context


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


def rwkv_strategy(device: str, dtype: str = "") -> str:
    return f"{device} {dtype or ('fp16' if device.startswith('cuda') else 'fp32')}"


@pytest.fixture(scope="module")
def rwkv_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("rwkv")


@pytest.fixture(scope="module")
def stand_in_tokenizer(rwkv_dir):
    return write_stand_in_tokenizer(rwkv_dir / "stand-in" / LAB_TOKENIZER_FILE)


@pytest.fixture(scope="module")
def tiny_rwkv_path(rwkv_dir):
    return write_rwkv4_checkpoint(rwkv_dir / "tiny-pile", RWKV4_TINY_PILE)


# -- one generation per model and device: the running peak and the state at the lab's counts ----------
_RUNS: dict = {}


def _rwkv_lab_run(path, tokenizer, device):
    """The lab's generation (tiny RWKV-4, Pile vocabulary, stand-in tokenizer) once per device: the sweep,
    and the state's tensors (a meters.state.StateReading) when each counted token is complete."""
    key = ("rwkv", device)
    if key not in _RUNS:
        pipeline = lab_pipeline(load_rwkv4(path, rwkv_strategy(device)), tokenizer)
        readings, done = {}, [0]

        def on_token(state):
            done[0] += 1
            if done[0] in claims.LAB_SWEEP:
                readings[done[0]] = read_state(state)  # rwkv's state is a list of state vectors, nothing else

        sweep = peak_at_counts(lambda tick: generate_lab(pipeline, claims.LAB_SWEEP[-1], tick, on_token=on_token),
                               claims.LAB_SWEEP, device)
        _RUNS[key] = (sweep, readings)
    return _RUNS[key]


def _hf_lab_run(arch, device):
    """transformers' generate of the lab's longest length once per model and device: the sweep, and the
    real cache object read as its state (Mamba's conv and SSM states, a KV cache's keys and values) and
    everything else it holds (a meters.state.StateReading), with its sequence length, when each counted
    token is complete."""
    key = (arch.name, device)
    if key not in _RUNS:
        model, prompt = hf_model(arch, device), token_ids(PROMPT_TOKENS, device)
        read = mamba_state if arch.family == "mamba" else kv_state
        readings, lengths, kinds, done = {}, {}, set(), [0]

        def on_token(cache):
            done[0] += 1
            if done[0] in claims.LAB_SWEEP:
                readings[done[0]] = read(cache)
                kinds.add(type(cache).__name__)
                if arch.family != "mamba":  # a recurrent cache has no sequence length to report
                    lengths[done[0]] = cache.get_seq_length()

        sweep = peak_at_counts(
            lambda tick: generate_greedy(model, prompt, claims.LAB_SWEEP[-1], tick, on_token=on_token),
            claims.LAB_SWEEP, device)
        _RUNS[key] = (sweep, readings, lengths, ", ".join(sorted(kinds)))
    return _RUNS[key]


# -- the lab as written ---------------------------------------------------------------------------------
@pytest.mark.claim(claims.LAB_API_CURRENT)
def test_lab_api_current(effcheck, tmp_path, device):
    calls = replay_lab_calls(tmp_path, rwkv_strategy(device))
    effcheck.check(Measurement(
        value=sum(c.error is None for c in calls),
        unit="calls",
        method=f"the lab's calls run as written against the installed rwkv, in a folder holding only the "
               f"lab's download (rwkv-169m.pth: a tiny RWKV-4 with its Pile vocabulary); strategy "
               f"'{rwkv_strategy(device)}' for the lab's 'cuda fp16' where no GPU is present; generate() on "
               f"a pipeline from a stand-in {LAB_TOKENIZER_FILE} (word level, Pile vocabulary size) kept "
               f"outside that folder, so only the PIPELINE call answers for the missing file",
        device=device,
        details={**{c.code: c.error or "ran" for c in calls}, "tokenizers_shipped": shipped_tokenizer_files()},
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


# -- memory while generating -----------------------------------------------------------------------------
@pytest.mark.claim(claims.RWKV_MEMORY_FLAT)
def test_rwkv_memory_flat(effcheck, tiny_rwkv_path, stand_in_tokenizer, device):
    sweep, _ = _rwkv_lab_run(tiny_rwkv_path, stand_in_tokenizer, device)
    _check_sweep(effcheck, sweep, model=f"tiny RWKV-4 {RWKV4_TINY_PILE}", strategy=rwkv_strategy(device),
                 generation="rwkv PIPELINE.generate, the lab's prompt and sampling arguments, stand-in "
                            f"{LAB_TOKENIZER_FILE}")


@pytest.mark.claim(claims.MAMBA_MEMORY_FLAT)
def test_mamba_memory_flat(effcheck, device):
    sweep, _, _, _ = _hf_lab_run(TINY_MAMBA, device)
    _check_sweep(effcheck, sweep, model=TINY_MAMBA.name, generation="MambaForCausalLM.generate, greedy")


@pytest.mark.claim(claims.TRANSFORMER_MEMORY_GROWS)
def test_transformer_memory_grows(effcheck, device):
    sweep, _, _, _ = _hf_lab_run(TINY_LLAMA, device)
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
def test_rwkv_lab_memory_flat_cuda_fp16(effcheck, device, tmp_path, stand_in_tokenizer):
    import torch

    path = write_rwkv4_checkpoint(tmp_path / "rwkv-4-pile-169m", RWKV4_PILE_169M, dtype=torch.float16)
    pipeline = lab_pipeline(load_rwkv4(path, rwkv_strategy(device, "fp16")), stand_in_tokenizer)
    sweep = peak_per_run(lambda n: generate_lab(pipeline, n), claims.LAB_SWEEP, device)
    _check_sweep(effcheck, sweep, model=f"RWKV-4 Pile 169M shape {RWKV4_PILE_169M}",
                 strategy=rwkv_strategy(device, "fp16"),
                 allocated_after_load=torch.cuda.memory_allocated(device))


# -- the state itself, exactly ---------------------------------------------------------------------
_READ_AT = ("when the 50th, 100th, 200th and 400th generated token is complete, read inside the memory sweep's "
            "generation, on cpu")


def _constancy_method(what: str) -> str:
    return f"largest / smallest of the tensor bytes of {what} {_READ_AT}"


def _closed_form_method(what: str) -> str:
    return f"tensor bytes of {what} {_READ_AT}; the length farthest from the closed form"


_MAMBA_STATE = "the conv and SSM state tensors of transformers' Mamba cache (conv_states, recurrent_states)"
_RWKV_STATE = "rwkv's state vectors (the list rwkv returns as the state)"


@pytest.mark.claim(claims.RWKV_STATE_CONSTANT)
def test_rwkv_state_bytes_constant(effcheck, tiny_rwkv_path, stand_in_tokenizer):
    _, readings = _rwkv_lab_run(tiny_rwkv_path, stand_in_tokenizer, "cpu")
    effcheck.check(constancy_measurement(readings, _constancy_method(_RWKV_STATE), model=str(RWKV4_TINY_PILE)))


@pytest.mark.claim(claims.RWKV_STATE_CLOSED_FORM)
def test_rwkv_state_closed_form(effcheck, tiny_rwkv_path, stand_in_tokenizer):
    _, readings = _rwkv_lab_run(tiny_rwkv_path, stand_in_tokenizer, "cpu")
    effcheck.check(closed_form_measurement(readings, effcheck.claim.expected, _closed_form_method(_RWKV_STATE),
                                           formula="n_layer x n_embd x (2 x 4 + 3 x 4) bytes"))


@pytest.mark.claim(claims.MAMBA_STATE_CONSTANT)
def test_mamba_state_bytes_constant(effcheck):
    _, readings, _, cache_type = _hf_lab_run(TINY_MAMBA, "cpu")
    effcheck.check(constancy_measurement(readings, _constancy_method(_MAMBA_STATE), cache=cache_type))


@pytest.mark.claim(claims.MAMBA_STATE_CLOSED_FORM)
def test_mamba_state_closed_form(effcheck):
    _, readings, _, cache_type = _hf_lab_run(TINY_MAMBA, "cpu")
    effcheck.check(closed_form_measurement(readings, effcheck.claim.expected, _closed_form_method(_MAMBA_STATE),
                                           cache=cache_type,
                                           formula="layers x d_inner x (d_conv x 4 + d_state x 4) bytes"))


@pytest.mark.claim(claims.MAMBA_CACHE_OBJECT)
def test_mamba_cache_object_bytes(effcheck):
    _, readings, _, cache_type = _hf_lab_run(TINY_MAMBA, "cpu")
    points = {n: r.object_bytes for n, r in readings.items()}
    effcheck.check(Measurement(
        value=max(points.values()),
        unit="bytes",
        method=f"tensor bytes of every tensor transformers' Mamba cache object holds (each storage once) "
               f"{_READ_AT}; the largest",
        series=tuple(points.items()),
        details={**held_details(readings), "object_largest_over_smallest": spread_ratio(points.values()),
                 "state_closed_form": effcheck.claim.expected, "cache": cache_type},
    ))


@pytest.mark.claim(claims.KV_CACHE_LINEAR)
def test_transformer_kv_cache_linear(effcheck):
    _, readings, lengths, cache_type = _hf_lab_run(TINY_LLAMA, "cpu")
    held = {n: PROMPT_TOKENS + n - 1 for n in readings}  # the n-th token is fed after it is complete
    assert lengths == held, f"the cache holds {lengths} tokens, not one per token processed ({held})"
    kv = {lengths[n]: r.state_bytes for n, r in readings.items()}
    steps = slopes(kv)
    effcheck.check(Measurement(
        value=farthest_from(steps.values(), effcheck.claim.expected),
        unit="bytes/token",
        method=f"key and value tensor bytes of transformers' KV cache {_READ_AT}; the bytes added per token "
               f"held between consecutive lengths (the slope), the step farthest from the closed form",
        series=tuple((n, r.state_bytes) for n, r in readings.items()),
        details={**held_details(readings), **{f"kv_bytes_per_token_{a}_to_{b}": v for (a, b), v in steps.items()},
                 "kv_bytes_at_zero_tokens_by_the_first_slope": kv[min(kv)] - steps[min(steps)] * min(kv),
                 "tokens_held": lengths, "cache": cache_type,
                 "formula": "2 x layers x kv_heads x head_dim x 4 bytes per token"},
    ))


# -- real lengths: 1K and 100K tokens through the recurrence -----------------------------------------
@pytest.mark.slow
@pytest.mark.claim(claims.RWKV_MEMORY_1K_VS_100K)
def test_rwkv_memory_1k_vs_100k(effcheck, tiny_rwkv_path):
    """100K tokens through rwkv's recurrence, in PIPELINE's chunks: most of a minute of CPU on a loaded
    2-core machine (the WKV loop steps per token), hence slow."""
    from effcheck.meters.memory import peak_memory, tensor_bytes

    model = load_rwkv4(tiny_rwkv_path, "cpu fp32")
    ids = token_ids(claims.LONG_RUN[-1], vocab=RWKV4_TINY_PILE.vocab_size)[0].tolist()
    memory, details, state, done = {}, {}, None, 0
    for n in claims.LONG_RUN:
        _, state = forward_tokens(model, ids[done:n - CHUNK], state, CHUNK)  # untracked: the bulk
        (_, state), peak = peak_memory(lambda s=state, n=n: forward_tokens(model, ids[n - CHUNK:n], s, CHUNK))
        done = n
        held = tensor_bytes(state)
        memory[n] = held + peak.peak_bytes
        details |= {f"state_bytes_after_{n}": held, f"chunk_peak_bytes_ending_at_{n}": peak.peak_bytes}
    first, last = claims.LONG_RUN
    effcheck.check(Measurement(
        value=memory[last] / memory[first],
        unit="x",
        method=f"{last:,} token ids fed through a tiny RWKV-4 (rwkv, 'cpu fp32') in {CHUNK}-token chunks as "
               f"PIPELINE feeds a context; at {first:,} and {last:,} tokens: the state's tensor bytes plus "
               f"the live-tensor peak of processing the chunk that ends there",
        series=tuple(memory.items()),
        details={**details, "model": str(RWKV4_TINY_PILE)},
    ))


# -- full published sizes --------------------------------------------------------------------------
@pytest.mark.claim(claims.FULL_SIZE_CLOSED_FORMS)
def test_full_size_closed_forms(effcheck, rwkv_dir):
    rwkv = load_rwkv4(write_rwkv4_checkpoint(rwkv_dir / "rwkv-4-pile-169m-shapes", RWKV4_PILE_169M,
                                             values="constant"), "cpu fp16")
    _, state1 = rwkv.forward([1], None)
    _, state2 = rwkv.forward([1], state1)
    mamba = hf_model(MAMBA_130M, "meta", "float16")
    cache, token = prefill(mamba, PROMPT_TOKENS, "meta")
    mamba_prompt = mamba_state(cache).state_bytes
    decode_step(mamba, cache, token)
    mamba_read = mamba_state(cache)
    pythia = hf_model(PYTHIA_160M, "meta", "float16")
    pythia_read = {n: kv_state(prefill(pythia, n, "meta")[0]) for n in (1_024, 131_072)}
    kv = {n: r.state_bytes for n, r in pythia_read.items()}
    # closed forms with the dtypes the libraries keep: rwkv holds token shifts in fp16 and the WKV sums in
    # fp32; transformers' Mamba keeps the conv window in fp16 and the SSM state in fp32
    rwkv_closed = claims.rwkv4_state_bytes(RWKV4_PILE_169M.n_layer, RWKV4_PILE_169M.n_embd, 2)
    mamba_closed = mamba_state_bytes(MAMBA_130M, 2, 4)
    objects = {
        "rwkv4_169m_state_after_1_token": (read_state(state1).state_bytes, rwkv_closed),
        "rwkv4_169m_state_after_2_tokens": (read_state(state2).state_bytes, rwkv_closed),
        "mamba_130m_cache_after_prompt_and_step": (mamba_read.state_bytes, mamba_closed),
        **{f"pythia_160m_kv_after_{n}_tokens": (b, kv_cache_bytes(PYTHIA_160M, n, 2)) for n, b in kv.items()},
    }
    effcheck.check(Measurement(
        value=sum(measured == closed for measured, closed in objects.values()),
        unit="objects",
        method="tensor bytes of the real objects' state: RWKV-4 169M's state vectors through rwkv ('cpu fp16', "
               "a checkpoint with every real shape and constant values), the conv and SSM state tensors of "
               "Mamba-130m's cache and the keys and values of Pythia-160m's, through transformers on meta "
               "(fp16); each against its closed form, the caches' other tensors listed beside",
        device="cpu+meta",
        details={**{k: {"measured": m, "closed_form": c} for k, (m, c) in objects.items()},
                 "mamba_130m_cache_object_bytes": mamba_read.object_bytes,
                 "mamba_130m_cache_other_tensors": mamba_read.others() or "none beside the state",
                 **{f"pythia_160m_kv_cache_object_bytes_after_{n}_tokens": r.object_bytes
                    for n, r in pythia_read.items()},
                 "pythia_160m_kv_cache_other_tensors": pythia_read[131_072].others() or "none beside the state",
                 "mamba_130m_state_right_after_the_prompt": mamba_prompt,
                 "pythia_160m_kv_at_128k_over_mamba_130m_state": kv[131_072] / mamba_closed,
                 "lab_prompt": LAB_PROMPT},
    ))

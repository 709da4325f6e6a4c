"""Sequence-model builders and the sweep meter: published sizes, closed forms against the real cache
objects, checkpoint readings against separate runs, and out-of-memory as a sweep point's outcome."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from effcheck.meters import sweep as S  # noqa: E402
from effcheck.meters.memory import peak_memory, tensor_bytes  # noqa: E402
from effcheck.meters.params import count_params  # noqa: E402
from effcheck.models import sequence as M  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


# -- configs -------------------------------------------------------------------------------------------
def test_pythia_160m_has_its_published_parameter_count():
    assert count_params(M.hf_model(M.PYTHIA_160M, "meta")) == 162_322_944  # Biderman et al. 2023, Table 1


def test_mamba_130m_is_the_published_shape():
    model = M.hf_model(M.MAMBA_130M, "meta")
    assert round(count_params(model) / 1e6) == 129  # the "130M" checkpoint holds 129.1M (tied embeddings)
    assert len(model.backbone.layers) == 24 and model.backbone.layers[0].mixer.intermediate_size == 1536


def test_unknown_family_is_refused():
    with pytest.raises(ValueError, match="family must be one of"):
        M.SequenceArch("x", "rnn", {})


@pytest.mark.parametrize("tokens", [1, 9, 33])
def test_kv_cache_formula_is_the_real_dynamic_cache(tokens):
    cache, _ = M.prefill(M.hf_model(M.TINY_LLAMA, "cpu"), tokens)
    held = M.kv_state(cache)
    assert held.state_bytes == M.kv_cache_bytes(M.TINY_LLAMA, tokens, 4)
    assert held.object_bytes == tensor_bytes(cache)
    assert cache.get_seq_length() == tokens


def test_kv_cache_formula_at_full_size_on_meta_in_fp16():
    cache, _ = M.prefill(M.hf_model(M.PYTHIA_160M, "meta", "float16"), 300, "meta")
    assert tensor_bytes(cache) == M.kv_cache_bytes(M.PYTHIA_160M, 300, 2) == 2 * 12 * 12 * 64 * 300 * 2


def test_mamba_state_formula_is_the_real_cache_and_does_not_grow():
    """The conv and SSM state tensors of the real cache are the closed form and stay so; the object may hold
    bookkeeping beside them (transformers 5.25: an int64 token counter per layer), which the reading lists."""
    model = M.hf_model(M.TINY_MAMBA, "cpu")
    cache, token = M.prefill(model, 5)
    first = M.mamba_state(cache)
    assert first.state_bytes == M.mamba_state_bytes(M.TINY_MAMBA, 4, 4)
    assert first.state_layout() == {"float32[1, 128, 4]": 2, "float32[1, 128, 16]": 2}  # per layer: conv, SSM
    for _ in range(3):
        token = M.decode_step(model, cache, token)
    later = M.mamba_state(cache)
    assert later.state_bytes == M.mamba_state_bytes(M.TINY_MAMBA, 4, 4)
    assert later.object_bytes == tensor_bytes(cache) == later.state_bytes + later.other_bytes
    assert later.others() == first.others()


def _mamba_readings(counts=(3, 6, 12)):
    """The tiny Mamba's cache read as state at each count of a greedy generation, as the benchmark reads it."""
    readings, done = {}, [0]

    def on_token(cache):
        done[0] += 1
        if done[0] in counts:
            readings[done[0]] = M.mamba_state(cache)

    M.generate_greedy(M.hf_model(M.TINY_MAMBA, "cpu"), M.token_ids(4), counts[-1], on_token=on_token)
    return readings


def test_bookkeeping_beside_the_state_moves_no_constancy_verdict(monkeypatch):
    """A library that keeps a token counter beside Mamba's state (as transformers 5.25 did) changes the cache
    object's bytes, not the state's: the article's constancy claim and the suite's closed form keep their
    verdicts and values, the details name the extra tensor with its bytes, and the whole-object bytes, which
    the suite's object claim gates, grew by exactly the counters."""
    from effcheck.checks import evaluate
    from effcheck.claims import sequence as C
    from effcheck.meters.state import closed_form_measurement, constancy_measurement
    from effcheck.records import Verdict

    before = _mamba_readings()
    layer_cls = type(M.prefill(M.hf_model(M.TINY_MAMBA, "cpu"), 2)[0].layers[0])
    init, update = layer_cls.__init__, layer_cls.update_recurrent_state

    def with_counter(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.tokens_seen_here = torch.zeros((), dtype=torch.int64)

    def counting(self, *args, **kwargs):
        self.tokens_seen_here.add_(1)
        return update(self, *args, **kwargs)

    monkeypatch.setattr(layer_cls, "__init__", with_counter)
    monkeypatch.setattr(layer_cls, "update_recurrent_state", counting)
    after = _mamba_readings()
    layers = M.TINY_MAMBA.config["num_hidden_layers"]
    added = {f"layers[{i}].tokens_seen_here": "int64[], 8 B" for i in range(layers)}

    for n in before:
        assert after[n].state_bytes == before[n].state_bytes == C.MAMBA_STATE_CLOSED_FORM.expected
        assert after[n].others() == {**before[n].others(), **added}
        assert after[n].object_bytes == before[n].object_bytes + 8 * layers
    closed = C.MAMBA_STATE_CLOSED_FORM.expected
    for claim, (was, now) in (
        (C.MAMBA_STATE_CONSTANT, [constancy_measurement(r, "test") for r in (before, after)]),
        (C.MAMBA_STATE_CLOSED_FORM, [closed_form_measurement(r, closed, "test") for r in (before, after)]),
    ):
        was, now = evaluate(claim, was), evaluate(claim, now)
        assert was.verdict == now.verdict == Verdict.PASS, now.message
        assert was.measurement.value == now.measurement.value
        assert now.measurement.details["other_tensors"] == {**before[12].others(), **added}
    assert max(r.object_bytes for r in after.values()) > max(r.object_bytes for r in before.values())


def test_state_reading_refuses_a_cache_without_the_named_state():
    """A renamed field must fail loudly, not read as a state of zero bytes (constant, trivially)."""
    from effcheck.meters.state import read_state

    cache, _ = M.prefill(M.hf_model(M.TINY_LLAMA, "cpu"), 3)
    with pytest.raises(LookupError, match="holds no tensor under"):
        read_state(cache, M.MAMBA_STATE_FIELDS)


def test_mamba_has_no_kv_cache():
    with pytest.raises(ValueError, match="no KV cache"):
        M.kv_cache_bytes(M.TINY_MAMBA, 10, 4)


def test_generate_greedy_makes_exactly_the_tokens_asked_and_ticks_each():
    ticks = []
    out = M.generate_greedy(M.hf_model(M.TINY_MAMBA, "cpu"), M.token_ids(4), 6, tick=lambda: ticks.append(1))
    assert out.sequences.shape == (1, 10) and len(ticks) == 6


def test_generate_greedy_hands_over_the_cache_once_per_token():
    seen = []
    M.generate_greedy(M.hf_model(M.TINY_LLAMA, "cpu"), M.token_ids(4), 5,
                      on_token=lambda cache: seen.append(cache.get_seq_length()))
    assert seen == [4, 5, 6, 7, 8]  # the k-th token is complete; it is fed on the next forward


def test_prefill_keeps_only_the_last_logits_and_the_same_cache():
    model = M.hf_model(M.TINY_LLAMA, "cpu")
    cache, token = M.prefill(model, 6)
    with torch.no_grad():
        full = model(input_ids=M.token_ids(6), use_cache=True)
    assert token.item() == full.logits[:, -1].argmax(-1).item()
    assert tensor_bytes(cache) == tensor_bytes(full.cache)


# -- the sweep meter -----------------------------------------------------------------------------------
def _allocating_generation(per_token: int, oom_at: int | None = None, stop_at: int | None = None):
    """Keeps per_token more bytes alive at each token; raises like torch does when out of memory."""

    def generate(tick):
        kept = []
        for i in range(1, 1 + (stop_at or 10_000)):
            if i == oom_at:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            kept.append(torch.ones(per_token, dtype=torch.uint8))
            tick()
        return kept

    return generate


def test_peak_at_counts_reads_the_running_peak():
    sweep = S.peak_at_counts(_allocating_generation(64, stop_at=8), (2, 4, 8))
    assert sweep.series == ((2, 2 * 64), (4, 4 * 64), (8, 8 * 64)) and not sweep.failures
    m = S.growth_measurement(sweep)
    assert m.value == 4.0 and m.details["growth_bytes_per_token"] == 64


def test_out_of_memory_is_the_points_outcome_and_the_rest_is_kept():
    sweep = S.peak_at_counts(_allocating_generation(16, oom_at=5, stop_at=8), (2, 4, 8))
    assert sweep.series == ((2, 32), (4, 64))
    (failed,) = sweep.failures
    assert failed.tokens == 8 and failed.error.startswith("out of memory after 4 tokens: CUDA out of memory")
    message = sweep.failure_message("sequence/x")
    assert "8 tokens: out of memory" in message and "4 tokens: 64 B" in message


def test_other_errors_are_not_swallowed():
    def broken(tick):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        S.peak_at_counts(broken, (1,))


def test_a_generation_that_stops_early_fails_its_later_points():
    sweep = S.peak_at_counts(_allocating_generation(8, stop_at=3), (2, 4))
    assert sweep.series == ((2, 16),) and sweep.failures[0].error == "generation stopped after 3 tokens"


def test_peak_per_run_keeps_going_after_an_out_of_memory():
    def generate_n(n):
        if n == 4:
            raise RuntimeError("DefaultCPUAllocator: out of memory: you tried to allocate 1 bytes")
        return torch.ones(n * 10, dtype=torch.uint8)

    sweep = S.peak_per_run(generate_n, (2, 4, 8))
    assert sweep.series == ((2, 20), (8, 80)) and sweep.failures[0].tokens == 4


@given(st.lists(st.integers(-5, 5), min_size=1, max_size=6), st.integers(-5, 5))
def test_farthest_from_equals_target_only_when_every_value_does(values, target):
    worst = S.farthest_from(values, target)
    assert worst in values
    assert (worst == target) == all(v == target for v in values)


@given(st.lists(st.integers(-3, 50), max_size=5))
def test_counts_must_be_increasing_and_positive(counts):
    ok = bool(counts) and all(c >= 1 for c in counts) and counts == sorted(set(counts))
    if ok:
        assert S._check_counts(counts) == tuple(counts)
    else:
        with pytest.raises(ValueError):
            S._check_counts(counts)


def test_sweep_point_needs_bytes_or_an_error():
    with pytest.raises(ValueError):
        S.SweepPoint(5, None)
    with pytest.raises(ValueError):
        S.SweepPoint(5, 10, "oom")


# -- one long run read at checkpoints == separate runs, and the lean tracker == the core tracker -------
@pytest.mark.parametrize("arch", [M.TINY_MAMBA, M.TINY_LLAMA], ids=lambda a: a.name)
def test_checkpoint_readings_equal_separate_runs(arch):
    model, prompt = M.hf_model(arch, "cpu"), M.token_ids(4)
    long_run = S.peak_at_counts(lambda tick: M.generate_greedy(model, prompt, 12, tick), (3, 6, 12))
    separate = S.peak_per_run(lambda n: M.generate_greedy(model, prompt, n), (3, 6, 12))
    core = {n: peak_memory(lambda n=n: M.generate_greedy(model, prompt, n))[1].peak_bytes for n in (3, 6, 12)}
    assert long_run.series == separate.series == tuple(core.items())


def test_rwkv_checkpoint_readings_equal_separate_runs(tmp_path):
    pytest.importorskip("rwkv")
    from effcheck.models import rwkv as R
    from effcheck.models import rwkv_lab as L

    config = R.Rwkv4Config(n_layer=1, n_embd=8, vocab_size=L.PILE_VOCAB, source="test")
    model = R.load_rwkv4(R.write_rwkv4_checkpoint(tmp_path / "t", config), "cpu fp32")
    pipeline = L.lab_pipeline(model, L.write_stand_in_tokenizer(tmp_path / "tok.json"))
    long_run = S.peak_at_counts(lambda tick: L.generate_lab(pipeline, 9, tick), (3, 9))
    separate = S.peak_per_run(lambda n: L.generate_lab(pipeline, n), (3, 9))
    assert long_run.series == separate.series


def test_is_out_of_memory():
    assert S.is_out_of_memory(torch.OutOfMemoryError("x")) and S.is_out_of_memory(MemoryError())
    assert S.is_out_of_memory(RuntimeError("CUDA out of memory"))
    assert not S.is_out_of_memory(RuntimeError("shape mismatch"))

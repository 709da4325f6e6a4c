"""RWKV-4 checkpoints: the real key layout, clear errors for bad files, loading and generating through rwkv,
and the CPU memory meters seeing what rwkv allocates."""

import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("rwkv")

from effcheck.errors import MissingDependency  # noqa: E402
from effcheck.models import rwkv as R  # noqa: E402
from effcheck.models import rwkv_lab as L  # noqa: E402

TINY = R.Rwkv4Config(n_layer=2, n_embd=8, vocab_size=R.WORLD_VOCAB, source="test")


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    return R.write_rwkv4_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", TINY)


@pytest.fixture(scope="module")
def tiny_model(tiny_path):
    return R.load_rwkv4(tiny_path, "cpu fp32")


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    return L.write_stand_in_tokenizer(tmp_path_factory.mktemp("tok") / "20B_tokenizer.json", R.WORLD_VOCAB)


def test_layout_of_the_169m_matches_its_published_size():
    layout = R.rwkv4_layout(R.RWKV4_PILE_169M)
    assert R.rwkv4_param_count(R.RWKV4_PILE_169M) == 169_342_464  # "169M"
    assert layout["emb.weight"] == layout["head.weight"] == (50277, 768)
    assert layout["blocks.11.ffn.key.weight"] == (3072, 768)
    assert layout["blocks.0.att.time_mix_k"] == (1, 1, 768)
    assert "blocks.0.ln0.weight" in layout and "blocks.1.ln0.weight" not in layout
    assert len(layout) == 1 + 2 + 12 * 18 + 3


def test_written_checkpoint_round_trips_and_validates(tiny_path):
    state = torch.load(tiny_path, weights_only=True)
    assert {k: tuple(v.shape) for k, v in state.items()} == R.rwkv4_layout(TINY)
    assert R.validate_rwkv4(state) == R.Rwkv4Config(2, 8, R.WORLD_VOCAB, "inferred from the checkpoint")


def test_constant_checkpoint_has_full_shapes_but_stores_one_number_per_key(tmp_path):
    path = R.write_rwkv4_checkpoint(tmp_path / "big", R.RWKV4_PILE_169M, values="constant")
    assert path.stat().st_size < 200_000
    state = torch.load(path, weights_only=True)
    R.validate_rwkv4(state, R.RWKV4_PILE_169M)


def _good():
    return R.rwkv4_state_dict(TINY)


@pytest.mark.parametrize("mutate, needle", [
    (lambda s: s.pop("blocks.1.att.time_first"), "missing blocks.1.att.time_first"),
    (lambda s: s.pop("head.weight"), "missing head.weight"),
    (lambda s: s.__setitem__("blocks.0.att.head_qk.weight", torch.zeros(8, 8)), "head_qk.weight is not"),
    (lambda s: s.__setitem__("blocks.5.ln1.weight", torch.zeros(8)), "missing blocks.2"),
    (lambda s: s.__setitem__("blocks.1.ffn.value.weight", torch.zeros(8, 8)), "weight has shape (8, 8)"),
    (lambda s: s.__setitem__("blocks.0.att.ln_x.weight", torch.zeros(8)), "RWKV-5 key"),
    (lambda s: s.__setitem__("blocks.0.att.time_maa_x", torch.zeros(8)), "RWKV-6 key"),
    (lambda s: s.__setitem__("ln_out.bias", 0.0), "ln_out.bias is a float"),
    (lambda s: s.pop("emb.weight"), "no 'emb.weight'"),
])
def test_bad_checkpoints_name_the_key(mutate, needle):
    state = _good()
    mutate(state)
    with pytest.raises(R.CheckpointLayoutError, match="^.*" + needle.replace("(", r"\(").replace(")", r"\)")):
        R.validate_rwkv4(state)


def test_load_refuses_a_bad_file_before_rwkv_sees_it(tmp_path):
    state = _good()
    state["blocks.0.att.key.weight"] = torch.zeros(8, 4)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(R.CheckpointLayoutError, match=r"blocks.0.att.key.weight has shape \(8, 4\)"):
        R.load_rwkv4(tmp_path / "bad.pth", "cpu fp32")
    with pytest.raises(R.CheckpointLayoutError, match="no RWKV checkpoint"):
        R.load_rwkv4(tmp_path / "absent.pth", "cpu fp32")


def test_missing_rwkv_is_a_missing_dependency(monkeypatch):
    monkeypatch.delitem(sys.modules, "rwkv.model", raising=False)
    monkeypatch.setitem(sys.modules, "rwkv", None)
    with pytest.raises(MissingDependency, match=r"effcheck\[llm\]"):
        R.import_rwkv()


def test_rwkv_loads_it_as_version_4_and_keeps_5_vectors_per_layer(tiny_model):
    from effcheck.meters.memory import tensor_bytes

    assert tiny_model.version == 4 and tiny_model.args.n_layer == 2 and tiny_model.args.n_embd == 8
    logits, state = R.forward_tokens(tiny_model, [1, 2, 3])
    assert logits.shape == (R.WORLD_VOCAB,) and len(state) == 5 * 2
    # after a prompt chunk the two token-shift vectors are views of the chunk's (3, 8) activations
    assert tensor_bytes(state) == 2 * (2 * 3 * 8 + 3 * 8) * 4
    _, state = tiny_model.forward([1], state)
    assert tensor_bytes(state) == 2 * 5 * 8 * 4


def test_published_rwkv4_pile_configs_agree_between_rwkv_layout_and_transformers():
    pytest.importorskip("transformers")
    from effcheck.meters.params import count_params

    for config in R.RWKV4_PILE.values():
        assert count_params(R.hf_rwkv(config, "meta")) == R.rwkv4_param_count(config), config
    assert R.rwkv4_param_count(R.RWKV4_PILE["169M"]) == 169_342_464


def test_generate_lab_ticks_once_per_token_and_restores_state(tiny_model, stand_in):
    import numpy as np

    pipeline = L.lab_pipeline(tiny_model, stand_in)
    ticks, states = [], []
    before = np.random.get_state()[1].copy()
    L.generate_lab(pipeline, 7, tick=lambda: ticks.append(1), on_token=states.append)
    assert len(ticks) == len(states) == 7 and all(len(s) == 5 * TINY.n_layer for s in states)
    assert pipeline.model is tiny_model
    assert (np.random.get_state()[1] == before).all()


def test_trackers_see_rwkv_allocations(tiny_model, stand_in):
    """The live-bytes trackers (dispatch mode) against the CPU allocator itself, on a real generation."""
    from effcheck.meters.allocator import allocator_peak
    from effcheck.meters.memory import peak_memory
    from effcheck.meters.sweep import peak_at_counts

    pipeline = L.lab_pipeline(tiny_model, stand_in)
    _, core = peak_memory(lambda: L.generate_lab(pipeline, 6))
    _, alloc = allocator_peak(lambda: L.generate_lab(pipeline, 6))
    lean = peak_at_counts(lambda tick: L.generate_lab(pipeline, 6, tick), (6,)).series[0][1]
    assert core.peak_bytes == lean == alloc.peak_bytes
    # at least the float logits and their softmax over the 65536-token vocabulary
    assert core.peak_bytes >= 2 * R.WORLD_VOCAB * 4


def test_replay_records_each_lab_call(tmp_path):
    calls = L.replay_lab_calls(tmp_path, "cpu fp32")
    assert [c.code.split("(")[0] for c in calls] == ["RWKV", "PIPELINE_ARGS", "PIPELINE", "pipeline.generate"]
    assert calls[0].error is None
    assert "token_count" in calls[1].error
    assert "No such file" in calls[2].error  # the lab never downloads 20B_tokenizer.json
    assert calls[3].error is None  # generate itself is current API: not blamed for the missing file
    assert not (tmp_path / "lab" / "20B_tokenizer.json").exists()


def test_stand_in_tokenizer_fits_the_pile_vocabulary_and_decodes_every_id(tmp_path):
    path = L.write_stand_in_tokenizer(tmp_path / "20B_tokenizer.json")
    pipeline = L.lab_pipeline(None, path)
    ids = pipeline.encode(L.LAB_PROMPT)
    assert len(ids) == len(L.LAB_PROMPT.split()) and max(ids) < L.PILE_VOCAB
    assert pipeline.decode(ids) == L.LAB_PROMPT
    assert pipeline.decode([L.PILE_VOCAB - 1]) == f"<{L.PILE_VOCAB - 1}>"


def test_replay_without_a_model_marks_the_calls_that_need_one(tmp_path):
    calls = L.replay_lab_calls(tmp_path, "cpu fp64")  # not a strategy rwkv accepts
    assert calls[0].error.startswith("ValueError")
    assert [c.error for c in calls[2:]] == ["not run: the model did not load"] * 2

"""Full-size LLM specs build the architectures their sources describe: exact counts on meta against
closed forms written from the papers' shapes, real caches on tiny models."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from effcheck.meters.params import count_params  # noqa: E402
from effcheck.models.language import (  # noqa: E402
    SPECS,
    active_params,
    causal_lm,
    hf_config,
    kv_bytes,
    kv_bytes_per_token,
    llama_ffn_hidden,
    llama_weight_count,
    prefill_cache,
    spec,
    tiny_llama,
    uniform_layers,
)


@pytest.mark.parametrize("dim, hidden", [(4096, 11008), (5120, 13824), (6656, 17920), (8192, 22016)])
def test_llama_ffn_rule_gives_the_released_widths(dim, hidden):
    assert llama_ffn_hidden(dim, 256) == hidden


def test_every_spec_builds_on_meta_and_names_its_source():
    for name, s in SPECS.items():
        assert s.name == name and s.source
        model = causal_lm(name)
        assert next(model.parameters()).device.type == "meta"


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match="llama-7b"):
        spec("llama-8b")


def test_config_overrides_reach_the_model():
    assert hf_config("mistral-7b").num_key_value_heads == 8
    assert hf_config("mistral-7b", num_key_value_heads=32).num_key_value_heads == 32
    assert causal_lm("llama-7b", "meta", "bfloat16").model.embed_tokens.weight.dtype == torch.bfloat16


LLAMA_LIKE = ["llama-7b", "llama-13b", "llama-33b", "llama-65b", "llama-2-70b", "mistral-7b", "phi-3-mini"]


@pytest.mark.parametrize("name", LLAMA_LIKE)
def test_llama_like_counts_match_the_closed_form(name):
    model = causal_lm(name)
    assert count_params(model) == llama_weight_count(model.config)


def test_gpt3_count_matches_gpt2_closed_form():
    layers, d, vocab, context = 96, 12288, 50257, 2048
    # per block: attention 4 d^2 + 4 d, MLP 8 d^2 + 5 d, two LayerNorms 4 d; tied embeddings, final LayerNorm
    expected = layers * (12 * d * d + 13 * d) + vocab * d + context * d + 2 * d
    assert count_params(causal_lm("gpt-3-175b")) == expected == 174_604_259_328


def test_mixtral_active_params_are_two_of_eight_experts():
    model = causal_lm("mixtral-8x7b")
    c = model.config
    d, layers, ff, kv = c.hidden_size, c.num_hidden_layers, c.intermediate_size, c.num_key_value_heads * 128
    per_layer_shared = 2 * d * d + 2 * d * kv + c.num_local_experts * d + 2 * d  # attention, router, norms
    shared = layers * per_layer_shared + 2 * c.vocab_size * d + d
    total = count_params(model)
    assert total == shared + layers * c.num_local_experts * 3 * d * ff
    assert active_params(model, total) == shared + layers * c.num_experts_per_tok * 3 * d * ff


def test_dense_models_are_all_active():
    model = causal_lm("phi-3-mini")
    assert active_params(model, 123) == 123


@pytest.mark.parametrize("kv_heads", [32, 8, 1])
def test_tiny_llama_cache_holds_keys_and_values_of_its_kv_heads(kv_heads):
    tokens, layers, head_dim = 10, 2, 8
    cache = prefill_cache(tiny_llama(kv_heads, layers=layers, head_dim=head_dim), tokens)
    assert kv_bytes(cache) == 2 * layers * kv_heads * tokens * head_dim * 4  # float32


def test_tiny_llama_rejects_uneven_groups():
    with pytest.raises(ValueError, match="cannot be split"):
        tiny_llama(5)


def test_prefill_needs_a_token():
    with pytest.raises(ValueError, match="at least one token"):
        prefill_cache(tiny_llama(8), 0)


def test_full_size_cache_on_meta_has_published_per_token_bytes():
    model = causal_lm("llama-2-70b", "meta", "float16")
    cache = prefill_cache(model, 16, "meta")
    # 2 (K, V) x 80 layers x 8 KV heads x 128 dims x 2 bytes per token
    assert kv_bytes(cache) == 16 * 2 * 80 * 8 * 128 * 2


# -- published configs of the GQA-adoption and LLaMA-standard claims --------------------------------

# totals the model cards print, in billions, to the digits printed
PUBLISHED_TOTALS_B = {"llama-2-7b": 6.74, "llama-2-13b": 13.0, "llama-2-70b": 69.0, "gemma-2b": 2.51,
                      "gemma-7b": 8.54, "gemma-2-2b": 2.61, "gemma-2-9b": 9.24, "gemma-2-27b": 27.2,
                      "qwen2-7b": 7.62, "qwen2.5-7b-1m": 7.62}


@pytest.mark.parametrize("name, billions", list(PUBLISHED_TOTALS_B.items()))
def test_new_specs_build_the_published_totals(name, billions):
    digits = len(str(billions).split(".")[1])
    assert round(count_params(causal_lm(name)) / 1e9, digits) == billions


@pytest.mark.parametrize("name, heads, kv_heads, kind", [
    ("llama-2-7b", 32, 32, "MHA"), ("llama-2-70b", 64, 8, "GQA"), ("gemma-2b", 8, 1, "MQA"),
    ("gemma-7b", 16, 16, "MHA"), ("gemma-2-27b", 32, 16, "GQA"), ("phi-3-mini", 32, 32, "MHA"),
])
def test_head_counts_are_read_from_the_projections(name, heads, kv_heads, kind):
    from effcheck.models.language import attention_kind, head_counts

    assert head_counts(causal_lm(name)) == (heads, kv_heads)
    assert attention_kind(heads, kv_heads) == kind


def test_head_counts_follow_the_built_module_not_the_config_field():
    from effcheck.models.language import head_counts

    assert head_counts(causal_lm("mistral-7b", num_key_value_heads=32)) == (32, 32)
    assert head_counts(causal_lm("phi-3-mini", num_key_value_heads=8)) == (32, 8)  # fused qkv_proj


def test_attention_kind_rejects_uneven_groups():
    from effcheck.models.language import attention_kind

    with pytest.raises(ValueError, match="do not split"):
        attention_kind(32, 5)


def test_design_choices_of_llama_and_of_gpt3():
    from effcheck.models.language import design_choices

    llama = design_choices(causal_lm("llama-7b"))
    assert llama.follows_llama() == {"rmsnorm": True, "gated_ffn": True, "rope": True, "no_bias": True}
    gpt = design_choices(causal_lm("gpt-3-175b", n_layer=1))
    assert gpt.follows_llama() == {"rmsnorm": False, "gated_ffn": False, "rope": False, "no_bias": False}
    assert gpt.positions == "learned" and gpt.norms == ("LayerNorm",)


def test_design_choices_see_a_bias_and_geglu():
    from effcheck.models.language import design_choices

    assert design_choices(causal_lm("qwen2-7b")).follows_llama()["no_bias"] is False  # q/k/v biases
    biased = design_choices(causal_lm("llama-7b", mlp_bias=True))
    assert biased.bias_params == 32 * (2 * 11008 + 4096)
    assert design_choices(causal_lm("gemma-7b")).ffn == "GeGLU"


def test_kv_cache_bytes_are_linear_in_tokens():
    model = causal_lm("qwen2.5-7b-1m", "meta", "bfloat16")
    one, two = (kv_bytes(prefill_cache(model, n, "meta")) for n in (64, 128))
    assert two == 2 * one == 2 * 64 * 2 * 28 * 4 * 128 * 2


# every (model, dtype, overrides) whose KV bytes the attention benchmarks read
KV_READS = [("llama-2-70b", "float16", {}), ("llama-2-70b", "float16", {"num_key_value_heads": 64}),
            ("mistral-7b", "bfloat16", {}), ("mistral-7b", "bfloat16", {"num_key_value_heads": 32}),
            ("llama-2-7b", "bfloat16", {}), ("llama-2-70b", "bfloat16", {}), ("qwen2.5-7b-1m", "bfloat16", {})]


@pytest.mark.parametrize("name, dtype, overrides", KV_READS, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_kv_bytes_from_shallow_builds_equal_the_full_depth_prefill(name, dtype, overrides):
    assert uniform_layers(name, **overrides)
    full = kv_bytes(prefill_cache(causal_lm(name, "meta", dtype, **overrides), 8, "meta")) // 8
    assert kv_bytes_per_token(name, dtype, 8, **overrides) == full


def test_mixed_layers_are_prefilled_at_full_depth():
    """Gemma-2 alternates sliding-window and global layers: no shallow shortcut, and still the real bytes."""
    assert not uniform_layers("gemma-2-2b")
    per_token = kv_bytes_per_token("gemma-2-2b", "bfloat16", 4)
    config = hf_config("gemma-2-2b")
    assert per_token == 2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 2


def test_meta_forward_runs_and_leaves_autocast_alone():
    """transformers 4.x opens torch.autocast('meta') in rotary embeddings, which torch rejects; the meta
    builder runs the forward without it and restores torch.autocast after."""
    real = torch.autocast
    model = causal_lm("llama-7b", num_hidden_layers=1)
    out = model(input_ids=torch.zeros(1, 8, dtype=torch.long, device="meta"))
    assert out.logits.shape == (1, 8, 32000)
    assert torch.autocast is real


def test_flops_by_layers_equal_the_full_count():
    from effcheck.meters.flops import count_flops, count_flops_by_layers

    ids = torch.zeros(1, 32, dtype=torch.long, device="meta")
    for name, key in (("llama-13b", "num_hidden_layers"), ("gpt-3-175b", "n_layer")):
        full = count_flops(causal_lm(name, **{key: 5}), ids)
        assert count_flops_by_layers(lambda n, name=name, key=key: causal_lm(name, **{key: n}), 5, ids) == full
    with pytest.raises(ValueError, match="layers"):
        count_flops_by_layers(lambda n: None, 0)

"""Full-size LLM architectures as data (official configs and papers), built through transformers.

Nothing is downloaded: each spec holds the fields of the model's published config, and builders make
the real transformers model from them, on `meta` for counts and cache shapes (no memory, no weights) or
on a real device with random weights for small variants. Parameter counts, cache bytes and FLOPs do not
depend on weight values.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from effcheck.models import require

# transformers (config class, causal-LM class) per architecture family
_CLASSES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM"),
    "phi3": ("Phi3Config", "Phi3ForCausalLM"),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel"),
}


@dataclass(frozen=True)
class LanguageModelSpec:
    """One published architecture: transformers config fields exactly as its source gives them."""

    name: str
    family: str
    config: MappingProxyType  # transformers config fields
    source: str

    def __post_init__(self) -> None:
        if self.family not in _CLASSES:
            raise ValueError(f"{self.name}: unknown architecture family {self.family!r}")
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))


def llama_ffn_hidden(dim: int, multiple_of: int) -> int:
    """LLaMA's SwiGLU width: 2/3 of 4*dim, rounded up to a multiple (facebookresearch/llama model.py)."""
    hidden = int(2 * (4 * dim) / 3)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


def _llama1(name: str, dim: int, n_heads: int, n_layers: int, norm_eps: float) -> LanguageModelSpec:
    # params.json of the official LLaMA release: dim, n_heads, n_layers, multiple_of=256, norm_eps,
    # vocab_size=-1 (taken from the 32000-token SentencePiece tokenizer); context 2048 (paper §2.4)
    return LanguageModelSpec(
        name=name,
        family="llama",
        config={
            "hidden_size": dim,
            "num_attention_heads": n_heads,
            "num_hidden_layers": n_layers,
            "intermediate_size": llama_ffn_hidden(dim, 256),
            "vocab_size": 32000,
            "max_position_embeddings": 2048,
            "rms_norm_eps": norm_eps,
            "tie_word_embeddings": False,
        },
        source=f"LLaMA (Touvron et al. 2023) Table 2; official {name} params.json "
               f"(dim {dim}, n_heads {n_heads}, n_layers {n_layers}, multiple_of 256, norm_eps {norm_eps})",
    )


LLAMA_7B = _llama1("llama-7b", 4096, 32, 32, 1e-6)
LLAMA_13B = _llama1("llama-13b", 5120, 40, 40, 1e-6)
LLAMA_33B = _llama1("llama-33b", 6656, 52, 60, 1e-6)  # released as "30B"; the paper's Table 2 says 33B
LLAMA_65B = _llama1("llama-65b", 8192, 64, 80, 1e-5)

LLAMA2_70B = LanguageModelSpec(
    name="llama-2-70b",
    family="llama",
    config={"hidden_size": 8192, "intermediate_size": 28672, "num_attention_heads": 64,
            "num_key_value_heads": 8, "num_hidden_layers": 80, "vocab_size": 32000,
            "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "tie_word_embeddings": False},
    source="meta-llama/Llama-2-70b-hf config.json; Llama 2 (Touvron et al. 2023) §2.2: GQA for 34B and 70B",
)

MISTRAL_7B = LanguageModelSpec(
    name="mistral-7b",
    family="mistral",
    config={"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
            "num_key_value_heads": 8, "num_hidden_layers": 32, "vocab_size": 32000,
            "max_position_embeddings": 32768, "rms_norm_eps": 1e-5, "sliding_window": 4096,
            "tie_word_embeddings": False},
    source="mistralai/Mistral-7B-v0.1 config.json; Mistral 7B (Jiang et al. 2023) Table 1",
)

MIXTRAL_8X7B = LanguageModelSpec(
    name="mixtral-8x7b",
    family="mixtral",
    config={"hidden_size": 4096, "intermediate_size": 14336, "num_attention_heads": 32,
            "num_key_value_heads": 8, "num_hidden_layers": 32, "vocab_size": 32000,
            "max_position_embeddings": 32768, "num_local_experts": 8, "num_experts_per_tok": 2,
            "rms_norm_eps": 1e-5, "tie_word_embeddings": False},
    source="mistralai/Mixtral-8x7B-v0.1 config.json; Mixtral of Experts (Jiang et al. 2024) Table 1",
)

PHI3_MINI = LanguageModelSpec(
    name="phi-3-mini",
    family="phi3",
    config={"hidden_size": 3072, "intermediate_size": 8192, "num_attention_heads": 32,
            "num_key_value_heads": 32, "num_hidden_layers": 32, "vocab_size": 32064,
            "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "tie_word_embeddings": False},
    source="microsoft/Phi-3-mini-4k-instruct config.json; Phi-3 Technical Report (Abdin et al. 2024) §2",
)

# No transformers class is called GPT-3: GPT-3 is "the same model and architecture as GPT-2" (Brown et al.
# 2020 §2.1; its alternating locally banded sparse attention adds no parameters), so GPT-2's class at
# Table 2.1's shapes is GPT-3 175B: 96 layers, d_model 12288, 96 heads of 128, context 2048, GPT-2's
# 50257-token BPE vocabulary, FFN 4*d_model, input and output embeddings tied as in GPT-2.
GPT3_175B = LanguageModelSpec(
    name="gpt-3-175b",
    family="gpt2",
    config={"n_layer": 96, "n_embd": 12288, "n_head": 96, "n_positions": 2048, "vocab_size": 50257,
            "tie_word_embeddings": True},
    source="Language Models are Few-Shot Learners (Brown et al. 2020) Table 2.1 and §2.1, built as GPT-2",
)

SPECS: MappingProxyType = MappingProxyType({s.name: s for s in (
    LLAMA_7B, LLAMA_13B, LLAMA_33B, LLAMA_65B, LLAMA2_70B, MISTRAL_7B, MIXTRAL_8X7B, PHI3_MINI, GPT3_175B)})


def spec(name: str) -> LanguageModelSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown language model {name!r}: known are {', '.join(SPECS)}") from None


def hf_config(name: str, **overrides: Any) -> Any:
    """The transformers config of a spec, with field overrides (e.g. num_key_value_heads=32)."""
    transformers = require("transformers", "llm")
    s = spec(name)
    config_class = getattr(transformers, _CLASSES[s.family][0])
    return config_class(**{**s.config, **overrides})


@functools.lru_cache(maxsize=32)
def causal_lm(name: str, device: str = "meta", dtype: str | None = None, **overrides: Any) -> Any:
    """The real transformers causal LM of a spec in eval mode; `meta` builds shapes only (for counts)."""
    transformers = require("transformers", "llm")
    import torch

    config = hf_config(name, **overrides)
    model_class = getattr(transformers, _CLASSES[spec(name).family][1])
    with torch.device(device):
        model = model_class(config)
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    return model.eval()


def tiny_llama(num_key_value_heads: int, *, heads: int = 32, head_dim: int = 8, layers: int = 2,
               device: str = "cpu", seed: int = 0) -> Any:
    """A small real Llama (random weights): `heads` query heads sharing `num_key_value_heads` K/V heads."""
    transformers = require("transformers", "llm")
    import torch

    if heads % num_key_value_heads:
        raise ValueError(f"{heads} query heads cannot be split into {num_key_value_heads} key/value groups")
    config = transformers.LlamaConfig(
        hidden_size=heads * head_dim, intermediate_size=2 * heads * head_dim, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=num_key_value_heads, vocab_size=256,
        max_position_embeddings=512)
    torch.manual_seed(seed)
    with torch.device(device):
        model = transformers.LlamaForCausalLM(config)
    return model.eval()


def prefill_cache(model: Any, tokens: int, device: str | None = None) -> Any:
    """Run one prompt of `tokens` tokens with use_cache=True and return the model's real cache object."""
    import torch

    if tokens < 1:
        raise ValueError(f"a prompt needs at least one token, got {tokens}")
    device = device or str(next(model.parameters()).device)
    ids = torch.zeros(1, tokens, dtype=torch.long, device=device)
    with torch.no_grad():
        out = model(input_ids=ids, use_cache=True)
    cache = getattr(out, "cache", None)  # transformers 5 names it `cache`; 4.x `past_key_values`
    return cache if cache is not None else out.past_key_values


def kv_bytes(cache: Any) -> int:
    """Bytes of the key and value tensors a cache holds (not its bookkeeping scalars), each storage once."""
    from effcheck.meters.memory import tensor_bytes

    layers = getattr(cache, "layers", None)
    if layers is not None:  # transformers 5: cache.layers[i].keys / .values
        pairs = [(layer.keys, layer.values) for layer in layers]
    else:  # transformers 4.x: legacy tuple of (key, value) per layer
        pairs = [(entry[0], entry[1]) for entry in cache]
    return tensor_bytes(pairs)


def expert_params(model: Any) -> int:
    """Parameters inside mixture-of-experts expert weights (names containing '.experts.')."""
    return sum(p.numel() for n, p in model.named_parameters() if ".experts." in n)


def active_params(model: Any, total: int) -> int:
    """Parameters used per token: everything but the experts a token is not routed to."""
    config = model.config
    n_experts = getattr(config, "num_local_experts", None)
    if not n_experts:
        return total
    routed = expert_params(model)
    if routed % n_experts:
        raise ValueError(f"expert parameters ({routed}) do not split evenly into {n_experts} experts")
    return total - routed // n_experts * (n_experts - config.num_experts_per_tok)


def llama_weight_count(config: Any) -> int:
    """Closed form of a Llama's parameters from its shapes: embeddings, per-layer attention (GQA-aware)
    and SwiGLU weights, two RMSNorm gains per layer, final norm, untied output head. No position term."""
    d, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    head_dim = getattr(config, "head_dim", None) or d // config.num_attention_heads
    q = config.num_attention_heads * head_dim
    kv = config.num_key_value_heads * head_dim
    attention = d * q + 2 * d * kv + q * d
    mlp = 3 * d * config.intermediate_size
    per_layer = attention + mlp + 2 * d
    head = 0 if config.tie_word_embeddings else vocab * d
    return vocab * d + layers * per_layer + d + head


def layer_norm_ops(x: Any, weight: Any, bias: Any, eps: float) -> Any:
    """LayerNorm written out op by op (Ba et al. 2016): the arithmetic a fused kernel performs."""
    import torch

    mean = x.mean(-1, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(-1, keepdim=True)
    return centered * torch.rsqrt(var + eps) * weight + bias


def rms_norm_ops(x: Any, weight: Any, eps: float) -> Any:
    """RMSNorm written out op by op (Zhang & Sennrich 2019): no mean, no centering, no bias."""
    import torch

    mean_square = (x * x).mean(-1, keepdim=True)
    return x * torch.rsqrt(mean_square + eps) * weight


def llama_rms_norm(d: int, eps: float = 1e-6, device: str = "cpu") -> Any:
    """The RMSNorm module transformers' Llama uses (what LLaMA runs), on `device`."""
    require("transformers", "llm")
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    return LlamaRMSNorm(d, eps=eps).to(device)


def gelu_ffn(d: int, hidden: int, device: str = "meta") -> Any:
    """GPT-2's feed-forward block (Linear d->hidden, GELU, Linear hidden->d), the FFN SwiGLU replaces."""
    transformers = require("transformers", "llm")
    import torch
    from transformers.models.gpt2.modeling_gpt2 import GPT2MLP

    with torch.device(device):
        return GPT2MLP(hidden, transformers.GPT2Config(n_embd=d))

"""Full-size LLM architectures as data (official configs and papers), built through transformers.

Nothing is downloaded: each spec holds the fields of the model's published config, and builders make
the real transformers model from them, on `meta` for counts and cache shapes (no memory, no weights) or
on a real device with random weights for small variants. Parameter counts, cache bytes and FLOPs do not
depend on weight values.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from effcheck.models import require
from effcheck.models.build import building_on

# the specs lived here first: SPECS, LanguageModelSpec and llama_ffn_hidden stay importable from this module
from effcheck.models.language_specs import CLASSES, SPECS, LanguageModelSpec, llama_ffn_hidden  # noqa: F401


def spec(name: str) -> LanguageModelSpec:
    try:
        return SPECS[name]
    except KeyError:
        raise ValueError(f"unknown language model {name!r}: known are {', '.join(SPECS)}") from None


def hf_config(name: str, **overrides: Any) -> Any:
    """The transformers config of a spec, with field overrides (e.g. num_key_value_heads=32)."""
    transformers = require("transformers", "llm")
    s = spec(name)
    config_class = getattr(transformers, CLASSES[s.family][0])
    return config_class(**{**s.config, **overrides})


@functools.lru_cache(maxsize=32)
def causal_lm(name: str, device: str = "meta", dtype: str | None = None, **overrides: Any) -> Any:
    """The real transformers causal LM of a spec in eval mode; `meta` builds shapes only (for counts)."""
    transformers = require("transformers", "llm")
    import torch

    config = hf_config(name, **overrides)
    model_class = getattr(transformers, CLASSES[spec(name).family][1])
    with building_on(device):
        model = model_class(config)
    if dtype is not None:
        model = model.to(getattr(torch, dtype))
    if device == "meta":
        _run_forward_without_meta_autocast(model)
    return model.eval()


@contextlib.contextmanager
def _no_autocast_on_meta() -> Iterator[None]:
    """transformers 4.x rotary embeddings open torch.autocast(device_type=<input device>, enabled=False),
    and torch rejects "meta" there (RuntimeError: unsupported scalarType), so no 4.x Llama-family model can
    run a forward on meta. transformers 5 skips autocast on meta (utils.generic.maybe_autocast): do the
    same for the duration of one forward. Nothing else changes: every other device type reaches torch."""
    import torch

    real = torch.autocast

    def autocast(device_type: str, *args: Any, **kwargs: Any) -> Any:
        return contextlib.nullcontext() if device_type == "meta" else real(device_type, *args, **kwargs)

    torch.autocast = autocast
    try:
        yield
    finally:
        torch.autocast = real


def _run_forward_without_meta_autocast(model: Any) -> None:
    inner = model.forward

    @functools.wraps(inner)
    def forward(*args: Any, **kwargs: Any) -> Any:
        with _no_autocast_on_meta():
            return inner(*args, **kwargs)

    model.forward = forward


def tiny_llama(num_key_value_heads: int, *, heads: int = 32, head_dim: int = 8, layers: int = 2,
               device: str = "cpu", seed: int = 0, attn_implementation: str | None = None) -> Any:
    """A small real Llama (random weights): `heads` query heads sharing `num_key_value_heads` K/V heads."""
    transformers = require("transformers", "llm")
    import torch

    if heads % num_key_value_heads:
        raise ValueError(f"{heads} query heads cannot be split into {num_key_value_heads} key/value groups")
    config = transformers.LlamaConfig(
        hidden_size=heads * head_dim, intermediate_size=2 * heads * head_dim, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=num_key_value_heads, vocab_size=256,
        max_position_embeddings=512, **({"attn_implementation": attn_implementation} if attn_implementation else {}))
    torch.manual_seed(seed)
    with building_on(device):
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


def kv_bytes_per_token(name: str, dtype: str, tokens: int = 64, **overrides: Any) -> int:
    """Key+value bytes per token of the real transformers cache after a `tokens`-token prompt, the full-size
    model of spec `name` on meta.

    When every layer is of one kind (config.layer_types absent or uniform) each layer's cache is the same,
    so the full depth is read from 1- and 2-layer builds of the same config: f(1) + (layers - 1) x (f(2) -
    f(1)), as count_flops_by_layers does for FLOPs; a prefill on meta costs ~5 ms a layer, 0.44 s for
    Llama-2-70B's 80. Mixed layers (sliding and global) are prefilled at full depth. tests check both ways
    agree for every model the suite reads."""
    layers: int = hf_config(name, **overrides).num_hidden_layers

    def bytes_at(depth: int | None) -> int:
        extra = {} if depth is None else {"num_hidden_layers": depth}
        return kv_bytes(prefill_cache(causal_lm(name, "meta", dtype, **overrides, **extra), tokens, "meta"))

    if layers < 2 or not uniform_layers(name, **overrides):
        return bytes_at(None) // tokens
    one, two = bytes_at(1), bytes_at(2)
    return (one + (layers - 1) * (two - one)) // tokens


def uniform_layers(name: str, **overrides: Any) -> bool:
    """Whether every decoder layer of the spec is of one kind (its config's layer_types, where it has them)."""
    kinds = getattr(hf_config(name, **overrides), "layer_types", None)
    return not kinds or len(set(kinds)) == 1


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
    count: int = sum(p.numel() for n, p in model.named_parameters() if ".experts." in n)
    return count


def active_params(model: Any, total: int) -> int:
    """Parameters used per token: everything but the experts a token is not routed to."""
    config = model.config
    n_experts: int | None = getattr(config, "num_local_experts", None)
    if not n_experts:
        return total
    routed = expert_params(model)
    if routed % n_experts:
        raise ValueError(f"expert parameters ({routed}) do not split evenly into {n_experts} experts")
    per_token: int = config.num_experts_per_tok
    return total - routed // n_experts * (n_experts - per_token)


def llama_weight_count(config: Any) -> int:
    """Closed form of a Llama's parameters from its shapes: embeddings, per-layer attention (GQA-aware)
    and SwiGLU weights, two RMSNorm gains per layer, final norm, untied output head. No position term."""
    d: int = config.hidden_size
    layers: int = config.num_hidden_layers
    vocab: int = config.vocab_size
    head_dim: int = getattr(config, "head_dim", None) or d // config.num_attention_heads
    q: int = config.num_attention_heads * head_dim
    kv: int = config.num_key_value_heads * head_dim
    attention = d * q + 2 * d * kv + q * d
    mlp: int = 3 * d * config.intermediate_size
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
    from transformers.models.gpt2.modeling_gpt2 import GPT2MLP

    with building_on(device):
        return GPT2MLP(hidden, transformers.GPT2Config(n_embd=d))


def head_counts(model: Any) -> tuple[int, int]:
    """(query heads, key/value heads) read from the first decoder layer's projection shapes, not the config
    fields: separate q/k/v projections (Llama, Mistral, Gemma, Qwen) or Phi-3's fused qkv_proj."""
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    attention = _decoder_layers(model)[0].self_attn
    query_width = attention.o_proj.in_features
    if hasattr(attention, "k_proj"):
        kv_width = attention.k_proj.out_features
    else:  # fused: rows are [q | k | v]
        kv_width = (attention.qkv_proj.out_features - query_width) // 2
    return query_width // head_dim, kv_width // head_dim


def attention_kind(query_heads: int, kv_heads: int) -> str:
    """MHA (one K/V head per query head), MQA (one shared K/V head) or GQA (groups in between)."""
    if kv_heads < 1 or query_heads % kv_heads:
        raise ValueError(f"{query_heads} query heads do not split into {kv_heads} key/value groups")
    if kv_heads == query_heads:
        return "MHA"
    return "MQA" if kv_heads == 1 else "GQA"


@dataclass(frozen=True)
class DesignChoices:
    """LLaMA's four architecture choices (LLaMA §2.2, article §2.5) as one built model makes them."""

    norms: tuple[str, ...]  # class names of the normalization modules
    ffn: str  # "SwiGLU", "GeGLU" (gated FFNs) or the activation of an ungated one
    positions: str  # "RoPE" (a rotary module, no position table) or "learned"
    bias_params: int  # parameters in bias vectors

    def follows_llama(self) -> dict[str, bool]:
        return {
            "rmsnorm": bool(self.norms) and all(n.endswith("RMSNorm") for n in self.norms),
            "gated_ffn": self.ffn in ("SwiGLU", "GeGLU"),
            "rope": self.positions == "RoPE",
            "no_bias": self.bias_params == 0,
        }


def design_choices(model: Any) -> DesignChoices:
    """Read norm, FFN, position encoding and biases from the built modules (names and classes)."""
    import re

    import torch

    norms = sorted({type(m).__name__ for m in model.modules()
                    if "Norm" in type(m).__name__ or isinstance(m, (torch.nn.LayerNorm, torch.nn.RMSNorm))})
    first_layer = [n for n, _ in _decoder_layers(model)[0].named_parameters()]
    gated = any(re.search(r"gate_proj|gate_up_proj|experts\.\d+\.w3", n) for n in first_layer)
    config = model.config
    act = str(getattr(config, "hidden_activation", None) or getattr(config, "hidden_act", None)
              or getattr(config, "activation_function", "?"))
    ffn = ("SwiGLU" if "silu" in act else "GeGLU" if "gelu" in act else f"gated {act}") if gated else act
    embeddings = [m for m in model.modules() if isinstance(m, torch.nn.Embedding)]
    rotary = any("Rotary" in type(m).__name__ for m in model.modules())
    learned = len(embeddings) > 1  # beyond the token embedding: a position table (GPT-2's wpe)
    positions = "RoPE" if rotary and not learned else "learned"
    biases = sum(p.numel() for n, p in model.named_parameters() if n.endswith("bias"))
    return DesignChoices(tuple(norms), ffn, positions, biases)


def _decoder_layers(model: Any) -> Any:
    inner = getattr(model, "model", None) or getattr(model, "transformer", None)
    if inner is None:
        raise AttributeError(f"{type(model).__name__} has no .model or .transformer holding its decoder layers")
    layers = getattr(inner, "layers", None)
    return layers if layers is not None else inner.h

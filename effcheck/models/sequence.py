"""Sequence models through transformers: Mamba (no KV cache) and Transformers (a KV cache), random weights.

transformers' default configs are not the published models (MambaConfig() has 32 layers, not
Mamba-130m's 24), so every field that shapes the model or its cache is written here, with the source.
Full sizes are built on `meta` (shapes only); the tiny configs run on CPU for generation and sweeps.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from effcheck.models import require
from effcheck.models.build import building_on

if TYPE_CHECKING:
    from effcheck.meters.state import StateReading

_CLASSES = {"mamba": ("MambaConfig", "MambaForCausalLM"), "llama": ("LlamaConfig", "LlamaForCausalLM"),
            "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM")}


@dataclass(frozen=True)
class SequenceArch:
    name: str
    family: str  # a key of _CLASSES
    config: Mapping[str, Any] = field(hash=False)
    source: str = ""

    def __post_init__(self) -> None:
        if self.family not in _CLASSES:
            raise ValueError(f"{self.name}: family must be one of {sorted(_CLASSES)}, got {self.family!r}")
        object.__setattr__(self, "config", dict(self.config))

    def __hash__(self) -> int:  # configs are data; the name identifies the architecture in caches
        return hash((self.name, self.family))


MAMBA_130M = SequenceArch(
    "mamba-130m", "mamba",
    dict(vocab_size=50280, hidden_size=768, num_hidden_layers=24, state_size=16, expand=2, conv_kernel=4,
         time_step_rank=48, use_bias=False, use_conv_bias=True, hidden_act="silu", layer_norm_epsilon=1e-5,
         residual_in_fp32=True, tie_word_embeddings=True, bos_token_id=0, eos_token_id=0, pad_token_id=0),
    "state-spaces/mamba-130m-hf config.json (d_model 768, n_layer 24, vocab 50280, d_state 16, expand 2, "
    "d_conv 4); Gu & Dao 2023 (Mamba): the 130M model of its language-modelling evaluations",
)
PYTHIA_160M = SequenceArch(
    "pythia-160m", "gpt_neox",
    dict(vocab_size=50304, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
         intermediate_size=3072, hidden_act="gelu", max_position_embeddings=2048, rotary_pct=0.25,
         rotary_emb_base=10000, layer_norm_eps=1e-5, use_parallel_residual=True, tie_word_embeddings=False,
         attention_bias=True, bos_token_id=0, eos_token_id=0),
    "EleutherAI/pythia-160m config.json; Biderman et al. 2023 (Pythia) Table 1: 162,322,944 parameters, "
    "12 layers, d_model 768, 12 heads. The RWKV paper's own same-size baseline, trained on the same Pile",
)
TINY_MAMBA = SequenceArch(
    "tiny-mamba", "mamba",
    dict(vocab_size=50280, hidden_size=64, num_hidden_layers=2, state_size=16, expand=2, conv_kernel=4,
         time_step_rank=4, use_bias=False, use_conv_bias=True, hidden_act="silu", layer_norm_epsilon=1e-5,
         residual_in_fp32=True, tie_word_embeddings=True, bos_token_id=None, eos_token_id=None,
         pad_token_id=None),
    "tiny Mamba for CPU generation: Mamba-130m's d_state, expand, d_conv and vocabulary, 2 layers of "
    "width 64; no eos token so a sweep generates exactly the tokens asked for",
)
TINY_LLAMA = SequenceArch(
    "tiny-llama", "llama",
    dict(vocab_size=50280, hidden_size=64, intermediate_size=176, num_hidden_layers=2, num_attention_heads=4,
         num_key_value_heads=2, head_dim=16, hidden_act="silu", max_position_embeddings=8192,
         rms_norm_eps=1e-5, rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
         tie_word_embeddings=False, attention_bias=False, mlp_bias=False, bos_token_id=None,
         eos_token_id=None, pad_token_id=None),
    "tiny Llama-style Transformer control (Touvron et al. 2023: RMSNorm, SwiGLU, RoPE, no biases; "
    "grouped-query attention with 2 KV heads as in Llama-2); the tiny Mamba's vocabulary and depth; "
    "no eos token",
)


def hf_config(arch: SequenceArch, attn_implementation: str | None = None) -> Any:
    transformers = require("transformers", "llm")
    config_cls = getattr(transformers, _CLASSES[arch.family][0])
    config = config_cls(**arch.config)
    if attn_implementation is not None:
        config._attn_implementation = attn_implementation
    return config


@functools.lru_cache(maxsize=16)
def hf_model(arch: SequenceArch, device: str = "cpu", dtype: str = "float32", attn: str = "sdpa",
             seed: int = 0) -> Any:
    """The causal LM for `arch`, random weights, eval mode; device 'meta' builds shapes only.

    attn="eager" computes attention as explicit matmuls (QK^T, softmax, AV), so the FLOPs a decode step
    spends per cached token are the ones a reader derives by hand, whatever fused kernel SDPA would pick.
    """
    transformers = require("transformers", "llm")
    import torch

    model_cls = getattr(transformers, _CLASSES[arch.family][1])
    config = hf_config(arch, None if arch.family == "mamba" else attn)
    torch.manual_seed(seed)
    with building_on(device):
        model = model_cls(config)
    return model.to(getattr(torch, dtype)).eval()


def kv_cache_bytes(arch: SequenceArch, tokens: int, dtype_bytes: int) -> int:
    """A Transformer's KV cache: 2 (K and V) x layers x kv_heads x head_dim x tokens x bytes per element."""
    cfg = arch.config
    if arch.family == "mamba":
        raise ValueError(f"{arch.name} is a state-space model: it has no KV cache")
    heads: int = cfg["num_attention_heads"]
    kv_heads: int = cfg.get("num_key_value_heads") or heads
    head_dim: int = cfg.get("head_dim") or cfg["hidden_size"] // heads
    layers: int = cfg["num_hidden_layers"]
    return 2 * layers * kv_heads * head_dim * tokens * dtype_bytes


def mamba_state_bytes(arch: SequenceArch, conv_bytes: int, ssm_bytes: int) -> int:
    """Mamba's recurrent state per sequence: per layer a conv window (d_inner x d_conv) and the SSM state
    (d_inner x d_state), Gu & Dao 2023 §3.3 and Algorithm 2; independent of the tokens seen."""
    cfg = arch.config
    inner: int = cfg["expand"] * cfg["hidden_size"]
    per_channel: int = cfg["conv_kernel"] * conv_bytes + cfg["state_size"] * ssm_bytes
    layers: int = cfg["num_hidden_layers"]
    return layers * inner * per_channel


# The tensors a claim about the state reads, by attribute name in transformers' cache objects: Mamba's
# conv windows and SSM states (5.x LinearAttentionLayer: conv_states, recurrent_states; 4.x MambaCache:
# conv_states, ssm_states) and a KV cache's keys and values (5.x DynamicLayer). Anything else a cache holds
# is bookkeeping (5.25: an int64 token counter per linear-attention layer, cumulative_length_linear).
MAMBA_STATE_FIELDS = ("conv_states", "recurrent_states", "ssm_states")
KV_FIELDS = ("keys", "values")


def mamba_state(cache: Any) -> StateReading:
    """A transformers Mamba cache read as its state (conv windows, SSM states) and what it holds besides:
    a meters.state.StateReading."""
    from effcheck.meters.state import read_state

    return read_state(cache, MAMBA_STATE_FIELDS)


def kv_state(cache: Any) -> StateReading:
    """A transformers KV cache read as its keys and values and what it holds besides (StateReading)."""
    from effcheck.meters.state import read_state

    return read_state(cache, KV_FIELDS)


def attention_flops_per_context_token(arch: SequenceArch) -> int:
    """FLOPs one decode step spends per cached token: QK^T and AV, each 2 x heads x head_dim, per layer."""
    cfg = arch.config
    heads: int = cfg["num_attention_heads"]
    head_dim: int = cfg.get("head_dim") or cfg["hidden_size"] // heads
    layers: int = cfg["num_hidden_layers"]
    return 2 * 2 * layers * heads * head_dim


def token_ids(n: int, device: str = "cpu", seed: int = 0, vocab: int = 50000) -> Any:
    """A deterministic (1, n) batch of token ids below `vocab`."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, vocab, (1, n), generator=gen).to(device)


def prefill(model: Any, n: int, device: str = "cpu") -> tuple[Any, Any]:
    """Run n prompt tokens with a cache: (the real cache object, the next greedy token as a (1, 1) batch).
    Only the last position's logits are computed (logits_to_keep=1), as generate does: the LM head over
    every prompt position would be most of a tiny model's prefill and changes nothing in the cache."""
    import torch

    with torch.no_grad():
        out = model(input_ids=token_ids(n, device), use_cache=True, logits_to_keep=1)
    return out.cache, out.logits[:, -1:].argmax(-1)


def decode_step(model: Any, cache: Any, token: Any) -> Any:
    """One generated token fed back with the cache; returns the next greedy token."""
    import torch

    with torch.no_grad():
        out = model(input_ids=token, cache=cache, use_cache=True)
    return out.logits[:, -1:].argmax(-1)


class TokenTicker:
    """A transformers streamer that calls on_token(cache) and tick() once per generated token (its first put
    is the prompt). The cache is the one generate passed to the model's last forward: at the k-th tick it
    holds the prompt and the first k-1 generated tokens (the k-th is fed next)."""

    def __init__(self, tick: Any, on_token: Any = None) -> None:
        self._tick = tick or (lambda: None)
        self._on_token = on_token
        self._prompt_seen = False
        self.cache: Any = None

    def watch(self, _module: Any, _args: Any, kwargs: dict[str, Any]) -> None:
        """A forward pre-hook (with_kwargs=True): remember the cache generate hands the model."""
        self.cache = kwargs.get("cache", self.cache)

    def put(self, value: Any) -> None:
        if self._prompt_seen:
            if self._on_token is not None:
                self._on_token(self.cache)
            self._tick()
        self._prompt_seen = True

    def end(self) -> None:
        pass


def generate_greedy(model: Any, prompt: Any, new_tokens: int, tick: Any = None, on_token: Any = None) -> Any:
    """model.generate for exactly `new_tokens` greedy tokens (the tiny configs have no eos token); tick()
    and on_token(cache) once per generated token (see TokenTicker)."""
    import torch

    streamer = TokenTicker(tick, on_token) if (tick is not None or on_token is not None) else None
    hook = None
    if streamer is not None and on_token is not None:  # a streamer exists whenever on_token is given
        hook = model.register_forward_pre_hook(streamer.watch, with_kwargs=True)
    try:
        with torch.no_grad():
            return model.generate(prompt, max_new_tokens=new_tokens, do_sample=False, streamer=streamer,
                                  return_dict_in_generate=True)
    finally:
        if hook is not None:
            hook.remove()


def mamba_transitions(model: Any, ids: Any) -> list[Any]:
    """The discretised state transitions A_bar = exp(Delta * A) a transformers Mamba forward computes, one
    per layer (batch x d_inner x length x d_state), caught as the library's own aten.exp outputs of that
    shape: the selective scan's first step (Gu & Dao 2023, Algorithm 2)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    cfg = model.config
    inner = cfg.intermediate_size
    found: list[Any] = []

    class Transitions(TorchDispatchMode):
        def __torch_dispatch__(
            self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
        ) -> Any:
            out = func(*args, **(kwargs or {}))
            if func.overloadpacket is torch.ops.aten.exp and out.dim() == 4 \
                    and out.shape[1] == inner and out.shape[3] == cfg.state_size:
                found.append(out.detach().clone())
            return out

    with torch.no_grad(), Transitions():
        model(input_ids=ids, use_cache=False)
    if len(found) != cfg.num_hidden_layers:
        raise RuntimeError(f"caught {len(found)} transitions exp(Delta*A) for {cfg.num_hidden_layers} layers: "
                           "transformers' Mamba no longer computes A_bar as one exp (see mamba_selective_scan)")
    return found

"""RWKV-4 through the `rwkv` package (the article's engine): random-weight checkpoints with the real key
layout, validated before rwkv sees them, loaded with `rwkv.model.RWKV`; the same architecture through
transformers' RwkvForCausalLM where a claim needs training or the meta device. The §6 lab's calls
(PIPELINE, generation) live in `effcheck.models.rwkv_lab`.

No hub is reachable, so a checkpoint is written here from a config: the same keys and shapes as the
published RWKV-4 files (BlinkDL/RWKV-LM, RWKV-v4/src/model.py), random values. rwkv reads the version
from key names (ln_x -> v5, gate -> v5.1, time_maa -> v6) and fails deep inside its loader on a bad
file, so `validate_rwkv4` checks every key and shape first and names the one that is wrong.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.errors import CheckpointLayoutError, EffcheckError
from effcheck.meters.heap import frozen_heap
from effcheck.models import require
from effcheck.models.build import building_on

# The tokenizer the package ships (rwkv/rwkv_vocab_v20230424.txt): the World vocabulary. Its ids run to
# 65529, so a model driven by it needs the World models' 65536-row embedding.
WORLD_TOKENIZER = "rwkv_vocab_v20230424"
WORLD_VOCAB = 65536

# Keys a later RWKV generation adds; rwkv.model.RWKV switches version when it sees them.
_LATER_VERSION_MARKERS = {
    "ln_x": "5", "gate.": "5.1", "time_maa": "6", "time_faaaa": "6", "time_state": "5/6",
}


@dataclass(frozen=True)
class Rwkv4Config:
    n_layer: int
    n_embd: int
    vocab_size: int
    source: str
    n_att: int = 0  # 0: n_embd, as in every published RWKV-4
    n_ffn: int = 0  # 0: 4 * n_embd

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_embd", "vocab_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"Rwkv4Config.{name} must be >= 1, got {getattr(self, name)}")
        object.__setattr__(self, "n_att", self.n_att or self.n_embd)
        object.__setattr__(self, "n_ffn", self.n_ffn or 4 * self.n_embd)


RWKV4_PILE_169M = Rwkv4Config(
    n_layer=12, n_embd=768, vocab_size=50277,
    source="BlinkDL/rwkv-4-pile-169m, RWKV-4-Pile-169M-20220807-8023.pth (the article's lab model); "
           "Peng et al. 2023 (RWKV) Table 1: 169M, 12 layers, d_model 768",
)
RWKV4_WORLD_0B1 = Rwkv4Config(
    n_layer=12, n_embd=768, vocab_size=WORLD_VOCAB,
    source="BlinkDL/rwkv-4-world, RWKV-4-World-0.1B: the 169M shape with the World vocabulary that the "
           "package's shipped tokenizer encodes to",
)
RWKV4_TINY_PILE = Rwkv4Config(
    n_layer=2, n_embd=64, vocab_size=50277,
    source="tiny RWKV-4 with the lab model's Pile vocabulary, to replay the lab's calls quickly",
)
# The published RWKV-4 Pile series (BlinkDL/rwkv-4-pile-<size> model cards; Peng et al. 2023 Table 1):
# (n_layer, n_embd), vocabulary 50277 (GPT-NeoX's 20B tokenizer), untied head.
RWKV4_PILE = {
    size: Rwkv4Config(n_layer=layers, n_embd=width, vocab_size=50277,
                      source=f"BlinkDL/rwkv-4-pile-{size.lower()}: {layers} layers, d_model {width}")
    for size, (layers, width) in {"169M": (12, 768), "430M": (24, 1024), "1.5B": (24, 2048), "3B": (32, 2560),
                                  "7B": (32, 4096), "14B": (40, 5120)}.items()
}
RWKV4_TINY_WORLD = Rwkv4Config(
    n_layer=2, n_embd=64, vocab_size=WORLD_VOCAB,
    source="tiny RWKV-4 for CPU generation; World vocabulary so the shipped tokenizer can drive it",
)


def rwkv4_layout(config: Rwkv4Config) -> dict[str, tuple[int, ...]]:
    """Every key of an RWKV-4 checkpoint and its shape, in the order the trainer saves them."""
    c, a, f = config.n_embd, config.n_att, config.n_ffn
    layout: dict[str, tuple[int, ...]] = {"emb.weight": (config.vocab_size, c)}
    for i in range(config.n_layer):
        b = f"blocks.{i}."
        if i == 0:
            layout[b + "ln0.weight"], layout[b + "ln0.bias"] = (c,), (c,)
        for ln in ("ln1", "ln2"):
            layout[f"{b}{ln}.weight"], layout[f"{b}{ln}.bias"] = (c,), (c,)
        layout[b + "att.time_decay"], layout[b + "att.time_first"] = (a,), (a,)
        for mix in ("k", "v", "r"):
            layout[f"{b}att.time_mix_{mix}"] = (1, 1, c)
        for name in ("key", "value", "receptance"):
            layout[f"{b}att.{name}.weight"] = (a, c)
        layout[b + "att.output.weight"] = (c, a)
        for mix in ("k", "r"):
            layout[f"{b}ffn.time_mix_{mix}"] = (1, 1, c)
        layout[b + "ffn.key.weight"] = (f, c)
        layout[b + "ffn.receptance.weight"] = (c, c)
        layout[b + "ffn.value.weight"] = (c, f)
    layout["ln_out.weight"], layout["ln_out.bias"] = (c,), (c,)
    layout["head.weight"] = (config.vocab_size, c)
    return layout


def rwkv4_param_count(config: Rwkv4Config) -> int:
    return sum(math.prod(shape) for shape in rwkv4_layout(config).values())


def infer_rwkv4_config(state: Mapping[str, Any]) -> Rwkv4Config:
    """Read n_layer, n_embd, n_att, n_ffn and vocab from a checkpoint's own tensors, as rwkv does."""
    for key in ("emb.weight", "blocks.0.att.key.weight", "blocks.0.ffn.key.weight"):
        if key not in state:
            raise CheckpointLayoutError(f"checkpoint has no {key!r}: not an RWKV-4 checkpoint")
        if len(tuple(state[key].shape)) != 2:
            raise CheckpointLayoutError(f"{key} has shape {tuple(state[key].shape)}, RWKV-4 stores a matrix")
    vocab, n_embd = tuple(state["emb.weight"].shape)
    layers = {int(k.split(".")[1]) for k in state if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    return Rwkv4Config(
        n_layer=max(layers) + 1, n_embd=n_embd, vocab_size=vocab, source="inferred from the checkpoint",
        n_att=int(state["blocks.0.att.key.weight"].shape[0]),
        n_ffn=int(state["blocks.0.ffn.key.weight"].shape[0]),
    )


def validate_rwkv4(state: Mapping[str, Any], config: Rwkv4Config | None = None) -> Rwkv4Config:
    """Check keys and shapes against RWKV-4's layout; raise CheckpointLayoutError naming the first bad key."""
    config = config or infer_rwkv4_config(state)
    layout = rwkv4_layout(config)
    for key in state:
        marker = next((m for m in _LATER_VERSION_MARKERS if m in key), None)
        if marker is not None:
            raise CheckpointLayoutError(
                f"{key} is an RWKV-{_LATER_VERSION_MARKERS[marker]} key: rwkv would load this file as a "
                "later version, not RWKV-4")
    missing = [k for k in layout if k not in state]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise CheckpointLayoutError(f"RWKV-4 checkpoint is missing {missing[0]}{more}")
    extra = [k for k in state if k not in layout]
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise CheckpointLayoutError(f"{extra[0]} is not an RWKV-4 key for {config.n_layer} layers{more}")
    for key, shape in layout.items():
        value = state[key]
        found = tuple(getattr(value, "shape", ()))
        if not hasattr(value, "shape"):
            raise CheckpointLayoutError(f"{key} is a {type(value).__name__}, not a tensor")
        if found != shape:
            raise CheckpointLayoutError(
                f"{key} has shape {found}, RWKV-4 with n_embd {config.n_embd} needs {shape}")
    return config


def rwkv4_state_dict(config: Rwkv4Config, *, seed: int = 0, values: str = "random",
                     dtype: Any = None) -> dict[str, Any]:
    """Tensors for every RWKV-4 key.

    values="random": seeded values in the ranges RWKV-4's trainer initialises to (decays spread over
      channels, mixes in [0, 1], weights ~ N(0, 1/fan_in)), so generation runs like an untrained model.
    values="constant": each tensor is a broadcast view of one number, so the file stores one element per
      key: for shape-only uses (the full-size recurrent state), where values do not matter.
    """
    import torch

    if values not in ("random", "constant"):
        raise ValueError(f"values must be 'random' or 'constant', got {values!r}")
    dtype = dtype or torch.float32
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, Any] = {}
    for key, shape in rwkv4_layout(config).items():
        if values == "constant":
            fill = 1.0 if key.endswith("weight") or "time_mix" in key else 0.0
            state[key] = torch.full((), fill, dtype=dtype).expand(shape)
        elif key.endswith(("ln0.weight", "ln1.weight", "ln2.weight", "ln_out.weight")):
            state[key] = torch.ones(shape, dtype=dtype)
        elif key.endswith(".bias"):
            state[key] = torch.zeros(shape, dtype=dtype)
        elif key.endswith("time_decay"):
            state[key] = torch.linspace(-5.0, 3.0, shape[0]).to(dtype)  # per-channel decay speeds
        elif key.endswith("time_first"):
            state[key] = torch.full(shape, math.log(0.3), dtype=dtype)  # the trainer's current-token bonus
        elif "time_mix" in key:
            state[key] = torch.rand(shape, generator=gen).to(dtype)
        else:
            state[key] = (torch.randn(shape, generator=gen) / math.sqrt(shape[-1])).to(dtype)
    return state


def write_rwkv4_checkpoint(path: str | Path, config: Rwkv4Config, *, seed: int = 0, values: str = "random",
                           dtype: Any = None) -> Path:
    """Write a .pth RWKV-4 checkpoint for `config`; returns the path (with the .pth rwkv expects)."""
    import torch

    path = Path(path)
    if path.suffix != ".pth":
        path = path.with_name(path.name + ".pth")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(rwkv4_state_dict(config, seed=seed, values=values, dtype=dtype), path)
    return path


def import_rwkv() -> tuple[Any, Any]:
    """(rwkv.model, rwkv.utils), imported with the switches it reads once, at import time.

    RWKV_JIT_ON=1: the package default and what the article's lab ran (it set nothing); TorchScript ops
      still go through the dispatcher, so the live-tensor tracker and FlopCounterMode see them.
    RWKV_CUDA_ON=0: the lab's default too; '1' compiles a CUDA extension with nvcc at import (minutes,
      needs the toolkit) and moves the WKV loop into a custom kernel the FLOP counter cannot see.
    """
    wanted = {"RWKV_JIT_ON": "1", "RWKV_CUDA_ON": "0"}
    if "rwkv.model" not in sys.modules:
        os.environ.update(wanted)
    import warnings

    import torch

    require("rwkv", "llm")
    with warnings.catch_warnings():  # torch deprecates the TorchScript decorators rwkv applies on import
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated", category=FutureWarning)
        model_mod = require("rwkv.model", "llm")
    utils_mod = require("rwkv.utils", "llm")

    jit_on = model_mod.MyModule is torch.jit.ScriptModule
    if not jit_on or os.environ.get("RWKV_CUDA_ON") != "0":
        raise EffcheckError(
            "rwkv.model was imported before effcheck with other switches "
            f"(RWKV_JIT_ON={'1' if jit_on else '0'}, RWKV_CUDA_ON={os.environ.get('RWKV_CUDA_ON')}); "
            "effcheck measures with RWKV_JIT_ON=1 RWKV_CUDA_ON=0: unset them or import rwkv after effcheck")
    return model_mod, utils_mod


def load_rwkv4(path: str | Path, strategy: str) -> Any:
    """Validate an RWKV-4 checkpoint, then load it with rwkv.model.RWKV on `strategy` ('cpu fp32',
    'cuda fp16')."""
    import warnings

    import torch

    model_mod, _ = import_rwkv()
    path = Path(path)
    if not path.is_file():
        raise CheckpointLayoutError(f"no RWKV checkpoint at {path}")
    validate_rwkv4(torch.load(path, map_location="cpu", mmap=True, weights_only=True))
    # rwkv runs gc.collect() once per layer while loading; with transformers imported each full collection
    # walks a large heap (~0.2 s). Freezing what is already alive makes them scan only the loader's objects.
    with frozen_heap(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.*deprecated", category=FutureWarning)
        return model_mod.RWKV(model=str(path), strategy=strategy, verbose=False)


def hf_rwkv_config(config: Rwkv4Config) -> Any:
    """transformers' RwkvConfig for an RWKV-4 shape (its RwkvForCausalLM has the same weights as rwkv's
    checkpoint layout: tests check the counts agree)."""
    transformers = require("transformers", "llm")
    return transformers.RwkvConfig(
        vocab_size=config.vocab_size, hidden_size=config.n_embd, num_hidden_layers=config.n_layer,
        attention_hidden_size=config.n_att, intermediate_size=config.n_ffn, context_length=1024,
        tie_word_embeddings=False, bos_token_id=None, eos_token_id=None)


@functools.lru_cache(maxsize=8)
def hf_rwkv(config: Rwkv4Config, device: str = "cpu", seed: int = 0) -> Any:
    """transformers' RwkvForCausalLM for `config`, random weights (seeded), eval mode; 'meta' for shapes."""
    transformers = require("transformers", "llm")
    import torch

    torch.manual_seed(seed)
    with building_on(device):
        model = transformers.RwkvForCausalLM(hf_rwkv_config(config))
    return model.eval()


def forward_tokens(model: Any, tokens: list[int], state: Any = None, chunk_len: int = 256) -> tuple[Any, Any]:
    """Feed tokens through model.forward in chunks (as PIPELINE does); returns (logits, state)."""
    out = None
    for start in range(0, len(tokens), chunk_len):
        out, state = model.forward(tokens[start:start + chunk_len], state)
    if out is None:
        raise ValueError("no tokens to feed")
    return out, state

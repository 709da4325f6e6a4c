"""Published LLM architectures as data: each spec holds the fields of the model's published config
(transformers names) and where they come from. No torch, no transformers: builders live in
effcheck.models.language.

Values are copied from the models' config.json files on the Hugging Face hub and their papers; each
spec names its source, and tests check the built models' parameter counts against the totals the
model cards print.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

# transformers (config class, causal-LM class) per architecture family
CLASSES = {
    "llama": ("LlamaConfig", "LlamaForCausalLM"),
    "mistral": ("MistralConfig", "MistralForCausalLM"),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM"),
    "phi3": ("Phi3Config", "Phi3ForCausalLM"),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel"),
    "gemma": ("GemmaConfig", "GemmaForCausalLM"),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM"),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM"),
}


@dataclass(frozen=True)
class LanguageModelSpec:
    """One published architecture: transformers config fields exactly as its source gives them."""

    name: str
    family: str
    config: Mapping[str, Any]  # transformers config fields (stored read-only, as a MappingProxyType)
    source: str

    def __post_init__(self) -> None:
        if self.family not in CLASSES:
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

def _llama2(size: str, dim: int, ffn: int, heads: int, kv_heads: int, layers: int) -> LanguageModelSpec:
    return LanguageModelSpec(
        name=f"llama-2-{size}",
        family="llama",
        config={"hidden_size": dim, "intermediate_size": ffn, "num_attention_heads": heads,
                "num_key_value_heads": kv_heads, "num_hidden_layers": layers, "vocab_size": 32000,
                "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "tie_word_embeddings": False},
        source=f"meta-llama/Llama-2-{size}-hf config.json; Llama 2 (Touvron et al. 2023) §2.2 and Table 1 "
               "(GQA for 34B and 70B only; 34B was never released)",
    )


LLAMA2_7B = _llama2("7b", 4096, 11008, 32, 32, 32)
LLAMA2_13B = _llama2("13b", 5120, 13824, 40, 40, 40)
LLAMA2_70B = _llama2("70b", 8192, 28672, 64, 8, 80)


def _gemma(name: str, family: str, source: str, **config: object) -> LanguageModelSpec:
    shared = {"vocab_size": 256000, "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
              "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": True}
    return LanguageModelSpec(name=name, family=family, config={**shared, **config}, source=source)


_GEMMA1 = "Gemma (Gemma Team 2024) Table 1 and §2 (2B: multi-query, 7B: multi-head attention)"
_GEMMA2 = "Gemma 2 (Gemma Team 2024) Table 1 (GQA, num_groups = 2, all sizes)"
GEMMA_2B = _gemma("gemma-2b", "gemma", f"google/gemma-2b config.json; {_GEMMA1}", hidden_size=2048,
                  intermediate_size=16384, num_attention_heads=8, num_key_value_heads=1, head_dim=256,
                  num_hidden_layers=18)
GEMMA_7B = _gemma("gemma-7b", "gemma", f"google/gemma-7b config.json; {_GEMMA1}", hidden_size=3072,
                  intermediate_size=24576, num_attention_heads=16, num_key_value_heads=16, head_dim=256,
                  num_hidden_layers=28)
GEMMA2_2B = _gemma("gemma-2-2b", "gemma2", f"google/gemma-2-2b config.json; {_GEMMA2}", hidden_size=2304,
                   intermediate_size=9216, num_attention_heads=8, num_key_value_heads=4, head_dim=256,
                   num_hidden_layers=26, query_pre_attn_scalar=256, sliding_window=4096)
GEMMA2_9B = _gemma("gemma-2-9b", "gemma2", f"google/gemma-2-9b config.json; {_GEMMA2}", hidden_size=3584,
                   intermediate_size=14336, num_attention_heads=16, num_key_value_heads=8, head_dim=256,
                   num_hidden_layers=42, query_pre_attn_scalar=256, sliding_window=4096)
GEMMA2_27B = _gemma("gemma-2-27b", "gemma2", f"google/gemma-2-27b config.json; {_GEMMA2}", hidden_size=4608,
                    intermediate_size=36864, num_attention_heads=32, num_key_value_heads=16, head_dim=128,
                    num_hidden_layers=46, query_pre_attn_scalar=144, sliding_window=4096)

QWEN2_7B = LanguageModelSpec(
    name="qwen2-7b",
    family="qwen2",
    config={"hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
            "num_key_value_heads": 4, "num_hidden_layers": 28, "vocab_size": 152064,
            "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "rope_theta": 1e6,
            "tie_word_embeddings": False},
    source="Qwen/Qwen2-7B config.json; Qwen2 Technical Report (Yang et al. 2024) Table 1 (QKV bias, GQA)",
)

# Qwen2.5-7B's architecture with a 1M-token context (1,010,000 positions): the open model the 1M-token
# question is about; its sparse attention is an inference-framework option, the weights are Qwen2's.
QWEN25_7B_1M = LanguageModelSpec(
    name="qwen2.5-7b-1m",
    family="qwen2",
    config={"hidden_size": 3584, "intermediate_size": 18944, "num_attention_heads": 28,
            "num_key_value_heads": 4, "num_hidden_layers": 28, "vocab_size": 152064,
            "max_position_embeddings": 1010000, "rms_norm_eps": 1e-5, "rope_theta": 1e7,
            "tie_word_embeddings": False},
    source="Qwen/Qwen2.5-7B-Instruct-1M config.json (max_position_embeddings 1010000); Qwen2.5-1M "
           "Technical Report (Yang et al. 2025)",
)

SPECS: MappingProxyType[str, LanguageModelSpec] = MappingProxyType({s.name: s for s in (
    LLAMA_7B, LLAMA_13B, LLAMA_33B, LLAMA_65B, LLAMA2_7B, LLAMA2_13B, LLAMA2_70B, MISTRAL_7B, MIXTRAL_8X7B,
    PHI3_MINI, GPT3_175B, GEMMA_2B, GEMMA_7B, GEMMA2_2B, GEMMA2_9B, GEMMA2_27B, QWEN2_7B, QWEN25_7B_1M)})

"""Sequence-model claims: RWKV and Mamba keep a constant inference state, a Transformer's KV cache grows
(article §1 summary, §2.6 and its table, §3 scenario 2, §6 hands-on lab).

Exact expectations are closed forms of the architectures' state and cache layouts, computed here from
the configs the benchmarks build, so a claim and its benchmark cannot drift apart.
"""

from effcheck.models.rwkv import RWKV4_TINY_WORLD
from effcheck.models.sequence import TINY_LLAMA, TINY_MAMBA, attention_flops_per_context_token, kv_cache_bytes
from effcheck.models.sequence import mamba_state_bytes as _mamba_state_bytes
from effcheck.records import Claim

LAB_SWEEP = (50, 100, 200, 400)  # §6.2: `for n_tokens in [50, 100, 200, 400]`
DECODE_CONTEXTS = (128, 1024, 4096)
_FLAT_MARGIN = ("the lab reads the sweep as 'memory usage barely increases with generation length'; we "
                "allow 1% from 50 to 400 tokens, and the same sweep on the Transformer control must grow by "
                "at least its KV cache (sequence/transformer/memory_grows), so the meter is shown to see "
                "growth")


def rwkv4_state_bytes(n_layer: int, n_embd: int, act_bytes: int) -> int:
    """rwkv's RWKV-4 state per layer: token-shift vectors for attention and FFN (activation dtype) and the
    WKV numerator, denominator and running max (fp32): Peng et al. 2023 (RWKV), the recurrent form of WKV;
    rwkv.model's state layout."""
    return n_layer * n_embd * (2 * act_bytes + 3 * 4)


LAB_API_CURRENT = Claim(
    id="sequence/rwkv/lab_api_current",
    statement="the §6 lab's RWKV calls run on the current rwkv package: RWKV(model=..., strategy=...), "
              "PIPELINE(model, '20B_tokenizer.json'), PIPELINE_ARGS(..., token_count=0), "
              "pipeline.generate(prompt, token_count=n, args=args)",
    source="article §6.1 and §6.2 (lab code); rwkv package (PyPI) rwkv/utils.py as installed",
    metric="lab calls that run unchanged (of 4)",
    unit="calls",
    comparison="==",
    expected=4,
    better="higher",
    refuted="PIPELINE_ARGS has no token_count argument (the count is an argument of generate); the lab "
            "loads 20B_tokenizer.json, which it never downloads and the package does not ship; the only "
            "tokenizer the package ships is the World vocabulary, which encodes the lab's prompt to ids "
            "beyond the Pile model's embedding, so the lab's model cannot be driven by it either",
)

RWKV_MEMORY_FLAT = Claim(
    id="sequence/rwkv/memory_flat",
    statement="RWKV's inference memory does not grow with generated length: peak memory generating 50, "
              f"100, 200 and 400 tokens with rwkv's PIPELINE stays flat. {_FLAT_MARGIN}",
    source="article §2.6 ('inference memory does not grow with sequence length') and §6.2 (the sweep)",
    metric="peak memory, highest over the sweep / at 50 tokens",
    unit="x",
    comparison="<=",
    expected=1.0,
    margin=0.01,
    better="lower",
)

RWKV_MEMORY_FLAT_CUDA = Claim(
    id="sequence/rwkv/memory_flat_cuda_fp16",
    statement="the §6.2 lab on a GPU: an RWKV-4 0.1B-shaped model on 'cuda fp16', one generation per length "
              f"(50/100/200/400 tokens), torch.cuda.max_memory_allocated stays flat. {_FLAT_MARGIN}",
    source="article §6.1-6.2 (strategy 'cuda fp16', max_memory_allocated after reset_peak_memory_stats)",
    metric="peak CUDA memory above the loaded model, highest over the sweep / at 50 tokens",
    unit="x",
    comparison="<=",
    expected=1.0,
    margin=0.01,
    better="lower",
    tolerance=0.01,
)

MAMBA_MEMORY_FLAT = Claim(
    id="sequence/mamba/memory_flat",
    statement="Mamba's inference memory is constant: peak memory generating 50, 100, 200 and 400 tokens "
              f"with transformers' MambaForCausalLM.generate stays flat. {_FLAT_MARGIN}",
    source="article §2.6 ('because there is no KV cache, inference memory is constant') and its table",
    metric="peak memory, highest over the sweep / at 50 tokens",
    unit="x",
    comparison="<=",
    expected=1.0,
    margin=0.01,
    better="lower",
)

TRANSFORMER_MEMORY_GROWS = Claim(
    id="sequence/transformer/memory_grows",
    statement="a Transformer's inference memory grows with the sequence: peak memory generating 400 tokens "
              "exceeds the peak at 50 by at least the KV cache of the 350 tokens in between",
    source="article §2.6 table ('Transformer: memory grows with sequence, limited by KV cache') and §6.2",
    metric="peak growth 50->400 tokens / KV cache bytes of 350 tokens",
    unit="x",
    comparison=">=",
    expected=1.0,
    better="none",
)

RWKV_STATE_CONSTANT = Claim(
    id="sequence/rwkv/state_bytes_constant",
    statement="RWKV's recurrent state has the same bytes after 50, 100, 200 and 400 tokens: 5 vectors of "
              "n_embd per layer (tiny RWKV-4, rwkv package, fp32)",
    source="article §2.6 ('RNN's O(1) inference memory'); Peng et al. 2023 (RWKV), recurrent form of WKV; "
           "rwkv.model state layout",
    metric="state bytes at the length farthest from the closed form",
    unit="bytes",
    comparison="==",
    expected=rwkv4_state_bytes(RWKV4_TINY_WORLD.n_layer, RWKV4_TINY_WORLD.n_embd, 4),
    better="lower",
)

MAMBA_STATE_CONSTANT = Claim(
    id="sequence/mamba/state_bytes_constant",
    statement="Mamba's cache (conv window and SSM state per layer) has the same bytes after 50, 100, 200 "
              "and 400 tokens (tiny Mamba, transformers, fp32)",
    source="article §2.6 ('no KV cache, inference memory is constant'); Gu & Dao 2023 (Mamba): the "
           "selective SSM's state (d_inner x d_state) and the short convolution's window (d_conv) per layer",
    metric="cache bytes at the length farthest from the closed form",
    unit="bytes",
    comparison="==",
    expected=_mamba_state_bytes(TINY_MAMBA, 4, 4),
    better="lower",
)

KV_CACHE_LINEAR = Claim(
    id="sequence/transformer/kv_cache_linear",
    statement="a Transformer's KV cache grows linearly: the cache object holds 2 x layers x kv_heads x "
              "head_dim x tokens x dtype bytes at 50, 100, 200 and 400 tokens (tiny Llama-style, GQA, fp32)",
    source="article §2.4 and §2.6 table ('limited by KV cache'); Ainslie et al. 2023 (GQA) §2",
    metric="cache bytes per token at the length farthest from the closed form",
    unit="bytes/token",
    comparison="==",
    expected=kv_cache_bytes(TINY_LLAMA, 1, 4),
    better="lower",
)

STATE_VS_KV_AT_100K = Claim(
    id="sequence/state_vs_kv_at_100k",
    statement="at full published sizes, processing 1K and 100K tokens uses the same state memory for "
              "RWKV-4 169M and Mamba-130m, while a Transformer of similar size (Pythia-160m) holds a KV "
              "cache 100x larger",
    source="article §2.6 ('processing 1K tokens and 100K tokens uses the same amount of memory') and §3 "
           "scenario 2; configs: BlinkDL/rwkv-4-pile-169m, state-spaces/mamba-130m-hf, "
           "EleutherAI/pythia-160m",
    metric="recurrent state bytes at 100K / at 1K tokens (the larger of RWKV-4 169M and Mamba-130m, fp16)",
    unit="x",
    comparison="==",
    expected=1.0,
    better="lower",
)

DECODE_COST_RWKV = Claim(
    id="sequence/decode_cost_vs_context/rwkv",
    statement="RWKV's work per generated token does not depend on the context: decode FLOPs after 128, 1K "
              "and 4K tokens are equal (tiny RWKV-4, rwkv package)",
    source="article §2.6 table (RWKV inference O(n) in total, so constant per token); Peng et al. 2023",
    metric="decode FLOPs per token, largest / smallest over the contexts",
    unit="x",
    comparison="==",
    expected=1.0,
    better="lower",
)

DECODE_COST_MAMBA = Claim(
    id="sequence/decode_cost_vs_context/mamba",
    statement="Mamba's work per generated token does not depend on the context: decode FLOPs after 128, 1K "
              "and 4K tokens are equal (tiny Mamba, transformers)",
    source="article §2.6 and table (Mamba inference O(n) in total, so constant per token); Gu & Dao 2023",
    metric="decode FLOPs per token, largest / smallest over the contexts",
    unit="x",
    comparison="==",
    expected=1.0,
    better="lower",
)

DECODE_COST_TRANSFORMER = Claim(
    id="sequence/decode_cost_vs_context/transformer",
    statement="a Transformer's work per generated token grows linearly with the context: each cached "
              "token adds QK^T and AV work, 4 x layers x heads x head_dim FLOPs (tiny Llama-style, eager "
              "attention)",
    source="article §2.4 ('computation O(n^2)') and §2.6 table (Transformer inference O(n^2) in total)",
    metric="decode FLOPs per added context token, on the segment (128-1K, 1K-4K) farthest from the "
           "closed form",
    unit="FLOPs/token",
    comparison="==",
    expected=attention_flops_per_context_token(TINY_LLAMA),
    better="lower",
)

"""Sequence-model claims, work and structure: how the work of decoding and training grows with the
sequence (article §2.6 table), RWKV's parallel training mode and its softmax-free mixing, Mamba's
selectivity, and the published RWKV sizes (§6.1, §8).

Work is counted by `effcheck.meters.arithmetic.count_work`: matmul FLOPs by FlopCounterMode's formulas
plus every elementwise and reduction op by rule, so a recurrence FlopCounterMode cannot see (RWKV's WKV,
Mamba's selective scan, norms, softmax) counts, and an op without a rule is an error, never free.
"""

from effcheck.claims.sequence import Q_TABLE_MAMBA, Q_TABLE_RWKV, Q_TABLE_TRANSFORMER
from effcheck.models.sequence import TINY_LLAMA, attention_flops_per_context_token
from effcheck.records import Claim

DECODE_CONTEXTS = (128, 1024, 4096)
# Training lengths n, 2n, 4n: the Transformer where its n^2 term shows (n >> d_model = 64, the article's
# 128K at 4n), the recurrent models where their CPU reference loops are cheap (their work is exactly
# affine in n: the benchmark checks the quadratic term is 0, so the length cannot change the verdict).
TRAINING_LENGTHS = {"transformer": (32_768, 65_536, 131_072), "mamba": (16, 32, 64), "rwkv": (16, 32, 64)}
PARALLEL_TOKENS = 16

Q_RWKV_PARALLEL = ("reinventing RNNs to enable both Transformer-like parallel training and RNN's O(1) "
                   "inference memory")
Q_RWKV_SOFTMAX = "using a WKV (Weighted Key-Value) mechanism to capture inter-token dependencies without softmax"
Q_MAMBA_SELECTIVE = "making the model's state transition matrix dynamically vary with input (rather than being fixed)"
Q_RWKV_SCALES = "Linear attention RNN, available on HuggingFace from 0.1B to 14B scales"
Q_RWKV_169M = "# Download RWKV-4 169M model (small, suitable for free Colab)"
Q_MAMBA_QUALITY = ("In language modeling, DNA sequence analysis, and audio processing, Mamba matches or "
                   "surpasses same-scale Transformers.")
Q_RWKV_14B_QUALITY = "14B-scale RWKV matches same-scale Transformers in quality"
Q_RWKV_56_QUALITY = "RWKV-5/6 (Eagle/Finch) further improves quality"

_WORK = "matmul FLOPs plus elementwise operations (count_work)"

DECODE_COST_RWKV = Claim(
    id="sequence/decode_cost_vs_context/rwkv",
    statement="RWKV's work per generated token does not depend on the context: the work of one decode step "
              f"after 128, 1K and 4K tokens is equal, {_WORK}, so the WKV recurrence counts (tiny RWKV-4, "
              "rwkv package)",
    source="article §2.6 table, RWKV row, 'Inference Complexity' column (O(n) in total: constant per token)",
    metric="decode work per token, largest / smallest over the contexts",
    unit="x",
    comparison="==",
    expected=1.0,
    better="lower",
    source_kind="article",
    quote=Q_TABLE_RWKV,
)

DECODE_COST_MAMBA = Claim(
    id="sequence/decode_cost_vs_context/mamba",
    statement="Mamba's work per generated token does not depend on the context: the work of one decode step "
              f"after 128, 1K and 4K tokens is equal, {_WORK}, so the selective state update counts (tiny "
              "Mamba, transformers)",
    source="article §2.6 table, Mamba row, 'Inference Complexity' column (O(n) in total: constant per token)",
    metric="decode work per token, largest / smallest over the contexts",
    unit="x",
    comparison="==",
    expected=1.0,
    better="lower",
    source_kind="article",
    quote=Q_TABLE_MAMBA,
)

DECODE_COST_TRANSFORMER = Claim(
    id="sequence/decode_cost_vs_context/transformer",
    statement="a Transformer's work per generated token grows linearly with the context: each cached "
              "token adds QK^T and AV work, 4 x layers x heads x head_dim FLOPs (tiny Llama-style, eager "
              "attention; the elementwise work per cached token is reported beside it)",
    source="article §2.6 table, Transformer row, 'Inference Complexity' column (O(n^2) in total)",
    metric="decode matmul FLOPs per added context token, on the segment (128-1K, 1K-4K) farthest from the "
           "closed form",
    unit="FLOPs/token",
    comparison="==",
    expected=attention_flops_per_context_token(TINY_LLAMA),
    better="lower",
    source_kind="article",
    quote=Q_TABLE_TRANSFORMER,
)

_TRAINING_METHOD = ("log2 of the training step's work at 2n over n, the work being forward and backward "
                    "matmul FLOPs plus the forward pass's elementwise operations (the recurrence, norms, "
                    "softmax); the backward's elementwise work is reported beside it")
TRAINING_WORK_GROWTH = {
    "transformer": Claim(
        id="sequence/training_work_growth/transformer",
        statement="Transformer training is O(n^2): doubling the sequence from 64K to 128K tokens multiplies "
                  "the training step's work by 2^1.5..2^2.5 (growth exponent rounds to 2; tiny Llama-style "
                  f"on meta, eager attention). {_TRAINING_METHOD}",
        source="article §2.6 table, Transformer row, 'Training Complexity' column",
        metric="growth exponent log2(W(2n)/W(n)), n = 64K",
        unit="exponent",
        comparison="between",
        expected=1.5,
        expected_high=2.5,
        better="lower",
        source_kind="article",
        quote=Q_TABLE_TRANSFORMER,
    ),
    "mamba": Claim(
        id="sequence/training_work_growth/mamba",
        statement="Mamba training is O(n): doubling the sequence multiplies the training step's work by "
                  "2^0.5..2^1.5 (growth exponent rounds to 1; tiny Mamba, transformers' reference path on "
                  f"cpu, n = 32). {_TRAINING_METHOD}",
        source="article §2.6 table, Mamba row, 'Training Complexity' column",
        metric="growth exponent log2(W(2n)/W(n))",
        unit="exponent",
        comparison="between",
        expected=0.5,
        expected_high=1.5,
        better="lower",
        source_kind="article",
        quote=Q_TABLE_MAMBA,
    ),
    "rwkv": Claim(
        id="sequence/training_work_growth/rwkv",
        statement="RWKV training is O(n): doubling the sequence multiplies the training step's work by "
                  "2^0.5..2^1.5 (growth exponent rounds to 1; tiny RWKV-4, transformers' RwkvForCausalLM on "
                  f"cpu, n = 32). {_TRAINING_METHOD}",
        source="article §2.6 table, RWKV row, 'Training Complexity' column",
        metric="growth exponent log2(W(2n)/W(n))",
        unit="exponent",
        comparison="between",
        expected=0.5,
        expected_high=1.5,
        better="lower",
        source_kind="article",
        quote=Q_TABLE_RWKV,
    ),
}

RWKV_PARALLEL_TRAINING = Claim(
    id="sequence/rwkv/parallel_training_mode",
    statement=f"RWKV trains like a Transformer, the whole sequence in one call: a {PARALLEL_TOKENS}-token "
              "training forward of transformers' RwkvForCausalLM (RWKV-4) sends each weight matrix one "
              "matmul for all positions, as many as a 1-token forward, and its logits at every position "
              "equal the recurrent mode's (one token per call, state carried); the WKV recurrence inside "
              "the call still steps through time (reported beside it)",
    source="article §2.6 (RWKV paragraph); Peng et al. 2023 (RWKV) §4: time-parallel mode for training",
    metric=f"matmul dispatches of one {PARALLEL_TOKENS}-token training forward / of a 1-token forward",
    unit="x",
    comparison="==",
    expected=1.0,
    better="lower",
    source_kind="article",
    quote=Q_RWKV_PARALLEL,
)

RWKV_NO_SOFTMAX = Claim(
    id="sequence/rwkv/no_softmax",
    statement="RWKV mixes tokens without softmax: a forward of rwkv's RWKV-4 over a prompt and a decode step "
              "dispatches no softmax op (its WKV normalises by a running ratio of exponential sums); the "
              "same counter sees one softmax per layer in a Transformer control (tiny Llama-style, eager). "
              "PIPELINE's sampler applies a softmax to the output logits, outside the model: not counted",
    source="article §2.6 (RWKV paragraph); Peng et al. 2023 (RWKV) §3: WKV operator",
    metric="softmax dispatches (aten _softmax, _log_softmax, _safe_softmax) in the model's forward",
    unit="calls",
    comparison="==",
    expected=0,
    better="lower",
    source_kind="article",
    quote=Q_RWKV_SOFTMAX,
)

MAMBA_SELECTIVE = Claim(
    id="sequence/mamba/selective_transition",
    statement="Mamba's state transition varies with the input: the discretised transition A_bar = "
              "exp(Delta * A) that transformers' Mamba layer computes differs between two different "
              "prompts in (nearly) every entry, because Delta is projected from the input; A itself is a "
              "fixed parameter. A control layer whose input projection is zeroed (Delta, B, C fixed: a "
              "linear time-invariant SSM) gives identical A_bar for both prompts (tiny Mamba, cpu)",
    source="article §2.6 (Mamba paragraph); Gu & Dao 2023 (Mamba) §3.2, Algorithm 2",
    metric="fraction of A_bar entries that differ between two prompts",
    unit="fraction",
    comparison=">=",
    expected=0.99,
    better="higher",
    source_kind="article",
    quote=Q_MAMBA_SELECTIVE,
    # Entries are compared exactly after exp(): where it saturates (to 1.0 or 0.0 in float32) two prompts
    # give equal entries, and an upgrade's exp kernel can move a few of them across (0.99997 here: 1 entry
    # in 32,768). A move under 0.1% of entries is the same result; the LTI control reads 0, the claim 0.99.
    resolution=1e-3,
)

_SCALES_SOURCE = ("article §8 (ecosystem tools); BlinkDL/rwkv-4-pile-169m .. rwkv-4-pile-14b model cards: "
                  "RWKV-4 Pile 169M (12 x 768), 430M (24 x 1024), 1.5B (24 x 2048), 3B (32 x 2560), 7B "
                  "(32 x 4096), 14B (40 x 5120), vocabulary 50277")
RWKV_PUBLISHED_SCALES = {
    "smallest": Claim(
        id="sequence/rwkv/published_scales/smallest",
        statement="the smallest published RWKV-4 (Pile 169M) is a '0.1B' model: its parameter count, built "
                  "on meta by transformers' RwkvForCausalLM from the published shape, lies in [0.1B, 0.2B] "
                  "(convention: a size name gives the leading digit, as BlinkDL's 'RWKV-4-World-0.1B' "
                  "holds 0.19B)",
        source=_SCALES_SOURCE,
        metric="parameters of the smallest published RWKV-4",
        unit="B params",
        comparison="between",
        expected=0.1,
        expected_high=0.2,
        better="none",
        source_kind="article",
        quote=Q_RWKV_SCALES,
    ),
    "largest": Claim(
        id="sequence/rwkv/published_scales/largest",
        statement="the largest published RWKV-4 (Pile 14B) is a '14B' model: its parameter count, built on "
                  "meta by transformers' RwkvForCausalLM from the published shape, rounds to 14B "
                  "(13.5B..14.5B)",
        source=_SCALES_SOURCE,
        metric="parameters of the largest published RWKV-4",
        unit="B params",
        comparison="between",
        expected=13.5,
        expected_high=14.5,
        better="none",
        source_kind="article",
        quote=Q_RWKV_SCALES,
    ),
}

RWKV_169M_PARAMS = Claim(
    id="sequence/rwkv4_169m/params",
    statement="the lab's RWKV-4 169M holds 169M parameters: the published shape (12 layers, d_model 768, "
              "Pile vocabulary 50277, untied head) built on meta by transformers' RwkvForCausalLM, checked "
              "equal to the key layout rwkv loads (convention: '169M' truncates the count)",
    source="article §6.1 (lab code); BlinkDL/rwkv-4-pile-169m; Peng et al. 2023 (RWKV) Table 1",
    metric="parameters",
    unit="M params",
    comparison="between",
    expected=169.0,
    expected_high=170.0,
    better="none",
    source_kind="article",
    quote=Q_RWKV_169M,
)

RWKV_169M_CHECKPOINT = Claim(
    id="sequence/rwkv4_169m/checkpoint_fits_free_colab",
    statement="the lab's RWKV-4 169M is small enough for free Colab: its .pth in fp16 (the published file's "
              "dtype, the lab's 'cuda fp16'), serialised by torch.save from the full key layout, is at most "
              "the free tier's T4 GPU memory (15,360 MiB as the T4 reports it)",
    source="article §6.1 (lab code; 'select T4 GPU'); NVIDIA T4: 16 GB GDDR6, 15,360 MiB visible",
    metric="bytes of the fp16 .pth",
    unit="bytes",
    comparison="<=",
    expected=15_360 * 2**20,
    better="lower",
    source_kind="article",
    quote=Q_RWKV_169M,
)

_NOT_OFFLINE = "not checkable offline: needs trained weights and a quality benchmark"
QUALITY_CLAIMS = {
    "mamba": Claim(
        id="sequence/mamba/quality_matches_transformers",
        statement="Mamba matches or surpasses same-scale Transformers in language modelling, DNA and audio",
        source="article §2.6 (Mamba paragraph); Gu & Dao 2023 (Mamba) §4",
        metric="quality against a same-scale Transformer",
        unit="x",
        comparison=">=",
        expected=1.0,
        better="higher",
        source_kind="article",
        quote=Q_MAMBA_QUALITY,
    ),
    "rwkv_14b": Claim(
        id="sequence/rwkv/14b_quality_matches_transformers",
        statement="14B-scale RWKV matches same-scale Transformers in quality",
        source="article summary and §2.6 (RWKV paragraph); Peng et al. 2023 (RWKV) §5",
        metric="quality against a same-scale Transformer",
        unit="x",
        comparison=">=",
        expected=1.0,
        better="higher",
        source_kind="article",
        quote=Q_RWKV_14B_QUALITY,
    ),
    "rwkv_5_6": Claim(
        id="sequence/rwkv/eagle_finch_improve_quality",
        statement="RWKV-5/6 (Eagle/Finch) further improve quality over RWKV-4",
        source="article §6.3 (lab notes); Peng et al. 2024 (Eagle and Finch)",
        metric="quality against RWKV-4 of the same size",
        unit="x",
        comparison=">=",
        expected=1.0,
        better="higher",
        source_kind="article",
        quote=Q_RWKV_56_QUALITY,
    ),
}
QUALITY_SKIP_REASON = _NOT_OFFLINE

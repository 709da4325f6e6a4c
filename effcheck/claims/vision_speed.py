"""Vision claims about compute and time: EfficientNet-B0 against ResNet-50 in training and inference
(article §9), and the premise behind the §5 lab that latency follows multiply-adds.

Split from effcheck.claims.vision (the architecture facts: parameters, MACs, compound scaling): these are
the claims whose benchmarks train or time models (benchmarks/test_vision_timed.py), and the training-FLOPs
count that answers §9's sentence in work instead of time.
"""

from effcheck.meters.rounding import margin_for, parse_figure
from effcheck.records import Claim

ARTICLE_TRAINING = ("Efficient architectures are not only faster at inference — training a 5M-parameter "
                    "EfficientNet-B0 is 5x faster than a 25M-parameter ResNet-50")

# -- training and inference: EfficientNet-B0 vs ResNet-50 (§9) ---------------------------------------------
# "5x" is a rounded figure: it admits 4.5 and up (meters.rounding), the margin of both training claims.
# Whose sentence a timed training step checks: the article's "training ... is 5x faster" names no device; in
# work it is checked anywhere (training_flops_vs_resnet50), in time where such models train, on a GPU (the
# GPU tier, at a training batch). On a CPU, one thread at batch 2, the step time is a fact about that device
# (depthwise backward and elementwise work are memory-bound there): the suite's premise that a CPU shows the
# saving, and a miss is a finding. Until this note the CPU timing was one claim with the GPU's, recorded as
# the article's error.
TRAINING_BATCH = 2  # images per step on a CPU, 224px: small enough for CI, large enough for train-mode BN
TRAINING_BATCHES = {"cpu": TRAINING_BATCH, "gpu": 64}  # on a GPU, a training batch that fills it


def _training_step_claim(device: str) -> Claim:
    on_gpu = device == "gpu"
    batch = TRAINING_BATCHES[device]
    return Claim(
        id=f"vision/efficientnet_b0/training_step_vs_resnet50/{device}",
        statement=f"training EfficientNet-B0 is 5x faster than ResNet-50: one training step (forward, "
                  f"cross-entropy, backward, SGD step) at batch {batch}, 224px, timed interleaved against "
                  "ResNet-50's on the same " + ("GPU" if on_gpu else "CPU with one torch thread (per-core work, "
                                                "not the contention of a shared runner's threads)")
                  + "; margin: '5x' rounded, 4.5 and up",
        source="article §9 (Fundamentally lower training costs)" + ("" if on_gpu else (
            "; a CPU is not where the sentence's training runs: the suite's premise that one shows the saving")),
        metric=f"training step time ratio resnet50/efficientnet_b0 at batch {batch}, interleaved A/B, median",
        unit="x",
        comparison=">=",
        expected=5.0,
        margin=margin_for(5.0, parse_figure("5").low),
        better="higher",
        noisy=True,
        source_kind="article" if on_gpu else "suite",
        quote=ARTICLE_TRAINING if on_gpu else (
            "Premise: the article's 5x training speedup of EfficientNet-B0 over ResNet-50 shows as step time on "
            "a CPU too (one thread, batch 2)"),
        refuted=None if on_gpu else (
            "EfficientNet-B0 needs 10.6x fewer training FLOPs than ResNet-50 (the article's 5x holds in work: "
            "vision/efficientnet_b0/training_flops_vs_resnet50), but its training step is only about 3.5-3.6x "
            "faster on a CPU (batch 2, 224px, one thread; 5 quiet reruns: 3.52-3.60x): the backward of its "
            "depthwise convolutions and its SE/SiLU elementwise work are memory-bound, so step time does not "
            "shrink with FLOPs or with its 4.8x fewer parameters. A fact about this CPU, not about the "
            "article's device-free sentence, which is timed on a GPU (.../gpu)"),
    )


EFFICIENTNET_B0_TRAINING_STEP_VS_RESNET50 = {device: _training_step_claim(device) for device in ("cpu", "gpu")}

EFFICIENTNET_B0_TRAINING_FLOPS_VS_RESNET50 = Claim(
    id="vision/efficientnet_b0/training_flops_vs_resnet50",
    statement="training EfficientNet-B0 takes 5x fewer FLOPs than ResNet-50: forward + backward of one "
              f"training step at batch {TRAINING_BATCH}, 224px (FlopCounterMode, with grouped-convolution "
              "weight gradients counted per group; the optimizer's elementwise update is not counted); "
              "margin: '5x' rounded, 4.5 and up",
    source="article §9 (Fundamentally lower training costs); effcheck.meters.training",
    metric="training FLOPs ratio resnet50/efficientnet_b0 (forward + backward)",
    unit="x",
    comparison=">=",
    expected=5.0,
    margin=margin_for(5.0, parse_figure("5").low),
    better="higher",
    source_kind="article",
    quote=ARTICLE_TRAINING,
)

EFFICIENTNET_B0_INFERENCE_VS_RESNET50 = Claim(
    id="vision/efficientnet_b0/inference_vs_resnet50",
    statement="EfficientNet-B0 is faster than ResNet-50 at inference: batch 1, 224px, no_grad, as the lab "
              "times it (on one CPU thread), interleaved A/B (the article gives no factor for inference; its 5x "
              "is training's)",
    source="article §9 (Fundamentally lower training costs), §5.2 (benchmark_speed)",
    metric="inference latency ratio resnet50/efficientnet_b0 at batch 1, interleaved A/B, median",
    unit="x",
    comparison=">=",
    expected=1.0,
    better="higher",
    noisy=True,
    source_kind="article",
    quote=ARTICLE_TRAINING,
)

# -- latency per multiply-add (a suite premise) ------------------------------------------------------------
# The article never prints a latency, but its lab (§5.2 benchmark_speed: CPU, batch 1, 224px, no_grad) and
# takeaways rest on one premise: fewer multiply-adds make a model proportionally faster. Each depthwise
# model's claim holds it to that premise: its cost per multiply-add, timed interleaved against ResNet-50,
# must stay within 1.5x of ResNet-50's. ResNet-18 against ResNet-50 (same kind of convolutions) is the
# control, reported in each claim's details (0.97-0.99 on one thread): the meter sees proportional cost
# where the convolutions are alike.
# The bound was 2x, until timings ran on one CPU thread (see benchmarks/test_vision_timed.py): there all
# three models sat within 3% of it either side (5 quiet reruns: efficientnet_b3 1.94-1.95, mobilenetv2_100
# 2.06-2.18, efficientnet_b0 2.28-2.36), so the verdict said which side of a knife edge a CPU lands on, not
# whether latency follows MACs; 1.5x still reads "proportional" loosely, and every model misses it by 29% or
# more. At two threads all three were 3-4x, ResNet-50's large convolutions parallelizing and depthwise ones not.
LATENCY_REFERENCE = "resnet50"
LATENCY_CONTROL = "resnet18"
_DEPTHWISE_MEASURED = {"efficientnet_b0": "2.28-2.36", "mobilenetv2_100": "2.06-2.18", "efficientnet_b3": "1.94-1.95"}
_DEPTHWISE_REFUTED = (
    "its depthwise convolutions, squeeze-excitation and activations are memory-bound on a CPU at batch 1: "
    "each multiply-add costs about 2x what a ResNet-50 multiply-add costs on one CPU thread ({measured} over "
    "5 quiet reruns, against 0.97-0.99 for ResNet-18, the control), so its MACs saving does not become a "
    "proportional latency saving"
)


def _latency_claim(model: str) -> Claim:
    return Claim(
        id=f"vision/latency/{model}",
        statement=f"suite premise: {model}'s latency follows its multiply-adds: at batch 1, 224px, each of its "
                  f"MACs costs at most 1.5x what a {LATENCY_REFERENCE} MAC costs on the same device, timed on "
                  f"one CPU thread (per-core work, not a shared runner's contention; the lab runs at torch's "
                  f"default threads) (control: {LATENCY_CONTROL} in the details)",
        source="suite premise behind article §5.2 (benchmark_speed: CPU, batch 1, 224px), §5.3, §2.1",
        metric=f"per-MAC latency ratio ({model} time / {LATENCY_REFERENCE} time) / "
               f"({model} MACs / {LATENCY_REFERENCE} MACs), interleaved A/B, median",
        unit="x",
        comparison="<=",
        expected=1.0,
        margin=0.5,
        better="lower",
        noisy=True,
        source_kind="suite",
        quote="fewer multiply-adds make a model proportionally faster: a depthwise model's time per MAC is "
              "within 1.5x of ResNet-50's",
        refuted=_DEPTHWISE_REFUTED.format(measured=_DEPTHWISE_MEASURED[model]),
    )


LATENCY_CLAIMS = {name: _latency_claim(name) for name in ("mobilenetv2_100", "efficientnet_b0", "efficientnet_b3")}

"""Vision claims: EfficientNet, MobileNet and ResNet (article §2.1, §2.2, §5).

Margins of the "N x fewer" claims are not chosen: they are the slack the article's own rounded figures
allow (e.g. "5.3M vs 25M" admits any ratio from 24.5/5.35 up), computed below with meters.rounding.
"""

from effcheck.meters.rounding import margin_for, parse_figure, ratio_floor
from effcheck.records import Claim

# Tan & Le 2019 (EfficientNet, ICML), Table 2, as printed: "#Params" and "#FLOPs" (the FLOPs column
# counts multiply-adds: B0's 0.39B is its 386M MACs). Each model at the paper's input resolution.
EFFICIENTNET_TABLE2 = {
    "efficientnet_b0": ("5.3M", "0.39B"),
    "efficientnet_b1": ("7.8M", "0.70B"),
    "efficientnet_b2": ("9.2M", "1.0B"),
    "efficientnet_b3": ("12M", "1.8B"),
    "efficientnet_b4": ("19M", "4.2B"),
    "efficientnet_b5": ("30M", "9.9B"),
    "efficientnet_b6": ("43M", "19B"),
    "efficientnet_b7": ("66M", "37B"),
}
TABLE2_SOURCE = "Tan & Le 2019 (EfficientNet, ICML) Table 2; article §2.2 quotes B0 5.3M and B7 66M"


def _ratio_margin(claimed: float, numerator: str, denominator: str) -> float:
    return round(margin_for(claimed, ratio_floor(parse_figure(numerator), parse_figure(denominator))), 4)


EFFICIENTNET_B0_PARAMS_VS_RESNET50 = Claim(
    id="vision/efficientnet_b0/params_vs_resnet50",
    statement="EfficientNet-B0 has ~5x fewer parameters than ResNet-50 (5.3M vs 25M); margin: the lowest "
              "ratio those rounded figures allow (24.5M/5.35M)",
    source="article §2.2 and §5.3; Tan & Le 2019 (EfficientNet) Table 2",
    metric="params_ratio resnet50/efficientnet_b0",
    unit="x",
    comparison=">=",
    expected=5.0,
    margin=_ratio_margin(5.0, "25M", "5.3M"),
    better="higher",
)

MOBILENETV2_PARAMS_VS_RESNET18 = Claim(
    id="vision/mobilenetv2/params_vs_resnet18",
    statement="MobileNetV2 has 3.5x fewer parameters than ResNet-18 (~3.4M vs ~11.7M); margin: the lowest "
              "ratio those rounded figures allow (11.65M/3.45M)",
    source="article §5.3 (lab, timm mobilenetv2_100 vs resnet18); Sandler et al. 2018 Table 4 (3.4M)",
    metric="params_ratio resnet18/mobilenetv2_100",
    unit="x",
    comparison=">=",
    expected=3.5,
    margin=_ratio_margin(3.5, "11.7M", "3.4M"),
    better="higher",
    refuted="the article's ~3.4M (taken from the MobileNetV2 paper) understates MobileNetV2: timm's "
            "mobilenetv2_100 (the lab's model, same count as torchvision's) has 3.5M parameters, so it is "
            "about 3.3x smaller than ResNet-18, below what the article's rounded figures allow",
)

EFFICIENTNET_B3_PARAMS_VS_RESNET50 = Claim(
    id="vision/efficientnet_b3/params_vs_resnet50",
    statement="EfficientNet-B3 has 2x fewer parameters than ResNet-50 (~12M vs ~25M); margin: the lowest "
              "ratio those rounded figures allow (24.5M/12.5M)",
    source="article §5.3 (lab, timm efficientnet_b3 vs resnet50); Tan & Le 2019 Table 2",
    metric="params_ratio resnet50/efficientnet_b3",
    unit="x",
    comparison=">=",
    expected=2.0,
    margin=_ratio_margin(2.0, "25M", "12M"),
    better="higher",
)

EFFICIENTNET_PARAMS_TABLE = Claim(
    id="vision/efficientnet/params_table",
    statement="EfficientNet-B0..B7 have the parameter counts of the paper's Table 2 (5.3M, 7.8M, 9.2M, 12M, "
              "19M, 30M, 43M, 66M), to the digits printed: every count within half a unit of its last "
              "printed digit (1 half-step)",
    source=TABLE2_SOURCE,
    metric="worst |measured - printed| over B0..B7, in half-steps of each printed figure",
    unit="half-steps",
    comparison="<=",
    expected=1.0,
    better="lower",
    refuted="Table 2 prints 9.2M for B2, one rounding step above the B2 architecture (9.1M in timm and in "
            "the official definition); no single counting convention matches the whole table: counting "
            "BatchNorm statistics as TF does gives B2 9.2M but B1 7.9M instead of 7.8M",
)

EFFICIENTNET_MACS_TABLE = Claim(
    id="vision/efficientnet/macs_table",
    statement="EfficientNet-B0..B7 at the paper's resolutions (224..600) have the FLOPs of the paper's "
              "Table 2 (0.39B, 0.70B, 1.0B, 1.8B, 4.2B, 9.9B, 19B, 37B; the paper's FLOPs are "
              "multiply-adds, so compared with MACs = FlopCounterMode FLOPs / 2), to the digits printed "
              "(<= 1 half-step)",
    source=TABLE2_SOURCE,
    metric="worst |measured MACs - printed| over B0..B7, in half-steps of each printed figure",
    unit="half-steps",
    comparison="<=",
    expected=1.0,
    better="lower",
    refuted="Table 2's FLOPs miss the architectures' multiply-adds by more than their rounding for B1, B4, "
            "B5 and B7 (B4 and B5 by about 4%), and in both directions (B1 lower, the others higher), so no "
            "counting convention such as leaving out SE, the stem or the classifier explains them",
)

EFFICIENTNET_COMPOUND_SCALING = Claim(
    id="vision/efficientnet/compound_scaling",
    statement="B1..B7 are B0 scaled by one compound coefficient phi each: depth 1.2^phi, width 1.1^phi, "
              "resolution 1.15^phi (depth : width : resolution ~ 1.2 : 1.1 : 1.15); measured as the gap "
              "between the phi ranges each published coefficient allows at its printed precision "
              "(d, w +-0.05, resolution +-0.5 px): 0 when one phi fits all three",
    source="article §2.2; Tan & Le 2019 §3.3 Eq. 3 and §4 ('scale up baseline network with different phi "
           "using Equation 3, to obtain EfficientNet-B1 to B7'); coefficients from the official "
           "efficientnet_builder.py as timm builds them",
    metric="worst phi gap between depth, width and resolution over B1..B7",
    unit="phi",
    comparison="<=",
    expected=0.0,
    better="lower",
    refuted="the published coefficients from B4 up (B3 marginally) do not follow one phi: their depth "
            "multipliers correspond to a smaller phi than their widths and resolutions, even allowing for "
            "the one-decimal rounding; only B1 and B2 fit Eq. 3",
)

EFFICIENTNET_COMPOUND_SCALING_FLOPS = Claim(
    id="vision/efficientnet/compound_scaling_flops",
    statement="Each variant's FLOPs relative to B0 are what its published coefficients predict through "
              "FLOPS ~ d * w^2 * r^2 (so ~2^phi with alpha*beta^2*gamma^2 ~ 2); measured as the worst "
              "relative distance of the real MACs growth outside the range d*w^2*r^2 takes over the "
              "coefficients' printed precision",
    source="Tan & Le 2019 §3.3 ('FLOPS of a regular convolution op is proportional to d, w^2, r^2 ... total "
           "FLOPS will approximately increase by 2^phi'); article §2.2",
    metric="worst relative excess of MACs(Bi)/MACs(B0) outside the d*w^2*r^2 range over B1..B7",
    unit="x",
    comparison="<=",
    expected=0.0,
    better="lower",
    refuted="the real networks are heavier than their coefficients predict, most for the small variants: "
            "the official code rounds every stage's block count up, so B1 (depth 1.1) has 23 blocks "
            "instead of B0's 16, and its FLOPs follow the rounded depth, not the coefficient",
)

MOBILENET_DEPTHWISE_SEPARABLE_MACS = Claim(
    id="vision/mobilenet/depthwise_separable_macs",
    statement="MobileNet with 3x3 depthwise separable convolutions needs 8 to 9 times fewer multiply-adds "
              "than the same network with full 3x3 convolutions",
    source="article §2.1 ('reduces computation by 8-9x'); Howard et al. 2017 (MobileNets) §3.1 ('between 8 "
           "to 9 times less computation') and Table 4 (Conv MobileNet 4866M vs MobileNet 569M Mult-Adds)",
    metric="MACs ratio full-conv MobileNet / separable MobileNet (whole networks, 224px)",
    unit="x",
    comparison="between",
    expected=8.0,
    expected_high=9.0,
    better="none",
)

# Latency: the article never prints a latency, but its lab (§5.2 benchmark_speed: CPU, batch 1, 224px,
# no_grad) and takeaways rest on one premise: fewer multiply-adds make a model proportionally faster
# (§2.1 "reduces computation by 8-9x", §5.3 "drastically reduces computation", "much smaller"). Each model's
# claim holds it to that premise: its cost per multiply-add, timed interleaved against ResNet-50 (ResNet-18
# for ResNet-50 itself), must stay within 2x of the reference's. 2x: "proportional" read as loosely as it
# can be while still meaning something, well outside the interquartile noise of this ratio (~10%). Timed
# at torch's default CPU threads, as the lab runs: depthwise kernels parallelize worse than dense ones, so
# with a single thread the depthwise models' per-MAC penalty is smaller (about 3x instead of 3.5-4.5x here).
LATENCY_REFERENCE = {
    "resnet18": "resnet50",
    "resnet50": "resnet18",
    "mobilenetv2_100": "resnet50",
    "efficientnet_b0": "resnet50",
    "efficientnet_b3": "resnet50",
}
_DEPTHWISE_REFUTED = (
    "its depthwise convolutions, squeeze-excitation and activations are memory-bound on a CPU at batch 1: "
    "each multiply-add costs several times what a ResNet multiply-add costs, so its MACs saving does not "
    "become a proportional latency saving"
)


def _latency_claim(model: str, refuted: str | None) -> Claim:
    reference = LATENCY_REFERENCE[model]
    return Claim(
        id=f"vision/latency/{model}",
        statement=f"{model}'s latency follows its multiply-adds: at batch 1, 224px, each of its MACs costs "
                  f"at most 2x what a {reference} MAC costs on the same device (the lab's premise that fewer "
                  "multiply-adds mean a faster model)",
        source="article §5.2 (benchmark_speed: CPU, batch 1, 224px), §5.3, §2.1",
        metric=f"per-MAC latency ratio ({model} time / {reference} time) / "
               f"({model} MACs / {reference} MACs), interleaved A/B, median",
        unit="x",
        comparison="<=",
        expected=1.0,
        margin=1.0,
        better="lower",
        noisy=True,
        refuted=refuted,
    )


LATENCY_RESNET18 = _latency_claim("resnet18", None)
LATENCY_RESNET50 = _latency_claim("resnet50", None)
LATENCY_MOBILENETV2 = _latency_claim("mobilenetv2_100", _DEPTHWISE_REFUTED)
LATENCY_EFFICIENTNET_B0 = _latency_claim("efficientnet_b0", _DEPTHWISE_REFUTED)
LATENCY_EFFICIENTNET_B3 = _latency_claim("efficientnet_b3", _DEPTHWISE_REFUTED)
LATENCY_CLAIMS = {
    "resnet18": LATENCY_RESNET18,
    "resnet50": LATENCY_RESNET50,
    "mobilenetv2_100": LATENCY_MOBILENETV2,
    "efficientnet_b0": LATENCY_EFFICIENTNET_B0,
    "efficientnet_b3": LATENCY_EFFICIENTNET_B3,
}

EFFICIENTNET_B0_LATENCY_VS_RESNET50 = Claim(
    id="vision/efficientnet_b0/latency_vs_resnet50",
    statement="EfficientNet-B0 runs ~5x faster than ResNet-50 (the article's 5x, from 5M vs 25M parameters, "
              "'not only faster at inference'); inference at batch 1, 224px, as the lab times it; margin "
              "10%: the article's round 5x and the ratio's timing spread",
    source="article §9 ('Efficient architectures are not only faster at inference — training a 5M-parameter "
           "EfficientNet-B0 is 5x faster than a 25M-parameter ResNet-50'), §5.2-5.3",
    metric="latency ratio resnet50/efficientnet_b0, interleaved A/B, median",
    unit="x",
    comparison=">=",
    expected=5.0,
    margin=0.10,
    better="higher",
    noisy=True,
    refuted="EfficientNet-B0's 10x fewer multiply-adds and 5x fewer parameters buy far less than 5x in "
            "latency: its depthwise convolutions, squeeze-excitation and SiLU are memory-bound, so time "
            "does not shrink with MACs or parameters",
)

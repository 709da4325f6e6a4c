"""Vision claims (article §2.1, §2.2, §5, §8, §9) that count: timm architectures and MobileNet V1 built on
the meta device with no weights, so every figure is exact. The timed ones are in test_vision_timed.py.

Each model is built once per session (effcheck.models.vision caches builds and MACs), so the sixteen
EfficientNet rows, the compound-scaling checks and the ratios share eight builds.
"""

import functools
import math

import pytest

from effcheck.claims import vision as claims
from effcheck.claims import vision_speed
from effcheck.meters.flops import count_macs
from effcheck.meters.params import count_params, ratio_measurement
from effcheck.meters.rounding import half_steps, parse_figure
from effcheck.meters.scaling import (
    ALPHA,
    BETA,
    GAMMA,
    RESOLUTION_HALF_STEP,
    channel_multiplier_interval,
    depth_multiplier_interval,
    flops_per_phi,
    intervals_gap,
    outside,
    phi_of,
)
from effcheck.meters.training import training_flops
from effcheck.models.vision import (
    EFFICIENTNET_HEAD_CHANNELS,
    EFFICIENTNET_VARIANTS,
    MobileNetConfig,
    efficientnet_shape,
    image_batch,
    inverted_residual_blocks,
    mobilenet_layer_macs,
    mobilenet_macs,
    mobilenet_v1,
    paper_resolution,
    timm_macs,
    timm_model,
)
from effcheck.records import Measurement

GPIPE_PARAMS = 556e6  # EfficientNet paper, Figure 1 / Table 2: "GPipe (Huang et al., 2018) 84.3% 556M"


def bn_statistics(model) -> int:
    """BatchNorm running mean/var elements: TF and Keras count them as (non-trainable) parameters."""
    return sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))


@functools.cache
def efficientnet_counts() -> dict[str, dict]:
    """Parameters, BN statistics and realized shape of B0..B7 (meta builds, cheap). Their MACs are counted
    per variant on first use (efficientnet_macs): a test of one row need not count all eight, which under
    -n 2 both workers did."""
    counts = {}
    for v in EFFICIENTNET_VARIANTS:
        model = timm_model(v.name, "meta")
        shape = efficientnet_shape(model)
        if shape.head_channels != round(EFFICIENTNET_HEAD_CHANNELS * v.width) or (
                paper_resolution(v.name) != v.resolution):
            pytest.fail(f"timm's {v.name} ({shape.head_channels} head channels, tf_ cfg resolution "
                        f"{paper_resolution(v.name)}) no longer matches the published width {v.width} and "
                        f"resolution {v.resolution}: update EFFICIENTNET_VARIANTS in effcheck/models/vision.py",
                        pytrace=False)
        counts[v.name] = {
            "resolution": v.resolution,
            "cfg_resolution": paper_resolution(v.name),
            "params": count_params(model),
            "bn_statistics": bn_statistics(model),
            "stage_blocks": shape.stage_blocks,
            "blocks": shape.blocks,
            "head_channels": shape.head_channels,
        }
    return counts


def efficientnet_macs(name: str) -> int:
    """MACs of one variant at the paper's resolution (timm_macs counts each once per session)."""
    return timm_macs(name, efficientnet_counts()[name]["resolution"])


# -- parameters -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("large, small", [
    pytest.param("resnet50", "efficientnet_b0", id="b0_vs_resnet50",
                 marks=pytest.mark.claim(claims.EFFICIENTNET_B0_PARAMS_VS_RESNET50)),
    pytest.param("resnet18", "mobilenetv2_100", id="mobilenetv2_vs_resnet18",
                 marks=pytest.mark.claim(claims.MOBILENETV2_PARAMS_VS_RESNET18)),
    pytest.param("resnet50", "efficientnet_b3", id="b3_vs_resnet50",
                 marks=pytest.mark.claim(claims.EFFICIENTNET_B3_PARAMS_VS_RESNET50)),
])
def test_params_ratio(large, small, effcheck):
    n_large = count_params(timm_model(large, "meta"))
    n_small = count_params(timm_model(small, "meta"))
    effcheck.check(ratio_measurement(n_large, n_small, method="exact parameter counts of timm models on meta",
                                     **{large: n_large, small: n_small}))


def _row(name: str, column: int, measured: int, unit: str, method: str, **details) -> Measurement:
    printed = parse_figure(claims.EFFICIENTNET_TABLE2[name][column])
    return Measurement(value=measured, unit=unit, method=method, device="meta",
                       details={"printed": printed.text, "half_steps_from_printed": round(
                           half_steps(measured, printed), 2), **details})


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.claim(c), id=n)
                                  for n, c in claims.EFFICIENTNET_PARAMS.items()])
def test_efficientnet_params(name, effcheck):
    row = efficientnet_counts()[name]
    with_bn = row["params"] + row["bn_statistics"]
    printed = parse_figure(claims.EFFICIENTNET_TABLE2[name][0])
    effcheck.check(_row(name, 0, row["params"], "params", f"exact parameter count of timm {name} on meta "
                        "(BatchNorm running statistics excluded)",
                        with_bn_statistics=with_bn,
                        with_bn_statistics_half_steps=round(half_steps(with_bn, printed), 2)))


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.claim(c), id=n)
                                  for n, c in claims.EFFICIENTNET_MACS.items()])
def test_efficientnet_macs(name, effcheck):
    row = efficientnet_counts()[name]
    effcheck.check(_row(name, 1, efficientnet_macs(name), "MACs", f"MACs (FlopCounterMode FLOPs / 2) of timm {name} at "
                        f"{row['resolution']}px on meta", resolution=row["resolution"]))


@pytest.mark.claim(claims.EFFICIENTNET_B7_PARAMS_VS_GPIPE)
def test_efficientnet_b7_params_vs_gpipe(effcheck):
    b7 = efficientnet_counts()["efficientnet_b7"]["params"]
    effcheck.check(ratio_measurement(
        int(GPIPE_PARAMS), b7, method="the EfficientNet paper's GPipe parameters (556M) over the exact "
        "parameter count of timm efficientnet_b7 on meta", device="meta", gpipe_params_paper=int(GPIPE_PARAMS),
        gpipe_params_gpipe_paper=int(557e6), ratio_with_557M=round(557e6 / b7, 3), efficientnet_b7=b7))


# -- compound scaling -----------------------------------------------------------------------------------

def _realized_phi_ranges(row: dict, b0: dict) -> dict[str, tuple[float, float]]:
    """phi ranges each built dimension allows: whole blocks per stage, channels in multiples of 8, pixels."""
    d_lo, d_hi = depth_multiplier_interval(row["blocks"], b0["stage_blocks"])
    w_lo, w_hi = channel_multiplier_interval(row["head_channels"], EFFICIENTNET_HEAD_CHANNELS)
    r, base = row["cfg_resolution"], b0["cfg_resolution"]
    return {
        "depth": phi_of(d_lo, d_hi, ALPHA),
        "width": phi_of(w_lo, w_hi, BETA),
        "resolution": phi_of((r - RESOLUTION_HALF_STEP) / base, (r + RESOLUTION_HALF_STEP) / base, GAMMA),
    }


@pytest.mark.claim(claims.EFFICIENTNET_COMPOUND_SCALING)
def test_efficientnet_compound_scaling(effcheck):
    counts = efficientnet_counts()
    b0 = counts["efficientnet_b0"]
    rows, series, gaps = {}, [], []
    for v in EFFICIENTNET_VARIANTS[1:]:
        row = counts[v.name]
        realized = _realized_phi_ranges(row, b0)
        gap = intervals_gap(list(realized.values()))
        gaps.append(gap)
        rows[v.name] = {
            "built": {"blocks": row["blocks"], "stage_blocks": list(row["stage_blocks"]),
                      "head_channels": row["head_channels"], "resolution": row["cfg_resolution"]},
            "realized": {"depth": round(row["blocks"] / b0["blocks"], 3),
                         "width": round(row["head_channels"] / EFFICIENTNET_HEAD_CHANNELS, 3),
                         "resolution": round(row["cfg_resolution"] / b0["cfg_resolution"], 3)},
            "realized_phi_range": {k: [round(lo, 2), round(hi, 2)] for k, (lo, hi) in realized.items()},
            "realized_phi_gap": round(gap, 3),
            "published": {"depth": v.depth, "width": v.width, "resolution": v.resolution},
            "published_phi_range": {k: [round(lo, 2), round(hi, 2)] for k, (lo, hi) in v.phi_intervals().items()},
            "published_phi_gap": round(v.phi_gap(), 3),
        }
        series.append((row["cfg_resolution"], gap))
    effcheck.check(Measurement(
        value=max(gaps),
        unit="phi",
        method="blocks, head channels (timm efficientnet_b0..b7 on meta) and input size (timm tf_efficientnet "
               "pretrained_cfg) of B1..B7 over B0's, each turned into the phi range its rounding allows; "
               "worst gap between the three ranges",
        device="meta",
        series=tuple(series),
        details={"per_variant": rows, "worst_variant": max(rows, key=lambda n: rows[n]["realized_phi_gap"]),
                 "worst_published_gap": round(max(v.phi_gap() for v in EFFICIENTNET_VARIANTS[1:]), 3),
                 "alpha_beta2_gamma2": round(flops_per_phi(), 4), "b0_blocks": b0["blocks"]},
    ))


@pytest.mark.claim(claims.EFFICIENTNET_COMPOUND_SCALING_FLOPS)
def test_efficientnet_compound_scaling_flops(effcheck):
    counts = efficientnet_counts()
    base = counts["efficientnet_b0"]
    rows, series, excesses = {}, [], []
    for v in EFFICIENTNET_VARIANTS[1:]:
        growth = efficientnet_macs(v.name) / efficientnet_macs("efficientnet_b0")
        low, high = v.flops_growth_bounds()
        excess = outside(growth, low, high)
        excesses.append(excess)
        realized = (counts[v.name]["blocks"] / base["blocks"]) * v.width**2 * (v.resolution / 224) ** 2
        rows[v.name] = {
            "macs_growth": round(growth, 3),
            "log2_macs_growth": round(math.log2(growth), 2),
            "predicted_range": [round(low, 3), round(high, 3)],
            "excess": round(excess, 4),
            "predicted_with_realized_depth": round(realized, 3),
            "measured_over_realized_prediction": round(growth / realized, 3),
        }
        series.append((v.resolution, growth))
    effcheck.check(Measurement(
        value=max(excesses),
        unit="x",
        method="MACs (FlopCounterMode FLOPs / 2) of timm B1..B7 at the paper's resolutions over B0's, "
               "against d*w^2*r^2 of the published coefficients at their printed precision; "
               "worst relative excess",
        device="meta",
        series=tuple(series),
        details={"per_variant": rows, "b0_macs": efficientnet_macs("efficientnet_b0"),
                 "alpha_beta2_gamma2": round(flops_per_phi(), 4), "alpha_beta_gamma": [ALPHA, BETA, GAMMA]},
    ))


# -- MobileNet ------------------------------------------------------------------------------------------

@functools.cache
def _mobilenet_v1_macs(separable: bool) -> tuple[int, int]:
    model = mobilenet_v1(separable, "meta")
    return count_macs(model, image_batch(224, "meta")), count_params(model)


@pytest.mark.claim(claims.MOBILENET_DEPTHWISE_SEPARABLE_MACS)
def test_mobilenet_depthwise_separable_macs(effcheck):
    (macs_sep, params_sep), (macs_full, params_full) = _mobilenet_v1_macs(True), _mobilenet_v1_macs(False)
    for label, measured, closed in (("separable", macs_sep, mobilenet_macs(224, True)),
                                    ("full", macs_full, mobilenet_macs(224, False))):
        if measured != closed:  # the builder and the closed form describe the same network, or one is wrong
            pytest.fail(f"{label} MobileNet: FlopCounterMode {measured} MACs != closed form {closed}",
                        pytrace=False)
    layers = mobilenet_layer_macs(224, MobileNetConfig())
    effcheck.check(ratio_measurement(
        macs_full, macs_sep,
        method="MACs (FlopCounterMode FLOPs / 2) of MobileNet V1 (Table 1) with full 3x3 convs over the "
               "depthwise separable one, whole networks at 224px on meta",
        device="meta",
        full_conv_macs=macs_full,
        separable_macs=macs_sep,
        full_conv_params=params_full,
        separable_params=params_sep,
        timm_mobilenetv1_100_macs=timm_macs("mobilenetv1_100", 224),
        timm_mobilenetv1_100_params=count_params(timm_model("mobilenetv1_100", "meta")),
        paper_table4="Conv MobileNet 4866M Mult-Adds 29.3M params; MobileNet 569M, 4.2M",
        layers_only_ratio=round(sum(m.full for m in layers) / sum(m.separable for m in layers), 4),
        per_layer_ratio=[round(m.full / m.separable, 3) for m in layers],
        closed_form="per layer full/separable = 1 / (1/N + 1/Dk^2), Dk = 3, N = output channels",
    ))


@pytest.mark.claim(claims.MOBILENETV2_INVERTED_RESIDUAL)
def test_mobilenetv2_inverted_residual(effcheck):
    blocks = inverted_residual_blocks(timm_model("mobilenetv2_100", "meta"))
    if not blocks:
        pytest.fail("timm's mobilenetv2_100 has no block with conv_pw/conv_dw/conv_pwl: its layout changed; "
                    "update inverted_residual_blocks in effcheck/models/vision.py", pytrace=False)
    broken = {b.name: list(b.violations) for b in blocks if b.violations}
    effcheck.check(Measurement(
        value=len(broken), unit="blocks", device="meta",
        method="structure of every expanding block of timm mobilenetv2_100 as built (kernel sizes, groups, "
               "channel widths, the activation after the projection, the residual)",
        details={"expanding_blocks": len(blocks), "with_residual": sum(b.has_residual for b in blocks),
                 "broken": broken,
                 "narrow_wide_narrow": [[b.narrow_in, b.wide, b.narrow_out] for b in blocks],
                 "expansion_factors": sorted({b.wide // b.narrow_in for b in blocks})},
    ))


@pytest.mark.claim(claims.MOBILENETV2_MACS_VS_MOBILENETV1)
def test_mobilenetv2_macs_vs_mobilenetv1(effcheck):
    v1, v2 = timm_macs("mobilenetv1_100", 224), timm_macs("mobilenetv2_100", 224)
    effcheck.check(ratio_measurement(
        v1, v2, method="MACs (FlopCounterMode FLOPs / 2) of timm mobilenetv1_100 over mobilenetv2_100 at 224px "
        "on meta", device="meta", mobilenetv1_100_macs=v1, mobilenetv2_100_macs=v2,
        mobilenetv1_100_params=count_params(timm_model("mobilenetv1_100", "meta")),
        mobilenetv2_100_params=count_params(timm_model("mobilenetv2_100", "meta"))))


# -- timm ----------------------------------------------------------------------------------------------

@pytest.mark.claim(claims.TIMM_PRETRAINED_MODELS)
def test_timm_pretrained_models(effcheck):
    import timm

    tags = timm.list_models(pretrained=True)
    architectures = {t.split(".", 1)[0] for t in tags}
    effcheck.check(Measurement(
        value=len(architectures), unit="models", device="cpu",
        method="distinct architectures in timm.list_models(pretrained=True) (the registry, no download)",
        details={"timm": timm.__version__, "pretrained_weight_tags": len(tags),
                 "all_architectures": len(timm.list_models())},
    ))


# -- training FLOPs (§9): the deterministic half of "training ... is 5x faster" -------------------------

@pytest.mark.claim(vision_speed.EFFICIENTNET_B0_TRAINING_FLOPS_VS_RESNET50)
def test_efficientnet_b0_training_flops_vs_resnet50(effcheck):
    import torch

    batch = vision_speed.TRAINING_BATCH
    x = image_batch(224, "meta", batch=batch)
    y = torch.zeros(batch, dtype=torch.long, device="meta")
    flops = {n: training_flops(timm_model(n, "meta"), x, y) for n in ("resnet50", "efficientnet_b0")}
    forward = {n: 2 * batch * timm_macs(n, 224) for n in flops}
    effcheck.check(ratio_measurement(
        flops["resnet50"], flops["efficientnet_b0"], device="meta",
        method=f"FLOPs of forward + backward in train mode at batch {batch}, 224px (effcheck.meters.training: "
               "FlopCounterMode, grouped-conv weight gradients per group) of timm resnet50 over efficientnet_b0",
        batch=batch, resnet50_training_flops=flops["resnet50"], efficientnet_b0_training_flops=flops[
            "efficientnet_b0"], forward_flops_ratio=round(forward["resnet50"] / forward["efficientnet_b0"], 3),
        training_over_forward={n: round(flops[n] / forward[n], 3) for n in flops}))


# -- not checkable offline: SKIP with the reason, so the table covers the article ------------------------

@pytest.mark.parametrize("key", [pytest.param(k, marks=pytest.mark.claim(c), id=k)
                                 for k, c in claims.NOT_OFFLINE.items()])
def test_not_checkable_offline(key):
    pytest.skip(claims.NOT_OFFLINE_REASONS[key])

"""Vision claims (article §2.1, §2.2, §5): timm architectures and MobileNet V1 with random weights.

Counts (parameters, multiply-adds) are exact, on the meta device; latencies are interleaved A/B ratios on
the `device` fixture, and each model's forward pass is also timed by pytest-benchmark for the history.
"""

import functools
import math

import pytest

from effcheck.claims import vision as claims
from effcheck.meters.flops import count_macs
from effcheck.meters.latency import ab_ratio, synchronize
from effcheck.meters.params import count_params, ratio_measurement
from effcheck.meters.roofline import roofline
from effcheck.meters.rounding import half_steps, parse_figure
from effcheck.meters.scaling import flops_per_phi, outside
from effcheck.models.vision import (
    EFFICIENTNET_HEAD_CHANNELS,
    EFFICIENTNET_VARIANTS,
    MobileNetConfig,
    efficientnet_shape,
    image_batch,
    mobilenet_layer_macs,
    mobilenet_macs,
    mobilenet_v1,
    timm_model,
)
from effcheck.records import Measurement

LATENCY_RESOLUTION = 224  # the lab's benchmark_speed input, batch 1


def macs_at(name: str, resolution: int) -> int:
    return count_macs(timm_model(name, "meta"), image_batch(resolution, "meta"))


def bn_statistics(model) -> int:
    """BatchNorm running mean/var elements: TF and Keras count them as (non-trainable) parameters."""
    return sum(b.numel() for n, b in model.named_buffers() if n.endswith(("running_mean", "running_var")))


@functools.cache
def efficientnet_counts() -> dict[str, dict]:
    """Parameters, BN statistics, MACs at the paper's resolution and realized shape of B0..B7 (meta)."""
    counts = {}
    for v in EFFICIENTNET_VARIANTS:
        model = timm_model(v.name, "meta")
        shape = efficientnet_shape(model)
        counts[v.name] = {
            "resolution": v.resolution,
            "params": count_params(model),
            "bn_statistics": bn_statistics(model),
            "macs": macs_at(v.name, v.resolution),
            "blocks": shape.blocks,
            "head_channels": shape.head_channels,
        }
    return counts


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


def _table_measurement(column: int, measured_key: str, unit_note: str) -> Measurement:
    counts = efficientnet_counts()
    rows, series, worst = {}, [], 0.0
    for name, figures in claims.EFFICIENTNET_TABLE2.items():
        printed = parse_figure(figures[column])
        measured = counts[name][measured_key]
        steps = half_steps(measured, printed)
        worst = max(worst, abs(steps))
        rows[name] = {
            "resolution": counts[name]["resolution"],
            "measured": measured,
            "paper": printed.text,
            "relative_deviation": round(measured / printed.value - 1, 4),
            "half_steps": round(steps, 2),
        }
        if measured_key == "params":
            with_bn = measured + counts[name]["bn_statistics"]
            rows[name]["with_bn_statistics"] = with_bn
            rows[name]["with_bn_statistics_half_steps"] = round(half_steps(with_bn, printed), 2)
        series.append((printed.value, measured))
    return Measurement(
        value=worst,
        unit="half-steps",
        method=f"timm efficientnet_b0..b7 on meta, {unit_note}; worst |measured - printed| / half-step",
        device="meta",
        series=tuple(series),
        details={"per_variant": rows, "worst_variant": max(rows, key=lambda n: abs(rows[n]["half_steps"]))},
    )


@pytest.mark.claim(claims.EFFICIENTNET_PARAMS_TABLE)
def test_efficientnet_params_table(effcheck):
    effcheck.check(_table_measurement(0, "params", "exact parameter counts"))


@pytest.mark.claim(claims.EFFICIENTNET_MACS_TABLE)
def test_efficientnet_macs_table(effcheck):
    effcheck.check(_table_measurement(
        1, "macs", "MACs (FlopCounterMode FLOPs / 2) at the paper's resolution"))


# -- compound scaling -----------------------------------------------------------------------------------

def _check_published_width(counts: dict) -> None:
    """The width coefficients we analyse must be the ones timm builds (head channels = 1280 * w exactly)."""
    for v in EFFICIENTNET_VARIANTS:
        built = counts[v.name]["head_channels"]
        if built != round(EFFICIENTNET_HEAD_CHANNELS * v.width):
            pytest.fail(f"timm's {v.name} has {built} head channels, not 1280 x {v.width}: its config "
                        "changed; update EFFICIENTNET_VARIANTS in effcheck/models/vision.py", pytrace=False)


@pytest.mark.claim(claims.EFFICIENTNET_COMPOUND_SCALING)
def test_efficientnet_compound_scaling(effcheck):
    counts = efficientnet_counts()
    _check_published_width(counts)
    base_blocks = counts["efficientnet_b0"]["blocks"]
    rows, series = {}, []
    for v in EFFICIENTNET_VARIANTS[1:]:
        intervals = v.phi_intervals()
        realized_depth = counts[v.name]["blocks"] / base_blocks
        rows[v.name] = {
            "published": {"depth": v.depth, "width": v.width, "resolution": v.resolution},
            "phi_range": {k: [round(lo, 2), round(hi, 2)] for k, (lo, hi) in intervals.items()},
            "phi_gap": round(v.phi_gap(), 3),
            "blocks": counts[v.name]["blocks"],
            "realized_depth": round(realized_depth, 3),
            "phi_of_realized_depth": round(math.log(realized_depth, 1.2), 2),
        }
        series.append((v.resolution, v.phi_gap()))
    worst = max(rows, key=lambda n: rows[n]["phi_gap"])
    effcheck.check(Measurement(
        value=max(v.phi_gap() for v in EFFICIENTNET_VARIANTS[1:]),
        unit="phi",
        method="phi ranges of the published (width, depth, resolution) of B1..B7, widths checked against "
               "the head channels timm builds; worst gap between the three ranges",
        device="meta",
        series=tuple(series),
        details={"per_variant": rows, "worst_variant": worst,
                 "alpha_beta2_gamma2": round(flops_per_phi(), 4), "b0_blocks": base_blocks},
    ))


@pytest.mark.claim(claims.EFFICIENTNET_COMPOUND_SCALING_FLOPS)
def test_efficientnet_compound_scaling_flops(effcheck):
    counts = efficientnet_counts()
    _check_published_width(counts)
    base = counts["efficientnet_b0"]
    rows, series, excesses = {}, [], []
    for v in EFFICIENTNET_VARIANTS[1:]:
        growth = counts[v.name]["macs"] / base["macs"]
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
        details={"per_variant": rows, "b0_macs": base["macs"],
                 "alpha_beta2_gamma2": round(flops_per_phi(), 4)},
    ))


# -- depthwise separable convolutions -------------------------------------------------------------------

@pytest.mark.claim(claims.MOBILENET_DEPTHWISE_SEPARABLE_MACS)
def test_mobilenet_depthwise_separable_macs(effcheck):
    x = image_batch(224, "meta")
    separable, full = mobilenet_v1(True, "meta"), mobilenet_v1(False, "meta")
    macs_sep, macs_full = count_macs(separable, x), count_macs(full, x)
    for label, measured, closed in (("separable", macs_sep, mobilenet_macs(224, True)),
                                    ("full", macs_full, mobilenet_macs(224, False))):
        if measured != closed:  # the builder and the closed form describe the same network, or one is wrong
            pytest.fail(f"{label} MobileNet: FlopCounterMode {measured} MACs != closed form {closed}",
                        pytrace=False)
    timm_v1 = timm_model("mobilenetv1_100", "meta")
    layers = mobilenet_layer_macs(224, MobileNetConfig())
    closed_form = [1 / m.closed_form_ratio for m in layers]
    effcheck.check(ratio_measurement(
        macs_full, macs_sep,
        method="MACs (FlopCounterMode FLOPs / 2) of MobileNet V1 (Table 1) with full 3x3 convs over the "
               "depthwise separable one, whole networks at 224px on meta",
        device="meta",
        full_conv_macs=macs_full,
        separable_macs=macs_sep,
        full_conv_params=count_params(full),
        separable_params=count_params(separable),
        timm_mobilenetv1_100_macs=count_macs(timm_v1, x),
        timm_mobilenetv1_100_params=count_params(timm_v1),
        paper_table4="Conv MobileNet 4866M Mult-Adds 29.3M params; MobileNet 569M, 4.2M",
        layers_only_ratio=round(sum(m.full for m in layers) / sum(m.separable for m in layers), 4),
        closed_form_per_layer=[round(r, 3) for r in closed_form],
        closed_form="per layer full/separable = 1 / (1/N + 1/Dk^2), Dk = 3, N = output channels",
    ))


# -- latency --------------------------------------------------------------------------------------------

def _threads(device) -> int | None:
    """torch's intra-op threads on a CPU (the lab's default: all cores); recorded, since per-MAC costs of
    depthwise models depend on it (their kernels parallelize worse than dense convolutions)."""
    import torch

    return torch.get_num_threads() if device == "cpu" else None


def _forward(model, x):
    import torch

    def call():
        with torch.no_grad():
            return model(x)
    return call


def _synced(fn, device):
    def call():
        fn()
        synchronize(device)
    return call


@pytest.mark.timed
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.claim(claim), id=name)
    for name, claim in claims.LATENCY_CLAIMS.items()
])
def test_latency(name, benchmark, device, effcheck, matmul_peak_flops):
    reference = claims.LATENCY_REFERENCE[name]
    x = image_batch(LATENCY_RESOLUTION, device)
    run = _forward(timm_model(name, device), x)
    run_ref = _forward(timm_model(reference, device), x)
    # The history: pytest-benchmark's own per-call time of this model (synchronized on a GPU).
    benchmark.extra_info.update(model=name, batch=1, resolution=LATENCY_RESOLUTION, device=device,
                                cpu_threads=_threads(device))
    benchmark.pedantic(_synced(run, device), rounds=3, warmup_rounds=1)
    # The claim: cost per multiply-add against the reference, timed interleaved in this process.
    # Blocks of >= 50 ms and 15 rounds: enough for a median that a few preempted rounds do not move.
    times = ab_ratio(run, run_ref, device=device, rounds=15, warmup=1, min_block_s=0.05,
                     label_a=name, label_b=reference)
    macs, macs_ref = macs_at(name, LATENCY_RESOLUTION), macs_at(reference, LATENCY_RESOLUTION)
    macs_ratio = macs / macs_ref
    # Roofline: why fewer MACs need not mean less time (FLOPs = 2 x MACs, against this device's matmul peak)
    speed = {f"{n}_{k}": v for n, m in ((name, macs), (reference, macs_ref))
             for k, v in roofline(2 * m, times.details[f"{n}_median_s"], matmul_peak_flops()).details().items()}
    benchmark.extra_info.update(roofline={k: v for k, v in speed.items() if k.startswith(name)})
    effcheck.check(Measurement(
        value=times.value / macs_ratio,
        unit="x",
        method=f"({times.method}) / (MACs ratio {name}/{reference} = {macs_ratio:.4f})",
        device=device,
        samples=tuple(s / macs_ratio for s in times.samples),
        details={**times.details, "time_ratio": times.value, "macs": macs, f"{reference}_macs": macs_ref,
                 "cpu_threads": _threads(device), **speed},
    ))


@pytest.mark.timed
@pytest.mark.claim(claims.EFFICIENTNET_B0_LATENCY_VS_RESNET50)
def test_efficientnet_b0_latency_vs_resnet50(device, effcheck):
    x = image_batch(LATENCY_RESOLUTION, device)
    resnet50 = _forward(timm_model("resnet50", device), x)
    efficientnet_b0 = _forward(timm_model("efficientnet_b0", device), x)
    times = ab_ratio(resnet50, efficientnet_b0, device=device, rounds=15, min_block_s=0.05,
                     label_a="resnet50", label_b="efficientnet_b0")
    macs = {n: macs_at(n, LATENCY_RESOLUTION) for n in ("resnet50", "efficientnet_b0")}
    params = {n: count_params(timm_model(n, "meta")) for n in ("resnet50", "efficientnet_b0")}
    effcheck.check(Measurement(
        value=times.value, unit=times.unit, method=times.method, device=device, samples=times.samples,
        details={**times.details, "cpu_threads": _threads(device),
                 "macs_ratio": round(macs["resnet50"] / macs["efficientnet_b0"], 3),
                 "params_ratio": round(params["resnet50"] / params["efficientnet_b0"], 3),
                 "resnet50_macs": macs["resnet50"], "efficientnet_b0_macs": macs["efficientnet_b0"]},
    ))

"""Timed vision claims: interleaved A/B ratios on the `device` fixture (article §5.2 lab, §9).

Every timing runs on one CPU thread. The lab times at torch's default threads, but a parallel op waits for
its slowest thread, so on a shared machine two threads measured how busy the other core was: on this
2-core machine the per-MAC ratio of mobilenetv2_100 ranged 3.24-4.12 over 5 quiet reruns, and under load
its rounds spread 2.2-6.8. The thread count is recorded with every figure. Each model's forward pass is
also timed by pytest-benchmark for the history.
"""

import contextlib
import dataclasses
import functools

import pytest

from effcheck.claims import vision_speed as claims
from effcheck.meters.latency import ab_ratio, synchronize
from effcheck.meters.params import count_params
from effcheck.meters.roofline import roofline
from effcheck.meters.training import training_step, training_step_ratio
from effcheck.models.vision import image_batch, new_timm_model, timm_macs, timm_model
from effcheck.records import Measurement

LATENCY_RESOLUTION = 224  # the lab's benchmark_speed input, batch 1
TRAINING_RESOLUTION = 224
CPU_THREADS = 1  # every timing (see the module docstring)


def _threads(device) -> int | None:
    """torch's intra-op threads on a CPU (recorded: per-MAC costs of depthwise models depend on it)."""
    import torch

    return torch.get_num_threads() if device == "cpu" else None


@contextlib.contextmanager
def _cpu_threads(device: str, threads: int):
    import torch

    if device != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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


def _inference_ratio(name: str, reference: str, device: str) -> Measurement:
    """time(name) / time(reference) at batch 1, 224px, one CPU thread. Blocks of >= 50 ms and 15 rounds:
    enough for a median that a few preempted rounds do not move."""
    x = image_batch(LATENCY_RESOLUTION, device)
    with _cpu_threads(device, CPU_THREADS):
        times = ab_ratio(_forward(timm_model(name, device), x), _forward(timm_model(reference, device), x),
                         device=device, rounds=15, warmup=1, min_block_s=0.05, label_a=name, label_b=reference)
        threads = _threads(device)
    return dataclasses.replace(times, details={**times.details, "cpu_threads": threads})


@functools.cache
def _control(device: str) -> dict:
    """The control of the per-MAC premise: ResNet-18's cost per MAC against ResNet-50's (same kind of
    convolutions), timed once per session and reported beside every per-MAC claim."""
    control, reference = claims.LATENCY_CONTROL, claims.LATENCY_REFERENCE
    times = _inference_ratio(control, reference, device)
    macs_ratio = timm_macs(control, LATENCY_RESOLUTION) / timm_macs(reference, LATENCY_RESOLUTION)
    spread = times.spread or (times.value, times.value)
    return {"model": control, "per_mac_ratio": round(times.value / macs_ratio, 4),
            "per_mac_iqr": [round(s / macs_ratio, 4) for s in spread], "time_ratio": round(times.value, 4)}


@pytest.mark.timed
@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.claim(claim), id=name)
    for name, claim in claims.LATENCY_CLAIMS.items()
])
def test_latency(name, benchmark, device, effcheck, matmul_peak_flops):
    reference = claims.LATENCY_REFERENCE
    run = _forward(timm_model(name, device), image_batch(LATENCY_RESOLUTION, device))
    # The history: pytest-benchmark's own per-call time of this model (synchronized on a GPU).
    with _cpu_threads(device, CPU_THREADS):
        benchmark.extra_info.update(model=name, batch=1, resolution=LATENCY_RESOLUTION, device=device,
                                    cpu_threads=_threads(device))
        benchmark.pedantic(_synced(run, device), rounds=3, warmup_rounds=1)
    # The claim: cost per multiply-add against the reference, timed interleaved in this process.
    times = _inference_ratio(name, reference, device)
    macs, macs_ref = timm_macs(name, LATENCY_RESOLUTION), timm_macs(reference, LATENCY_RESOLUTION)
    macs_ratio = macs / macs_ref
    # Roofline: why fewer MACs need not mean less time (FLOPs = 2 x MACs, against this device's matmul peak
    # at the thread count the models were timed with)
    with _cpu_threads(device, CPU_THREADS):
        peak = matmul_peak_flops()
    speed = {f"{n}_{k}": v for n, m in ((name, macs), (reference, macs_ref))
             for k, v in roofline(2 * m, times.details[f"{n}_median_s"], peak).details().items()}
    benchmark.extra_info.update(roofline={k: v for k, v in speed.items() if k.startswith(name)})
    effcheck.check(Measurement(
        value=times.value / macs_ratio,
        unit="x",
        method=f"({times.method}) / (MACs ratio {name}/{reference} = {macs_ratio:.4f})",
        device=device,
        samples=tuple(s / macs_ratio for s in times.samples),
        details={**times.details, "time_ratio": times.value, "macs": macs, f"{reference}_macs": macs_ref,
                 "control": _control(device), **speed},
    ))


@pytest.mark.timed
@pytest.mark.claim(claims.EFFICIENTNET_B0_INFERENCE_VS_RESNET50)
def test_efficientnet_b0_inference_vs_resnet50(device, effcheck):
    times = _inference_ratio("resnet50", "efficientnet_b0", device)
    effcheck.check(Measurement(
        value=times.value, unit=times.unit, method=times.method, device=device, samples=times.samples,
        details={**times.details, "batch": 1, "resolution": LATENCY_RESOLUTION,
                 "macs_ratio": round(timm_macs("resnet50", 224) / timm_macs("efficientnet_b0", 224), 3)},
    ))


@pytest.mark.timed
@pytest.mark.claim(claims.EFFICIENTNET_B0_TRAINING_STEP_VS_RESNET50["cpu"])
def test_efficientnet_b0_training_step_vs_resnet50_cpu(effcheck):
    _check_training_step(effcheck, "cpu")


@pytest.mark.gpu
@pytest.mark.timed
@pytest.mark.claim(claims.EFFICIENTNET_B0_TRAINING_STEP_VS_RESNET50["gpu"])
def test_efficientnet_b0_training_step_vs_resnet50_gpu(device, effcheck):
    _check_training_step(effcheck, device)


def _check_training_step(effcheck, device):
    import torch

    batch = claims.TRAINING_BATCHES["cpu" if device == "cpu" else "gpu"]
    x = image_batch(TRAINING_RESOLUTION, device, batch=batch)
    y = torch.randint(0, 1000, (batch,), device=device)
    steps = {n: training_step(new_timm_model(n, device), x, y) for n in ("resnet50", "efficientnet_b0")}
    # One thread on a CPU: a training step's kernels are large enough to use every core, so on a shared
    # runner the ratio would measure how busy the other cores are (on this 2-core machine under load the
    # two-thread ratio at batch 4 moved between 0.7 and 1.4), not the models. 5 rounds of one step a side: a step takes
    # seconds on a CPU.
    with _cpu_threads(device, 1):
        times = training_step_ratio(steps["resnet50"], steps["efficientnet_b0"], batch=batch, device=device,
                                    rounds=5, warmup=1, label_a="resnet50", label_b="efficientnet_b0")
        threads = _threads(device)
    params = {n: count_params(timm_model(n, "meta")) for n in steps}
    effcheck.check(Measurement(
        value=times.value, unit=times.unit, method=times.method, device=device, samples=times.samples,
        details={**times.details, "resolution": TRAINING_RESOLUTION, "cpu_threads": threads,
                 "params_ratio": round(params["resnet50"] / params["efficientnet_b0"], 3)},
    ))

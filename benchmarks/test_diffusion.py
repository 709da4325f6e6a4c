"""Diffusion claims (article §2.7, §4, §7, §8): LCM and LCM-LoRA step reduction, SD1.5 / SDXL / SSD-1B sizes.

Everything runs through diffusers' real pipelines and samplers, transformers' CLIP text encoders, a CLIP
tokenizer loaded from files, and peft LoRA adapters loaded with load_lora_weights + fuse_lora. Weights are
random. Full published sizes are built on `meta` for parameters and multiply-adds; the timed runs use
SD1.5's architecture at 1/8 width with 8x8 latents on a CPU (the whole SD1.5 at 512px, fp16, on a GPU).

What a timed ratio means here: on the scaled-down CPU pipeline the text encoder and VAE decode are a
different share of a run than at full size, so each timed measurement also reports the UNet calls of both
sides (counted with hooks) and the multiply-add model of the full-size pipeline making the same calls.
"""

import pytest

from effcheck.claims import diffusion as claims
from effcheck.meters.latency import ab_ratio
from effcheck.meters.linear_fit import interleaved_times, linear_fit, medians
from effcheck.meters.params import count_params, ratio_measurement
from effcheck.models.diffusion import (
    LAB_STEPS,
    LCM_GUIDANCE,
    LCM_STEPS,
    build_unet,
    count_calls,
    default_guidance,
    generate,
    pipeline_modules,
    sd_component_macs,
    sd_pipeline,
    sdxl_pipeline,
    sdxl_unet_macs,
    with_scheduler,
)
from effcheck.models.diffusion_configs import SD15, SD15_TINY, SDXL_UNET, SSD1B_UNET
from effcheck.models.lora import (
    LCM_LORA_ALPHA,
    LCM_LORA_RANK,
    LCM_LORA_SOURCE,
    adapter_state_dict,
    add_lcm_lora,
    load_lora,
    lora_parameters,
    save_lora,
    tensor_bytes,
)
from effcheck.records import Measurement, quantile

SWEEP_STEPS = (1, 2, 4, 8)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


@pytest.fixture(scope="module")
def timing_spec(device):
    return SD15 if device.startswith("cuda") else SD15_TINY


@pytest.fixture(scope="module")
def timing_pipes(device, timing_spec):
    """(standard pipeline with SD1.5's PNDM, the same modules with LCMScheduler) as the lab switches them."""
    import torch

    dtype = torch.float16 if device.startswith("cuda") else None
    standard = sd_pipeline(timing_spec, device, dtype)
    return standard, with_scheduler(standard, "lcm")


@pytest.fixture(scope="module")
def lab_calls(timing_pipes):
    """The UNet / text-encoder / VAE-decoder calls of each of the lab's generations, counted once."""
    standard, lcm = timing_pipes
    return {
        "standard_default_guidance": count_calls(standard, LAB_STEPS, None),
        "standard_guidance_1": count_calls(standard, LAB_STEPS, LCM_GUIDANCE),
        "lcm": count_calls(lcm, LCM_STEPS, LCM_GUIDANCE),
    }


@pytest.fixture(scope="module")
def sd15_macs():
    return sd_component_macs(SD15)


def _calls_details(lab_calls):
    return {name: {"unet_calls": c.unet_calls, "unet_samples": c.unet_samples,
                   "text_encoder_calls": len(c.text_encoder), "vae_decodes": len(c.vae_decoder)}
            for name, c in lab_calls.items()}


def _compute_model(macs, lab_calls, a, b):
    return macs.of(lab_calls[a]) / macs.of(lab_calls[b])


def _timed_speedup(effcheck, device, timing_spec, timing_pipes, lab_calls, sd15_macs, guidance, a_name, peak):
    import torch

    from effcheck.meters.roofline import roofline

    standard, lcm = timing_pipes
    # lab_calls already ran both sides once (the warm-up); one call per block: each takes seconds
    times = ab_ratio(lambda: generate(standard, LAB_STEPS, guidance),
                     lambda: generate(lcm, LCM_STEPS, LCM_GUIDANCE), device=device, rounds=5, warmup=0,
                     label_a=f"{LAB_STEPS}_steps", label_b=f"lcm_{LCM_STEPS}_steps", calls_per_block=(1, 1))
    scaled = sd_component_macs(timing_spec, (1, 2))
    a, b = lab_calls[a_name], lab_calls["lcm"]
    # Roofline of this small pipeline: achieved FLOP/s of each side against the device's matmul peak
    sides = {f"{LAB_STEPS}_steps": a, f"lcm_{LCM_STEPS}_steps": b}
    speed = {f"{label}_{key}": value for label, calls in sides.items()
             for key, value in roofline(2 * scaled.of(calls), times.details[f"{label}_median_s"], peak)
             .details().items()}
    effcheck.check(Measurement(
        value=times.value, unit="x", method=f"{times.method}; {timing_spec.name} pipeline", device=device,
        samples=times.samples,
        details={
            **times.details,
            **speed,
            "pipeline": timing_spec.name, "image_px": timing_spec.image_size,
            "guidance": guidance if guidance is not None else default_guidance(standard),
            "torch_threads": torch.get_num_threads(),
            "unet_calls_ratio": a.unet_calls / b.unet_calls,
            "unet_samples_ratio": a.unet_samples / b.unet_samples,
            "calls": _calls_details({a_name: a, "lcm": b}),
            "macs_model_ratio_this_pipeline": round(scaled.of(a) / scaled.of(b), 3),
            "macs_model_ratio_sd15_512px": round(_compute_model(sd15_macs, lab_calls, a_name, "lcm"), 3),
        },
    ))


# -- steps: the lab ------------------------------------------------------------------------------------------
@pytest.mark.timed
@pytest.mark.claim(claims.LCM_SPEEDUP)
def test_lcm_speedup_4_vs_50(effcheck, device, timing_spec, timing_pipes, lab_calls, sd15_macs, matmul_peak_flops):
    _timed_speedup(effcheck, device, timing_spec, timing_pipes, lab_calls, sd15_macs, None,
                   "standard_default_guidance", matmul_peak_flops())


@pytest.mark.timed
@pytest.mark.claim(claims.LCM_SPEEDUP_EQUAL_GUIDANCE)
def test_lcm_speedup_equal_guidance(effcheck, device, timing_spec, timing_pipes, lab_calls, sd15_macs,
                                    matmul_peak_flops):
    _timed_speedup(effcheck, device, timing_spec, timing_pipes, lab_calls, sd15_macs, LCM_GUIDANCE,
                   "standard_guidance_1", matmul_peak_flops())


@pytest.mark.claim(claims.LCM_UNET_CALLS)
def test_lcm_unet_calls(effcheck, lab_calls):
    a, b = lab_calls["standard_guidance_1"], lab_calls["lcm"]
    guided = lab_calls["standard_default_guidance"]
    effcheck.check(Measurement(
        value=a.unet_calls / b.unet_calls, unit="x",
        method="UNet forward calls counted with a pre-hook during whole generations (same seed and prompt)",
        details={"calls": _calls_details(lab_calls),
                 "unet_samples_ratio_default_guidance": guided.unet_samples / b.unet_samples},
    ))


@pytest.mark.claim(claims.LCM_COMPUTE_EQUAL_GUIDANCE)
def test_lcm_compute_equal_guidance(effcheck, lab_calls, sd15_macs):
    effcheck.check(Measurement(
        value=_compute_model(sd15_macs, lab_calls, "standard_guidance_1", "lcm"), unit="x",
        method="multiply-adds (FlopCounterMode on meta) of SD1.5's UNet, text encoder and VAE decode at "
               "512px, times the calls the pipeline made (hooks)",
        details={
            "unet_macs_per_call": dict(sd15_macs.unet), "text_encoder_macs": dict(sd15_macs.text_encoder),
            "vae_decode_macs": dict(sd15_macs.vae_decoder),
            "vae_decode_in_unet_calls": round(sd15_macs.vae_decoder[1] / sd15_macs.unet[1], 3),
            "ratio_at_default_guidance_vs_lcm": round(
                _compute_model(sd15_macs, lab_calls, "standard_default_guidance", "lcm"), 3),
            "calls": _calls_details(lab_calls),
        },
    ))


@pytest.mark.timed
@pytest.mark.claim(claims.LCM_STEP_SWEEP)
def test_lcm_step_sweep(effcheck, device, timing_spec, timing_pipes):
    _standard, lcm = timing_pipes
    calls = {n: count_calls(lcm, n, LCM_GUIDANCE).unet_calls for n in SWEEP_STEPS}  # also the warm-up
    samples = interleaved_times({n: (lambda n=n: generate(lcm, n, LCM_GUIDANCE)) for n in SWEEP_STEPS},
                                device=device, rounds=5, warmup=0)
    per_round = [linear_fit([(n, samples[n][r]) for n in SWEEP_STEPS]).r_squared for r in range(5)]
    points = medians(samples)
    fit = linear_fit(points)
    # The value fits the per-step medians: one preempted call on a shared CPU moves a single round's line
    # (its R^2 is kept as a sample, for the spread) but not the median of its point.
    effcheck.check(Measurement(
        value=fit.r_squared, unit="R^2",
        method=f"least-squares line through the median times of LCM steps {SWEEP_STEPS}, timed interleaved "
               f"over 5 rounds (samples: each round's own line); {timing_spec.name} pipeline",
        device=device, samples=tuple(per_round), series=points,
        details={"slope_s_per_step": fit.slope, "intercept_s": fit.intercept,
                 "median_r_squared_of_rounds": quantile(per_round, 0.5),
                 "intercept_in_steps": fit.intercept / fit.slope if fit.slope else None,
                 "unet_calls": calls},
    ))


# -- LCM-LoRA ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sd15_lcm_lora():
    """The LCM-LoRA adapter on the full-size SD1.5 UNet, on meta (shapes only)."""
    unet = build_unet(SD15.unet, "meta")
    add_lcm_lora(unet)
    return unet


@pytest.mark.claim(claims.LCM_LORA_PARAMS)
def test_lcm_lora_params(effcheck, sd15_lcm_lora):
    params = sum(p.numel() for p in lora_parameters(sd15_lcm_lora).values())
    others = {}
    for name, config in (("sdxl", SDXL_UNET), ("ssd1b", SSD1B_UNET)):
        unet = add_lcm_lora(build_unet(config, "meta"))
        others[f"{name}_lora_params"] = sum(p.numel() for p in lora_parameters(unet).values())
    base = sum(p.numel() for n, p in sd15_lcm_lora.named_parameters() if ".lora_" not in n)
    effcheck.check(Measurement(
        value=float(params), unit="params",
        method=f"peft LoraConfig(r={LCM_LORA_RANK}, lora_alpha={LCM_LORA_ALPHA}) injected with "
               "unet.add_adapter into the SD1.5 UNet on meta; sum of lora_A/lora_B numel",
        details={"adapted_modules": len({n.split(".lora_", 1)[0] for n in lora_parameters(sd15_lcm_lora)}),
                 "unet_params": base, "fraction_of_unet": round(params / base, 4),
                 "config_source": LCM_LORA_SOURCE,
                 **others},
    ))


@pytest.mark.claim(claims.LCM_LORA_SIZE)
def test_lcm_lora_size(effcheck, sd15_lcm_lora, tmp_path):
    import torch

    state = adapter_state_dict(sd15_lcm_lora)
    fp16 = save_lora(state, tmp_path / "fp16", torch.float16)
    fp32 = save_lora(state, tmp_path / "fp32", torch.float32)
    sizes = {"fp16_file_bytes": fp16.stat().st_size, "fp32_file_bytes": fp32.stat().st_size,
             "fp16_tensor_bytes": tensor_bytes(state.values(), torch.float16),
             "fp32_tensor_bytes": tensor_bytes(state.values(), torch.float32),
             "tensors": len(state)}
    sizes["fp16_header_bytes"] = sizes["fp16_file_bytes"] - sizes["fp16_tensor_bytes"]
    effcheck.check(Measurement(
        value=sizes["fp16_file_bytes"] / 1e6, unit="MB",
        method="size of the safetensors file diffusers' save_lora_weights writes for the adapter at fp16 "
               "(tensor bytes exactly numel x 2, plus the file's JSON header)",
        details={**sizes, "fp32_file_MB": round(sizes["fp32_file_bytes"] / 1e6, 3)},
    ))


@pytest.mark.claim(claims.LCM_LORA_LOAD_FUSE)
def test_lcm_lora_load_fuse(effcheck, tmp_path):
    import numpy as np

    source = add_lcm_lora(build_unet(SD15_TINY.unet), seed=0)
    file = save_lora(adapter_state_dict(source), tmp_path)
    pipe = with_scheduler(sd_pipeline(SD15_TINY), "lcm")
    base = generate(pipe, LCM_STEPS, LCM_GUIDANCE, output_type="np")
    adapted = load_lora(pipe, file, fuse=False)
    unfused = generate(pipe, LCM_STEPS, LCM_GUIDANCE, output_type="np")
    pipe.fuse_lora()
    fused = generate(pipe, LCM_STEPS, LCM_GUIDANCE, output_type="np")
    effect = float(np.abs(unfused - base).max())
    if effect <= claims.LCM_LORA_LOAD_FUSE.expected:
        pytest.fail(f"the loaded adapter changed the image by only {effect}: fused vs unfused would prove "
                    "nothing")
    effcheck.check(Measurement(
        value=float(np.abs(fused - unfused).max()), unit="abs",
        method="4-step LCM images (output_type='np', same seed) after load_lora_weights, then after "
               f"fuse_lora; {SD15_TINY.name} pipeline, LCM-LoRA rank {LCM_LORA_RANK} with random factors",
        details={"adapted_modules": adapted, "lora_effect_max_abs": effect,
                 "file_bytes": file.stat().st_size},
    ))


# -- model sizes ---------------------------------------------------------------------------------------------
def _module_counts(pipe):
    return {name: count_params(m) for name, m in pipeline_modules(pipe).items()}


@pytest.fixture(scope="module")
def sdxl_counts():
    return _module_counts(sdxl_pipeline(SDXL_UNET))


@pytest.fixture(scope="module")
def ssd1b_counts():
    return _module_counts(sdxl_pipeline(SSD1B_UNET))


@pytest.mark.claim(claims.SD15_PARAMS)
def test_sd15_params(effcheck):
    counts = _module_counts(sd_pipeline(SD15, "meta"))
    effcheck.check(Measurement(
        value=float(counts["unet"]), unit="params",
        method="sum of parameter numel of StableDiffusionPipeline modules built on meta from the official "
               "configs",
        details={**counts, "pipeline": sum(counts.values())},
    ))


@pytest.mark.claim(claims.SDXL_PARAMS)
def test_sdxl_params(effcheck, sdxl_counts):
    effcheck.check(Measurement(
        value=float(sdxl_counts["unet"]), unit="params",
        method="sum of parameter numel of StableDiffusionXLPipeline modules built on meta from the official "
               "configs",
        details={**sdxl_counts, "text_encoders": sdxl_counts["text_encoder"] + sdxl_counts["text_encoder_2"],
                 "pipeline": sum(sdxl_counts.values())},
    ))


@pytest.mark.claim(claims.SSD1B_PARAMS_VS_SDXL)
def test_ssd1b_params_vs_sdxl(effcheck, sdxl_counts, ssd1b_counts):
    effcheck.check(ratio_measurement(
        ssd1b_counts["unet"], sdxl_counts["unet"], method="exact UNet parameter counts on meta",
        ssd1b_unet=ssd1b_counts["unet"], sdxl_unet=sdxl_counts["unet"]))


@pytest.mark.claim(claims.SSD1B_PIPELINE_PARAMS_VS_SDXL)
def test_ssd1b_pipeline_params_vs_sdxl(effcheck, sdxl_counts, ssd1b_counts):
    ssd1b, sdxl = sum(ssd1b_counts.values()), sum(sdxl_counts.values())
    effcheck.check(ratio_measurement(
        ssd1b, sdxl, method="exact parameter counts of all pipeline modules on meta",
        ssd1b=ssd1b_counts, sdxl=sdxl_counts, shared_modules=sdxl - sdxl_counts["unet"]))


@pytest.mark.claim(claims.SSD1B_MACS_VS_SDXL)
def test_ssd1b_macs_vs_sdxl(effcheck):
    sdxl, ssd1b = sdxl_unet_macs(SDXL_UNET), sdxl_unet_macs(SSD1B_UNET)
    effcheck.check(ratio_measurement(
        sdxl, ssd1b, method="UNet multiply-adds per step at 1024x1024, batch 1 (FlopCounterMode on meta)",
        sdxl_unet_macs=sdxl, ssd1b_unet_macs=ssd1b))


# -- quality, with real weights ------------------------------------------------------------------------------
QUALITY_PROMPTS = (
    "a photorealistic mountain landscape at golden hour, 8k detailed",
    "a red fox sitting in fresh snow, portrait photo",
)


@pytest.mark.weights
@pytest.mark.slow
@pytest.mark.claim(claims.LCM_QUALITY)
def test_lcm_quality_4_vs_50(effcheck, device, weights_dir):
    import torch

    from effcheck.meters.image_similarity import clip_image_embeddings, paired_cosines
    from effcheck.models import diffusion_weights as weights

    sd15, lora = weights.find_sd15(weights_dir), weights.find_lcm_lora(weights_dir)
    if sd15 is None or lora is None:
        pytest.skip(weights.how_to_provide_weights())
    for part in ("safety_checker", "feature_extractor"):
        if not (sd15.path / part).is_dir():
            pytest.skip(f"{sd15.path} has no {part}/: the similarity measure uses its CLIP vision tower")
    from effcheck.models import require

    require("diffusers", "diffusion"), require("transformers", "diffusion")
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPImageProcessor

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    pipe = weights.load_sd_pipeline(sd15.path, device, dtype)
    checker = StableDiffusionSafetyChecker.from_pretrained(sd15.path / "safety_checker", torch_dtype=dtype)
    checker = checker.to(device)
    processor = CLIPImageProcessor.from_pretrained(sd15.path / "feature_extractor")

    def embed(images):
        return clip_image_embeddings(images, checker.vision_model, checker.visual_projection, processor)

    reference = embed([generate(pipe, LAB_STEPS, None, prompt=p)[0] for p in QUALITY_PROMPTS])
    load_lora(pipe, lora.path, fuse=True)
    lcm = with_scheduler(pipe, "lcm")
    sims = {n: paired_cosines(embed([generate(lcm, n, LCM_GUIDANCE, prompt=p)[0] for p in QUALITY_PROMPTS]),
                              reference) for n in (4, 2)}
    mean = {n: sum(v) / len(v) for n, v in sims.items()}
    effcheck.check(Measurement(
        value=mean[4] / mean[2], unit="x",
        method="CLIP ViT-L/14 image-embedding cosine to the 50-step PNDM image (default guidance), same "
               "prompt and seed 42; LCM-LoRA fused, guidance 1.0",
        device=device,
        details={"cosine_4_step": sims[4], "cosine_2_step": sims[2], "sd15": sd15.origin,
                 "lcm_lora": lora.origin},
    ))

"""Diffusion claims about sizes (article §2.7, §4, §7, §8): the LCM-LoRA adapter on SD1.5 / SSD-1B / SDXL,
the UNet sizes of SD1.5 and SDXL, and SSD-1B against SDXL in parameters, multiply-adds and time.

Full published sizes are built once per module on `meta` (shapes only) from the official configs; LoRA
adapters are injected with peft the way the LCM-LoRA training script does, on meta as well. Loading and fusing
an adapter, and timing the two SDXL-family UNets, use the same architectures at reduced width.
"""

import pytest

from effcheck.claims import diffusion_sizes as claims
from effcheck.meters.latency import ab_ratio
from effcheck.meters.params import count_params, ratio_measurement
from effcheck.models.diffusion import (
    LCM_GUIDANCE,
    LCM_STEPS,
    build_unet,
    generate,
    pipeline_modules,
    sd_pipeline,
    sdxl_pipeline,
    sdxl_unet_inputs,
    sdxl_unet_macs,
    with_scheduler,
)
from effcheck.models.diffusion_configs import (
    SD15,
    SD_CALLS,
    SDXL_UNET,
    SSD1B_UNET,
    scaled_down_sdxl_unet,
)
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
from effcheck.records import Measurement

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture

UNET_CONFIGS = {"sd15": SD15.unet, "ssd1b": SSD1B_UNET, "sdxl": SDXL_UNET}
# The timed SDXL / SSD-1B comparison on a CPU: every width / 16, 32x32 latents (256px)
TIMED_WIDTH_DIVISOR, TIMED_NORM_GROUPS, TIMED_LATENT = 16, 4, 32


# -- fixtures: each full-size model is built once per module ---------------------------------------------------
@pytest.fixture(scope="module")
def lora_unets():
    """Per base model: (UNet on meta with the LCM-LoRA adapter injected, the UNet's own parameter count)."""
    built = {}
    for key, config in UNET_CONFIGS.items():
        unet = build_unet(config, "meta")
        base = count_params(unet)
        built[key] = (add_lcm_lora(unet), base)
    return built


def _lora_count(unet):
    return sum(p.numel() for p in lora_parameters(unet).values())


def _module_counts(pipe):
    return {name: count_params(m) for name, m in pipeline_modules(pipe).items()}


@pytest.fixture(scope="module")
def sdxl_family():
    """SDXL's and SSD-1B's whole pipelines on meta: their modules and parameter counts."""
    pipes = {"sdxl": sdxl_pipeline(SDXL_UNET), "ssd1b": sdxl_pipeline(SSD1B_UNET)}
    return {name: (pipe, _module_counts(pipe)) for name, pipe in pipes.items()}


@pytest.fixture(scope="module")
def sdxl_family_macs(sdxl_family):
    """UNet multiply-adds per step at 1024px, counted once on the meta UNets of the pipelines."""
    configs = {"sdxl": SDXL_UNET, "ssd1b": SSD1B_UNET}
    return {name: sdxl_unet_macs(configs[name], unet=pipe.unet) for name, (pipe, _) in sdxl_family.items()}


# -- LCM-LoRA --------------------------------------------------------------------------------------------
@pytest.mark.claim(claims.LCM_LORA_PARAMS)
def test_lcm_lora_params(effcheck, lora_unets):
    unet, base = lora_unets["sd15"]
    params = _lora_count(unet)
    effcheck.check(Measurement(
        value=float(params), unit="params",
        method=f"peft LoraConfig(r={LCM_LORA_RANK}, lora_alpha={LCM_LORA_ALPHA}) injected with "
               "unet.add_adapter into the SD1.5 UNet on meta; sum of lora_A/lora_B numel",
        details={"adapted_modules": len({n.split(".lora_", 1)[0] for n in lora_parameters(unet)}),
                 "unet_params": base, "fraction_of_unet": round(params / base, 4),
                 "config_source": LCM_LORA_SOURCE,
                 "fp16_bytes": tensor_bytes(lora_parameters(unet).values(), _dtype("float16"))},
    ))


def _dtype(name):
    import torch

    return getattr(torch, name)


def _base_layer(module):
    return getattr(module, "base_layer", module)  # a peft-wrapped layer keeps the original as base_layer


@pytest.mark.parametrize("key", [pytest.param(k, marks=pytest.mark.claim(c), id=k)
                                 for k, c in sorted(claims.LCM_LORA_PAPER_PARAMS.items())])
def test_lcm_lora_paper_params(effcheck, lora_unets, key):
    unet, base = lora_unets[key]
    params = _lora_count(unet)
    # what a rank-64 LoRA on the time embedding's two linears (not in the script's target list) would add
    te = unet.time_embedding
    time_embedding_lora = LCM_LORA_RANK * sum(_base_layer(layer).in_features + _base_layer(layer).out_features
                                              for layer in (te.linear_1, te.linear_2))
    effcheck.check(Measurement(
        value=float(params), unit="params",
        method=f"peft LoraConfig(r={LCM_LORA_RANK}) of the LCM-LoRA training script injected into the {key} "
               "UNet on meta; sum of lora_A/lora_B numel",
        details={"unet_params": base, "adapted_modules": len({n.split(".lora_", 1)[0]
                                                              for n in lora_parameters(unet)}),
                 "time_embedding_lora_would_add": time_embedding_lora,
                 "with_time_embedding_lora": params + time_embedding_lora,
                 "fp16_MB": round(tensor_bytes(lora_parameters(unet).values(), _dtype("float16")) / 1e6, 2)},
    ))


@pytest.mark.claim(claims.LCM_LORA_SIZE)
def test_lcm_lora_size(effcheck, lora_unets, tmp_path):
    import torch

    state = adapter_state_dict(lora_unets["sd15"][0])
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


@pytest.mark.claim(claims.LCM_LORA_SMALL)
def test_lcm_lora_small_fraction(effcheck, lora_unets):
    fractions = {key: _lora_count(unet) / base for key, (unet, base) in lora_unets.items()}
    effcheck.check(Measurement(
        value=max(fractions.values()), unit="x",
        method="LCM-LoRA adapter parameters (peft, on meta) over the UNet's own parameters, largest over the "
               "three base models",
        details={"fractions": {k: round(v, 4) for k, v in fractions.items()},
                 "lora_params": {k: _lora_count(u) for k, (u, _) in lora_unets.items()},
                 "unet_params": {k: b for k, (_, b) in lora_unets.items()}},
    ))


def _sdxl_small_pipeline(unet_config):
    """A real StableDiffusionXLPipeline around an SDXL-family UNet at reduced width, with text encoders whose
    widths add up to the UNet's context (as CLIP ViT-L's 768 and bigG's 1280 add up to SDXL's 2048)."""
    import diffusers

    from effcheck.models.diffusion import build_text_encoder, build_vae, byte_clip_tokenizer, published_scheduler
    from effcheck.models.diffusion_configs import BYTE_TOKENIZER_VOCAB, SD15_SCHEDULER

    context = unet_config["cross_attention_dim"]
    pooled = unet_config["projection_class_embeddings_input_dim"] - 6 * unet_config["addition_time_embed_dim"]
    first = context - pooled

    def text(width, heads):
        return {"hidden_act": "gelu", "hidden_size": width, "intermediate_size": 2 * width, "layer_norm_eps": 1e-5,
                "max_position_embeddings": 77, "num_attention_heads": heads, "num_hidden_layers": 1,
                "projection_dim": width, "vocab_size": BYTE_TOKENIZER_VOCAB, "bos_token_id": 0,
                "eos_token_id": 1, "pad_token_id": 1}

    tokenizer = byte_clip_tokenizer()
    pipe = diffusers.StableDiffusionXLPipeline(
        vae=build_vae(SD_CALLS.vae), text_encoder=build_text_encoder(text(first, 2)),
        text_encoder_2=build_text_encoder(text(pooled, 2), with_projection=True),
        tokenizer=tokenizer, tokenizer_2=tokenizer, unet=build_unet(unet_config),
        scheduler=published_scheduler(SD15_SCHEDULER))
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.mark.claim(claims.LCM_LORA_SDXL)
def test_lcm_lora_sdxl_support(effcheck, tmp_path):
    import diffusers
    import numpy as np
    import peft

    # SDXL's blocks at 1/32 width with one transformer layer per block: deeper stacks repeat the same layer
    # (and its adapter) under another index; the full-depth adapter is counted in paper_params/sdxl
    config = {**scaled_down_sdxl_unet(SDXL_UNET, 32, 2), "sample_size": 8, "transformer_layers_per_block": 1}
    source = add_lcm_lora(build_unet(config), seed=0)
    state = adapter_state_dict(source)
    adapted = {n.split(".lora_", 1)[0] for n in lora_parameters(source)}
    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    diffusers.StableDiffusionXLPipeline.save_lora_weights(tmp_path, unet_lora_layers=tensors,
                                                          weight_name="pytorch_lora_weights.safetensors")
    pipe = with_scheduler(_sdxl_small_pipeline(config), "lcm")
    base = generate(pipe, LCM_STEPS, LCM_GUIDANCE, output_type="np")
    load_lora(pipe, tmp_path, fuse=True)
    fused = generate(pipe, LCM_STEPS, LCM_GUIDANCE, output_type="np")
    carrying = {name for name, m in pipe.unet.named_modules()
                if isinstance(m, peft.tuners.tuners_utils.BaseTunerLayer)}
    effect = float(np.abs(fused - base).max())
    measurement = Measurement(
        value=len(carrying & adapted) / len(adapted), unit="x",
        method="LCM-LoRA (peft, rank 64) on SDXL's UNet blocks at 1/32 width, one transformer layer each, "
               "saved with StableDiffusionXLPipeline.save_lora_weights, loaded with load_lora_weights + "
               "fuse_lora into a StableDiffusionXLPipeline with LCMScheduler; modules counted as peft tuner "
               "layers",
        details={"adapted_modules": len(adapted), "loaded_modules": len(carrying),
                 "lora_effect_max_abs": effect, "image_shape": list(fused.shape)},
    )
    if effect <= 1e-4:
        effcheck.fail(measurement, f"the fused adapter changed the 4-step image by only {effect}")
    effcheck.check(measurement)


@pytest.mark.claim(claims.LCM_LORA_LOAD_FUSE)
def test_lcm_lora_load_fuse(effcheck, tmp_path):
    import numpy as np

    source = add_lcm_lora(build_unet(SD_CALLS.unet), seed=0)
    file = save_lora(adapter_state_dict(source), tmp_path)
    pipe = with_scheduler(sd_pipeline(SD_CALLS), "lcm")
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
               f"fuse_lora; {SD_CALLS.name} pipeline, LCM-LoRA rank {LCM_LORA_RANK} with random factors",
        details={"adapted_modules": adapted, "lora_effect_max_abs": effect,
                 "file_bytes": file.stat().st_size},
    ))


# -- model sizes -------------------------------------------------------------------------------------------
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
def test_sdxl_params(effcheck, sdxl_family):
    counts = sdxl_family["sdxl"][1]
    effcheck.check(Measurement(
        value=float(counts["unet"]), unit="params",
        method="sum of parameter numel of StableDiffusionXLPipeline modules built on meta from the official "
               "configs",
        details={**counts, "text_encoders": counts["text_encoder"] + counts["text_encoder_2"],
                 "pipeline": sum(counts.values())},
    ))


@pytest.mark.claim(claims.SSD1B_PARAMS_VS_SDXL)
def test_ssd1b_params_vs_sdxl(effcheck, sdxl_family):
    ssd1b, sdxl = sdxl_family["ssd1b"][1]["unet"], sdxl_family["sdxl"][1]["unet"]
    effcheck.check(ratio_measurement(ssd1b, sdxl, method="exact UNet parameter counts on meta",
                                     ssd1b_unet=ssd1b, sdxl_unet=sdxl))


@pytest.mark.claim(claims.SSD1B_PIPELINE_PARAMS_VS_SDXL)
def test_ssd1b_pipeline_params_vs_sdxl(effcheck, sdxl_family):
    ssd1b_counts, sdxl_counts = sdxl_family["ssd1b"][1], sdxl_family["sdxl"][1]
    ssd1b, sdxl = sum(ssd1b_counts.values()), sum(sdxl_counts.values())
    effcheck.check(ratio_measurement(
        ssd1b, sdxl, method="exact parameter counts of all pipeline modules on meta",
        ssd1b=ssd1b_counts, sdxl=sdxl_counts, shared_modules=sdxl - sdxl_counts["unet"]))


@pytest.mark.claim(claims.SSD1B_MACS_VS_SDXL)
def test_ssd1b_macs_vs_sdxl(effcheck, sdxl_family_macs):
    sdxl, ssd1b = sdxl_family_macs["sdxl"], sdxl_family_macs["ssd1b"]
    effcheck.check(ratio_measurement(
        sdxl, ssd1b, method="UNet multiply-adds per step at 1024x1024, batch 1 (FlopCounterMode on meta)",
        sdxl_unet_macs=sdxl, ssd1b_unet_macs=ssd1b))


@pytest.mark.claim(claims.SSD1B_THROUGHPUT_WORK)
def test_ssd1b_throughput_vs_sdxl_macs(effcheck, sdxl_family_macs):
    sdxl, ssd1b = sdxl_family_macs["sdxl"], sdxl_family_macs["ssd1b"]
    effcheck.check(ratio_measurement(
        sdxl, ssd1b, method="UNet multiply-adds per step at 1024x1024, batch 1 (FlopCounterMode on meta): the "
                            "most a generation's work can fall, since the text encoders and VAE are shared",
        sdxl_unet_macs=sdxl, ssd1b_unet_macs=ssd1b, section_8_reading="60% faster = 1.6x"))


@pytest.mark.timed
@pytest.mark.claim(claims.SSD1B_THROUGHPUT_TIMED["cpu"])
def test_ssd1b_throughput_vs_sdxl_timed_cpu(effcheck):
    _check_ssd1b_throughput_timed(effcheck, "cpu")


@pytest.mark.gpu
@pytest.mark.timed
@pytest.mark.claim(claims.SSD1B_THROUGHPUT_TIMED["gpu"])
def test_ssd1b_throughput_vs_sdxl_timed_gpu(effcheck, device):
    _check_ssd1b_throughput_timed(effcheck, device)


def _check_ssd1b_throughput_timed(effcheck, device):
    """One UNet step of each, interleaved: full size in fp16 on a GPU (the article's single GPU), at 1/16
    width with 32x32 latents on a CPU (the suite's premise that a CPU shows the same ratio)."""
    import torch

    from effcheck.meters.flops import count_macs

    if device.startswith("cuda"):
        configs, latent = {"sdxl": SDXL_UNET, "ssd1b": SSD1B_UNET}, 128
        dtype = torch.float16
    else:
        configs = {k: scaled_down_sdxl_unet(c, TIMED_WIDTH_DIVISOR, TIMED_NORM_GROUPS)
                   for k, c in (("sdxl", SDXL_UNET), ("ssd1b", SSD1B_UNET))}
        latent, dtype = TIMED_LATENT, None
    unets = {k: build_unet(c, device, dtype) for k, c in configs.items()}
    inputs = {k: sdxl_unet_inputs(c, latent, device) for k, c in configs.items()}
    if dtype is not None:
        inputs = {k: (tuple(a.to(dtype) for a in args),
                      {"encoder_hidden_states": kw["encoder_hidden_states"].to(dtype),
                       "added_cond_kwargs": {n: t.to(dtype) for n, t in kw["added_cond_kwargs"].items()}})
                  for k, (args, kw) in inputs.items()}
    macs = {k: count_macs(unets[k], *inputs[k][0], **inputs[k][1]) for k in unets}

    def step(name):
        args, kwargs = inputs[name]
        with torch.no_grad():
            return unets[name](*args, **kwargs)

    # 9 rounds of 2 calls a side: under load one preempted call moved a 5-round median by ~0.3x
    times = ab_ratio(lambda: step("sdxl"), lambda: step("ssd1b"), device=device, rounds=9, warmup=1,
                     label_a="sdxl_unet", label_b="ssd1b_unet", calls_per_block=(2, 2))
    effcheck.check(Measurement(
        value=times.value, unit="x", method=f"{times.method}; latents {latent}x{latent}", device=device,
        samples=times.samples,
        details={**times.details, "macs_ratio_this_config": round(macs["sdxl"] / macs["ssd1b"], 3),
                 "width_divisor": 1 if device.startswith("cuda") else TIMED_WIDTH_DIVISOR,
                 "torch_threads": torch.get_num_threads()},
    ))

"""Stable Diffusion pipelines built from configs with random weights (no downloads), run through diffusers.

The pipelines are the real `StableDiffusionPipeline` / `StableDiffusionXLPipeline` with transformers' CLIP
text encoders and a CLIP tokenizer loaded from files (a small byte-level one written locally, so the
prompt goes through the real tokenizer path). On `meta` the full published sizes are built for counts and
multiply-adds; the timed runs use `SD15_TINY`. Samplers are switched by name the way users switch them,
`<Scheduler>.from_config(pipe.scheduler.config)`, and the number of UNet, text-encoder and VAE-decoder
calls a generation makes is counted with forward hooks on the real modules.
"""

from __future__ import annotations

import functools
import inspect
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from effcheck.errors import EffcheckError
from effcheck.models import require
from effcheck.models.build import building_on
from effcheck.models.diffusion_configs import SDSpec

# The article's lab (§7.2): this prompt, seed 42, 50 steps with the default sampler and the pipeline's
# default guidance, then LCM with 4 steps and guidance 1.0.
LAB_PROMPT = "a photorealistic mountain landscape at golden hour, 8k detailed"
LAB_SEED = 42
LAB_STEPS = 50
LCM_STEPS = 4
LCM_GUIDANCE = 1.0

# name -> diffusers class; names as users say them
SCHEDULERS = {
    "pndm": "PNDMScheduler",
    "lcm": "LCMScheduler",
    "ddim": "DDIMScheduler",
    "euler": "EulerDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
}


class UnknownSchedulerError(EffcheckError, ValueError):
    pass


def _diffusers() -> Any:
    return require("diffusers", "diffusion")


def _transformers() -> Any:
    return require("transformers", "diffusion")


# -- tokenizer -----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def byte_clip_tokenizer_dir() -> str:
    """A CLIP tokenizer over the 256 byte-level symbols (each also as a word end) and CLIP's two special
    tokens, saved with `save_pretrained` once per process. No merges: every character is a token."""
    transformers = _transformers()
    from tokenizers import pre_tokenizers

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    for suffix in ("", "</w>"):
        for symbol in alphabet:
            vocab[symbol + suffix] = len(vocab)
    tokenizer = transformers.CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    directory = tempfile.mkdtemp(prefix="effcheck-clip-tokenizer-")
    tokenizer.save_pretrained(directory)
    return directory


def byte_clip_tokenizer() -> Any:
    return _transformers().CLIPTokenizer.from_pretrained(byte_clip_tokenizer_dir())


# -- components ----------------------------------------------------------------------------------------------
def _build(make: Any, device: str, dtype: Any, seed: int) -> Any:
    import torch

    torch.manual_seed(seed)
    with building_on(device):
        module = make()
    if dtype is not None:
        module = module.to(dtype)
    return module.eval().requires_grad_(False)


def build_unet(config: Mapping[str, Any], device: str = "cpu", dtype: Any = None, seed: int = 0) -> Any:
    return _build(lambda: _diffusers().UNet2DConditionModel(**config), device, dtype, seed)


def build_vae(config: Mapping[str, Any], device: str = "cpu", dtype: Any = None, seed: int = 1) -> Any:
    return _build(lambda: _diffusers().AutoencoderKL(**config), device, dtype, seed)


def build_text_encoder(config: Mapping[str, Any], device: str = "cpu", dtype: Any = None, seed: int = 2,
                       with_projection: bool = False) -> Any:
    transformers = _transformers()
    cls = transformers.CLIPTextModelWithProjection if with_projection else transformers.CLIPTextModel
    return _build(lambda: cls(transformers.CLIPTextConfig(**config)), device, dtype, seed)


def make_scheduler(name: str, config: Mapping[str, Any]) -> Any:
    """A sampler by name, built from another sampler's config the way users switch them."""
    key = name.lower()
    if key not in SCHEDULERS:
        known = ", ".join(sorted(SCHEDULERS))
        raise UnknownSchedulerError(f"unknown scheduler {name!r}: choose one of {known}")
    cls = getattr(_diffusers(), SCHEDULERS[key])
    return cls.from_config({k: v for k, v in dict(config).items() if k != "_class_name"})


def published_scheduler(config: Mapping[str, Any]) -> Any:
    """The sampler a published scheduler_config.json names in `_class_name` (SD1.5's: PNDM)."""
    return getattr(_diffusers(), config["_class_name"]).from_config(dict(config))


def sd_pipeline(spec: SDSpec, device: str = "cpu", dtype: Any = None, seed: int = 0) -> Any:
    """A StableDiffusionPipeline of `spec` with random weights, its default sampler, no safety checker (as
    the lab loads it), progress bars off. On 'meta' it holds shapes only, for counts and multiply-adds."""
    diffusers = _diffusers()
    pipe = diffusers.StableDiffusionPipeline(
        vae=build_vae(spec.vae, device, dtype, seed + 1),
        text_encoder=build_text_encoder(spec.text_encoder, device, dtype, seed + 2),
        tokenizer=byte_clip_tokenizer(),
        unet=build_unet(spec.unet, device, dtype, seed),
        scheduler=published_scheduler(spec.scheduler),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def sdxl_pipeline(unet_config: Mapping[str, Any], device: str = "meta", dtype: Any = None) -> Any:
    """A StableDiffusionXLPipeline with SDXL's two text encoders and VAE around `unet_config` (SDXL's or
    SSD-1B's UNet): the whole pipeline, for counts."""
    from effcheck.models.diffusion_configs import (
        SDXL_SCHEDULER,
        SDXL_TEXT_ENCODER,
        SDXL_TEXT_ENCODER_2,
        SDXL_VAE,
    )

    diffusers = _diffusers()
    tokenizer = byte_clip_tokenizer()
    pipe = diffusers.StableDiffusionXLPipeline(
        vae=build_vae(SDXL_VAE, device, dtype),
        text_encoder=build_text_encoder(SDXL_TEXT_ENCODER, device, dtype),
        text_encoder_2=build_text_encoder(SDXL_TEXT_ENCODER_2, device, dtype, with_projection=True),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=build_unet(unet_config, device, dtype),
        scheduler=published_scheduler(SDXL_SCHEDULER),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def with_scheduler(pipe: Any, name: str) -> Any:
    """The same pipeline (shared modules, no copies) with its sampler switched to `name`."""
    components = {**pipe.components, "scheduler": make_scheduler(name, pipe.scheduler.config)}
    if "requires_safety_checker" in inspect.signature(type(pipe)).parameters:
        components["requires_safety_checker"] = bool(pipe.config.get("requires_safety_checker", False))
    other = type(pipe)(**components)
    other.set_progress_bar_config(disable=True)
    return other


def pipeline_modules(pipe: Any) -> dict[str, Any]:
    """The pipeline's torch modules by component name (UNet, VAE, text encoders)."""
    import torch

    return {name: c for name, c in pipe.components.items() if isinstance(c, torch.nn.Module)}


def default_guidance(pipe: Any) -> float:
    """The guidance scale a call without `guidance_scale` uses (the lab's 50-step run passes none)."""
    return float(inspect.signature(type(pipe).__call__).parameters["guidance_scale"].default)


def generate(pipe: Any, steps: int, guidance: float | None = None, *, prompt: str = LAB_PROMPT,
             seed: int = LAB_SEED, output_type: str = "pil") -> Any:
    """One call as the lab makes it: a fresh generator seeded per call; guidance=None leaves the default."""
    import torch

    device = pipe._execution_device
    generator = torch.Generator("cpu" if device.type == "cpu" else device).manual_seed(seed)
    kwargs: dict[str, Any] = {"num_inference_steps": steps, "generator": generator,
                              "output_type": output_type}
    if guidance is not None:
        kwargs["guidance_scale"] = guidance
    return pipe(prompt, **kwargs).images


# -- counting the work ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallCounts:
    """The batch size of every call one generation made to each model."""

    unet: tuple[int, ...] = ()
    text_encoder: tuple[int, ...] = ()
    vae_decoder: tuple[int, ...] = ()

    @property
    def unet_calls(self) -> int:
        return len(self.unet)

    @property
    def unet_samples(self) -> int:
        """UNet evaluations of one latent: classifier-free guidance runs each call at batch 2."""
        return sum(self.unet)


@dataclass
class _Tally:
    batches: dict[str, list[int]] = field(default_factory=lambda: {"unet": [], "text_encoder": [],
                                                                    "vae_decoder": []})

    def freeze(self) -> CallCounts:
        return CallCounts(**{k: tuple(v) for k, v in self.batches.items()})


def _batch_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    first = args[0] if args else next(iter(kwargs.values()))
    return int(first.shape[0])


@contextmanager
def counting_calls(pipe: Any) -> Iterator[_Tally]:
    """Count the UNet, text-encoder and VAE-decoder calls made inside the block (forward pre-hooks)."""
    tally = _Tally()
    targets = {"unet": pipe.unet, "text_encoder": pipe.text_encoder, "vae_decoder": pipe.vae.decoder}
    handles = [
        module.register_forward_pre_hook(
            lambda _m, args, kwargs, name=name: tally.batches[name].append(_batch_of(args, kwargs)),
            with_kwargs=True)
        for name, module in targets.items()
    ]
    try:
        yield tally
    finally:
        for handle in handles:
            handle.remove()


def count_calls(pipe: Any, steps: int, guidance: float | None) -> CallCounts:
    """The calls one whole generation (prompt to image) makes."""
    with counting_calls(pipe) as tally:
        generate(pipe, steps, guidance)
    return tally.freeze()


@dataclass(frozen=True)
class ComponentMacs:
    """Multiply-adds of one call of each model at the pipeline's own resolution, by batch size."""

    unet: Mapping[int, int]
    text_encoder: Mapping[int, int]
    vae_decoder: Mapping[int, int]
    resolution: int

    def of(self, counts: CallCounts) -> int:
        """Multiply-adds of a whole generation that made these calls."""
        return (sum(self.unet[b] for b in counts.unet)
                + sum(self.text_encoder[b] for b in counts.text_encoder)
                + sum(self.vae_decoder[b] for b in counts.vae_decoder))


def sd_component_macs(spec: SDSpec, batches: tuple[int, ...] = (1, 2), device: str = "meta",
                      linear_in_batch: bool = False) -> ComponentMacs:
    """FlopCounterMode multiply-adds of the UNet, the text encoder (77 tokens) and the VAE decode at the
    spec's latent size, for each batch size; on 'meta' no memory is used.

    linear_in_batch: count batch 1 only and scale it to the other batch sizes. Every op of these models
    works per sample, so multiply-adds are exactly linear in the batch (tests/test_diffusion_steps.py
    compares both ways); counting once halves the cost of the counts."""
    import torch

    from effcheck.meters.flops import count_macs

    if linear_in_batch:
        one = sd_component_macs(spec, (1,), device)

        def scaled(part: Mapping[int, int]) -> dict[int, int]:
            return {b: b * part[1] for b in batches}

        return ComponentMacs(scaled(one.unet), scaled(one.text_encoder), scaled(one.vae_decoder),
                             resolution=one.resolution)
    unet = build_unet(spec.unet, device)
    text_encoder = build_text_encoder(spec.text_encoder, device)
    vae = build_vae(spec.vae, device)
    n, width = spec.latent_size, spec.unet["cross_attention_dim"]
    unet_macs, text_macs, vae_macs = {}, {}, {}
    for b in batches:
        latents = torch.zeros(b, spec.unet["in_channels"], n, n, device=device)
        tokens = torch.zeros(b, text_encoder.config.max_position_embeddings, dtype=torch.long, device=device)
        context = torch.zeros(b, text_encoder.config.max_position_embeddings, width, device=device)
        unet_macs[b] = count_macs(unet, latents, torch.zeros(b, device=device), encoder_hidden_states=context)
        text_macs[b] = count_macs(text_encoder, tokens)
        vae_macs[b] = count_macs(vae.decode, latents)
    return ComponentMacs(unet_macs, text_macs, vae_macs, resolution=spec.image_size)


def sdxl_unet_inputs(unet_config: Mapping[str, Any], latent_size: int, device: str = "meta") -> tuple[
        tuple[Any, ...], dict[str, Any]]:
    """(args, kwargs) of one SDXL-family UNet call at batch 1, with the pooled-text and size conditioning
    (added_cond_kwargs) the pipeline passes; the pooled width follows the config (scaled-down ones too)."""
    import torch

    from effcheck.models.diffusion_configs import SDXL_TEXT_ENCODER

    tokens = SDXL_TEXT_ENCODER["max_position_embeddings"]
    pooled = unet_config["projection_class_embeddings_input_dim"] - 6 * unet_config["addition_time_embed_dim"]
    generator = torch.Generator().manual_seed(0)

    def tensor(*shape: int) -> Any:
        if device == "meta":
            return torch.empty(*shape, device=device)
        return torch.randn(*shape, generator=generator).to(device)

    conditioning = {"text_embeds": tensor(1, pooled), "time_ids": tensor(1, 6)}
    args = (tensor(1, unet_config["in_channels"], latent_size, latent_size), torch.full((1,), 500.0, device=device))
    return args, {"encoder_hidden_states": tensor(1, tokens, unet_config["cross_attention_dim"]),
                  "added_cond_kwargs": conditioning}


def sdxl_unet_macs(unet_config: Mapping[str, Any], resolution: int = 1024, device: str = "meta",
                   unet: Any = None) -> int:
    """Multiply-adds of one SDXL-family UNet call (batch 1) at `resolution` pixels (a UNet already built
    from `unet_config` may be passed, so one build serves several counts)."""
    from effcheck.meters.flops import count_macs

    if unet is None:
        unet = build_unet(unet_config, device)
    args, kwargs = sdxl_unet_inputs(unet_config, resolution // 8, device)
    return count_macs(unet, *args, **kwargs)

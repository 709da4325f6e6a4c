"""Stable Diffusion architectures as data: the official configs of SD1.5, SDXL and SSD-1B, and a
scaled-down SD1.5 for timed CPU runs. Imports nothing heavy.

Every value is the published `config.json` of the Hugging Face repository named in `source` (diffusers /
transformers keyword arguments; keys a class does not take, such as PNDM's `clip_sample`, are kept as
published and dropped by `from_config`). Weights are random: parameter counts, multiply-adds and the
number of UNet calls a sampler makes do not depend on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


def _frozen(**values: Any) -> Mapping[str, Any]:
    return MappingProxyType(values)


SD15_REPO = "runwayml/stable-diffusion-v1-5"
SDXL_REPO = "stabilityai/stable-diffusion-xl-base-1.0"
SSD1B_REPO = "segmind/SSD-1B"

# huggingface.co/runwayml/stable-diffusion-v1-5/blob/main/unet/config.json
SD15_UNET = _frozen(
    act_fn="silu", attention_head_dim=8, block_out_channels=(320, 640, 1280, 1280), center_input_sample=False,
    cross_attention_dim=768,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, in_channels=4, layers_per_block=2,
    mid_block_scale_factor=1, mid_block_type="UNetMidBlock2DCrossAttn", norm_eps=1e-5, norm_num_groups=32,
    out_channels=4, sample_size=64,
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    use_linear_projection=False,
)
# .../stable-diffusion-v1-5/blob/main/vae/config.json (SDXL's VAE has the same layers, scaling 0.13025)
SD15_VAE = _frozen(
    act_fn="silu", block_out_channels=(128, 256, 512, 512), down_block_types=("DownEncoderBlock2D",) * 4,
    in_channels=3, latent_channels=4, layers_per_block=2, norm_num_groups=32, out_channels=3, sample_size=512,
    scaling_factor=0.18215, up_block_types=("UpDecoderBlock2D",) * 4,
)
# .../stable-diffusion-v1-5/blob/main/text_encoder/config.json (CLIP ViT-L/14's text tower)
SD15_TEXT_ENCODER = _frozen(
    hidden_act="quick_gelu", hidden_size=768, intermediate_size=3072, layer_norm_eps=1e-5,
    max_position_embeddings=77, num_attention_heads=12, num_hidden_layers=12, projection_dim=768,
    vocab_size=49408, bos_token_id=0, eos_token_id=2, pad_token_id=1,
)
# .../stable-diffusion-v1-5/blob/main/scheduler/scheduler_config.json: the default sampler is PNDM
SD15_SCHEDULER = _frozen(
    _class_name="PNDMScheduler", beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085,
    clip_sample=False, num_train_timesteps=1000, prediction_type="epsilon", set_alpha_to_one=False,
    skip_prk_steps=True, steps_offset=1, trained_betas=None,
)

# huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/blob/main/unet/config.json
SDXL_UNET = _frozen(
    act_fn="silu", addition_embed_type="text_time", addition_embed_type_num_heads=64,
    addition_time_embed_dim=256, attention_head_dim=(5, 10, 20), block_out_channels=(320, 640, 1280),
    center_input_sample=False, cross_attention_dim=2048,
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, in_channels=4, layers_per_block=2,
    mid_block_scale_factor=1, mid_block_type="UNetMidBlock2DCrossAttn", norm_eps=1e-5, norm_num_groups=32,
    out_channels=4, projection_class_embeddings_input_dim=2816, sample_size=128,
    transformer_layers_per_block=(1, 2, 10),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), use_linear_projection=True,
)
# .../text_encoder/config.json is SD1.5's CLIP ViT-L text tower; .../text_encoder_2/config.json is
# OpenCLIP ViT-bigG's text tower with its projection (CLIPTextModelWithProjection)
SDXL_TEXT_ENCODER = SD15_TEXT_ENCODER
SDXL_TEXT_ENCODER_2 = _frozen(
    hidden_act="gelu", hidden_size=1280, intermediate_size=5120, layer_norm_eps=1e-5,
    max_position_embeddings=77, num_attention_heads=20, num_hidden_layers=32, projection_dim=1280,
    vocab_size=49408,
    bos_token_id=49406, eos_token_id=49407, pad_token_id=1,
)
SDXL_VAE = _frozen(**{**SD15_VAE, "sample_size": 1024, "scaling_factor": 0.13025, "force_upcast": True})
SDXL_SCHEDULER = _frozen(
    _class_name="EulerDiscreteScheduler", beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085,
    interpolation_type="linear", num_train_timesteps=1000, prediction_type="epsilon", steps_offset=1,
    timestep_spacing="leading", use_karras_sigmas=False,
)

# segmind/SSD-1B unet/config.json: SDXL's UNet distilled by removing blocks. The mid block is a single
# ResNet ("UNetMidBlock2D": diffusers builds it with num_layers=0 and no attention, added for this model in
# huggingface/diffusers#5400), the 1280-channel down level keeps 4 of 10 transformer layers, and the up path
# is asymmetric (per-layer depths in reverse_transformer_layers_per_block). The same layer depths are hard-
# coded for VERSION_SDXL_SSD1B in leejet/stable-diffusion.cpp src/unet.hpp. Text encoders and VAE are SDXL's.
SSD1B_UNET = _frozen(**{
    **SDXL_UNET,
    "mid_block_type": "UNetMidBlock2D",
    "transformer_layers_per_block": (1, 2, 4),
    "reverse_transformer_layers_per_block": ((4, 4, 10), (2, 1, 1), (1, 1, 1)),
})


@dataclass(frozen=True)
class SDSpec:
    """One Stable Diffusion 1.x pipeline's architecture: its components' configs and its latent size."""

    name: str
    unet: Mapping[str, Any]
    vae: Mapping[str, Any]
    text_encoder: Mapping[str, Any]
    scheduler: Mapping[str, Any]
    latent_size: int
    source: str
    tokenizer_vocab: str = "clip"  # "clip": the 49408-token CLIP BPE (counts only); "bytes": the local one
    notes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        """Pixels per side: the VAE decodes 8x its latent (three 2x upsamplers)."""
        upscale: int = 2 ** (len(self.vae["block_out_channels"]) - 1)  # an int: every VAE has a block
        return self.latent_size * upscale


SD15 = SDSpec("sd15", SD15_UNET, SD15_VAE, SD15_TEXT_ENCODER, SD15_SCHEDULER, latent_size=64,
              source=f"huggingface.co/{SD15_REPO} (unet, vae, text_encoder, scheduler config.json)")


def scaled_down(spec: SDSpec, width_divisor: int, latent_size: int, norm_groups: int, vocab_size: int,
                name: str) -> SDSpec:
    """The same pipeline with every width divided by `width_divisor`: same block types, depths, heads,
    attention and sampler; fewer channels, a smaller latent, a small locally built tokenizer."""
    def w(c: int, groups: int = norm_groups) -> int:
        if c % width_divisor or (c // width_divisor) % groups:
            raise ValueError(f"width {c} does not divide by {width_divisor} into {groups} equal groups")
        return c // width_divisor

    text = spec.text_encoder
    text_width = w(text["hidden_size"], text["num_attention_heads"])
    unet = {**spec.unet, "block_out_channels": tuple(w(c) for c in spec.unet["block_out_channels"]),
            "cross_attention_dim": text_width, "norm_num_groups": norm_groups, "sample_size": latent_size}
    vae = {**spec.vae, "block_out_channels": tuple(w(c) for c in spec.vae["block_out_channels"]),
           "norm_num_groups": norm_groups, "sample_size": latent_size * 8}
    text_encoder = {**text, "hidden_size": text_width, "intermediate_size": w(text["intermediate_size"], 1),
                    "projection_dim": text_width, "vocab_size": vocab_size,
                    "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    return SDSpec(name, _frozen(**unet), _frozen(**vae), _frozen(**text_encoder), spec.scheduler, latent_size,
                  source=f"{spec.name} with widths / {width_divisor}, {latent_size}x{latent_size} latents",
                  tokenizer_vocab="bytes",
                  notes={"scaled_from": spec.name, "width_divisor": width_divisor,
                         "norm_groups": norm_groups})


# 256 byte-level symbols, each also as a word end, plus <|startoftext|> and <|endoftext|>: see
# effcheck.models.diffusion.byte_clip_tokenizer
BYTE_TOKENIZER_VOCAB = 2 + 2 * 256

# For timed CPU runs: SD1.5 at 1/8 of every width (UNet 40..160 channels, VAE 16..64, CLIP text 96 wide with
# its 12 layers and 12 heads) and 8x8 latents (64x64 images). Small enough that 50 guided steps take seconds
# on one core; the fixed share (text encoder + VAE decode) of a run is not the full-size one, so timed claims
# report the full-size multiply-add model beside the measured ratio.
SD15_TINY = scaled_down(SD15, width_divisor=8, latent_size=8, norm_groups=8, vocab_size=BYTE_TOKENIZER_VOCAB,
                        name="sd15-tiny")

# For call counts only. How many times a generation calls the UNet, the text encoder and the VAE decoder is
# decided by the pipeline's loop and its sampler (timesteps, guidance), not by the models' widths or depths:
# tests/test_diffusion_steps.py checks these counts against SD15_TINY's. So the fast tier counts calls with
# the smallest SD1.x-shaped pipeline diffusers builds (its own tests' tiny sizes): a cross-attention level
# and a plain level, one layer each; the VAE keeps SD's four levels so images are 8x the latent, as in SD.
SD_CALLS = SDSpec(
    "sd-calls",
    unet=_frozen(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
                 down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                 up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
                 attention_head_dim=2, norm_num_groups=4),
    vae=_frozen(block_out_channels=(4, 4, 4, 4), down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4, in_channels=3, out_channels=3, latent_channels=4,
                layers_per_block=1, norm_num_groups=2, sample_size=64, scaling_factor=0.18215),
    text_encoder=_frozen(hidden_act="quick_gelu", hidden_size=16, intermediate_size=32, layer_norm_eps=1e-5,
                         max_position_embeddings=77, num_attention_heads=2, num_hidden_layers=1,
                         projection_dim=16, vocab_size=BYTE_TOKENIZER_VOCAB, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1),
    scheduler=SD15_SCHEDULER, latent_size=8,
    source="diffusers' test-sized UNet2DConditionModel / AutoencoderKL / CLIP text model around SD1.5's "
           "published scheduler; for call counts only",
    tokenizer_vocab="bytes",
)

# An unconditional pixel-space UNet (DDPMPipeline / DDIMPipeline take a UNet2DModel and a scheduler): the
# smallest one, since only the number of calls the pipelines make is read from it.
PIXEL_UNET_CALLS = _frozen(block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=3,
                           out_channels=3, down_block_types=("DownBlock2D", "DownBlock2D"),
                           up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=4)


def scaled_down_sdxl_unet(config: Mapping[str, Any], width_divisor: int, norm_groups: int) -> Mapping[str, Any]:
    """An SDXL-family UNet (SDXL's or SSD-1B's) with every width divided by `width_divisor`: same blocks,
    transformer depths and head counts (SDXL's `attention_head_dim` is a head count), narrower channels,
    text context and size embedding. For timing the two UNets against each other on a CPU."""
    def w(c: int) -> int:
        if c % width_divisor or (c // width_divisor) % norm_groups:
            raise ValueError(f"width {c} does not divide by {width_divisor} into {norm_groups} equal groups")
        return c // width_divisor

    pooled = SDXL_TEXT_ENCODER_2["projection_dim"] // width_divisor
    time_embed = config["addition_time_embed_dim"] // width_divisor
    return _frozen(**{
        **config,
        "block_out_channels": tuple(w(c) for c in config["block_out_channels"]),
        "norm_num_groups": norm_groups,
        "cross_attention_dim": config["cross_attention_dim"] // width_divisor,
        "addition_time_embed_dim": time_embed,
        # the pooled text embedding and six size/crop numbers, each embedded at addition_time_embed_dim
        "projection_class_embeddings_input_dim": pooled + 6 * time_embed,
    })

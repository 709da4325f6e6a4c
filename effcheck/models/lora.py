"""LCM-LoRA adapters through peft, saved and loaded the way users do it.

The adapter is the one the LCM-LoRA training script puts on the UNet: rank 64, alpha 64, on every linear
and convolution of the attention and ResNet blocks (`LCM_LORA_TARGET_MODULES`). It is injected with
diffusers' `unet.add_adapter(LoraConfig)` (peft's inject_adapter_in_model, as `get_peft_model` does in the
script), saved with `StableDiffusionPipeline.save_lora_weights` and loaded with `load_lora_weights` +
`fuse_lora`, as the article's lab loads latent-consistency/lcm-lora-sdv1-5. Before diffusers sees a file,
its keys are checked against the UNet: diffusers would silently load nothing from a file whose keys carry
no `unet.` prefix, and fail deep inside peft on a module the UNet lacks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from effcheck.errors import EffcheckError
from effcheck.models import require
from effcheck.models.build import building_on

# huggingface/diffusers examples/consistency_distillation/train_lcm_distill_lora_sd_wds.py: --lora_rank
# default 64, --lora_alpha default 64, and the default lora_target_modules ("By default, LoRA will be
# applied to all conv and linear layers").
LCM_LORA_RANK = 64
LCM_LORA_ALPHA = 64
LCM_LORA_TARGET_MODULES = (
    "to_q", "to_k", "to_v", "to_out.0",
    "proj_in", "proj_out",
    "ff.net.0.proj", "ff.net.2",
    "conv1", "conv2", "conv_shortcut",
    "downsamplers.0.conv", "upsamplers.0.conv",
    "time_emb_proj",
)
LCM_LORA_SOURCE = ("huggingface/diffusers examples/consistency_distillation/train_lcm_distill_lora_sd_wds.py "
                   "(--lora_rank 64, --lora_alpha 64, default lora_target_modules)")
LORA_WEIGHT_NAME = "pytorch_lora_weights.safetensors"  # diffusers' LORA_WEIGHT_NAME_SAFE


class LoraMismatchError(EffcheckError, ValueError):
    pass


def lcm_lora_config(rank: int = LCM_LORA_RANK, alpha: int = LCM_LORA_ALPHA) -> Any:
    peft = require("peft", "diffusion")
    return peft.LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(LCM_LORA_TARGET_MODULES),
                           lora_dropout=0.0)


def add_lcm_lora(unet: Any, *, rank: int = LCM_LORA_RANK, alpha: int = LCM_LORA_ALPHA,
                 seed: int | None = None, std: float = 0.02) -> Any:
    """Inject the LCM-LoRA adapter into `unet` (works on 'meta' for counts).

    peft starts lora_B at zero, which makes a fresh adapter a no-op; with a seed both factors get random
    values (B ~ N(0, std)), so that loading and fusing it visibly changes what the pipeline generates.
    """
    import torch

    if next(unet.parameters()).device.type == "meta":
        # peft builds each LoRA layer on the default device and initialises it before moving it to the base
        # layer's device: on a meta UNet, build them on meta too (shapes only), which is ~10x faster
        with building_on("meta"):
            unet.add_adapter(lcm_lora_config(rank, alpha))
    else:
        unet.add_adapter(lcm_lora_config(rank, alpha))
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for name, p in lora_parameters(unet).items():
                if ".lora_B." in name:
                    p.copy_(torch.randn(p.shape, generator=generator) * std)
    return unet


def lora_parameters(module: Any) -> dict[str, Any]:
    """The adapter's own parameters (lora_A / lora_B of every adapted layer)."""
    return {name: p for name, p in module.named_parameters() if ".lora_A." in name or ".lora_B." in name}


def adapter_state_dict(unet: Any) -> dict[str, Any]:
    """The adapter as peft saves it: `<module>.lora_A.weight` / `.lora_B.weight`, adapter name removed."""
    require("peft", "diffusion")
    from peft.utils import get_peft_model_state_dict

    state: dict[str, Any] = get_peft_model_state_dict(unet)
    return state


def tensor_bytes(tensors: Iterable[Any], dtype: Any) -> int:
    """Bytes of these tensors' values stored at `dtype`, exactly from their shapes (meta tensors too)."""
    import torch

    itemsize: int = torch.empty((), dtype=dtype).element_size()
    values: int = sum(t.numel() for t in tensors)
    return values * itemsize


def save_lora(state_dict: Mapping[str, Any], directory: str | os.PathLike[str], dtype: Any = None) -> Path:
    """Write the adapter with diffusers' `save_lora_weights` (a safetensors file, keys prefixed `unet.`).

    Tensors on 'meta' are written as zeros of their shape: the file then has the real adapter's size."""
    import torch

    diffusers = require("diffusers", "diffusion")
    tensors = {}
    for key, t in state_dict.items():
        target = dtype or t.dtype
        tensors[key] = torch.zeros(t.shape, dtype=target) if t.device.type == "meta" else t.detach().to(
            "cpu", target).contiguous()
    diffusers.StableDiffusionPipeline.save_lora_weights(
        directory, unet_lora_layers=tensors, weight_name=LORA_WEIGHT_NAME, safe_serialization=True)
    return Path(directory) / LORA_WEIGHT_NAME


def _lora_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.is_dir():
        p = p / LORA_WEIGHT_NAME
    if not p.is_file():
        raise LoraMismatchError(f"no LoRA file at {p}")
    return p


def _peft_unet_keys(state_dict: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The UNet part of a LoRA state dict in peft's key format, as diffusers will read it."""
    from diffusers.utils import convert_unet_state_dict_to_peft

    unet_sd = {k.removeprefix("unet."): v for k, v in state_dict.items() if k.startswith("unet.")}
    if not unet_sd:
        sample = ", ".join(sorted(state_dict)[:2]) or "no keys at all"
        raise LoraMismatchError(f"{source}: no UNet LoRA weights (no key starts with 'unet.'; found "
                                f"{sample}): load_lora_weights would load nothing into the UNet")
    if not any(".lora_A." in k for k in unet_sd):
        unet_sd = convert_unet_state_dict_to_peft(unet_sd)
    return unet_sd


def _features(module: Any) -> tuple[int, int] | None:
    for fan_in, fan_out in (("in_features", "out_features"), ("in_channels", "out_channels")):
        if hasattr(module, fan_in):
            return getattr(module, fan_in), getattr(module, fan_out)
    return None


def check_lora_matches(state_dict: Mapping[str, Any], unet: Any, source: str = "LoRA") -> int:
    """Raise LoraMismatchError unless every adapted module exists in `unet` with matching in/out sizes.
    Returns the number of adapted modules."""
    peft_sd = _peft_unet_keys(state_dict, source)
    modules = dict(unet.named_modules())
    targets = sorted({k.split(".lora_", 1)[0] for k in peft_sd if ".lora_" in k})
    absent = [t for t in targets if t not in modules]
    if absent:
        raise LoraMismatchError(
            f"{source}: {len(absent)} of {len(targets)} LoRA target modules are not in this UNet "
            f"(e.g. {', '.join(absent[:3])}): the adapter was made for another architecture")
    for key, tensor in peft_sd.items():
        if not key.endswith((".lora_A.weight", ".lora_B.weight")):
            continue
        name = key.split(".lora_", 1)[0]
        sizes = _features(modules[name])
        if sizes is None:
            continue
        fan_in, fan_out = sizes
        got, want = (tensor.shape[1], fan_in) if ".lora_A." in key else (tensor.shape[0], fan_out)
        if got != want:
            side = "input" if ".lora_A." in key else "output"
            raise LoraMismatchError(f"{source}: {key} has {side} size {got} but the UNet's {name} has "
                                    f"{want}: the adapter was made for another architecture")
    return len(targets)


def load_lora(pipe: Any, path: str | os.PathLike[str], *, fuse: bool = True,
              adapter_name: str = "lcm") -> int:
    """`pipe.load_lora_weights(file)` then, if asked, `pipe.fuse_lora()`, after checking the file's keys
    against the pipeline's UNet. Returns the number of UNet modules the adapter changes."""
    require("peft", "diffusion")
    file = _lora_file(path)
    state_dict, _alphas = type(pipe).lora_state_dict(str(file))
    adapted = check_lora_matches(state_dict, pipe.unet, source=str(file))
    pipe.load_lora_weights(str(file), adapter_name=adapter_name)
    if fuse:
        pipe.fuse_lora()
    return adapted

"""Real Stable Diffusion weights, found locally and never downloaded.

A diffusers-format directory (what `save_pretrained` writes and the Hub stores) is checked for its
components before `from_pretrained` runs, so an incomplete one fails with the missing parts named rather
than somewhere inside diffusers. Weights are looked for in an environment variable first, then in the
Hugging Face cache with `local_files_only=True` (no network).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from effcheck.errors import EffcheckError
from effcheck.models import require

SD15_DIR_ENV = "EFFCHECK_SD15_DIR"
LCM_LORA_ENV = "EFFCHECK_LCM_LORA"
SD15_HUB_IDS = ("stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5")
LCM_LORA_HUB_IDS = ("latent-consistency/lcm-lora-sdv1-5",)

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".index.json")
# what each kind of component needs besides its config (transformers writes config.json, diffusers too)
_TOKENIZER_FILES = (("vocab.json", "merges.txt"), ("tokenizer.json",))
_REQUIRED = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


class IncompleteWeightsError(EffcheckError, FileNotFoundError):
    pass


def _has_weights(folder: Path) -> bool:
    return folder.is_dir() and any(p.name.endswith(_WEIGHT_SUFFIXES) for p in folder.iterdir())


def _only_fp16_variant(folder: Path) -> bool:
    names = [p.name for p in folder.iterdir() if p.name.endswith(_WEIGHT_SUFFIXES)]
    return bool(names) and all(".fp16." in n for n in names)


def missing_parts(directory: str | os.PathLike[str]) -> list[str]:
    """What a Stable Diffusion 1.x pipeline directory lacks, in words; empty when complete."""
    root = Path(directory)
    if not root.is_dir():
        return [f"the directory itself ({root} does not exist)"]
    missing = []
    if not (root / "model_index.json").is_file():
        missing.append("model_index.json")
    for part in _REQUIRED:
        folder = root / part
        if not folder.is_dir():
            missing.append(f"{part}/")
        elif part == "scheduler":
            if not (folder / "scheduler_config.json").is_file():
                missing.append("scheduler/scheduler_config.json")
        elif part == "tokenizer":
            if not any(all((folder / f).is_file() for f in files) for files in _TOKENIZER_FILES):
                missing.append("tokenizer/vocab.json+merges.txt (or tokenizer.json)")
        else:
            if not (folder / "config.json").is_file():
                missing.append(f"{part}/config.json")
            if not _has_weights(folder):
                missing.append(f"{part}/ weights (*.safetensors or *.bin)")
    return missing


def check_pipeline_dir(directory: str | os.PathLike[str]) -> Path:
    missing = missing_parts(directory)
    if missing:
        raise IncompleteWeightsError(f"{directory} is not a complete Stable Diffusion pipeline directory: "
                                     f"missing {', '.join(missing)}")
    return Path(directory)


def load_sd_pipeline(directory: str | os.PathLike[str], device: str = "cpu", dtype: Any = None) -> Any:
    """StableDiffusionPipeline.from_pretrained from a local directory, without a safety checker (as the lab
    loads it) and with progress bars off; fp16-only checkpoints load their fp16 variant."""
    root = check_pipeline_dir(directory)
    diffusers = require("diffusers", "diffusion")
    variant = "fp16" if _only_fp16_variant(root / "unet") else None
    pipe = diffusers.StableDiffusionPipeline.from_pretrained(
        root, local_files_only=True, safety_checker=None, requires_safety_checker=False, torch_dtype=dtype,
        variant=variant)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def model_index(directory: str | os.PathLike[str]) -> dict[str, Any]:
    index: dict[str, Any] = json.loads((Path(directory) / "model_index.json").read_text())  # a JSON object
    return index


@dataclass(frozen=True)
class LocalWeights:
    path: Path
    origin: str  # "$EFFCHECK_SD15_DIR" or "hf cache: <repo id>"


def _from_env(env: str) -> LocalWeights | None:
    value = os.environ.get(env)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.exists():
        raise IncompleteWeightsError(f"${env}={value}: no such file or directory")
    return LocalWeights(path, f"${env}")


def _from_hf_cache(repo_ids: tuple[str, ...]) -> LocalWeights | None:
    try:
        hub = require("huggingface_hub", "diffusion")
    except EffcheckError:
        return None
    for repo_id in repo_ids:
        try:
            path = hub.snapshot_download(repo_id, local_files_only=True)
        except Exception:  # noqa: BLE001 - not cached (LocalEntryNotFoundError and friends): try the next
            continue
        return LocalWeights(Path(path), f"hf cache: {repo_id}")
    return None


def _from_root(root: str | os.PathLike[str] | None, repo_ids: tuple[str, ...]) -> LocalWeights | None:
    """ROOT/<repo id> for each known repo id (--effcheck-weights=ROOT: a folder laid out like the hub)."""
    if root is None:
        return None
    for repo_id in repo_ids:
        path = Path(root).expanduser() / repo_id
        if path.exists():
            return LocalWeights(path, f"--effcheck-weights: {repo_id}")
    return None


def find_sd15(root: str | os.PathLike[str] | None = None) -> LocalWeights | None:
    """SD1.5 weights: ${EFFCHECK_SD15_DIR} (a diffusers-format directory), else ROOT/<repo id>, else the
    HF cache."""
    return _from_env(SD15_DIR_ENV) or _from_root(root, SD15_HUB_IDS) or _from_hf_cache(SD15_HUB_IDS)


def find_lcm_lora(root: str | os.PathLike[str] | None = None) -> LocalWeights | None:
    """The LCM-LoRA for SD1.5: ${EFFCHECK_LCM_LORA} (a .safetensors file or its folder), else
    ROOT/<repo id>, else the HF cache."""
    return _from_env(LCM_LORA_ENV) or _from_root(root, LCM_LORA_HUB_IDS) or _from_hf_cache(LCM_LORA_HUB_IDS)


def how_to_provide_weights() -> str:
    return (f"real SD1.5 and LCM-LoRA weights are needed and are never downloaded: set {SD15_DIR_ENV} to a "
            f"diffusers-format {SD15_HUB_IDS[-1]} directory and {LCM_LORA_ENV} to the "
            f"{LCM_LORA_HUB_IDS[0]} pytorch_lora_weights.safetensors, or pass --effcheck-weights=ROOT holding "
            f"ROOT/{SD15_HUB_IDS[-1]} and ROOT/{LCM_LORA_HUB_IDS[0]} (or have both in the HF cache)")

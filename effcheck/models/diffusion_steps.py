"""What diffusers' samplers do per step: how many UNet calls a DDPM / DDIM generation makes at the library's
defaults, which of the UNet's blocks one call runs, and LCM's consistency function recomputed independently
of LCMScheduler, to compare with what a real pipeline returns.

DDPMPipeline and DDIMPipeline are built around the smallest pixel-space UNet2DModel (configs in
diffusion_configs.PIXEL_UNET_CALLS): the number of calls is the pipeline's loop over its scheduler's
timesteps, whatever the UNet computes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from effcheck.models import require

# The consistency function's scalings in the LCM reference code (Luo et al. 2023, arXiv:2310.04378; diffusers
# examples/consistency_distillation scalings_for_boundary_conditions): sigma_data 0.5, timesteps scaled by 10.
LCM_SIGMA_DATA = 0.5
LCM_TIMESTEP_SCALING = 10.0


def _diffusers() -> Any:
    return require("diffusers", "diffusion")


# -- DDPM and DDIM at their defaults -------------------------------------------------------------------------
def pixel_pipeline(kind: str, seed: int = 0) -> Any:
    """DDPMPipeline ("ddpm") or DDIMPipeline ("ddim") with its own default scheduler and a tiny pixel UNet."""
    import torch

    from effcheck.models.diffusion_configs import PIXEL_UNET_CALLS

    diffusers = _diffusers()
    classes = {"ddpm": (diffusers.DDPMPipeline, diffusers.DDPMScheduler),
               "ddim": (diffusers.DDIMPipeline, diffusers.DDIMScheduler)}
    if kind not in classes:
        raise ValueError(f"unknown pixel pipeline {kind!r}: choose ddpm or ddim")
    pipeline_cls, scheduler_cls = classes[kind]
    torch.manual_seed(seed)
    unet = diffusers.UNet2DModel(**PIXEL_UNET_CALLS).eval().requires_grad_(False)
    pipe = pipeline_cls(unet=unet, scheduler=scheduler_cls())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def default_steps(pipeline: Any) -> int:
    """The num_inference_steps a call without one uses (a pipeline instance or class)."""
    cls = pipeline if isinstance(pipeline, type) else type(pipeline)
    return int(inspect.signature(cls.__call__).parameters["num_inference_steps"].default)


@contextmanager
def counting_forwards(modules: dict[str, Any]) -> Iterator[dict[str, int]]:
    """Count forward calls of each named module inside the block (forward pre-hooks)."""
    counts = dict.fromkeys(modules, 0)

    def hook(name: str) -> Any:
        def count(_module: Any, _args: Any) -> None:
            counts[name] += 1
        return count

    handles = [m.register_forward_pre_hook(hook(name)) for name, m in modules.items()]
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


def pixel_unet_calls(pipe: Any, steps: int | None = None) -> int:
    """UNet calls of one generation (steps=None: the pipeline's default)."""
    import torch

    kwargs: dict[str, Any] = {"generator": torch.Generator().manual_seed(0), "output_type": "np"}
    if steps is not None:
        kwargs["num_inference_steps"] = steps
    with counting_forwards({"unet": pipe.unet}) as counts:
        pipe(**kwargs)
    return counts["unet"]


def scheduler_timesteps(pipe: Any, steps: int) -> int:
    """How many timesteps the pipeline's scheduler walks for `steps` (the loop the pipeline runs)."""
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    scheduler.set_timesteps(steps)
    return len(scheduler.timesteps)


def unet_blocks(unet: Any) -> dict[str, Any]:
    """The UNet and its top-level blocks by name: every one runs once in a full forward pass."""
    blocks = {"unet": unet, "conv_in": unet.conv_in, "mid_block": unet.mid_block, "conv_out": unet.conv_out}
    blocks.update({f"down_blocks.{i}": b for i, b in enumerate(unet.down_blocks)})
    blocks.update({f"up_blocks.{i}": b for i, b in enumerate(unet.up_blocks)})
    return blocks


# -- LCM's consistency function -----------------------------------------------------------------------------
def scaled_linear_alphas_cumprod(beta_start: float, beta_end: float, train_steps: int) -> Any:
    """alpha-bar_t of SD's 'scaled_linear' schedule, in float64: cumprod(1 - beta_t), beta_t on a line in
    sqrt(beta) (the LDM paper's schedule, as SD1.5's scheduler_config.json names it)."""
    import torch

    betas = torch.linspace(beta_start**0.5, beta_end**0.5, train_steps, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


def consistency_estimate(sample: Any, eps: Any, timestep: int, alphas_cumprod: Any,
                         sigma_data: float = LCM_SIGMA_DATA, scaling: float = LCM_TIMESTEP_SCALING) -> Any:
    """f(x, t) = c_skip(t) x + c_out(t) x0(x, eps, t): LCM's clean-latent estimate from one epsilon-predicting
    UNet call, in float64. x0 is the DDPM epsilon parameterisation (x - sqrt(1 - a_t) eps) / sqrt(a_t)."""
    a = alphas_cumprod[int(timestep)].item()
    x = sample.double()
    x0 = (x - (1.0 - a) ** 0.5 * eps.double()) / a**0.5
    scaled = float(timestep) * scaling
    c_skip = sigma_data**2 / (scaled**2 + sigma_data**2)
    c_out = scaled / (scaled**2 + sigma_data**2) ** 0.5
    return c_skip * x + c_out * x0


@dataclass(frozen=True)
class LcmStep:
    """One step of a real LCM generation: the UNet call's input and output, and what the scheduler returned."""

    timestep: int
    sample: Any
    eps: Any
    denoised: Any
    prev_sample: Any


def record_lcm_steps(pipe: Any, steps: int, generate_fn: Any) -> tuple[list[LcmStep], Any]:
    """Run `generate_fn(pipe, steps)` (an SD pipeline with LCMScheduler, guidance 1.0, output_type='latent')
    and record each UNet call and each scheduler step. Returns the steps and the pipeline's output latents."""
    calls: list[tuple[Any, Any, Any]] = []
    results: list[tuple[Any, Any]] = []

    def unet_hook(_m: Any, args: Any, kwargs: Any, output: Any) -> None:
        sample = args[0] if args else kwargs["sample"]
        timestep = args[1] if len(args) > 1 else kwargs["timestep"]
        out = output.sample if hasattr(output, "sample") else output[0]
        calls.append((int(timestep), sample.detach().clone(), out.detach().clone()))

    scheduler = pipe.scheduler
    original = scheduler.step

    @functools.wraps(original)
    def step(*args: Any, **kwargs: Any) -> Any:
        kwargs["return_dict"] = False
        prev_sample, denoised = original(*args, **kwargs)
        results.append((prev_sample.detach().clone(), denoised.detach().clone()))
        return prev_sample, denoised

    handle = pipe.unet.register_forward_hook(unet_hook, with_kwargs=True)
    scheduler.step = step
    try:
        output = generate_fn(pipe, steps)
    finally:
        handle.remove()
        del scheduler.step
    # under classifier-free guidance a UNet call sees a batch of 2 and the step gets their guided mix, so the
    # recorded UNet output is not what the step consumed
    if len(calls) != len(results) or any(c[2].shape != r[1].shape for c, r in zip(calls, results, strict=False)):
        raise RuntimeError(f"{len(calls)} UNet calls of batch {[tuple(c[2].shape)[0] for c in calls]} for "
                           f"{len(results)} scheduler steps: guidance must be 1.0")
    pairs = zip(calls, results, strict=True)
    recorded = [LcmStep(t, x, eps, denoised, prev) for (t, x, eps), (prev, denoised) in pairs]
    return recorded, output

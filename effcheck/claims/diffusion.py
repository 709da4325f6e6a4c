"""Diffusion claims about steps (article §2.7, §4, §7): DDPM / DDIM step counts, a UNet call per step,
LCM's clean-latent prediction, LCM's 50 -> 4 (and 2) steps and its speedup, and what cannot be checked offline.

Sizes (LCM-LoRA, SD1.5, SDXL, SSD-1B) are in effcheck.claims.diffusion_sizes.

Margins: a figure printed as "~10x" means what rounds to it, half a unit of its last printed digit
(effcheck.meters.rounding); timed claims add nothing for noise beyond that and carry their per-round samples.
A step count compared with UNet calls allows the one extra call SD1.5's default sampler makes: PNDM without
its PRK warm-up repeats one timestep, so n steps make n + 1 UNet calls (diffusers PNDMScheduler.set_timesteps).
"""

from effcheck.meters.rounding import parse_figure
from effcheck.records import Claim


def _rounding(printed: str) -> float:
    """The relative margin of a printed figure: its half-step over its value."""
    figure = parse_figure(printed)
    return figure.half_step / figure.value


ARTICLE = "article"
PNDM_EXTRA = "PNDM's n steps make n + 1 UNet calls (its PLMS warm-up repeats one timestep)"

# Sentences of the article, verbatim (their section is in each claim's source).
Q_DDPM_DDIM = ("The efficiency bottleneck of diffusion models lies not only in model size but more critically in "
               "denoising steps: standard DDPM requires 1000 steps, and even DDIM still needs 50 steps.")
Q_UNET_PER_STEP = "Each step is a full U-Net forward pass."
Q_SNAPFUSION_STEPS = ("On the architecture side, it streamlines SD's U-Net (block removal, channel reduction); on "
                      "the step count side, it uses step distillation to compress 50 steps down to 8.")
Q_SNAPFUSION_MOBILE = "The result is generating 512x512 images on mobile devices in under 2 seconds."
Q_LCM_ONE_SHOT = ("LCM no longer denoises step by step but instead learns ODE (Ordinary Differential Equation) "
                  "solutions directly in latent space — predicting the final clean latent variable in one shot.")
Q_LCM_2_TO_4 = "This reduces generation steps from 50 to 2-4, with quality remaining excellent:"
Q_LCM_12_5 = ("LCM + LCM-LoRA enables any Stable Diffusion model to complete generation in 4 steps — a 12.5x "
              "acceleration of the original 50-step process.")
Q_LCM_10X = "From 50 steps down to 4 = 12.5x step reduction → ~10x speed improvement"
Q_QUALITY = "4-step generation: quality approaching 50-step standard SD"
Q_RTX4060 = ("Combined with Flash Attention and quantization, SDXL can achieve near-real-time 1024x1024 image "
             "generation on an RTX 4060.")
Q_A100 = ("Combined with LCM's step optimization, a single A100 can generate tens of thousands of high-quality "
          "images per hour.")

# -- DDPM, DDIM and the UNet per step: §2.7 ------------------------------------------------------------------
DDPM_STEPS = Claim(
    id="diffusion/ddpm/steps_1000",
    statement="Standard DDPM sampling takes 1000 steps: diffusers' DDPMPipeline at its default step count "
              "walks all 1000 training timesteps of DDPMScheduler, one UNet call each",
    source=f"{ARTICLE} §2.7; diffusers DDPMPipeline.__call__ num_inference_steps default and DDPMScheduler "
           "num_train_timesteps default, read from the installed library",
    metric="UNet calls of one DDPMPipeline generation at its default num_inference_steps",
    unit="calls",
    comparison="==",
    expected=1000,
    source_kind="article",
    quote=Q_DDPM_DDIM,
)

DDIM_STEPS = Claim(
    id="diffusion/ddim/steps_50",
    statement="DDIM still needs 50 steps: diffusers' DDIMPipeline at its default step count makes 50 UNet "
              "calls (and the Stable Diffusion pipeline's default is 50 steps too)",
    source=f"{ARTICLE} §2.7; diffusers DDIMPipeline.__call__ and StableDiffusionPipeline.__call__ "
           "num_inference_steps defaults, read from the installed library",
    metric="UNet calls of one DDIMPipeline generation at its default num_inference_steps",
    unit="calls",
    comparison="==",
    expected=50,
    source_kind="article",
    quote=Q_DDPM_DDIM,
)

UNET_PER_STEP = Claim(
    id="diffusion/unet/forward_per_step",
    statement="Each denoising step is one forward pass of the whole UNet (every down, mid and up block runs "
              "once per call): the SD pipeline with DDIM at guidance 1.0 makes exactly one UNet call per step",
    source=f"{ARTICLE} §2.7; forward hooks on the UNet and its top-level blocks of a real StableDiffusionPipeline",
    metric="UNet calls per denoising step (DDIM, guidance 1.0)",
    unit="calls/step",
    comparison="==",
    expected=1.0,
    source_kind="article",
    quote=Q_UNET_PER_STEP,
)

UNET_PER_STEP_CFG = Claim(
    id="diffusion/unet/forward_per_step_cfg",
    statement="Under classifier-free guidance (the SD pipeline's default 7.5) a step is still one UNet call, "
              "but on a batch of 2 latents (unconditional and text-conditioned): 2 UNet evaluations per step",
    source="suite check beside article §2.7 ('Each step is a full U-Net forward pass'), which does not mention "
           "guidance; diffusers StableDiffusionPipeline doubles the latent batch when guidance_scale > 1",
    metric="UNet evaluations (latents through the UNet) per denoising step, DDIM at the default guidance",
    unit="latents/step",
    comparison="==",
    expected=2.0,
    source_kind="suite",
    quote="with classifier-free guidance each step evaluates the U-Net twice (one batch of 2 latents)",
)

SNAPFUSION_STEPS = Claim(
    id="diffusion/snapfusion/steps_50_to_8",
    statement="SnapFusion's step distillation samples in 8 steps where SD uses 50",
    source=f"{ARTICLE} §2.7; Li et al. 2023, SnapFusion (NeurIPS 2023)",
    metric="UNet calls of one SnapFusion generation",
    unit="calls",
    comparison="==",
    expected=8,
    source_kind="article",
    quote=Q_SNAPFUSION_STEPS,
)

SNAPFUSION_MOBILE = Claim(
    id="diffusion/snapfusion/mobile_512px_under_2s",
    statement="SnapFusion generates a 512x512 image on a phone in under 2 seconds",
    source=f"{ARTICLE} §2.7; SnapFusion (iPhone 14 Pro measurements)",
    metric="seconds per 512x512 image on a mobile device",
    unit="s",
    comparison="<=",
    expected=2.0,
    better="lower",
    source_kind="article",
    quote=Q_SNAPFUSION_MOBILE,
)

# -- LCM: what a step computes, §2.7 --------------------------------------------------------------------------
LCM_CLEAN_LATENT = Claim(
    id="diffusion/lcm/clean_latent_in_one_shot",
    statement="An LCM step outputs the clean latent directly: a 1-step LCM generation returns the consistency "
              "function's clean-latent estimate f(x_T, T) = c_skip x_T + c_out x0(eps) of its one UNet call, "
              "and every step of a 4-step run returns that estimate as its `denoised`",
    source=f"{ARTICLE} §2.7; Luo et al. 2023, LCM (arXiv:2310.04378) eq. for f_theta with the skip/out "
           "scalings (sigma_data 0.5, timestep scaling 10) and the epsilon parameterisation of x0, computed "
           "here independently of diffusers' LCMScheduler",
    metric="largest |pipeline output - f(x, t)| over the latent, relative to the largest |f(x, t)|, worst of "
           "the 1-step output and every step of a 4-step run",
    unit="rel",
    comparison="<=",
    expected=1e-5,  # float32 rounding of a few elementwise operations, with room; a wrong formula is >1e-2
    better="lower",
    source_kind="article",
    quote=Q_LCM_ONE_SHOT,
    # The value is float32 rounding (4.4e-7 here: about 7 ulps of 2^-24 relative): an upgrade that reorders
    # the same arithmetic moves it by ulps, which is the same result. A move under 1e-6 (~17 ulps) is
    # reported as changed; the claim's 1e-5 bound still fails a real change, and a wrong formula is >1e-2.
    resolution=1e-6,
)

# -- LCM: 50 -> 4 and 2 steps, §2.7, §4 and the lab §7.2-7.3 ------------------------------------------------
LCM_UNET_CALLS = Claim(
    id="diffusion/lcm/unet_calls_4_vs_50",
    statement="4 LCM steps call the UNet 12.5x fewer times than the 50 steps of the lab's standard sampler "
              f"(up to 51/4 = 12.75x: {PNDM_EXTRA})",
    source=f"{ARTICLE} §4 and §7.3 ('12.5x step reduction'); forward hooks on the UNet of the real pipelines",
    metric="UNet calls 50-step PNDM / 4-step LCM at equal guidance (1.0)",
    unit="x",
    comparison="between",
    expected=50 / 4,
    expected_high=51 / 4,
    better="higher",
    source_kind="article",
    quote=Q_LCM_12_5,
)

LCM_UNET_CALLS_2 = Claim(
    id="diffusion/lcm/unet_calls_2_vs_50",
    statement="The low end of '50 to 2-4': 2 LCM steps call the UNet 25x fewer times than 50 standard steps "
              f"(up to 51/2 = 25.5x: {PNDM_EXTRA})",
    source=f"{ARTICLE} §2.7; forward hooks on the UNet of the real pipelines (the 4-step end is "
           "diffusion/lcm/unet_calls_4_vs_50)",
    metric="UNet calls 50-step PNDM / 2-step LCM at equal guidance (1.0)",
    unit="x",
    comparison="between",
    expected=50 / 2,
    expected_high=51 / 2,
    better="higher",
    source_kind="article",
    quote=Q_LCM_2_TO_4,
)

LCM_SPEEDUP = Claim(
    id="diffusion/lcm/speedup_4_vs_50",
    statement="LCM-LoRA at 4 steps and guidance 1.0 generates at least ~10x faster than 50 steps of the "
              "default sampler at the default guidance (the lab's two calls, end to end: prompt to image). "
              "Only the low end is checked: on a CPU-sized pipeline the text encoder's and VAE's share of a run "
              "is not the lab's, so a higher ratio here says nothing against '~10x' (the details give the "
              "full-size SD1.5 work model of the same calls)",
    source=f"{ARTICLE} §7.2 (time_50/time_4) and §7.3",
    metric="time ratio 50-step PNDM at default guidance / 4-step LCM at guidance 1.0",
    unit="x",
    comparison=">=",
    expected=10.0,
    margin=_rounding("10"),  # "~10x"
    better="higher",
    noisy=True,
    source_kind="article",
    quote=Q_LCM_10X,
)

LCM_SPEEDUP_EQUAL_GUIDANCE = Claim(
    id="diffusion/lcm/speedup_4_vs_50_equal_guidance",
    statement="With classifier-free guidance the same on both sides (1.0), the speedup is the step "
              "reduction alone, so it cannot exceed the 12.5x fewer steps (fixed text-encoder and VAE work "
              "only lowers it)",
    source=f"suite consistency check of {ARTICLE} §7.3's arithmetic ('12.5x step reduction → ~10x')",
    metric="time ratio 50-step PNDM / 4-step LCM, both at guidance 1.0",
    unit="x",
    comparison="<=",
    expected=12.5,
    margin=0.02,  # PNDM's 50 steps make 51 UNet calls: the bound is 51/4
    better="none",
    noisy=True,
    source_kind="suite",
    quote="at equal guidance, cutting 50 steps to 4 cannot speed a generation up by more than the 12.5x "
          "fewer UNet calls",
)

LCM_COMPUTE_EQUAL_GUIDANCE = Claim(
    id="diffusion/lcm/compute_4_vs_50_equal_guidance",
    statement="The suite's stricter reading of '12.5x step reduction → ~10x': the step reduction alone "
              "(guidance 1.0 on both sides) cuts the work of a full-size SD1.5 generation (512x512) ~10x",
    source=f"suite reading of {ARTICLE} §7.3, whose lab also drops classifier-free guidance in the 4-step "
           "call; multiply-adds of the runwayml/stable-diffusion-v1-5 configs times the calls the pipeline "
           "makes",
    metric="multiply-adds of a whole generation, 50-step PNDM / 4-step LCM, both at guidance 1.0, "
           "SD1.5 512px",
    unit="x",
    comparison="~",
    expected=10.0,
    margin=_rounding("10"),  # "~10x"
    better="higher",
    source_kind="suite",
    quote="the 12.5x step reduction alone (equal guidance) makes the whole generation ~10x less work",
    refuted="the text encoder and above all the VAE decode are the same work in both runs and weigh as "
            "much as several UNet calls at 512px, so cutting the UNet calls by 12.5x cuts the whole "
            "generation's work by much less than 10x; the lab's own comparison also drops classifier-free "
            "guidance in the 4-step call (halving every UNet call), which this reading leaves out on purpose",
)

LCM_STEP_SWEEP = Claim(
    id="diffusion/lcm/step_sweep",
    statement="LCM generation time grows ~linearly with the number of steps (1, 2, 4, 8): a straight line "
              "explains at least 95% of the variance",
    source=f"suite premise behind {ARTICLE} §7.3's table of times for 1, 2, 4 and 8 LCM steps; 95% is this "
           "suite's reading of 'linear'",
    metric="R^2 of the least-squares line of median time against LCM steps",
    unit="R^2",
    comparison=">=",
    expected=0.95,
    better="higher",
    noisy=True,
    source_kind="suite",
    quote="each LCM step costs the same (one UNet call), so time is a straight line in the step count",
)

# -- not checkable offline (needs weights, a GPU or a phone) ------------------------------------------------
LCM_QUALITY = Claim(
    id="diffusion/quality/lcm_4_vs_50",
    statement="4-step LCM-LoRA images approach the 50-step SD1.5 images, more closely than 2-step ones "
              "(4-step 'approaching 50-step', 2-step 'slightly reduced')",
    source=f"{ARTICLE} §2.7 and §7.3; similarity: cosine of CLIP ViT-L/14 image embeddings (the SD1.5 "
           "safety checker's vision tower) to the 50-step image, same prompt and seed",
    metric="mean CLIP-image cosine (4-step LCM, 50-step) / mean cosine (2-step LCM, 50-step)",
    unit="x",
    comparison=">=",
    expected=1.0,
    better="higher",
    source_kind="article",
    quote=Q_QUALITY,
)

SDXL_RTX4060 = Claim(
    id="diffusion/sdxl/rtx4060_near_real_time",
    statement="SDXL with LCM, Flash Attention and quantization generates a 1024x1024 image in near real time "
              "(read: at most 1 s) on an RTX 4060",
    source=f"{ARTICLE} §4",
    metric="seconds per 1024x1024 SDXL image on an RTX 4060",
    unit="s",
    comparison="<=",
    expected=1.0,
    better="lower",
    source_kind="article",
    quote=Q_RTX4060,
)

A100_IMAGES_PER_HOUR = Claim(
    id="diffusion/a100/images_per_hour",
    statement="An efficient architecture with LCM steps generates tens of thousands (read: at least 10,000) "
              "of high-quality images per hour on one A100",
    source=f"{ARTICLE} §4",
    metric="images per hour on one A100",
    unit="images/h",
    comparison=">=",
    expected=10_000,
    better="higher",
    source_kind="article",
    quote=Q_A100,
)

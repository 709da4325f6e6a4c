"""Diffusion claims (article §2.7, §4, §7 and §8): LCM / LCM-LoRA step reduction, SD1.5, SDXL, SSD-1B.

Margins: a figure printed as "~67", "860M" or "~10x" means what rounds to it, half a unit of its last
printed digit (effcheck.meters.rounding); timed claims add nothing for noise beyond that and carry their
per-round samples. The round percentages of the SSD-1B model card ("50% smaller", "60% faster") are read
to one significant figure, +-5 points.
"""

from effcheck.meters.rounding import parse_figure
from effcheck.records import Claim


def _rounding(printed: str) -> float:
    """The relative margin of a printed figure: its half-step over its value."""
    figure = parse_figure(printed)
    return figure.half_step / figure.value


ARTICLE = "article"
LCM_LORA_PAPER = ("Luo et al. 2023, LCM-LoRA (arXiv:2311.05556) Table 1: LoRA params 67.5M SD-V1.5, "
                  "105M SSD-1B, 197M SDXL")

# -- steps: the lab, §7.2-7.3 --------------------------------------------------------------------------------
LCM_SPEEDUP = Claim(
    id="diffusion/lcm/speedup_4_vs_50",
    statement="LCM-LoRA at 4 steps and guidance 1.0 generates ~10x faster than 50 steps of the default "
              "sampler at the default guidance (the lab's two calls, end to end: prompt to image)",
    source=f"{ARTICLE} §7.2 (time_50/time_4) and §7.3 ('From 50 steps down to 4 = 12.5x step reduction -> "
           "~10x speed improvement'); §4 ('a 12.5x acceleration of the original 50-step process')",
    metric="time ratio 50-step PNDM at default guidance / 4-step LCM at guidance 1.0",
    unit="x",
    comparison=">=",
    expected=10.0,
    margin=_rounding("10"),  # "~10x"
    better="higher",
    noisy=True,
)

LCM_SPEEDUP_EQUAL_GUIDANCE = Claim(
    id="diffusion/lcm/speedup_4_vs_50_equal_guidance",
    statement="With classifier-free guidance the same on both sides (1.0), the speedup is the step "
              "reduction alone, so it cannot exceed the 12.5x fewer steps (fixed text-encoder and VAE work "
              "only lowers it)",
    source=f"{ARTICLE} §7.3 ('50 steps down to 4 = 12.5x step reduction -> ~10x speed improvement')",
    metric="time ratio 50-step PNDM / 4-step LCM, both at guidance 1.0",
    unit="x",
    comparison="<=",
    expected=12.5,
    margin=0.02,  # PNDM's 50 steps make 51 UNet calls: the bound is 51/4
    better="none",
    noisy=True,
)

LCM_UNET_CALLS = Claim(
    id="diffusion/lcm/unet_calls_4_vs_50",
    statement="4 LCM steps call the UNet at least 12.5x fewer times than 50 standard steps",
    source=f"{ARTICLE} §4 ('a 12.5x acceleration of the original 50-step process') and §7.3 ('12.5x step "
           "reduction'); counted with forward hooks on the UNet of the real pipelines",
    metric="UNet calls 50-step PNDM / 4-step LCM at equal guidance (1.0)",
    unit="x",
    comparison=">=",
    expected=12.5,
    better="higher",
)

LCM_COMPUTE_EQUAL_GUIDANCE = Claim(
    id="diffusion/lcm/compute_4_vs_50_equal_guidance",
    statement="The 12.5x step reduction alone gives ~10x: at equal guidance, the full-size SD1.5 pipeline "
              "(512x512) does ~10x less work in 4 LCM steps than in 50 steps",
    source=f"{ARTICLE} §7.3 ('From 50 steps down to 4 = 12.5x step reduction -> ~10x speed improvement'); "
           "multiply-adds of the runwayml/stable-diffusion-v1-5 configs times the calls the pipeline makes",
    metric="multiply-adds of a whole generation, 50-step PNDM / 4-step LCM, both at guidance 1.0, "
           "SD1.5 512px",
    unit="x",
    comparison=">=",
    expected=10.0,
    margin=_rounding("10"),  # "~10x"
    better="higher",
    refuted="the text encoder and above all the VAE decode are the same work in both runs and weigh as "
            "much as several UNet calls at 512px, so cutting the UNet calls by 12.5x cuts the whole "
            "generation by much less; the lab's ~10x also needs classifier-free guidance dropped (guidance "
            "1.0 halves every UNet call), which its 4-step call does",
)

LCM_STEP_SWEEP = Claim(
    id="diffusion/lcm/step_sweep",
    statement="LCM generation time grows ~linearly with the number of steps (1, 2, 4, 8): a straight line "
              "explains at least 95% of the variance",
    source=f"{ARTICLE} §7.3 (time per step count for 1, 2, 4, 8 steps; speed scales with the step count); "
           "95% is this suite's reading of '~linear'",
    metric="R^2 of the least-squares line of median time against LCM steps",
    unit="R^2",
    comparison=">=",
    expected=0.95,
    better="higher",
    noisy=True,
)

# -- LCM-LoRA, §2.7 and §7.3 ---------------------------------------------------------------------------------
LCM_LORA_PARAMS = Claim(
    id="diffusion/lcm_lora/params",
    statement="The LCM-LoRA adapter for SD1.5 (rank 64 on every UNet linear and conv of the official "
              "training script) has ~67M parameters, the number behind the article's '~67MB'",
    source=f"{ARTICLE} §7.3 ('LCM-LoRA is just a small adapter (~67MB)'); {LCM_LORA_PAPER}",
    metric="parameters of the peft LoRA adapter on the SD1.5 UNet",
    unit="params",
    comparison="~",
    expected=67e6,
    margin=_rounding("67"),  # "~67": 66.5M..67.5M
    better="none",
)

LCM_LORA_SIZE = Claim(
    id="diffusion/lcm_lora/size",
    statement="The LCM-LoRA adapter for SD1.5 is a ~67MB file",
    source=f"{ARTICLE} §7.3 ('~67MB') and §10 ('67MB adapter'); file written by diffusers' save_lora_weights "
           "at fp16 (the published adapter's precision)",
    metric="bytes of the fp16 safetensors file, in MB (10^6 bytes)",
    unit="MB",
    comparison="~",
    expected=67.0,
    margin=_rounding("67"),
    better="lower",
    refuted="67 million is the adapter's parameter count, not its size: every parameter takes 2 bytes at "
            "fp16 (4 at fp32), so the file is twice as large as the figure even at half precision",
)

LCM_LORA_LOAD_FUSE = Claim(
    id="diffusion/lcm_lora/load_fuse",
    statement="A LoRA adapter saved locally loads into the pipeline with load_lora_weights and fuse_lora "
              "without changing what 4 LCM steps generate",
    source=f"{ARTICLE} §7.1 (pipe.load_lora_weights(...); pipe.fuse_lora()); tolerance from diffusers' own "
           "LoRA tests (tests/lora/utils.py: fused and unfused outputs allclose at atol=1e-3)",
    metric="largest absolute pixel difference (0..1) between fused and unfused 4-step LCM images",
    unit="abs",
    comparison="<=",
    expected=1e-3,
    better="lower",
)

# -- model sizes, §4 and §8 ----------------------------------------------------------------------------------
SD15_PARAMS = Claim(
    id="diffusion/sd15/params",
    statement="Stable Diffusion 1.5 has an 860M-parameter UNet (and a 123M text encoder)",
    source="CompVis/stable-diffusion README ('a 860M UNet and 123M text encoder'); unet/config.json of "
           "runwayml/stable-diffusion-v1-5",
    metric="parameters of the SD1.5 UNet",
    unit="params",
    comparison="~",
    expected=860e6,
    margin=_rounding("860M"),  # 859.5M..860.5M
    better="none",
)

SDXL_PARAMS = Claim(
    id="diffusion/sdxl/params",
    statement="SDXL's UNet has 2.6B parameters (text encoders 817M)",
    source="Podell et al. 2023, SDXL (arXiv:2307.01952) Table 1; unet/config.json of "
           "stabilityai/stable-diffusion-xl-base-1.0",
    metric="parameters of the SDXL UNet",
    unit="params",
    comparison="~",
    expected=2.6e9,
    margin=_rounding("2.6B"),  # 2.55B..2.65B
    better="none",
)

SSD1B_PARAMS_VS_SDXL = Claim(
    id="diffusion/ssd1b/params_vs_sdxl",
    statement="SSD-1B is a 50% smaller SDXL: its UNet has half of SDXL's UNet parameters",
    source=f"{ARTICLE} §8 ('SSD-1B: 50% parameter-reduced SDXL variant'); segmind/SSD-1B model card "
           "('a distilled 50% smaller version of the Stable Diffusion XL')",
    metric="parameters SSD-1B UNet / SDXL UNet",
    unit="x",
    comparison="~",
    expected=0.5,
    margin=0.05 / 0.5,  # "50%": 45%..55%
    better="none",
)

SSD1B_PIPELINE_PARAMS_VS_SDXL = Claim(
    id="diffusion/ssd1b/pipeline_params_vs_sdxl",
    statement="SSD-1B is a 50% smaller SDXL as a whole: the pipeline (UNet, both text encoders, VAE) has "
              "half of SDXL's parameters",
    source=f"{ARTICLE} §8 ('50% parameter-reduced SDXL variant') and §4 ('a parameter-reduced version of "
           "SDXL'); segmind/SSD-1B model card",
    metric="parameters SSD-1B pipeline / SDXL pipeline (StableDiffusionXLPipeline modules)",
    unit="x",
    comparison="~",
    expected=0.5,
    margin=0.05 / 0.5,
    better="none",
    refuted="the distillation removed UNet blocks only; SSD-1B keeps SDXL's two text encoders and its VAE "
            "unchanged, so the whole model shrinks by much less than half",
)

SSD1B_MACS_VS_SDXL = Claim(
    id="diffusion/ssd1b/macs_vs_sdxl",
    statement="SSD-1B is 60% faster than SDXL: its UNet does 1.6x fewer multiply-adds per step at 1024x1024",
    source=f"{ARTICLE} §8 ('comparable quality but 60% faster'); segmind/SSD-1B model card ('60% speedup')",
    metric="UNet multiply-adds per step at 1024px (batch 1), SDXL / SSD-1B",
    unit="x",
    comparison="~",
    expected=1.6,
    margin=0.05 / 1.6,  # "60%": 55%..65% faster
    better="higher",
)

# -- quality, §2.7 (needs real weights) ----------------------------------------------------------------------
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
)

"""Step-level builders and meters: DDPM / DDIM pipelines at diffusers' defaults, one full UNet pass per call,
the call-count pipeline against the timed one, LCM's consistency function against closed forms (and a wrong
one that the check catches), batch-linear multiply-adds, and the scaled-down SDXL-family UNets."""

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import torch  # noqa: E402

from effcheck.models.diffusion import (  # noqa: E402
    LCM_GUIDANCE,
    build_unet,
    count_calls,
    generate,
    sd_component_macs,
    sd_pipeline,
    sdxl_unet_inputs,
    with_scheduler,
)
from effcheck.models.diffusion_configs import (  # noqa: E402
    SD15,
    SD15_TINY,
    SD_CALLS,
    SDXL_UNET,
    SSD1B_UNET,
    scaled_down_sdxl_unet,
)
from effcheck.models.diffusion_steps import (  # noqa: E402
    consistency_estimate,
    counting_forwards,
    default_steps,
    pixel_pipeline,
    pixel_unet_calls,
    record_lcm_steps,
    scaled_linear_alphas_cumprod,
    scheduler_timesteps,
    unet_blocks,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def calls_pipe():
    return sd_pipeline(SD_CALLS)


def _alphas():
    s = SD15.scheduler
    return scaled_linear_alphas_cumprod(s["beta_start"], s["beta_end"], s["num_train_timesteps"])


# -- pixel pipelines ---------------------------------------------------------------------------------------
def test_pixel_pipelines_read_the_library_defaults_and_count_one_call_per_timestep():
    ddpm, ddim = pixel_pipeline("ddpm"), pixel_pipeline("ddim")
    assert type(ddpm.scheduler).__name__ == "DDPMScheduler" and type(ddim.scheduler).__name__ == "DDIMScheduler"
    assert default_steps(type(ddpm)) == default_steps(ddpm)
    assert pixel_unet_calls(ddpm, 7) == scheduler_timesteps(ddpm, 7) == 7
    assert pixel_unet_calls(ddim, 5) == scheduler_timesteps(ddim, 5) == 5
    with pytest.raises(ValueError, match="choose ddpm or ddim"):
        pixel_pipeline("pndm")


def test_counting_forwards_counts_each_module_and_removes_its_hooks():
    layer = torch.nn.Linear(2, 2)
    with counting_forwards({"a": layer}) as counts:
        layer(torch.zeros(1, 2))
        layer(torch.zeros(1, 2))
    layer(torch.zeros(1, 2))
    assert counts == {"a": 2} and not layer._forward_pre_hooks


def test_every_top_level_block_runs_once_per_unet_call(calls_pipe):
    blocks = unet_blocks(calls_pipe.unet)
    assert {"unet", "conv_in", "mid_block", "conv_out", "down_blocks.0", "up_blocks.1"} <= set(blocks)
    ddim = with_scheduler(calls_pipe, "ddim")
    with counting_forwards(blocks) as runs:
        calls = count_calls(ddim, 3, LCM_GUIDANCE)
    assert calls.unet == (1, 1, 1) and set(runs.values()) == {3}


# -- the call-count pipeline ------------------------------------------------------------------------------
def test_call_counts_do_not_depend_on_the_models_sizes(calls_pipe):
    """SD_CALLS stands in for SD15_TINY in the fast tier: same pipeline loop, same sampler, same counts."""
    tiny = sd_pipeline(SD15_TINY)
    for standard in (calls_pipe, tiny):
        assert type(standard.scheduler).__name__ == "PNDMScheduler"
    for steps, guidance in ((3, None), (3, 1.0)):
        assert count_calls(calls_pipe, steps, guidance) == count_calls(tiny, steps, guidance)
    lcm_small, lcm_tiny = with_scheduler(calls_pipe, "lcm"), with_scheduler(tiny, "lcm")
    assert count_calls(lcm_small, 2, 1.0) == count_calls(lcm_tiny, 2, 1.0)
    assert SD_CALLS.image_size == SD15_TINY.image_size == 64


def test_batch_linear_macs_equal_counted_macs():
    assert sd_component_macs(SD15_TINY, (1, 2), linear_in_batch=True) == sd_component_macs(SD15_TINY, (1, 2))


# -- LCM's consistency function ----------------------------------------------------------------------------
def test_scaled_linear_schedule_matches_diffusers_and_its_closed_ends():
    from diffusers import LCMScheduler

    alphas = _alphas()
    library = LCMScheduler.from_config(dict(SD15.scheduler)).alphas_cumprod.double()
    assert torch.allclose(alphas, library, rtol=1e-6)
    assert alphas[0].item() == pytest.approx(1 - SD15.scheduler["beta_start"])


def test_consistency_estimate_at_closed_form_points():
    alphas = _alphas()
    x, eps = torch.randn(1, 4, 2, 2), torch.randn(1, 4, 2, 2)
    # t = 0: c_skip = 1, c_out = 0, the sample itself
    assert torch.allclose(consistency_estimate(x, eps, 0, alphas), x.double())
    # large t: c_skip ~ 0, c_out ~ 1, the epsilon parameterisation of x0
    a = alphas[999].item()
    x0 = (x.double() - (1 - a) ** 0.5 * eps.double()) / a**0.5
    assert torch.allclose(consistency_estimate(x, eps, 999, alphas), x0, rtol=1e-6)


def test_lcm_scheduler_step_returns_the_consistency_estimate_and_a_wrong_formula_is_caught():
    from diffusers import LCMScheduler

    scheduler = LCMScheduler.from_config(dict(SD15.scheduler))
    scheduler.set_timesteps(4)
    alphas = _alphas()
    x, eps = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    t = int(scheduler.timesteps[1])
    scheduler._step_index = 1
    _prev, denoised = scheduler.step(eps, t, x, return_dict=False)
    right = consistency_estimate(x, eps, t, alphas)
    assert float((denoised.double() - right).abs().max() / right.abs().max()) < 1e-5
    # v-prediction's x0 in place of epsilon's: what a wrong parameterisation would measure
    a = alphas[t].item()
    wrong = a**0.5 * x.double() - (1 - a) ** 0.5 * eps.double()
    assert float((denoised.double() - wrong).abs().max() / wrong.abs().max()) > 1e-2


def test_a_one_step_lcm_generation_outputs_the_estimate_of_its_only_unet_call(calls_pipe):
    lcm = with_scheduler(calls_pipe, "lcm")

    def run(pipe, steps):
        return generate(pipe, steps, LCM_GUIDANCE, output_type="latent")

    steps, output = record_lcm_steps(lcm, 1, run)
    assert len(steps) == 1 and torch.equal(output, steps[0].denoised) and torch.equal(output, steps[0].prev_sample)
    estimate = consistency_estimate(steps[0].sample, steps[0].eps, steps[0].timestep, _alphas())
    assert float((output.double() - estimate).abs().max() / estimate.abs().max()) < 1e-5
    four, _ = record_lcm_steps(lcm, 4, run)
    assert [s.timestep for s in four] == sorted((s.timestep for s in four), reverse=True)
    # before the last step the scheduler re-noises the estimate: that sample is not the clean latent
    assert not torch.allclose(four[0].prev_sample, four[0].denoised)
    assert "step" not in vars(lcm.scheduler)  # the recorder restored the scheduler
    with pytest.raises(RuntimeError, match="guidance must be 1.0"):
        record_lcm_steps(lcm, 1, lambda pipe, n: generate(pipe, n, 7.5, output_type="latent"))


# -- SDXL family at reduced width ------------------------------------------------------------------------------
def test_scaled_down_sdxl_unets_keep_the_blocks_and_take_their_own_inputs():
    from effcheck.meters.flops import count_macs

    small = {k: scaled_down_sdxl_unet(c, 16, 4) for k, c in (("sdxl", SDXL_UNET), ("ssd1b", SSD1B_UNET))}
    assert small["sdxl"]["block_out_channels"] == (20, 40, 80)
    assert small["sdxl"]["transformer_layers_per_block"] == SDXL_UNET["transformer_layers_per_block"]
    macs = {}
    for key, config in small.items():
        unet = build_unet(config, "meta")
        args, kwargs = sdxl_unet_inputs(config, 16, "meta")
        macs[key] = count_macs(unet, *args, **kwargs)
    assert macs["sdxl"] > macs["ssd1b"] > 0
    with pytest.raises(ValueError, match="does not divide"):
        scaled_down_sdxl_unet(SDXL_UNET, 7, 4)

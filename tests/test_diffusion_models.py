"""Diffusion builders: configs against the architectures they name, the local tokenizer, samplers by name,
call counting, multiply-adds, and the weights-loading path through save_pretrained / from_pretrained."""

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from effcheck.errors import EffcheckError  # noqa: E402
from effcheck.meters.image_similarity import clip_image_embeddings, paired_cosines  # noqa: E402
from effcheck.meters.params import count_params  # noqa: E402
from effcheck.models.diffusion import (  # noqa: E402
    SCHEDULERS,
    CallCounts,
    ComponentMacs,
    UnknownSchedulerError,
    build_unet,
    byte_clip_tokenizer,
    count_calls,
    default_guidance,
    generate,
    make_scheduler,
    pipeline_modules,
    sd_component_macs,
    sd_pipeline,
    with_scheduler,
)
from effcheck.models.diffusion_configs import (  # noqa: E402
    BYTE_TOKENIZER_VOCAB,
    SD15,
    SD15_SCHEDULER,
    SD15_TINY,
    SDXL_UNET,
    SSD1B_UNET,
    scaled_down,
)
from effcheck.models.diffusion_weights import (  # noqa: E402
    LCM_LORA_ENV,
    SD15_DIR_ENV,
    IncompleteWeightsError,
    find_lcm_lora,
    find_sd15,
    load_sd_pipeline,
    missing_parts,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


@pytest.fixture(scope="module")
def tiny():
    return sd_pipeline(SD15_TINY)


def _transformer_layers(module):
    return sum(type(m).__name__ == "BasicTransformerBlock" for m in module.modules())


# -- configs ------------------------------------------------------------------------------------------------
def test_ssd1b_is_sdxl_with_the_published_blocks_removed():
    """SSD-1B (leejet/stable-diffusion.cpp unet.hpp, VERSION_SDXL_SSD1B): 10 -> 4 transformer layers per
    1280-channel down block, up path (4, 4, 10) and (2, 1, 1), a mid block of one ResNet and no attention."""
    sdxl, ssd = build_unet(SDXL_UNET, "meta"), build_unet(SSD1B_UNET, "meta")
    assert _transformer_layers(sdxl) == 2 * 2 + 2 * 10 + 10 + 3 * 10 + 3 * 2
    assert [_transformer_layers(b) for b in ssd.down_blocks] == [0, 2 * 2, 2 * 4]
    assert [_transformer_layers(b) for b in ssd.up_blocks] == [4 + 4 + 10, 2 + 1 + 1, 0]
    assert len(ssd.mid_block.resnets) == 1 and _transformer_layers(ssd.mid_block) == 0
    assert type(ssd.mid_block).__name__ == "UNetMidBlock2D"
    # everything outside the removed blocks is SDXL's
    assert ssd.conv_in.weight.shape == sdxl.conv_in.weight.shape
    assert ssd.add_embedding.linear_1.weight.shape == sdxl.add_embedding.linear_1.weight.shape


def test_scaled_down_keeps_the_architecture_and_divides_the_widths():
    full, tiny = build_unet(SD15.unet, "meta"), build_unet(SD15_TINY.unet, "meta")
    assert [type(b).__name__ for b in tiny.down_blocks] == [type(b).__name__ for b in full.down_blocks]
    assert [type(b).__name__ for b in tiny.up_blocks] == [type(b).__name__ for b in full.up_blocks]
    assert _transformer_layers(tiny) == _transformer_layers(full) == 16
    assert tuple(tiny.config.block_out_channels) == tuple(c // 8 for c in SD15.unet["block_out_channels"])
    assert SD15_TINY.text_encoder["num_hidden_layers"] == SD15.text_encoder["num_hidden_layers"]
    assert SD15_TINY.image_size == 64 and SD15.image_size == 512


def test_scaled_down_refuses_widths_that_do_not_divide():
    with pytest.raises(ValueError, match="does not divide"):
        scaled_down(SD15, width_divisor=7, latent_size=8, norm_groups=8, vocab_size=10, name="x")


# -- tokenizer, samplers, pipelines -------------------------------------------------------------------
def test_byte_tokenizer_is_a_saved_and_reloaded_clip_tokenizer(tiny):
    tokenizer = byte_clip_tokenizer()
    assert type(tokenizer).__name__ == "CLIPTokenizer" and len(tokenizer) == BYTE_TOKENIZER_VOCAB
    ids = tokenizer("ab c").input_ids
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert len(ids) == 2 + 3  # one token per character, the last of each word marked </w>
    assert tokenizer.convert_ids_to_tokens(ids[1:-1]) == ["a", "b</w>", "c</w>"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "ab c"
    assert tokenizer.model_max_length == 77
    assert type(tiny.tokenizer).__name__ == "CLIPTokenizer"
    assert tiny.text_encoder.config.vocab_size == len(tiny.tokenizer)


def test_make_scheduler_names_the_choices_on_a_bad_name():
    with pytest.raises(UnknownSchedulerError, match="unknown scheduler 'eulr'.*euler.*lcm.*pndm"):
        make_scheduler("eulr", SD15_SCHEDULER)
    assert isinstance(UnknownSchedulerError("x"), EffcheckError)
    for name, cls in SCHEDULERS.items():
        assert type(make_scheduler(name, SD15_SCHEDULER)).__name__ == cls


def test_default_sampler_is_pndm_and_switching_shares_the_modules(tiny):
    assert type(tiny.scheduler).__name__ == "PNDMScheduler"
    lcm = with_scheduler(tiny, "lcm")
    assert type(lcm.scheduler).__name__ == "LCMScheduler"
    assert lcm.unet is tiny.unet and lcm.vae is tiny.vae and lcm.text_encoder is tiny.text_encoder
    assert default_guidance(tiny) == 7.5


def test_calls_counted_per_sampler_and_guidance(tiny):
    lcm = with_scheduler(tiny, "lcm")
    guided = count_calls(tiny, 5, None)  # PNDM without PRK steps repeats one timestep: n steps, n + 1 calls
    assert guided.unet == (2,) * 6 and len(guided.text_encoder) == 2 and guided.vae_decoder == (1,)
    unguided = count_calls(tiny, 5, 1.0)
    assert unguided.unet == (1,) * 6 and unguided.text_encoder == (1,)
    assert count_calls(lcm, 3, 1.0).unet == (1,) * 3
    assert CallCounts(unet=(2, 2, 1)).unet_samples == 5


def test_generation_is_deterministic_per_seed(tiny):
    lcm = with_scheduler(tiny, "lcm")
    a, b = generate(lcm, 2, 1.0, output_type="np"), generate(lcm, 2, 1.0, output_type="np")
    c = generate(lcm, 2, 1.0, seed=7, output_type="np")
    assert a.shape == (1, 64, 64, 3) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_component_macs_on_meta_equal_those_on_cpu_and_add_up():
    meta, cpu = sd_component_macs(SD15_TINY, (1, 2)), sd_component_macs(SD15_TINY, (1, 2), "cpu")
    assert meta == cpu
    assert meta.unet[2] == 2 * meta.unet[1] and meta.vae_decoder[2] == 2 * meta.vae_decoder[1]
    counts = CallCounts(unet=(2, 2, 1), text_encoder=(1, 1), vae_decoder=(1,))
    assert meta.of(counts) == 2 * meta.unet[2] + meta.unet[1] + 2 * meta.text_encoder[1] + meta.vae_decoder[1]
    assert ComponentMacs({1: 3}, {1: 5}, {1: 7}, 64).of(CallCounts((1,), (1,), (1,))) == 15


def test_full_size_pipelines_build_on_meta():
    counts = {n: count_params(m) for n, m in pipeline_modules(sd_pipeline(SD15, "meta")).items()}
    assert set(counts) == {"unet", "vae", "text_encoder"}
    modules = pipeline_modules(sd_pipeline(SD15, "meta")).values()
    assert all(next(m.parameters()).device.type == "meta" for m in modules)


# -- weights ------------------------------------------------------------------------------------------------
def test_saved_pipeline_loads_back_through_the_weights_path(tiny, tmp_path):
    tiny.save_pretrained(tmp_path)
    assert missing_parts(tmp_path) == []
    loaded = load_sd_pipeline(tmp_path)
    assert type(loaded.scheduler).__name__ == "PNDMScheduler"
    assert count_params(loaded.unet) == count_params(tiny.unet)
    for name in ("unet", "vae", "text_encoder"):  # every weight comes back exactly
        saved, back = getattr(tiny, name).state_dict(), getattr(loaded, name).state_dict()
        assert saved.keys() == back.keys() and all(torch.equal(saved[k], back[k]) for k in saved), name
    before = generate(with_scheduler(tiny, "lcm"), 2, 1.0, output_type="np")
    after = generate(with_scheduler(loaded, "lcm"), 2, 1.0, output_type="np")
    # Same weights, same image up to float rounding: with diffusers 0.42 / torch 2.14 the reloaded pipeline
    # differs by ~1e-6 (not bit-identical as with older releases); a wrong weight moves pixels by far more
    np.testing.assert_allclose(before, after, rtol=0, atol=1e-5)


def test_incomplete_weights_directory_names_what_is_missing(tiny, tmp_path):
    tiny.save_pretrained(tmp_path)
    for f in (tmp_path / "unet").glob("*.safetensors"):
        f.unlink()
    (tmp_path / "scheduler" / "scheduler_config.json").unlink()
    missing = r"missing unet/ weights.*scheduler/scheduler_config.json"
    with pytest.raises(IncompleteWeightsError, match=missing):
        load_sd_pipeline(tmp_path)
    with pytest.raises(IncompleteWeightsError, match="does not exist"):
        load_sd_pipeline(tmp_path / "nowhere")


def test_weights_are_found_from_the_environment_or_not_at_all(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv(SD15_DIR_ENV, raising=False)
    monkeypatch.delenv(LCM_LORA_ENV, raising=False)
    assert find_sd15() is None and find_lcm_lora() is None
    monkeypatch.setenv(SD15_DIR_ENV, str(tmp_path))
    found = find_sd15()
    assert found.path == tmp_path and found.origin == f"${SD15_DIR_ENV}"
    monkeypatch.setenv(LCM_LORA_ENV, str(tmp_path / "missing.safetensors"))
    with pytest.raises(IncompleteWeightsError, match=f"{LCM_LORA_ENV}=.*no such file"):
        find_lcm_lora()


def test_weights_root_is_laid_out_like_the_hub(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants

    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv(SD15_DIR_ENV, raising=False)
    monkeypatch.delenv(LCM_LORA_ENV, raising=False)
    assert find_sd15(tmp_path) is None
    (tmp_path / "runwayml" / "stable-diffusion-v1-5").mkdir(parents=True)
    found = find_sd15(tmp_path)
    assert found.path == tmp_path / "runwayml" / "stable-diffusion-v1-5" and "--effcheck-weights" in found.origin


# -- image similarity ----------------------------------------------------------------------------------
def test_clip_image_similarity_is_one_for_the_same_image_and_less_otherwise():
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from PIL import Image
    from transformers import CLIPConfig, CLIPImageProcessor

    torch.manual_seed(0)
    config = CLIPConfig(vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                                       "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
                        text_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                                     "num_attention_heads": 4}, projection_dim=16)
    checker = StableDiffusionSafetyChecker(config).eval()
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)) for _ in range(2)]
    a = clip_image_embeddings(images, checker.vision_model, checker.visual_projection, processor)
    same = paired_cosines(a, a)
    other = paired_cosines(a, a.flip(0))
    assert same == pytest.approx([1.0, 1.0], abs=1e-5)
    assert all(o < 1.0 - 1e-4 for o in other)
    with pytest.raises(ValueError, match="different shapes"):
        paired_cosines(a, a[:1])

"""LCM-LoRA through peft: what the adapter covers and costs (closed forms against the real modules), the
file save_lora_weights writes, load_lora_weights + fuse_lora, and the errors for a file that does not fit."""

import json
import struct
import sys

import pytest

pytest.importorskip("diffusers")
pytest.importorskip("peft")

import numpy as np  # noqa: E402
import safetensors.torch  # noqa: E402
import torch  # noqa: E402

from effcheck.errors import EffcheckError, MissingDependency  # noqa: E402
from effcheck.models import require  # noqa: E402
from effcheck.models.diffusion import build_unet, generate, sd_pipeline, with_scheduler  # noqa: E402
from effcheck.models.diffusion_configs import SD15_TINY  # noqa: E402
from effcheck.models.lora import (  # noqa: E402
    LCM_LORA_ALPHA,
    LCM_LORA_RANK,
    LCM_LORA_TARGET_MODULES,
    LoraMismatchError,
    adapter_state_dict,
    add_lcm_lora,
    check_lora_matches,
    lcm_lora_config,
    load_lora,
    lora_parameters,
    save_lora,
    tensor_bytes,
)

RANK = 4  # small adapters keep these tests fast; the official rank is checked on the config


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: see the fixture


def _targets(unet):
    """Modules the LCM-LoRA script's target list names (peft matches a name or a dotted suffix)."""
    return {name: m for name, m in unet.named_modules()
            if any(name == t or name.endswith("." + t) for t in LCM_LORA_TARGET_MODULES)
            and isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))}


def _lora_params_closed_form(targets, rank):
    total = 0
    for m in targets.values():
        if isinstance(m, torch.nn.Linear):
            total += rank * (m.in_features + m.out_features)
        else:  # lora_A: a conv of the base kernel into `rank` channels; lora_B: a 1x1 conv back out
            kh, kw = m.kernel_size
            total += rank * m.in_channels * kh * kw + m.out_channels * rank
    return total


def _tiny_forward(unet):
    torch.manual_seed(0)
    x = torch.randn(1, 4, 8, 8)
    context = torch.randn(1, 77, SD15_TINY.unet["cross_attention_dim"])
    with torch.no_grad():
        return unet(x, 10, encoder_hidden_states=context).sample


def test_the_official_training_script_settings():
    config = lcm_lora_config()
    assert (config.r, config.lora_alpha, LCM_LORA_RANK, LCM_LORA_ALPHA) == (64, 64, 64, 64)
    assert set(config.target_modules) == set(LCM_LORA_TARGET_MODULES) and len(LCM_LORA_TARGET_MODULES) == 14


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_adapter_covers_every_targeted_layer_with_the_closed_form_parameter_count(device):
    base = build_unet(SD15_TINY.unet, device)
    targets = _targets(base)
    unet = add_lcm_lora(build_unet(SD15_TINY.unet, device), rank=RANK)
    params = lora_parameters(unet)
    assert {p.device.type for p in params.values()} == {device}  # on meta, the adapter is shapes only too
    adapted = {n.split(".lora_", 1)[0].replace(".base_layer", "") for n in params}
    assert adapted == set(targets)
    assert sum(p.numel() for p in params.values()) == _lora_params_closed_form(targets, RANK)
    # every kind of layer the script names exists in SD1.5's UNet: none of the 14 silently matches nothing
    kinds = {t for t in LCM_LORA_TARGET_MODULES if any(n == t or n.endswith("." + t) for n in targets)}
    assert kinds == set(LCM_LORA_TARGET_MODULES)


def test_a_fresh_adapter_is_a_no_op_and_a_seeded_one_is_not():
    plain = _tiny_forward(build_unet(SD15_TINY.unet))
    assert torch.equal(_tiny_forward(add_lcm_lora(build_unet(SD15_TINY.unet), rank=RANK)), plain)
    seeded = add_lcm_lora(build_unet(SD15_TINY.unet), rank=RANK, seed=0)
    assert not torch.allclose(_tiny_forward(seeded), plain)


def test_saved_file_is_the_tensor_bytes_plus_its_header(tmp_path):
    unet = add_lcm_lora(build_unet(SD15_TINY.unet, "meta"), rank=RANK)
    state = adapter_state_dict(unet)
    for dtype in (torch.float16, torch.float32):
        file = save_lora(state, tmp_path / str(dtype), dtype)
        raw = file.read_bytes()
        (header_len,) = struct.unpack("<Q", raw[:8])  # safetensors: u64 header length, JSON header, data
        header = json.loads(raw[8:8 + header_len])
        assert len(raw) == 8 + header_len + tensor_bytes(state.values(), dtype)
        assert {k for k in header if k != "__metadata__"} == {f"unet.{k}" for k in state}
    assert tensor_bytes([torch.empty(3, 5, device="meta")], torch.float16) == 30


def test_load_and_fuse_match_the_unfused_adapter(tmp_path):
    source = add_lcm_lora(build_unet(SD15_TINY.unet), rank=RANK, seed=1)
    file = save_lora(adapter_state_dict(source), tmp_path)
    pipe = with_scheduler(sd_pipeline(SD15_TINY), "lcm")
    base = generate(pipe, 2, 1.0, output_type="np")
    assert load_lora(pipe, file, fuse=False) == len(_targets(build_unet(SD15_TINY.unet, "meta")))
    unfused = generate(pipe, 2, 1.0, output_type="np")
    pipe.fuse_lora()
    fused = generate(pipe, 2, 1.0, output_type="np")
    assert np.abs(unfused - base).max() > 1e-2
    assert np.abs(fused - unfused).max() <= 1e-3


# -- bad input ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def saved_state():
    return {f"unet.{k}": v for k, v in
            adapter_state_dict(add_lcm_lora(build_unet(SD15_TINY.unet), rank=RANK, seed=2)).items()}


def test_keys_without_the_unet_prefix_are_refused(saved_state, tmp_path):
    file = tmp_path / "model-prefixed.safetensors"
    safetensors.torch.save_file({k.replace("unet.", "model.", 1): v for k, v in saved_state.items()}, file)
    with pytest.raises(LoraMismatchError, match="no UNet LoRA weights.*would load nothing"):
        load_lora(sd_pipeline(SD15_TINY), file)


def test_modules_the_unet_lacks_are_named(saved_state):
    moved = {k.replace("down_blocks.0.", "down_blocks.7.", 1): v for k, v in saved_state.items()}
    absent = r"of \d+ LoRA target modules are not in this UNet.*down_blocks\.7"
    with pytest.raises(LoraMismatchError, match=absent):
        check_lora_matches(moved, build_unet(SD15_TINY.unet, "meta"))


def test_an_adapter_for_other_widths_is_refused_in_one_line(saved_state):
    wider = {**SD15_TINY.unet, "block_out_channels": (80, 160, 320, 320)}
    with pytest.raises(LoraMismatchError, match="has input size 40 but the UNet's .* has 80") as info:
        check_lora_matches(saved_state, build_unet(wider, "meta"))
    assert "\n" not in str(info.value)
    assert isinstance(info.value, EffcheckError)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(LoraMismatchError, match="no LoRA file at"):
        load_lora(sd_pipeline(SD15_TINY), tmp_path / "absent.safetensors")


def test_missing_peft_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # import peft now raises ImportError
    named = r"peft is not installed: pip install 'effcheck\[diffusion\]'"
    with pytest.raises(MissingDependency, match=named):
        require("peft", "diffusion")
    with pytest.raises(MissingDependency, match="diffusion"):
        lcm_lora_config()

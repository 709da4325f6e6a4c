"""Vision builders and the arithmetic of the vision claims: closed forms against the real modules."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from effcheck.meters.flops import count_macs
from effcheck.meters.params import count_params
from effcheck.meters.rounding import half_steps, margin_for, parse_figure, ratio_floor
from effcheck.meters.scaling import (
    ALPHA,
    BETA,
    GAMMA,
    ScaledVariant,
    channel_multiplier_interval,
    depth_multiplier_interval,
    flops_per_phi,
    intervals_gap,
    outside,
    phi_interval,
    phi_of,
)
from effcheck.models.vision import (
    EFFICIENTNET_HEAD_CHANNELS,
    EFFICIENTNET_VARIANTS,
    MobileNetConfig,
    efficientnet_shape,
    image_batch,
    inverted_residual_blocks,
    mobilenet_layer_macs,
    mobilenet_macs,
    mobilenet_v1,
    new_timm_model,
    paper_resolution,
    timm_macs,
    timm_model,
)

pytest.importorskip("timm")

B0_STAGE_REPEATS = (1, 2, 2, 3, 3, 4, 1)  # EfficientNet-B0's MBConv stages (paper Table 1)


# -- builders -------------------------------------------------------------------------------------------

def test_timm_model_on_meta_has_the_real_models_parameters_and_is_cached():
    meta = timm_model("mobilenetv2_100", "meta")
    real = timm_model("mobilenetv2_100", "cpu")
    assert next(meta.parameters()).device.type == "meta"
    assert count_params(meta) == count_params(real) == 3_504_872
    assert timm_model("mobilenetv2_100", "meta") is meta
    assert not real.training


def test_real_timm_model_runs_a_forward_pass():
    with torch.no_grad():
        out = timm_model("mobilenetv2_100", "cpu")(image_batch(64))
    assert out.shape == (1, 1000)


def test_efficientnet_variants_are_what_timm_builds():
    """The published coefficients in our data are the ones timm's builders use (width, ceil'd depth, and
    the paper's resolution in the pretrained_cfg of timm's port of the TF weights)."""
    for v in EFFICIENTNET_VARIANTS:
        shape = efficientnet_shape(timm_model(v.name, "meta"))
        assert shape.head_channels == round(EFFICIENTNET_HEAD_CHANNELS * v.width), v.name
        assert shape.stage_blocks == tuple(math.ceil(v.depth * r) for r in B0_STAGE_REPEATS), v.name
        assert paper_resolution(v.name) == v.resolution, v.name


def test_new_timm_model_is_not_the_shared_one():
    assert new_timm_model("mobilenetv2_100", "meta") is not timm_model("mobilenetv2_100", "meta")


def test_timm_macs_is_the_flop_counter_on_the_cached_model():
    assert timm_macs("mobilenetv2_100", 224) == count_macs(timm_model("mobilenetv2_100", "meta"),
                                                           image_batch(224, "meta")) == 300_774_272


# -- the inverted residual, read from what timm builds ----------------------------------------------------

def test_mobilenetv2_blocks_are_inverted_residuals():
    blocks = inverted_residual_blocks(timm_model("mobilenetv2_100", "meta"))
    # Sandler et al. 2018 Table 1: 17 bottlenecks, the first with expansion 1 (no 1x1 expansion in timm)
    assert len(blocks) == 16
    assert {b.wide // b.narrow_in for b in blocks} == {6}
    assert sum(b.has_residual for b in blocks) == 10
    assert all(not b.violations for b in blocks)


def test_an_activation_after_the_projection_is_caught():
    """The check CAN fail: the same network with a ReLU6 after one projection is no linear bottleneck."""
    model = new_timm_model("mobilenetv2_100", "meta")
    model.blocks[2][1].bn3.act = torch.nn.ReLU6()
    broken = [b for b in inverted_residual_blocks(model) if b.violations]
    assert [b.name for b in broken] == ["blocks.2.1"]
    assert "not linear" in broken[0].violations[0]


def test_a_missing_residual_is_caught():
    model = new_timm_model("mobilenetv2_100", "meta")
    model.blocks[3][2].has_skip = False
    broken = {b.name: b.violations for b in inverted_residual_blocks(model) if b.violations}
    assert list(broken) == ["blocks.3.2"] and "residual missing" in broken["blocks.3.2"][0]


def test_the_residual_joins_the_narrow_ends():
    """Functionally, on real weights: with the projection zeroed (and its BN shifted to 0), a residual block
    returns its narrow input unchanged; x + f(x) is taken between the narrow ends, not the wide ones."""
    model = new_timm_model("mobilenetv2_100", "cpu")
    block = model.blocks[1][1]
    torch.nn.init.zeros_(block.conv_pwl.weight)
    torch.nn.init.zeros_(block.bn3.bias)
    x = torch.randn(1, block.conv_pw.in_channels, 8, 8)
    with torch.no_grad():
        assert torch.equal(block(x), x)


def test_a_resnet_has_no_inverted_residuals():
    assert inverted_residual_blocks(timm_model("resnet50", "meta")) == []


def test_efficientnet_shape_refuses_other_models():
    with pytest.raises(TypeError, match="not a timm EfficientNet"):
        efficientnet_shape(torch.nn.Linear(2, 2))


def test_separable_mobilenet_is_timms_mobilenetv1_100():
    x = image_batch(224, "meta")
    ours, timms = mobilenet_v1(True, "meta"), timm_model("mobilenetv1_100", "meta")
    assert count_params(ours) == count_params(timms)
    assert count_macs(ours, x) == count_macs(timms, x) == mobilenet_macs(224, True)


def test_mobilenet_table4_figures():
    """Howard et al. 2017 Table 4: MobileNet 569M Mult-Adds 4.2M params, Conv MobileNet 4866M, 29.3M."""
    assert round(mobilenet_macs(224, True) / 1e6) == 569
    assert round(mobilenet_macs(224, False) / 1e6, -1) == 4870  # 4867.3M: the paper prints 4866M
    assert round(count_params(mobilenet_v1(False, "meta")) / 1e6, 1) == 29.3


TINY = MobileNetConfig(stem=4, layers=((8, 1), (16, 2)), num_classes=10)


@pytest.mark.parametrize("separable, expected", [
    # stem 3->4 3x3 s2 at 8x8: 64*3*4*9 = 6912; classifier 16*10 = 160
    # layer (8, s1) at 8x8: separable 64*4*9 + 64*4*8 = 4352, full 64*4*8*9 = 18432
    # layer (16, s2) at 4x4: separable 16*8*9 + 16*8*16 = 3200, full 16*8*16*9 = 18432
    (True, 6912 + 4352 + 3200 + 160),
    (False, 6912 + 18432 + 18432 + 160),
])
def test_tiny_mobilenet_macs_by_hand(separable, expected):
    model = mobilenet_v1(separable, "cpu", TINY)
    x = image_batch(16)
    with torch.no_grad():
        assert model(x).shape == (1, 10)
    assert count_macs(model, x) == mobilenet_macs(16, separable, TINY) == expected


mobilenet_configs = st.builds(
    MobileNetConfig,
    stem=st.integers(1, 16),
    layers=st.lists(st.tuples(st.integers(1, 24), st.sampled_from([1, 2])), min_size=1, max_size=4)
    .map(tuple),
    num_classes=st.integers(1, 20),
)


@given(config=mobilenet_configs, resolution=st.integers(8, 64))
def test_mobilenet_closed_form_equals_the_flop_counter(config, resolution):
    x = image_batch(resolution, "meta")
    for separable in (True, False):
        measured = count_macs(mobilenet_v1(separable, "meta", config), x)
        assert measured == mobilenet_macs(resolution, separable, config)


@given(config=mobilenet_configs, resolution=st.integers(8, 64))
def test_per_layer_saving_is_one_over_n_plus_one_over_k_squared(config, resolution):
    for layer in mobilenet_layer_macs(resolution, config):
        assert math.isclose(layer.separable / layer.full, layer.closed_form_ratio)


def test_mobilenet_config_rejects_bad_layers():
    with pytest.raises(ValueError, match="stride 1 or 2"):
        MobileNetConfig(layers=((8, 3),))
    with pytest.raises(ValueError, match="needs a stem"):
        MobileNetConfig(layers=())


# -- parameters and MACs of single layers against closed forms ------------------------------------------

@given(groups=st.integers(1, 4), c_in_per=st.integers(1, 4), c_out_per=st.integers(1, 4),
       k=st.sampled_from([1, 3, 5]), stride=st.integers(1, 3), padding=st.integers(0, 2),
       height=st.integers(5, 20), width=st.integers(5, 20), bias=st.booleans())
def test_grouped_conv2d_params_and_macs(groups, c_in_per, c_out_per, k, stride, padding, height, width, bias):
    c_in, c_out = groups * c_in_per, groups * c_out_per
    conv = torch.nn.Conv2d(c_in, c_out, k, stride, padding, groups=groups, bias=bias, device="meta")
    h_out = (height + 2 * padding - k) // stride + 1
    w_out = (width + 2 * padding - k) // stride + 1
    assert count_params(conv) == c_out * c_in_per * k * k + (c_out if bias else 0)
    if h_out > 0 and w_out > 0:
        x = torch.empty(1, c_in, height, width, device="meta")
        assert count_macs(conv, x) == h_out * w_out * c_out * c_in_per * k * k


@given(batch=st.integers(1, 4), n_in=st.integers(1, 64), n_out=st.integers(1, 64), bias=st.booleans())
def test_linear_params_and_macs(batch, n_in, n_out, bias):
    layer = torch.nn.Linear(n_in, n_out, bias=bias, device="meta")
    assert count_params(layer) == n_in * n_out + (n_out if bias else 0)
    assert count_macs(layer, torch.empty(batch, n_in, device="meta")) == batch * n_in * n_out


# -- printed figures ------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value, half_step", [
    ("9.2M", 9.2e6, 0.05e6), ("12M", 12e6, 0.5e6), ("0.39B", 0.39e9, 0.005e9), ("1.0B", 1e9, 0.05e9),
    ("7", 7, 0.5),
])
def test_parse_figure(text, value, half_step):
    figure = parse_figure(text)
    assert math.isclose(figure.value, value) and math.isclose(figure.half_step, half_step)


@pytest.mark.parametrize("text", ["", "M", "9.2X", "-3", "1e6"])
def test_parse_figure_rejects_non_figures(text):
    with pytest.raises(ValueError, match="not a printed figure"):
        parse_figure(text)


@given(value=st.floats(0.01, 1e4), decimals=st.integers(0, 3))
def test_a_value_is_within_one_half_step_of_itself_printed(value, decimals):
    printed = parse_figure(f"{value:.{decimals}f}")
    assert abs(half_steps(value, printed)) <= 1 + 1e-9


def test_ratio_floor_and_margin():
    floor = ratio_floor(parse_figure("25M"), parse_figure("5.3M"))
    assert math.isclose(floor, 24.5 / 5.35)
    assert math.isclose(margin_for(5.0, floor), 1 - floor / 5.0)
    with pytest.raises(ValueError):
        margin_for(5.0, 6.0)


# -- compound scaling -----------------------------------------------------------------------------------

@given(phi=st.floats(0.0, 8.0))
def test_coefficients_from_one_phi_have_no_gap(phi):
    variant = ScaledVariant("x", width=round(BETA**phi, 1), depth=round(ALPHA**phi, 1),
                            resolution=round(224 * GAMMA**phi))
    assert variant.phi_gap() == 0.0
    low, high = variant.flops_growth_bounds()
    assert low <= variant.depth * variant.width**2 * (variant.resolution / 224) ** 2 <= high


def test_phi_interval_and_gap():
    lo, hi = phi_interval(1.2, ALPHA, 0.05)
    assert lo < 1.0 < hi
    assert ScaledVariant("b7", width=2.0, depth=3.1, resolution=600).phi_gap() > 0.5
    assert math.isclose(flops_per_phi(), 1.2 * 1.1**2 * 1.15**2)
    with pytest.raises(ValueError):
        phi_interval(0.04, ALPHA, 0.05)


def test_depth_multiplier_interval_inverts_the_per_stage_ceiling():
    lo, hi = depth_multiplier_interval(23, B0_STAGE_REPEATS)  # B1: depth 1.1 -> 23 blocks
    assert (lo, hi) == (1.0, 1.25)
    for d in (lo + 1e-6, 1.1, hi):
        assert sum(math.ceil(d * r) for r in B0_STAGE_REPEATS) == 23
    assert sum(math.ceil((hi + 1e-6) * r) for r in B0_STAGE_REPEATS) > 23
    with pytest.raises(ValueError, match="cannot fill"):
        depth_multiplier_interval(3, B0_STAGE_REPEATS)


@given(d=st.floats(0.5, 4.0))
def test_a_depth_multiplier_lies_in_the_interval_of_what_it_builds(d):
    blocks = sum(math.ceil(d * r) for r in B0_STAGE_REPEATS)
    lo, hi = depth_multiplier_interval(blocks, B0_STAGE_REPEATS)
    assert lo < d <= hi + 1e-9


def test_channel_multiplier_interval():
    assert channel_multiplier_interval(1408, 1280) == (1404 / 1280, 1412 / 1280)
    with pytest.raises(ValueError, match="multiple of 8"):
        channel_multiplier_interval(1410, 1280)


def test_phi_of_and_gap():
    lo, hi = phi_of(1.1, 1.2, BETA)
    assert math.isclose(lo, 1.0) and math.isclose(BETA**hi, 1.2)
    assert intervals_gap([(0.0, 1.0), (0.5, 2.0)]) == 0.0
    assert math.isclose(intervals_gap([(0.0, 1.0), (1.5, 2.0)]), 0.5)


def test_outside():
    assert outside(1.0, 0.5, 2.0) == 0.0
    assert math.isclose(outside(2.2, 0.5, 2.0), 0.1)
    assert math.isclose(outside(0.4, 0.5, 2.0), 0.2)

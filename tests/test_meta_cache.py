"""The meta shape cache: counts of real models are the same with and without it; it answers only
functional calls on meta tensors, with the metadata torch's own kernel gave."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from effcheck.meters.flops import _counter, count_flops  # noqa: E402
from effcheck.meters.meta_cache import all_meta, meta_shape_cache  # noqa: E402
from effcheck.meters.training import training_counter, training_flops  # noqa: E402


def _uncached_flops(fn, *args, **kwargs):
    counter = _counter()
    with torch.no_grad(), counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


def _metadata(t):
    return tuple(t.shape), t.stride(), t.dtype, t.device.type


def test_counts_of_real_models_are_the_same_with_the_cache():
    timm = pytest.importorskip("timm")
    from effcheck.models.build import building_on

    with building_on("meta"):
        models = {name: timm.create_model(name).eval() for name in ("efficientnet_b0", "resnet18")}
    x = torch.empty(1, 3, 240, 240, device="meta")
    for name, model in models.items():
        assert count_flops(model, x) == _uncached_flops(model, x) > 0, name


def test_counts_of_a_transformer_and_a_unet_are_the_same_with_the_cache():
    pytest.importorskip("diffusers")
    from effcheck.models.diffusion import build_unet, sdxl_unet_inputs
    from effcheck.models.diffusion_configs import SDXL_UNET
    from effcheck.models.language import causal_lm

    llama = causal_lm("llama-2-70b", num_hidden_layers=2)
    ids = torch.zeros(1, 32, dtype=torch.long, device="meta")
    assert count_flops(llama, input_ids=ids) == _uncached_flops(llama, input_ids=ids) > 0
    unet = build_unet(SDXL_UNET, "meta")
    args, kwargs = sdxl_unet_inputs(SDXL_UNET, 32, "meta")
    assert count_flops(unet, *args, **kwargs) == _uncached_flops(unet, *args, **kwargs) > 0


def test_training_counts_forward_and_backward_the_same_with_the_cache():
    timm = pytest.importorskip("timm")
    from effcheck.models.build import building_on

    with building_on("meta"):
        model = timm.create_model("mobilenetv2_100")
    x, y = torch.empty(2, 3, 96, 96, device="meta"), torch.zeros(2, dtype=torch.long, device="meta")
    counter = training_counter()
    model.train()
    with counter:
        torch.nn.functional.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    assert training_flops(model, x, y) == int(counter.get_total_flops()) > 0


def test_repeats_are_answered_from_the_cache_with_the_kernels_metadata():
    x = torch.empty(4, 16, 8, device="meta").transpose(0, 1)  # non-contiguous input
    w, b = torch.empty(8, device="meta"), torch.empty(8, device="meta")
    with meta_shape_cache() as cache:
        first = torch.nn.functional.layer_norm(x, (8,), w, b)
        again = torch.nn.functional.layer_norm(x, (8,), w, b)
    assert cache.hits >= 1
    assert _metadata(again) == _metadata(first) == _metadata(torch.nn.functional.layer_norm(x, (8,), w, b))
    assert again is not first  # a fresh tensor, as the kernel would have returned


def test_real_tensors_views_and_in_place_ops_are_never_cached():
    with meta_shape_cache() as cache:
        real = [torch.ones(3) + k for k in (1.0, 1.0)]  # same metadata, real values: computed each time
        m = torch.empty(2, 6, device="meta")
        view = m.view(3, 4)
        same = m.add_(1)
    assert [r.tolist() for r in real] == [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    assert view.untyped_storage().data_ptr() == m.untyped_storage().data_ptr() and same is m
    assert cache.hits == 0


def test_all_meta_needs_one_meta_tensor_and_no_other():
    meta, cpu = torch.empty(1, device="meta"), torch.empty(1)
    assert all_meta((meta,), {"k": [meta]}) and not all_meta((meta, cpu), {}) and not all_meta((1, 2), {})


SHAPES = st.lists(st.integers(1, 5), min_size=1, max_size=4)
OPS = {
    "softmax": lambda a, b: torch.softmax(a, -1),
    "mul_broadcast": lambda a, b: a * b[..., :1],
    "mean_keepdim": lambda a, b: a.mean(-1, keepdim=True),
    "group_of_three": lambda a, b: torch.cat([a, a], -1).sum(0),
    "to_half": lambda a, b: a.to(torch.float16),
    "layer_norm": lambda a, b: torch.nn.functional.layer_norm(a, a.shape[-1:]),
}


@given(shape=SHAPES, op=st.sampled_from(sorted(OPS)), transpose=st.booleans())
def test_a_cached_answer_has_the_metadata_of_torchs_kernel(shape, op, transpose):
    a = torch.empty(*shape, device="meta")
    if transpose and a.dim() > 1:
        a = a.transpose(0, -1)
    b = torch.empty(*a.shape, device="meta")
    expected = _metadata(OPS[op](a, b))
    with meta_shape_cache():
        first, second = OPS[op](a, b), OPS[op](a, b)
    assert _metadata(first) == _metadata(second) == expected

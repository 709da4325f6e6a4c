"""effcheck.meters.training: training FLOPs against closed forms, and the training step on tiny modules.
No wall-clock assertion here: the step ratio is exercised for its shape, not its value."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from effcheck.meters.flops import count_macs
from effcheck.meters.training import training_flops, training_step, training_step_ratio


def _mse(out, target):
    return ((out - target) ** 2).mean()


@given(batch=st.integers(1, 4), n_in=st.integers(1, 32), n_out=st.integers(1, 32))
@settings(deadline=None, max_examples=25)
def test_linear_training_flops_are_three_forwards(batch, n_in, n_out):
    """Forward x @ W^T, backward grad_input (grad @ W) and grad_weight (grad^T @ x): three equal matmuls,
    but the input needs no gradient, so only the weight gradient is computed: 2 x forward."""
    layer = torch.nn.Linear(n_in, n_out, bias=False, device="meta")
    x = torch.empty(batch, n_in, device="meta")
    y = torch.empty(batch, n_out, device="meta")
    assert training_flops(layer, x, y, _mse) == 2 * (2 * batch * n_in * n_out)


@given(groups=st.integers(1, 6), per_group=st.integers(1, 4), k=st.sampled_from([1, 3]), size=st.integers(3, 9),
       batch=st.integers(1, 3))
@settings(deadline=None, max_examples=40)
def test_grouped_conv_weight_gradient_is_counted_per_group(groups, per_group, k, size, batch):
    """A conv after another conv: the second gets both gradients, each costing exactly its forward MACs
    (grouped or not); torch's own formula would count the weight gradient `groups` times over."""
    channels = groups * per_group
    first = torch.nn.Conv2d(3, channels, 1, bias=False, device="meta")
    second = torch.nn.Conv2d(channels, channels, k, padding=k // 2, groups=groups, bias=False, device="meta")
    model = torch.nn.Sequential(first, second, torch.nn.Flatten())
    x = torch.empty(batch, 3, size, size, device="meta")
    y = torch.empty(batch, channels * size * size, device="meta")
    macs_first = count_macs(first, x)
    macs_second = count_macs(second, torch.empty(batch, channels, size, size, device="meta"))
    # first: forward + weight gradient (its input needs none); second: forward + input + weight gradients
    expected = 2 * (2 * macs_first + 3 * macs_second)
    assert training_flops(model, x, y, _mse) == expected


def test_depthwise_network_training_flops_are_about_three_forwards():
    """The error the correction removes: with torch's formula a depthwise block's backward reads tens of
    times its forward; corrected, a whole depthwise network stays at about 3x (the first conv has no input
    gradient)."""
    channels = 64
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, channels, 3, padding=1, device="meta"),
        torch.nn.Conv2d(channels, channels, 3, padding=1, groups=channels, device="meta"),
        torch.nn.Conv2d(channels, channels, 1, device="meta"),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, 10, device="meta"))
    x = torch.empty(2, 3, 16, 16, device="meta")
    y = torch.zeros(2, dtype=torch.long, device="meta")
    forward = 2 * count_macs(model, x)
    assert 2.5 * forward < training_flops(model, x, y) < 3 * forward


def test_training_flops_restore_the_models_mode():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3)).eval()
    training_flops(model, torch.randn(5, 4), torch.zeros(5, dtype=torch.long))
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_training_step_trains_the_model():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4))
    x, y = torch.randn(16, 8), torch.randint(0, 4, (16,))
    before = model[0].weight.detach().clone()
    step = training_step(model, x, y)
    step()
    assert model.training
    assert not torch.equal(before, model[0].weight.detach())  # the optimizer stepped
    assert all(p.grad is None for p in model.parameters())  # gradients cleared for the next step


def test_training_step_ratio_records_the_batch_and_counts_one_call_per_block():
    a = training_step(torch.nn.Linear(8, 4), torch.randn(2, 8), torch.randint(0, 4, (2,)))
    b = training_step(torch.nn.Linear(8, 4), torch.randn(2, 8), torch.randint(0, 4, (2,)))
    m = training_step_ratio(a, b, batch=2, rounds=3, warmup=0, label_a="a", label_b="b")
    assert len(m.samples) == 3 and m.value > 0
    assert m.details["batch"] == 2 and m.details["a_calls_per_block"] == 1
    assert "batch 2" in m.method and "SGD" in m.method


def test_training_step_ratio_refuses_a_batch_of_nothing():
    with pytest.raises(ValueError, match="batch must be >= 1"):
        training_step_ratio(lambda: None, lambda: None, batch=0)

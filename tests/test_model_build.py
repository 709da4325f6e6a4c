"""building_on: models built on meta skip their random fills; everywhere else nothing changes."""

import pytest

torch = pytest.importorskip("torch")

from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

from effcheck.models.build import building_on  # noqa: E402


class _AtenOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.append(func.__name__)
        return func(*args, **(kwargs or {}))


def _fills_reaching_aten(context):
    with context, _AtenOps() as ops:
        torch.nn.Linear(8, 4)  # kaiming_uniform_ (tensor by keyword through nn.init), bias uniform_ (method)
        torch.nn.init.normal_(torch.empty(3, 3), 0.0, 0.02)  # nn.init with the tensor by keyword
        torch.empty(5).normal_()
    return [n for n in ops.names if n.startswith(("uniform", "normal"))]


def test_on_meta_no_random_fill_reaches_aten():
    assert _fills_reaching_aten(torch.device("meta"))  # the premise: plain torch.device runs them all
    assert _fills_reaching_aten(building_on("meta")) == []


def test_a_meta_build_keeps_every_shape_and_dtype():
    def build(context):
        with context:
            return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(),
                                       torch.nn.Linear(8, 2), torch.nn.Embedding(10, 4))

    skipped, plain = build(building_on("meta")), build(torch.device("meta"))
    assert [(n, p.shape, p.dtype, p.device.type) for n, p in skipped.named_parameters()] == [
        (n, p.shape, p.dtype, p.device.type) for n, p in plain.named_parameters()]
    assert all(p.is_meta for p in skipped.parameters())


def test_on_a_real_device_seeded_weights_are_unchanged():
    torch.manual_seed(7)
    with building_on("cpu"):
        built = torch.nn.Linear(6, 3)
    torch.manual_seed(7)
    plain = torch.nn.Linear(6, 3)
    assert built.weight.device.type == "cpu"
    assert torch.equal(built.weight, plain.weight) and torch.equal(built.bias, plain.bias)


def test_real_tensors_made_inside_a_meta_build_are_still_filled():
    with building_on("meta"):
        real = torch.zeros(64, device="cpu")
        torch.nn.init.normal_(real)
    assert real.abs().sum() > 0

"""What a training step costs: one step's FLOPs (deterministic) and the time ratio of two models' steps.

A training step here is what a training loop does per batch: forward in train mode, a loss, backward,
one optimizer step, gradients cleared. The API is three functions:

    step = training_step(model, inputs, targets)     # a callable doing one full step, for timing
    flops = training_flops(model, inputs, targets)   # FLOPs of forward + backward (no optimizer)
    ratio = training_step_ratio(step_a, step_b, batch=..., label_a=..., label_b=...)  # interleaved A/B

FLOPs are counted with torch's FlopCounterMode, with one correction: torch's formula for the weight
gradient of a grouped convolution (aten.convolution_backward) ignores `groups`, so it counts a depthwise
convolution's weight gradient as if the convolution were dense, C times too much (C = channels). For a
depthwise network such as EfficientNet that error dominates the count (B0's backward would read 20x its
forward). The corrected formula divides that term by `groups` (tests/test_training_meter.py holds it to
closed forms). The optimizer step is elementwise work, which FlopCounterMode does not count: it is timed
in the step ratio, not counted in the FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from effcheck.meters.latency import ab_ratio
from effcheck.records import Measurement

OPTIMIZER = "SGD(lr=1e-4, momentum=0.9)"  # a small lr: the weights, hence the work, stay put over a run


def _grouped_conv_backward_flop(grad_out_shape: Any, x_shape: Any, w_shape: Any, _bias: Any, _stride: Any,
                                _padding: Any, _dilation: Any, transposed: bool, _output_padding: Any,
                                groups: int, output_mask: Any, out_shape: Any, **kwargs: Any) -> int:
    """torch's conv_backward_flop (flop_counter.py) with the weight-gradient term divided by `groups`.

    grad_weight[g] = conv(input of group g, grad_out of group g): per group (C_in/g) x (C_out/g) channel
    pairs, so the dense formula's C_in x C_out is `groups` times too large. The input-gradient term reads
    C_in/g from the weight's shape and is right as torch counts it.
    """
    from torch.utils.flop_counter import conv_flop_count

    def t(shape: Any) -> list[int]:
        return [shape[1], shape[0], *shape[2:]]

    total = 0
    if output_mask[0]:
        total += conv_flop_count(list(grad_out_shape), list(w_shape), list(out_shape[0]), not transposed)
    if output_mask[1]:
        if transposed:
            dense = conv_flop_count(t(grad_out_shape), t(x_shape), t(out_shape[1]), transposed=False)
        else:
            dense = conv_flop_count(t(x_shape), t(grad_out_shape), t(out_shape[1]), transposed=False)
        total += dense // groups
    return total


def training_counter() -> Any:
    """A FlopCounterMode whose convolution backward counts grouped (depthwise) convolutions right."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    return FlopCounterMode(display=False,
                           custom_mapping={torch.ops.aten.convolution_backward: _grouped_conv_backward_flop})


def _loss(model: Any, inputs: Any, targets: Any, loss_fn: Callable[[Any, Any], Any] | None) -> Any:
    import torch

    out = model(inputs)
    return (loss_fn or torch.nn.functional.cross_entropy)(out, targets)


def training_flops(model: Any, inputs: Any, targets: Any,
                   loss_fn: Callable[[Any, Any], Any] | None = None) -> int:
    """FLOPs (2 per multiply-add) of one forward + backward in train mode; works on the meta device.

    loss_fn(outputs, targets) defaults to cross-entropy (a classifier's loss). Gradients are cleared and the
    model's train/eval mode restored after, so a cached model is left as it was found.
    """
    from effcheck.meters.meta_cache import shape_cache_if_meta

    was_training = model.training
    model.train()
    counter = training_counter()
    try:
        with shape_cache_if_meta(inputs, targets), counter:
            _loss(model, inputs, targets, loss_fn).backward()
    finally:
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    return int(counter.get_total_flops())


def training_step(model: Any, inputs: Any, targets: Any, *,
                  loss_fn: Callable[[Any, Any], Any] | None = None) -> Callable[[], None]:
    """A callable doing one training step on this fixed batch: forward (train mode), loss, backward,
    an OPTIMIZER step over all parameters, gradients cleared. It trains `model`: give it a model of its own,
    not one another benchmark shares."""
    import torch

    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)

    def step() -> None:
        loss = _loss(model, inputs, targets, loss_fn)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return step


def training_step_ratio(step_a: Callable[[], None], step_b: Callable[[], None], *, batch: int,
                        device: str = "cpu", rounds: int = 9, warmup: int = 1, min_block_s: float = 0.0,
                        label_a: str = "A", label_b: str = "B") -> Measurement:
    """time(step A) / time(step B), interleaved A/B (effcheck.meters.latency.ab_ratio); the batch size is
    part of the measurement (the ratio depends on it) and recorded in its method and details."""
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    calls = None if min_block_s > 0 else (1, 1)  # a step takes long enough to time one call per block
    times = ab_ratio(step_a, step_b, device=device, rounds=rounds, warmup=warmup, min_block_s=min_block_s,
                     label_a=label_a, label_b=label_b, calls_per_block=calls)
    return Measurement(
        value=times.value, unit=times.unit, device=device, samples=times.samples,
        method=f"training step (forward, backward, {OPTIMIZER} step) at batch {batch}: {times.method}",
        details={**times.details, "batch": batch, "optimizer": OPTIMIZER},
    )

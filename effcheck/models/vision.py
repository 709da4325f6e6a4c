"""Vision architectures with random weights (no downloads): timm classifiers, and MobileNet V1 built from
its paper's Table 1 with depthwise separable or full 3x3 convolutions. Configs are data with their source.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from effcheck.meters.scaling import ScaledVariant
from effcheck.models import require

# EfficientNet B0-B7: (width, depth, resolution) exactly as the official TF code lists them
# (tensorflow/tpu models/official/efficientnet/efficientnet_builder.py, efficientnet_params) and as timm's
# efficientnet_b0..b7 builders pass them (timm/models/efficientnet.py, _gen_efficientnet docstring).
# timm's defaults differ from the paper for some resolutions (e.g. b2 256, b3 288, b4 320): we use these.
EFFICIENTNET_VARIANTS: tuple[ScaledVariant, ...] = (
    ScaledVariant("efficientnet_b0", width=1.0, depth=1.0, resolution=224),
    ScaledVariant("efficientnet_b1", width=1.0, depth=1.1, resolution=240),
    ScaledVariant("efficientnet_b2", width=1.1, depth=1.2, resolution=260),
    ScaledVariant("efficientnet_b3", width=1.2, depth=1.4, resolution=300),
    ScaledVariant("efficientnet_b4", width=1.4, depth=1.8, resolution=380),
    ScaledVariant("efficientnet_b5", width=1.6, depth=2.2, resolution=456),
    ScaledVariant("efficientnet_b6", width=1.8, depth=2.6, resolution=528),
    ScaledVariant("efficientnet_b7", width=2.0, depth=3.1, resolution=600),
)
EFFICIENTNET_HEAD_CHANNELS = 1280  # B0's head conv; scaled by width (official round_filters, divisor 8)


@functools.lru_cache(maxsize=32)
def timm_model(name: str, device: str = "cpu", **kwargs: Any) -> Any:
    """timm.create_model(name) in eval mode on `device` ('meta' builds shapes only, for counts)."""
    timm = require("timm", "vision")
    import torch

    with torch.device(device):
        model = timm.create_model(name, pretrained=False, **kwargs)
    return model.eval()


def image_batch(resolution: int, device: str = "cpu", batch: int = 1) -> Any:
    import torch

    return torch.randn(batch, 3, resolution, resolution, device=device)


@dataclass(frozen=True)
class EfficientNetShape:
    """What a built timm EfficientNet really has: MBConv blocks and head channels."""

    blocks: int
    head_channels: int


def efficientnet_shape(model: Any) -> EfficientNetShape:
    """Count the blocks (realized depth) and head channels (realized width) of a timm EfficientNet."""
    if not hasattr(model, "blocks") or not hasattr(model, "num_features"):
        raise TypeError(f"not a timm EfficientNet: {type(model).__name__} has no blocks/num_features")
    return EfficientNetShape(blocks=sum(len(stage) for stage in model.blocks),
                             head_channels=int(model.num_features))


# MobileNet V1 (Howard et al. 2017, Table 1): a standard 3x3 stride-2 stem with 32 channels, then 13
# (output channels, stride) layers, each a 3x3 depthwise + 1x1 pointwise pair ("separable") or, for the
# paper's Table 4 "Conv MobileNet", one full 3x3 convolution; then global average pool and a classifier.
# Table 1 prints stride 2 for the last depthwise layer, but its output stays 7x7: stride 1, as in the
# official TF-slim code and timm's mobilenetv1_100.
MOBILENET_V1_STEM = 32
MOBILENET_V1_LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
)
KERNEL = 3


@dataclass(frozen=True)
class MobileNetConfig:
    stem: int = MOBILENET_V1_STEM
    layers: tuple[tuple[int, int], ...] = MOBILENET_V1_LAYERS
    num_classes: int = 1000

    def __post_init__(self) -> None:
        if self.stem < 1 or self.num_classes < 1 or not self.layers:
            raise ValueError(f"MobileNetConfig needs a stem, layers and classes, got {self}")
        for channels, stride in self.layers:
            if channels < 1 or stride not in (1, 2):
                raise ValueError(f"MobileNet layer ({channels}, {stride}): channels >= 1, stride 1 or 2")


def _out_size(size: int, stride: int) -> int:
    return (size + 2 * (KERNEL // 2) - KERNEL) // stride + 1  # 3x3, padding 1


@dataclass(frozen=True)
class ConvLayerMacs:
    """Multiply-adds of one MobileNet layer in both forms, at its output resolution."""

    c_in: int
    c_out: int
    size: int  # output height = width
    separable: int  # depthwise 3x3 + pointwise 1x1
    full: int  # one standard 3x3 convolution

    @property
    def closed_form_ratio(self) -> float:
        """separable / full = 1/N + 1/Dk^2 (MobileNet §3.1), N = output channels."""
        return 1 / self.c_out + 1 / KERNEL**2


def mobilenet_layer_macs(resolution: int, config: MobileNetConfig = MobileNetConfig()) -> list[ConvLayerMacs]:
    """Closed-form multiply-adds of each of the 13 layers (MobileNet §3.1: Dk*Dk*M*Df*Df + M*N*Df*Df)."""
    size = _out_size(resolution, 2)
    c_in, layers = config.stem, []
    for c_out, stride in config.layers:
        size = _out_size(size, stride)
        area = size * size
        layers.append(ConvLayerMacs(c_in, c_out, size, separable=area * c_in * (KERNEL**2 + c_out),
                                    full=area * c_in * c_out * KERNEL**2))
        c_in = c_out
    return layers


def mobilenet_macs(resolution: int, separable: bool, config: MobileNetConfig = MobileNetConfig()) -> int:
    """Closed-form multiply-adds of the whole network: stem, the 13 layers, classifier."""
    stem = _out_size(resolution, 2) ** 2 * 3 * config.stem * KERNEL**2
    layers = sum(m.separable if separable else m.full for m in mobilenet_layer_macs(resolution, config))
    return stem + layers + config.layers[-1][0] * config.num_classes


def mobilenet_v1(separable: bool, device: str = "cpu", config: MobileNetConfig = MobileNetConfig()) -> Any:
    """MobileNet V1 with depthwise separable layers, or the same network with full 3x3 convolutions.

    Conv-BN-ReLU throughout, as the paper's Figure 3; eval mode, random weights.
    """
    import torch
    from torch import nn

    def conv_bn(c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    with torch.device(device):
        modules = conv_bn(3, config.stem, KERNEL, 2)
        c_in = config.stem
        for c_out, stride in config.layers:
            if separable:
                modules += conv_bn(c_in, c_in, KERNEL, stride, groups=c_in) + conv_bn(c_in, c_out, 1, 1)
            else:
                modules += conv_bn(c_in, c_out, KERNEL, stride)
            c_in = c_out
        modules += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, config.num_classes)]
        model = nn.Sequential(*modules)
    return model.eval()

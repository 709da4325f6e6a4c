"""Vision architectures with random weights (no downloads): timm classifiers, and MobileNet V1 built from
its paper's Table 1 with depthwise separable or full 3x3 convolutions. Configs are data with their source.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from effcheck.meters.scaling import ScaledVariant
from effcheck.models import require
from effcheck.models.build import building_on

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


def new_timm_model(name: str, device: str = "cpu", **kwargs: Any) -> Any:
    """A fresh timm.create_model(name) in eval mode on `device`, random weights: for work that changes the
    model (training), which must not touch the session's shared instance."""
    timm = require("timm", "vision")

    with building_on(device):
        model = timm.create_model(name, pretrained=False, **kwargs)
    return model.eval()


@functools.lru_cache(maxsize=32)
def timm_model(name: str, device: str = "cpu", **kwargs: Any) -> Any:
    """timm.create_model(name) in eval mode on `device` ('meta' builds shapes only, for counts), built once
    per session and shared: do not train it (see new_timm_model)."""
    return new_timm_model(name, device, **kwargs)


@functools.lru_cache(maxsize=64)
def timm_macs(name: str, resolution: int) -> int:
    """Multiply-adds of one image through timm `name` at `resolution` (FlopCounterMode FLOPs / 2, on meta),
    counted once per session."""
    from effcheck.meters.flops import count_macs

    return count_macs(timm_model(name, "meta"), image_batch(resolution, "meta"))


def image_batch(resolution: int, device: str = "cpu", batch: int = 1) -> Any:
    import torch

    return torch.randn(batch, 3, resolution, resolution, device=device)


@dataclass(frozen=True)
class EfficientNetShape:
    """What a built timm EfficientNet really has: MBConv blocks per stage and head channels."""

    stage_blocks: tuple[int, ...]
    head_channels: int

    @property
    def blocks(self) -> int:
        return sum(self.stage_blocks)


def efficientnet_shape(model: Any) -> EfficientNetShape:
    """Count the blocks per stage (realized depth) and head channels (realized width) of a timm EfficientNet."""
    if not hasattr(model, "blocks") or not hasattr(model, "num_features"):
        raise TypeError(f"not a timm EfficientNet: {type(model).__name__} has no blocks/num_features")
    return EfficientNetShape(stage_blocks=tuple(len(stage) for stage in model.blocks),
                             head_channels=int(model.num_features))


def paper_resolution(name: str) -> int:
    """The input resolution of a timm EfficientNet as the paper trained it: the pretrained_cfg of timm's
    port of the official TF weights (tf_<name>), read from timm's registry (no download). timm's own
    efficientnet_b* weights were trained at other sizes (e.g. b3 at 288), so their cfg is not used."""
    timm = require("timm", "vision")
    cfg = timm.models.get_pretrained_cfg(f"tf_{name}")
    if cfg is None:
        raise LookupError(f"timm has no pretrained_cfg for tf_{name}: cannot read its paper resolution")
    _, height, width = cfg.input_size
    if height != width:
        raise ValueError(f"tf_{name} has a non-square input size {cfg.input_size}")
    return int(height)


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
    from torch import nn

    def conv_bn(c_in: int, c_out: int, kernel: int, stride: int, groups: int = 1) -> list[nn.Module]:
        return [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

    with building_on(device):
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


# MobileNetV2's inverted residual (Sandler et al. 2018 §3.3, Table 1), read from what timm builds: its
# InvertedResidual blocks have conv_pw (1x1 expand), conv_dw (depthwise), conv_pwl (1x1 linear projection),
# bn3 (the projection's norm, whose `act` must be Identity) and has_skip (the residual).
@dataclass(frozen=True)
class InvertedResidualBlock:
    """One expanding block as built, and how it departs from the inverted-residual structure (if at all)."""

    name: str
    narrow_in: int
    wide: int
    narrow_out: int
    stride: int
    has_residual: bool
    violations: tuple[str, ...]


def _is_identity(module: Any) -> bool:
    from torch import nn

    return module is None or isinstance(module, nn.Identity)


def inverted_residual_blocks(model: Any) -> list[InvertedResidualBlock]:
    """Every block of `model` with a 1x1 expansion, a depthwise conv and a 1x1 projection (timm's
    InvertedResidual layout), each checked against the structure the MobileNetV2 paper describes."""
    blocks = []
    for name, block in model.named_modules():
        if not all(hasattr(block, a) for a in ("conv_pw", "conv_dw", "conv_pwl")):
            continue
        pw, dw, pwl = block.conv_pw, block.conv_dw, block.conv_pwl
        narrow_in, wide, narrow_out = pw.in_channels, pw.out_channels, pwl.out_channels
        stride = dw.stride[0]
        has_residual = bool(getattr(block, "has_skip", False))
        broken = []
        if tuple(pw.kernel_size) != (1, 1) or wide <= narrow_in:
            broken.append(f"expansion is not a widening 1x1 conv ({narrow_in}->{wide}, kernel {pw.kernel_size})")
        if dw.groups != dw.in_channels or dw.in_channels != wide or tuple(dw.kernel_size) != (3, 3):
            broken.append(f"not a 3x3 depthwise conv in the wide space (groups {dw.groups}, {dw.in_channels} "
                          f"channels, kernel {dw.kernel_size})")
        if tuple(pwl.kernel_size) != (1, 1) or pwl.in_channels != wide or narrow_out >= wide:
            broken.append(f"projection is not a narrowing 1x1 conv ({pwl.in_channels}->{narrow_out})")
        if not _is_identity(getattr(getattr(block, "bn3", None), "act", None)):
            broken.append(f"activation after the projection: {type(block.bn3.act).__name__} (not linear)")
        if has_residual != (stride == 1 and narrow_in == narrow_out):
            broken.append(f"residual {'present' if has_residual else 'missing'} at stride {stride}, "
                          f"{narrow_in}->{narrow_out}")
        blocks.append(InvertedResidualBlock(name, narrow_in, wide, narrow_out, stride, has_residual,
                                            tuple(broken)))
    return blocks

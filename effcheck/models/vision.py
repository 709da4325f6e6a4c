"""timm image classifiers with random weights (no downloads), cached per session."""

from __future__ import annotations

import functools
from typing import Any

from effcheck.models import require


@functools.lru_cache(maxsize=16)
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

"""How alike two generated images are: cosine similarity of CLIP image embeddings.

The embedding is the one Stable Diffusion's own safety checker computes (CLIP ViT-L/14 vision tower, then
its visual projection), so a local SD1.5 directory brings everything the measure needs. Two images of the
same scene score near 1 however their pixels are shifted; unrelated images score much lower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def clip_image_embeddings(images: Sequence[Any], vision_model: Any, projection: Any, processor: Any) -> Any:
    """Unit-length CLIP embeddings of PIL images, one row per image."""
    import torch

    parameter = next(vision_model.parameters())
    pixels = processor(images=list(images), return_tensors="pt").pixel_values
    pixels = pixels.to(parameter.device, parameter.dtype)
    with torch.no_grad():
        pooled = vision_model(pixel_values=pixels).pooler_output
        embeds = projection(pooled).float()
    return embeds / embeds.norm(dim=-1, keepdim=True)


def paired_cosines(a: Any, b: Any) -> list[float]:
    """Cosine of each row of `a` with the same row of `b` (both unit-length)."""
    if a.shape != b.shape:
        raise ValueError(f"embeddings of different shapes: {tuple(a.shape)} vs {tuple(b.shape)}")
    return [float(x) for x in (a * b).sum(dim=-1)]

"""Which device a run measures on: parsed without torch, resolved (which imports torch) only when used."""

from __future__ import annotations

import re

from effcheck.errors import UsageError

_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


def parse_device(text: str) -> str:
    """Validate the --effcheck-device value: auto, cpu, cuda or cuda:N."""
    value = text.strip().lower()
    if not _DEVICE.match(value):
        raise UsageError(f"--effcheck-device={text!r} is not a device: use auto, cpu, cuda or cuda:N")
    return value


def resolve_device(requested: str, worker: str | None = None) -> str:
    """'auto' becomes cuda when CUDA is available, else cpu; a CUDA request without CUDA is an error.

    Under pytest-xdist (worker 'gwN'), 'auto' and 'cuda' give each worker its own GPU, round robin,
    so timed GPU claims on different workers never share a device.
    """
    import torch

    value = parse_device(requested)
    if value in ("auto", "cuda") and torch.cuda.is_available() and worker and worker[2:].isdigit():
        return f"cuda:{int(worker[2:]) % torch.cuda.device_count()}"
    if value == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if value == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise UsageError(
            f"--effcheck-device={requested} but torch {torch.__version__} sees no CUDA device "
            "(torch.cuda.is_available() is False): use --effcheck-device=cpu or a CUDA build of torch"
        )
    index = int(value.split(":")[1]) if ":" in value else 0
    if index >= torch.cuda.device_count():
        raise UsageError(
            f"--effcheck-device={requested} but only {torch.cuda.device_count()} CUDA device(s) are visible"
        )
    return f"cuda:{index}"


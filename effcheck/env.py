"""The machine a run happened on, and the hardware key that decides which baselines are comparable.

Two runs compare only when they share a hardware key: the device (CPU model or GPU name), CUDA
version, torch major.minor and the default dtype. Library versions are recorded but not keyed: a
torch/diffusers upgrade on the same hardware is exactly what a platform team wants compared.
"""

from __future__ import annotations

import importlib.metadata
import platform
from typing import Any

LIBRARIES = ("torch", "torchvision", "timm", "transformers", "diffusers", "peft", "accelerate", "rwkv",
             "pytest-benchmark", "numpy")


def library_versions() -> dict[str, str | None]:
    """Installed versions, read from package metadata (no import of the heavy libraries)."""
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_info(device: str) -> dict[str, Any]:
    """GPU name, driver-visible CUDA version and torch facts; imports torch (call it inside a session)."""
    try:
        import torch
    except ImportError:
        return {"torch": None}
    info: dict[str, Any] = {
        "torch": torch.__version__,
        "cuda_build": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "threads": torch.get_num_threads(),
        "default_dtype": str(torch.get_default_dtype()).replace("torch.", ""),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        index = torch.device(device).index or 0
        props = torch.cuda.get_device_properties(index)
        info.update(
            gpu_name=props.name,
            gpu_memory_bytes=int(props.total_memory),
            gpu_capability=f"{props.major}.{props.minor}",
            cudnn=torch.backends.cudnn.version(),
            driver=_nvidia_driver(),
        )
    return info


def _nvidia_driver() -> str | None:
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as fh:
            first = fh.readline()
        return first.split("Kernel Module", 1)[1].split()[0] if "Kernel Module" in first else first.strip()
    except (OSError, IndexError):
        return None


def environment(device: str) -> dict[str, Any]:
    return {
        "device": device,
        "cpu": cpu_model(),
        "cores": _cores(),
        "machine": platform.machine(),
        "system": platform.system(),
        "python": platform.python_version(),
        "libraries": library_versions(),
        **torch_info(device),
    }


def hardware_key(env: dict[str, Any]) -> str:
    """'NVIDIA H200|cuda12.8|torch2.9|float32' or 'AMD EPYC ...|cpu|torch2.9|float32'."""
    hardware = env.get("gpu_name") if str(env.get("device", "cpu")).startswith("cuda") else env.get("cpu")
    accel = f"cuda{env.get('cuda_build')}" if str(env.get("device", "")).startswith("cuda") else "cpu"
    torch_version = env.get("torch") or "none"
    torch_mm = ".".join(torch_version.split("+")[0].split(".")[:2])
    return f"{hardware}|{accel}|torch{torch_mm}|{env.get('default_dtype', 'float32')}"


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1

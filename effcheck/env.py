"""The machine a run happened on: device keys (what a measured device quantity depends on) and the
software versions (what an upgrade changes, and what the gate shows as a diff).

Software is never part of a key: python, torch, its CUDA runtime, cuDNN, the driver and every ML
library are exactly what a platform team wants compared. A key names only the device: the CPU model,
or the GPU name and count. Which claims need the same device is decided in effcheck.baseline.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Mapping
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
        "torch": str(torch.__version__),  # a str subclass (TorchVersion): plain, so execnet can carry it
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
            gpu_count=torch.cuda.device_count(),
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


def cpu_key(env: Mapping[str, Any]) -> str:
    return f"cpu:{env.get('cpu') or 'unknown'}"


def gpu_key(env: Mapping[str, Any]) -> str | None:
    if not env.get("gpu_name"):
        return None
    return f"cuda:{env['gpu_name']} x{env.get('gpu_count') or 1}"


def device_key(env: Mapping[str, Any], device: str | None = None) -> str:
    """The device a measurement on `device` (default: the run's) depends on: 'cpu:<model>' or
    'cuda:<GPU name> x<count>'. No software version is part of it."""
    device = str(device or env.get("device", "cpu"))
    if device.startswith("cuda"):
        return gpu_key(env) or "cuda:unknown"
    return cpu_key(env)


def hardware_key(env: Mapping[str, Any]) -> str:
    """The run's device key (kept under this name: ledgers and `effcheck history --hardware` use it)."""
    return device_key(env)


def software_versions(env: Mapping[str, Any]) -> dict[str, str]:
    """Every recorded software version, flat: python, torch, CUDA runtime, cuDNN, driver, libraries."""
    found: dict[str, str] = {}
    for name, key in (("python", "python"), ("torch", "torch"), ("cuda", "cuda_build"), ("cudnn", "cudnn"),
                      ("driver", "driver")):
        if env.get(key) is not None:
            found[name] = str(env[key])
    libraries = env.get("libraries")
    if isinstance(libraries, Mapping):
        for name, version in libraries.items():
            if version is not None and str(name) not in found:  # top-level torch (with its build) wins
                found[str(name)] = str(version)
    return found


def software_diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """'torch 2.13.0 -> 2.14.1, transformers 4.57.6 -> 5.24.0' (empty when nothing changed)."""
    old, new = software_versions(before), software_versions(after)
    order = ["python", "torch", "cuda", "cudnn", "driver"]
    names = order + sorted((set(old) | set(new)) - set(order))
    parts = [f"{n} {old.get(n, 'absent')} -> {new.get(n, 'absent')}" for n in names
             if n in old or n in new if old.get(n) != new.get(n)]
    return ", ".join(parts)


def _cores() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1

"""Attention as the article compares it: naive (materialized) attention, PyTorch's SDPA and its backends.

naive_attention is FlashAttention's "standard attention" (Dao et al. 2022, Algorithm 0): S = QK^T/sqrt(d)
and P = softmax(S) are materialized in full (N x N per head), then O = PV. SDPA is
torch.nn.functional.scaled_dot_product_attention, which picks a fused kernel for the device and dtype
(on CPU: aten._scaled_dot_product_flash_attention_for_cpu, a tiled online-softmax kernel).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# torch.testing.assert_close's default absolute tolerance per dtype: the floor of "float tolerance"
DEFAULT_ATOL = {"float64": 1e-7, "float32": 1e-5, "bfloat16": 1e-5, "float16": 1e-5}
# PyTorch's own SDPA tests allow a fused kernel this many times the error of math attention run in the
# same low precision (test/test_transformers.py, fudge_factors["out"] = 4 for the flash kernel)
FUSED_FUDGE = 4.0
SDPA_BACKENDS = ("flash", "efficient", "cudnn", "math")  # torch.nn.attention.SDPBackend members
PACKAGE_BACKENDS = ("flash_attn", "xformers")


class BackendUnavailable(Exception):
    """A backend that cannot run this shape/dtype on this device; the message is the backend's reason."""


@dataclass(frozen=True)
class AttentionShape:
    batch: int
    heads: int
    length: int
    head_dim: int
    dtype: str = "float32"
    kv_length: int | None = None  # None: same as length

    def __post_init__(self) -> None:
        for name in ("batch", "heads", "length", "head_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"attention shape: {name} must be >= 1, got {getattr(self, name)}")
        if self.kv_length is not None and self.kv_length < 1:
            raise ValueError(f"attention shape: kv_length must be >= 1, got {self.kv_length}")
        if self.dtype not in DEFAULT_ATOL:
            raise ValueError(f"attention shape: dtype must be one of {sorted(DEFAULT_ATOL)}, "
                             f"got {self.dtype!r}")

    @property
    def keys(self) -> int:
        return self.length if self.kv_length is None else self.kv_length


def attention_inputs(shape: AttentionShape, device: str = "cpu", seed: int = 0) -> tuple[Any, Any, Any]:
    """Seeded q, k, v with unit-normal entries in (batch, heads, length, head_dim) layout."""
    import torch

    gen = torch.Generator(device="cpu").manual_seed(seed)
    dtype = getattr(torch, shape.dtype)
    q = torch.randn(shape.batch, shape.heads, shape.length, shape.head_dim, generator=gen)
    k = torch.randn(shape.batch, shape.heads, shape.keys, shape.head_dim, generator=gen)
    v = torch.randn(shape.batch, shape.heads, shape.keys, shape.head_dim, generator=gen)
    return q.to(device=device, dtype=dtype), k.to(device=device, dtype=dtype), v.to(device=device, dtype=dtype)


def naive_attention(q: Any, k: Any, v: Any, is_causal: bool = False) -> Any:
    """Standard attention with S and P materialized (FlashAttention's Algorithm 0).

    Causal masking is top-left aligned like SDPA's is_causal: query i sees keys 0..i.
    """
    import torch

    # scale q (N x d) rather than S (N x N), as flash-attn's own PyTorch baseline does: no extra N x N pass
    s = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)
    if is_causal:
        visible = torch.ones(s.shape[-2], s.shape[-1], dtype=torch.bool, device=s.device).tril()
        s.masked_fill_(~visible, float("-inf"))  # in place: the naive side is not charged a third N x N
    p = torch.softmax(s, dim=-1)
    return p @ v


def sdpa(q: Any, k: Any, v: Any, is_causal: bool = False) -> Any:
    import torch.nn.functional as F

    return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)


def sdpa_ops(q: Any, k: Any, v: Any, is_causal: bool = False) -> list[str]:
    """The aten ops SDPA really dispatched to for these inputs (which fused kernel ran, or math's bmm)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Ops(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.names: list[str] = []

        def __torch_dispatch__(
            self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
        ) -> Any:
            self.names.append(str(func.overloadpacket.__name__))
            return func(*args, **(kwargs or {}))

    mode = Ops()
    with mode:
        sdpa(q, k, v, is_causal)
    return mode.names


def backend_runner(name: str) -> Callable[[Any, Any, Any, bool], Any]:
    """A function (q, k, v, is_causal) -> out for one SDPA backend or attention package.

    Raises BackendUnavailable with the backend's own reason when it cannot run (not installed, no
    kernel for this device/shape/dtype), so a benchmark can skip with it instead of passing silently.
    """
    if name in SDPA_BACKENDS:
        return _sdpa_backend(name)
    if name == "flash_attn":
        return _flash_attn_package()
    if name == "xformers":
        return _xformers_package()
    raise ValueError(f"unknown attention backend {name!r}: use one of {SDPA_BACKENDS + PACKAGE_BACKENDS}")


def _sdpa_backend(name: str) -> Callable[[Any, Any, Any, bool], Any]:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    member = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
              "math": "MATH"}[name]
    backend = getattr(SDPBackend, member, None)
    if backend is None:
        raise BackendUnavailable(f"this torch has no SDPBackend.{member}")

    def run(q: Any, k: Any, v: Any, is_causal: bool) -> Any:
        with warnings.catch_warnings(record=True) as caught, sdpa_kernel(backend):
            warnings.simplefilter("always")
            try:
                return sdpa(q, k, v, is_causal)
            except RuntimeError as exc:
                # torch says why a kernel was rejected in UserWarnings, then raises "No available kernel"
                reasons = "; ".join(str(w.message) for w in caught) or str(exc)
                raise BackendUnavailable(f"SDPBackend.{member}: {' '.join(reasons.split())[:400]}") from exc

    return run


def _flash_attn_package() -> Callable[[Any, Any, Any, bool], Any]:
    try:
        from flash_attn import flash_attn_func
    except ImportError as exc:
        raise BackendUnavailable(f"flash-attn is not installed ({exc}): pip install flash-attn") from exc

    def run(q: Any, k: Any, v: Any, is_causal: bool) -> Any:
        try:  # flash-attn takes (batch, length, heads, head_dim)
            out = flash_attn_func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=is_causal)
        except RuntimeError as exc:
            raise BackendUnavailable(f"flash_attn: {exc}") from exc
        return out.transpose(1, 2)

    return run


def _xformers_package() -> Callable[[Any, Any, Any, bool], Any]:
    try:
        from xformers.ops import LowerTriangularMask, memory_efficient_attention
    except ImportError as exc:
        raise BackendUnavailable(f"xformers is not installed ({exc}): pip install xformers") from exc

    def run(q: Any, k: Any, v: Any, is_causal: bool) -> Any:
        bias = LowerTriangularMask() if is_causal else None
        try:  # xformers takes (batch, length, heads, head_dim)
            out = memory_efficient_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                             attn_bias=bias)
        except (RuntimeError, NotImplementedError, ValueError) as exc:
            raise BackendUnavailable(f"xformers: {' '.join(str(exc).split())[:400]}") from exc
        return out.transpose(1, 2)

    return run


@dataclass(frozen=True)
class Exactness:
    """How far a fused kernel is from exact attention, against the dtype's own rounding.

    fused_error: max |fused - exact|, exact = naive attention in float64 on the same (rounded) inputs
    naive_error: max |naive in the input dtype - exact|: the rounding any attention in this dtype makes
    tolerance: max(assert_close's default atol for the dtype, FUSED_FUDGE x naive_error)
    ratio: fused_error / tolerance; <= 1 means the fused kernel is exact within float tolerance
    """

    fused_error: float
    naive_error: float
    tolerance: float
    ratio: float


def exactness(out: Any, q: Any, k: Any, v: Any, is_causal: bool) -> Exactness:
    """Compare a fused kernel's output with exact (float64) attention and naive attention in q's dtype."""
    import torch

    with torch.no_grad():
        exact = naive_attention(q.double(), k.double(), v.double(), is_causal)
        naive = naive_attention(q, k, v, is_causal)
        fused_error = float((out.double() - exact).abs().max())
        naive_error = float((naive.double() - exact).abs().max())
    atol = DEFAULT_ATOL[str(q.dtype).removeprefix("torch.")]
    tolerance = max(atol, FUSED_FUDGE * naive_error)
    return Exactness(fused_error, naive_error, tolerance, fused_error / tolerance)


def training_step(fn: Callable[..., Any], q: Any, k: Any, v: Any, is_causal: bool = False) -> Callable[[], Any]:
    """One attention training step on leaf q, k, v: forward, then backward to their gradients
    (torch.autograd.grad, so nothing accumulates between calls)."""
    import torch

    leaves = [t.detach().requires_grad_() for t in (q, k, v)]

    def step() -> Any:
        out = fn(*leaves, is_causal)
        return torch.autograd.grad(out.sum(), leaves)

    return step


def training_footprint(fn: Callable[..., Any], q: Any, k: Any, v: Any, device: str = "cpu") -> int:
    """Peak bytes of attention forward + backward, inputs included: q, k, v are copied in as leaves inside
    the measured region, so the figure holds inputs, output, saved activations, gradients and scratch
    (what FlashAttention's memory-footprint figure counts). CPU: the allocator's own total; CUDA: its
    peak counter."""
    from effcheck.meters.allocator import allocator_peak

    def work() -> None:
        import torch

        leaves = [t.detach().clone().requires_grad_() for t in (q, k, v)]
        out = fn(*leaves)
        torch.autograd.grad(out.sum(), leaves)

    return allocator_peak(work, device)[1].peak_bytes

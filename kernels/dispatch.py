"""Which implementation runs an op: Triton on CUDA tensors, the reference elsewhere.

``SSMKIT_KERNELS=reference|triton`` forces one (``auto``, the default, picks by device).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

_IMPLS: dict[str, dict[str, Callable]] = {}
_CHOICES = ("auto", "reference", "triton")


def register_impl(op: str, backend: str, fn: Callable) -> None:
    """Declare ``fn`` as the ``backend`` implementation of ``op``."""
    _IMPLS.setdefault(op, {})[backend] = fn


def forced_backend() -> str:
    value = os.environ.get("SSMKIT_KERNELS", "auto").strip().lower() or "auto"
    if value not in _CHOICES:
        raise ValueError(f"SSMKIT_KERNELS={value!r}: expected one of {', '.join(_CHOICES)}")
    return value


def pick(op: str, *tensors: torch.Tensor | None) -> Callable:
    """The implementation of ``op`` for these tensors."""
    impls = _IMPLS[op]
    forced = forced_backend()
    if forced == "reference":
        return impls["reference"]
    if forced == "triton":
        if "triton" not in impls:
            raise RuntimeError(f"SSMKIT_KERNELS=triton: no Triton kernel is available for {op}")
        return impls["triton"]
    on_cuda = any(t is not None and t.is_cuda for t in tensors)
    if on_cuda and "triton" in impls:
        return impls["triton"]
    return impls["reference"]


def backends(op: str) -> list[str]:
    """Names of the implementations ``op`` has, e.g. ['reference', 'triton']."""
    return sorted(_IMPLS[op])

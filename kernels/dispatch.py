"""Which implementation runs an op: Triton on CUDA tensors, the reference elsewhere.

``SSMKIT_KERNELS=reference|triton`` forces one (``auto``, the default, picks by device).
Triton implementations are registered by name ("module:function") and imported on first
use, so a machine without Triton (or without a GPU) never imports it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable

import torch

_IMPLS: dict[str, dict[str, Callable | str]] = {}
_CHOICES = ("auto", "reference", "triton")


def register_impl(op: str, backend: str, fn: Callable | str) -> None:
    """Declare ``fn`` (or "module:function", imported on first use) as the ``backend`` implementation of ``op``."""
    _IMPLS.setdefault(op, {})[backend] = fn


_HAS_TRITON = importlib.util.find_spec("triton") is not None  # looked up once: torch.compile cannot trace find_spec


def triton_available() -> bool:
    """Whether the ``triton`` package is installed here."""
    return _HAS_TRITON


def load_triton() -> None:
    """Import every registered Triton implementation now (done at import time on a machine with a GPU, so
    that ``torch.compile`` never has to trace an import)."""
    for op, impls in _IMPLS.items():
        if isinstance(impls.get("triton"), str):
            _resolve(op, "triton")


def _resolve(op: str, backend: str) -> Callable:
    fn = _IMPLS[op][backend]
    if isinstance(fn, str):
        module, _, name = fn.partition(":")
        fn = getattr(importlib.import_module(module), name)
        _IMPLS[op][backend] = fn
    return fn


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
        return _resolve(op, "reference")
    if forced == "triton":
        if "triton" not in impls:
            raise RuntimeError(f"SSMKIT_KERNELS=triton: no Triton kernel is available for {op}")
        if not triton_available():
            raise RuntimeError("SSMKIT_KERNELS=triton, but the triton package is not installed")
        return _resolve(op, "triton")
    on_cuda = any(t is not None and t.is_cuda for t in tensors)
    if on_cuda and "triton" in impls and triton_available():
        return _resolve(op, "triton")
    return _resolve(op, "reference")


def backends(op: str) -> list[str]:
    """Names of the implementations ``op`` has, e.g. ['reference', 'triton']."""
    return sorted(_IMPLS[op])

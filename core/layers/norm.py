"""Normalisation layers: RMSNorm, the gated RMSNorm of Mamba-2, and a factory."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RMSNorm(nn.Module):
    """x / rms(x) * weight over the last dimension (computed in float32)."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == self.weight.dtype == torch.float32:  # no casts to dispatch (streaming is op-bound)
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        return F.rms_norm(x.float(), self.weight.shape, self.weight.float(), self.eps).to(x.dtype)


class GatedRMSNorm(RMSNorm):
    """RMSNorm(x * silu(z)): Mamba-2's output norm (gate applied before normalising)."""

    def forward(self, x: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if z is not None:
            x = x * F.silu(z.float()).to(x.dtype)
        return super().forward(x)


def make_norm(kind: str, d: int, eps: float = 1e-5) -> nn.Module:
    """'rmsnorm' or 'layernorm' over d features."""
    if kind == "rmsnorm":
        return RMSNorm(d, eps)
    if kind == "layernorm":
        return nn.LayerNorm(d, eps=eps)
    raise ValueError(f"unknown norm {kind!r}: use 'rmsnorm' or 'layernorm'")

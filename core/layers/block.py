"""Pre-norm residual block: x + mixer(norm(x)) [+ mlp(norm(x))]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .norm import make_norm


class GatedMLP(nn.Module):
    """SwiGLU feed-forward: (batch, L, d) -> (batch, L, d) through d_intermediate features."""

    def __init__(self, d_model: int, d_intermediate: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(d_model, 2 * d_intermediate)
        self.fc2 = nn.Linear(d_intermediate, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, gate = self.fc1(x).chunk(2, dim=-1)
        return self.fc2(self.dropout(a * F.silu(gate)))


class Block(nn.Module):
    """One backbone layer. Works on (batch, L, d) and, through ``step``, on (batch, d)."""

    def __init__(self, d_model: int, mixer: nn.Module, norm: str = "rmsnorm", norm_eps: float = 1e-5,
                 d_intermediate: int = 0, dropout: float = 0.0):
        super().__init__()
        self.norm = make_norm(norm, d_model, norm_eps)
        self.mixer = mixer
        self.dropout = nn.Dropout(dropout)
        self.mlp = GatedMLP(d_model, d_intermediate, dropout) if d_intermediate > 0 else None
        self.norm2 = make_norm(norm, d_model, norm_eps) if self.mlp is not None else None

    def forward(self, x: torch.Tensor, state=None, seq_idx: torch.Tensor | None = None) -> torch.Tensor:
        """x (batch, L, d); ``state``: the mixer's carried state, ``seq_idx`` (batch, L): packed
        sequences (see ``Mamba.forward``); either may be None."""
        h = self.norm(x)
        extra = {} if seq_idx is None else {"seq_idx": seq_idx}
        x = x + self.dropout(self.mixer(h, **extra) if state is None else self.mixer(h, state, **extra))
        if self.mlp is not None:
            x = x + self.dropout(self.mlp(self.norm2(x)))
        return x

    def allocate_state(self, batch: int, device=None, dtype=torch.float32):
        return self.mixer.allocate_state(batch, device, dtype)

    def step(self, x: torch.Tensor, state) -> torch.Tensor:
        x = x + self.mixer.step(self.norm(x), state)
        if self.mlp is not None:
            x = x + self.mlp(self.norm2(x))
        return x

"""What every window forecaster shares: its sizes, the input check and optional RevIN around it."""

from __future__ import annotations

import torch
from torch import nn

from ..revin import RevIN


class WindowForecaster(nn.Module):
    """Base of the models: (b, seq_len, n_vars) in, (b, pred_len, n_vars, q) out."""

    trainable = True

    def __init__(self, n_vars: int, seq_len: int, pred_len: int, revin: bool = False, linear_skip: bool = False):
        super().__init__()
        self.n_vars, self.seq_len, self.pred_len = n_vars, seq_len, pred_len
        self.revin = RevIN(n_vars) if revin else None
        # a linear map of the (normalised) window added to the output: the network learns what a linear
        # forecaster misses instead of re-learning the linear part (zero-initialised: starts as the network)
        self.skip = nn.Linear(seq_len, pred_len) if linear_skip else None
        if self.skip is not None:
            nn.init.zeros_(self.skip.weight)
            nn.init.zeros_(self.skip.bias)

    def check(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != self.seq_len or x.shape[2] != self.n_vars:
            raise ValueError(f"expected x of shape (batch, {self.seq_len}, {self.n_vars}), got {tuple(x.shape)}")

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Check x (b, seq_len, n_vars) and apply RevIN when enabled."""
        self.check(x)
        return self.revin.normalize(x) if self.revin is not None else x

    def denormalize(self, y: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """y (b, pred_len, n_vars, q) -> the input's units; adds the linear skip of x (the normalised window)."""
        if self.skip is not None and x is not None:
            y = y + self.skip(x.transpose(1, 2)).transpose(1, 2).unsqueeze(-1)
        return self.revin.denormalize(y) if self.revin is not None else y

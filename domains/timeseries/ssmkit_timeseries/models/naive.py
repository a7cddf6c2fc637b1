"""Parameter-free baselines: last value and seasonal naive."""

from __future__ import annotations

import torch
from torch import nn


class LastValue(nn.Module):
    """Repeat the last observed value: x (b, L, c) -> (b, pred_len, c, n_quantiles)."""

    trainable = False

    def __init__(self, n_vars: int, seq_len: int, pred_len: int, n_quantiles: int = 1, n_marks: int = 0):
        super().__init__()
        self.n_vars, self.seq_len, self.pred_len = n_vars, seq_len, pred_len
        self.n_quantiles, self.n_marks = n_quantiles, n_marks

    def forward(self, x: torch.Tensor, marks: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, seq_len, n_vars), marks ignored -> (b, pred_len, n_vars, n_quantiles)."""
        return x[:, -1:, :, None].expand(-1, self.pred_len, -1, self.n_quantiles)


class SeasonalNaive(nn.Module):
    """Repeat the last observed season: forecast step t takes x[t - period * k], k >= 1 the smallest in the window.

    x (b, seq_len, c) -> (b, pred_len, c, n_quantiles); needs 1 <= period <= seq_len.
    """

    trainable = False

    def __init__(self, n_vars: int, seq_len: int, pred_len: int, n_quantiles: int = 1, n_marks: int = 0, *,
                 period: int = 24):
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be >= 1, got {period}")
        if period > seq_len:
            raise ValueError(f"SeasonalNaive needs period <= seq_len, got period={period} > seq_len={seq_len}")
        self.n_vars, self.seq_len, self.pred_len = n_vars, seq_len, pred_len
        self.n_quantiles, self.n_marks, self.period = n_quantiles, n_marks, period
        h = torch.arange(pred_len)
        # Absolute step seq_len + h, moved back by whole periods until it lands in [seq_len - period, seq_len - 1].
        self.register_buffer("index", seq_len + h - period * ((h + period) // period), persistent=False)

    def forward(self, x: torch.Tensor, marks: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, seq_len, n_vars), marks ignored -> (b, pred_len, n_vars, n_quantiles)."""
        return x[:, self.index.to(x.device), :, None].expand(-1, -1, -1, self.n_quantiles)

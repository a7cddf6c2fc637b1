"""Reversible instance normalisation (Kim et al., ICLR 2022)."""

from __future__ import annotations

import torch
from torch import nn


class RevIN(nn.Module):
    """Per-(sample, variable) normalisation over time, undone on the forecast.

    ``normalize`` takes (b, L, c), stores mean/std of shape (b, 1, c) and returns the normalised
    series (times ``weight`` plus ``bias`` when ``affine``); ``denormalize`` takes (b, H, c) or
    (b, H, c, q) and maps it back to the input's units. The statistics are detached: constants of each
    window, as in the paper's reference implementation.
    """

    def __init__(self, n_vars: int, affine: bool = True, eps: float = 1e-5):
        super().__init__()
        self.n_vars, self.affine, self.eps = n_vars, affine, eps
        if affine:
            self.weight = nn.Parameter(torch.ones(n_vars))
            self.bias = nn.Parameter(torch.zeros(n_vars))
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """x: (b, L, c) -> (b, L, c)."""
        if x.dim() != 3 or x.shape[-1] != self.n_vars:
            raise ValueError(f"RevIN expects (batch, time, {self.n_vars}), got {tuple(x.shape)}")
        self.mean = x.mean(dim=1, keepdim=True).detach()
        self.std = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps).detach()
        x = (x - self.mean) / self.std
        if self.affine:
            x = x * self.weight + self.bias
        return x

    def denormalize(self, y: torch.Tensor) -> torch.Tensor:
        """y: (b, H, c) or (b, H, c, q) in normalised units -> the same shape in the input's units."""
        if self.mean is None:
            raise RuntimeError("RevIN.denormalize called before normalize")
        mean, std = self.mean, self.std
        weight = self.weight if self.affine else None
        bias = self.bias if self.affine else None
        if y.dim() == 4:  # a trailing quantile axis
            mean, std = mean.unsqueeze(-1), std.unsqueeze(-1)
            if self.affine:
                weight, bias = weight.unsqueeze(-1), bias.unsqueeze(-1)
        if self.affine:
            y = (y - bias) / weight
        return y * std + mean

"""Bidirectional wrapper: a module run forwards and over the reversed sequence, merged."""

from __future__ import annotations

import torch
from torch import nn

MERGES = ("sum", "mean", "concat")


class Bidirectional(nn.Module):
    """y = merge(f(x), flip(g(flip(x)))) over dim 1 of (batch, L, d).

    ``backward=None`` ties the weights (g = f). merge "concat" gives 2d features, or d again
    when ``d_model`` is given (a linear projection back).
    """

    def __init__(self, forward: nn.Module, backward: nn.Module | None = None, merge: str = "sum",
                 d_model: int | None = None):
        super().__init__()
        if merge not in MERGES:
            raise ValueError(f"unknown merge {merge!r}: use one of {', '.join(MERGES)}")
        self.fwd = forward
        self.bwd = backward
        self.merge = merge
        self.proj = nn.Linear(2 * d_model, d_model) if merge == "concat" and d_model else None

    @property
    def tied(self) -> bool:
        return self.bwd is None

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        backward = self.fwd if self.bwd is None else self.bwd
        y_f = self.fwd(x, *args, **kwargs)
        y_b = backward(x.flip(1), *args, **kwargs).flip(1)
        if self.merge == "sum":
            return y_f + y_b
        if self.merge == "mean":
            return 0.5 * (y_f + y_b)
        y = torch.cat([y_f, y_b], dim=-1)
        return self.proj(y) if self.proj is not None else y

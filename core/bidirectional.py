"""Bidirectional wrapper: a module run forwards and over the reversed sequence, merged."""

from __future__ import annotations

import torch
from torch import nn

from .errors import ConfigError
from .kernels.packing import reverse_within_segments

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

    def rescale_step(self, factor: float) -> None:
        """Both directions' step sizes times ``factor`` (once when tied)."""
        for mixer in (self.fwd,) if self.bwd is None else (self.fwd, self.bwd):
            if not hasattr(mixer, "rescale_step"):
                raise ConfigError(f"the {type(mixer).__name__} mixer has no step size to rescale (S4D has)")
            mixer.rescale_step(factor)

    def forward(self, x: torch.Tensor, *args, seq_idx: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        """x (batch, L, d). ``seq_idx`` (batch, L): packed sequences; each is reversed within itself."""
        backward = self.fwd if self.bwd is None else self.bwd
        if seq_idx is None:
            y_f = self.fwd(x, *args, **kwargs)
            y_b = backward(x.flip(1), *args, **kwargs).flip(1)
        else:
            index = reverse_within_segments(seq_idx).unsqueeze(-1).expand_as(x)
            y_f = self.fwd(x, *args, seq_idx=seq_idx, **kwargs)
            y_b = backward(x.gather(1, index), *args, seq_idx=seq_idx, **kwargs)
            y_b = y_b.gather(1, index.expand(*y_b.shape[:2], y_b.shape[-1]))
        if self.merge == "sum":
            return y_f + y_b
        if self.merge == "mean":
            return 0.5 * (y_f + y_b)
        y = torch.cat([y_f, y_b], dim=-1)
        return self.proj(y) if self.proj is not None else y

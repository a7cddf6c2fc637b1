"""Generic heads: pooled classification/regression and per-position outputs."""

from __future__ import annotations

import torch
from torch import nn

POOLS = ("mean", "last", "first", "max")


def pool(x: torch.Tensor, how: str = "mean", mask: torch.Tensor | None = None) -> torch.Tensor:
    """(batch, L, d) -> (batch, d). ``mask`` (batch, L) marks real (True) vs padded positions."""
    if how not in POOLS:
        raise ValueError(f"unknown pooling {how!r}: use one of {', '.join(POOLS)}")
    if mask is None:
        mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    m = mask.unsqueeze(-1).to(x.dtype)
    if how == "mean":
        return (x * m).sum(1) / m.sum(1).clamp_min(1)
    if how == "max":
        return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(1)
    if how == "first":
        return x[:, 0]
    last = mask.long().sum(1).clamp_min(1) - 1
    return x[torch.arange(x.shape[0], device=x.device), last]


class ClassificationHead(nn.Module):
    """(batch, L, d) -> logits (batch, num_classes) after pooling."""

    def __init__(self, d_model: int, num_classes: int, pool: str = "mean", dropout: float = 0.0):
        super().__init__()
        self.pool, self.dropout = pool, nn.Dropout(dropout)
        self.proj = nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.proj(self.dropout(pool(x, self.pool, mask)))


class RegressionHead(ClassificationHead):
    """(batch, L, d) -> (batch, num_outputs) after pooling."""

    def __init__(self, d_model: int, num_outputs: int = 1, pool: str = "mean", dropout: float = 0.0):
        super().__init__(d_model, num_outputs, pool, dropout)


class TokenHead(nn.Module):
    """(batch, L, d) -> (batch, L, num_outputs): one output per position."""

    def __init__(self, d_model: int, num_outputs: int, dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.proj = nn.Linear(d_model, num_outputs)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.proj(self.dropout(x))


HEADS: dict[str, type[nn.Module]] = {}
HEADS["classify"] = ClassificationHead
HEADS["regress"] = RegressionHead
HEADS["tokens"] = TokenHead

"""What every next-item model shares: tied item embeddings (index 0 = padding), the hidden state at each
position, and scores of any slice of the catalogue."""

from __future__ import annotations

import torch
from torch import nn

from ..vocab import PAD


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """Normal(0, std) for linear and embedding weights, zero biases, unit layer norms (as SASRec/RecBole)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with torch.no_grad():
                    m.weight[m.padding_idx].zero_()
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class NextItemModel(nn.Module):
    """Base: ``forward(x (b, L) item ids, right-padded with 0) -> (b, L, d)`` hidden states, position t
    having seen items 0..t; ``scores(h (..., d), start, stop) -> (..., stop - start)`` against the item
    embeddings start..stop-1. Models with ``recurrent = True`` also have ``allocate_state(batch)`` and
    ``step(item (b,), state) -> (b, d)``, equal to ``forward``'s last position, in O(1) per item."""

    trainable = True
    recurrent = False

    def __init__(self, n_items: int, d_model: int, max_len: int):
        super().__init__()
        self.n_items, self.d_model, self.max_len = n_items, d_model, max_len
        self.item_emb = nn.Embedding(n_items + 1, d_model, padding_idx=PAD)

    def check(self, x: torch.Tensor) -> None:
        if x.dim() != 2:
            raise ValueError(f"expected item ids of shape (batch, length), got {tuple(x.shape)}")

    def scores(self, h: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """h (..., d) -> dot products with item embeddings start..stop-1: (..., stop - start)."""
        w = self.item_emb.weight[start:stop]
        return h @ w.to(h.dtype).T

    def last_hidden(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, L) right-padded -> the hidden state after each user's last real item: (b, d)."""
        h = self(x)
        last = ((x != PAD).sum(1) - 1).clamp(min=0)
        return h[torch.arange(len(x), device=x.device), last]

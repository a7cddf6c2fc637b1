"""GRU4Rec (Hidasi et al., 2016) as a next-item model with tied item embeddings."""

from __future__ import annotations

import torch
from torch import nn

from .base import NextItemModel, init_weights


class GRU4Rec(NextItemModel):
    """x (b, L) item ids, right-padded -> (b, L, d_model): embedding -> dropout -> GRU -> linear."""

    recurrent = True

    def __init__(self, n_items: int, max_len: int = 50, *, d_model: int = 64, hidden: int = 128,
                 n_layers: int = 1, dropout: float = 0.3):
        super().__init__(n_items, d_model, max_len)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(d_model, hidden, n_layers, batch_first=True)
        self.out = nn.Linear(hidden, d_model)
        init_weights(self.item_emb)
        init_weights(self.out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)
        h, _ = self.gru(self.dropout(self.item_emb(x)))
        return self.out(h)

    def allocate_state(self, batch: int, device=None) -> list:
        return [torch.zeros(self.gru.num_layers, batch, self.gru.hidden_size, device=device)]

    def step(self, item: torch.Tensor, state: list) -> torch.Tensor:
        """item (b,) -> (b, d_model); state[0] (n_layers, b, hidden) is replaced in place."""
        h, state[0] = self.gru(self.dropout(self.item_emb(item))[:, None], state[0])
        return self.out(h[:, 0])

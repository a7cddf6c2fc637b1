"""SASRec (Kang & McAuley, 2018): item + learned position embeddings -> causal self-attention blocks."""

from __future__ import annotations

import torch
from torch import nn

from .base import NextItemModel, init_weights


class SASRec(NextItemModel):
    """x (b, L <= max_len) item ids, right-padded -> (b, L, d_model). Pre-norm transformer blocks with a
    causal mask (right padding means no real position ever attends to padding)."""

    def __init__(self, n_items: int, max_len: int = 50, *, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 2, d_ff: int | None = None, dropout: float = 0.3):
        super().__init__(n_items, d_model, max_len)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff or 4 * d_model, dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model, eps=1e-12)
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, L) -> (b, L, d_model)."""
        self.check(x)
        L = x.shape[1]
        if L > self.max_len:
            raise ValueError(f"SASRec was built for max_len={self.max_len}, got sequences of {L}")
        pos = torch.arange(L, device=x.device)
        h = self.dropout(self.item_emb(x) + self.pos_emb(pos)[None])
        causal = nn.Transformer.generate_square_subsequent_mask(L, device=x.device, dtype=h.dtype)
        return self.norm(self.encoder(h, mask=causal, is_causal=True))

"""SASRec (Kang & McAuley, 2018): item + learned position embeddings -> causal self-attention blocks."""

from __future__ import annotations

import torch
from torch import nn

from .base import NextItemModel, init_weights


class SASRec(NextItemModel):
    """x (b, L <= max_len) item ids, right-padded -> (b, L, d_model). Pre-norm transformer blocks with a
    causal mask (right padding means no real position ever attends to padding).

    ``positions="recency"`` (default) numbers positions back from the last real item, as the releases do
    by padding on the left: the newest item always sits at position max_len - 1. "absolute" counts from
    the first item of the window. ``norm_first=False`` puts the layer norms after each residual (BERT
    style) and ``embedding_norm=True`` normalises the summed embeddings, as the S3-Rec/ICLRec release whose
    SASRec figures the literature quotes (``d_model=64, n_heads=2, dropout=0.5``, gelu, ``--model.loss
    bce``). The original release (Kang & McAuley): ``d_model=50, n_layers=2, n_heads=1, d_ff=50,
    dropout=0.5, activation="relu", scale_embedding=True`` (item embeddings times sqrt(d_model)); its blocks
    normalise the attention's queries only, these normalise queries, keys and values."""

    def __init__(self, n_items: int, max_len: int = 50, *, d_model: int = 64, n_layers: int = 2,
                 n_heads: int = 2, d_ff: int | None = None, dropout: float = 0.3, activation: str = "gelu",
                 scale_embedding: bool = False, positions: str = "recency", norm_first: bool = True,
                 embedding_norm: bool = False):
        super().__init__(n_items, d_model, max_len)
        if activation not in ("gelu", "relu"):
            raise ValueError(f"activation {activation!r}: use gelu or relu")
        if positions not in ("recency", "absolute"):
            raise ValueError(f"positions {positions!r}: use recency or absolute")
        self.positions = positions
        self.embed_norm = nn.LayerNorm(d_model, eps=1e-12) if embedding_norm else nn.Identity()
        self.scale = d_model ** 0.5 if scale_embedding else 1.0
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, d_ff or 4 * d_model, dropout, activation=activation,
                                           batch_first=True, norm_first=norm_first)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model, eps=1e-12) if norm_first else nn.Identity()
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, L) -> (b, L, d_model)."""
        self.check(x)
        L = x.shape[1]
        if L > self.max_len:
            raise ValueError(f"SASRec was built for max_len={self.max_len}, got sequences of {L}")
        h = self.dropout(self.embed_norm(self.item_emb(x) * self.scale + self.pos_emb(self.position_ids(x))))
        causal = nn.Transformer.generate_square_subsequent_mask(L, device=x.device, dtype=h.dtype)
        return self.norm(self.encoder(h, mask=causal, is_causal=True))

    def position_ids(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, L) right-padded -> (b, L) position indices; padding gets any valid index (never attended)."""
        t = torch.arange(x.shape[1], device=x.device)[None]
        if self.positions == "absolute":
            return t.expand_as(x)
        n = (x != 0).sum(1, keepdim=True)
        return (t + self.max_len - n).clamp(0, self.max_len - 1)

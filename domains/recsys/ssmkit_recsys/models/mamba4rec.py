"""Mamba4Rec-style recommender (Liu et al., 2024): item embeddings -> [selective SSM -> dropout -> add & layer
norm -> position-wise feed-forward -> add & layer norm] x N -> scores against the tied item embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmkit.backbone import make_mixer

from .base import NextItemModel, init_weights


class FeedForward(nn.Module):
    """Position-wise: x (..., d) -> LayerNorm(x + dropout(W2 dropout(gelu(W1 x)))) (..., d)."""

    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.dropout(self.fc2(self.dropout(F.gelu(self.fc1(x))))))


class MambaRecLayer(nn.Module):
    """One layer on (b, L, d), or through ``step`` on one position (b, d) with a carried mixer state."""

    def __init__(self, d_model: int, d_ff: int, dropout: float, mixer: str, mixer_options: dict):
        super().__init__()
        self.mixer = make_mixer(mixer, d_model, **mixer_options)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=1e-12)
        self.ffn = FeedForward(d_model, d_ff, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.norm(x + self.dropout(self.mixer(x))))

    def step(self, x: torch.Tensor, state) -> torch.Tensor:
        return self.ffn(self.norm(x + self.dropout(self.mixer.step(x, state))))


class Mamba4Rec(NextItemModel):
    """x (b, L) item ids, right-padded -> (b, L, d_model). ``mixer``: a registered causal mixer with a
    ``step`` ("mamba" by default; "mamba2", "s4d" also work), built from ssmkit's layers."""

    recurrent = True

    def __init__(self, n_items: int, max_len: int = 50, *, d_model: int = 64, n_layers: int = 1,
                 d_state: int = 32, d_conv: int = 4, expand: int = 2, d_ff: int | None = None,
                 dropout: float = 0.4, mixer: str = "mamba", mixer_extra: dict | None = None):
        super().__init__(n_items, d_model, max_len)
        options = {"d_state": d_state, **({"d_conv": d_conv, "expand": expand} if mixer in ("mamba", "mamba2")
                                          else {}), **(mixer_extra or {})}
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(d_model, eps=1e-12)
        self.layers = nn.ModuleList(MambaRecLayer(d_model, d_ff or 4 * d_model, dropout, mixer, options)
                                    for _ in range(n_layers))
        init_weights(self.item_emb)
        for layer in self.layers:
            init_weights(layer.ffn)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.dropout(self.item_emb(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, L) -> (b, L, d_model)."""
        self.check(x)
        h = self.embed(x)
        for layer in self.layers:
            h = layer(h)
        return h

    def allocate_state(self, batch: int, device=None) -> list:
        """Per-layer mixer states for ``step`` (conv and SSM states: fixed size, whatever the history)."""
        return [layer.mixer.allocate_state(batch, device) for layer in self.layers]

    def step(self, item: torch.Tensor, state: list) -> torch.Tensor:
        """Fold one item per user (b,) into ``state`` (in place) -> the hidden state (b, d_model)."""
        h = self.embed(item)
        for layer, s in zip(self.layers, state):
            h = layer.step(h, s)
        return h

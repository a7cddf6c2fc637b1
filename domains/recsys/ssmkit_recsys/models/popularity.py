"""Most-popular baseline: every user gets the items ranked by their count in the training sequences."""

from __future__ import annotations

import numpy as np
import torch

from .base import NextItemModel


class Popularity(NextItemModel):
    """Scores log(1 + training count) of each item, whatever the history; ``fit`` counts the items."""

    trainable = False

    def __init__(self, n_items: int, max_len: int = 50, **_):
        super().__init__(n_items, 1, max_len)
        self.item_emb.requires_grad_(False)
        self.register_buffer("counts", torch.zeros(n_items + 1))

    def fit(self, sequences: list[np.ndarray]) -> Popularity:
        counts = np.bincount(np.concatenate([np.asarray(s, np.int64) for s in sequences] or [np.zeros(0, int)]),
                             minlength=self.n_items + 1)[: self.n_items + 1]
        counts[0] = 0
        self.counts.copy_(torch.as_tensor(counts, dtype=torch.float32))
        return self

    @property
    def fitted(self) -> bool:
        return bool(self.counts.sum() > 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)
        return torch.zeros(*x.shape, 1, device=x.device)

    def scores(self, h: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
        s = torch.log1p(self.counts[start:stop]).to(h.device)
        return s.expand(*h.shape[:-1], s.numel()).contiguous()

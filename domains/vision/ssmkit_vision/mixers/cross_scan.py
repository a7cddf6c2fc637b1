"""VMamba-style cross-scan mixer: one SSM mixer per scan direction over an image grid, outputs merged.

Registered as the mixer "vision/cross_scan", so ``ssmkit.Backbone`` builds it like any other mixer.
"""

from __future__ import annotations

import torch
from torch import nn

from ssmkit.backbone import make_mixer
from ssmkit.multi_order import MultiOrder
from ssmkit.scan_orders import CROSS_SCAN

from ..scan import scan_order


class CrossScan(nn.Module):
    """VMamba's cross-scan over an (H, W) grid: (batch, H*W, d_model) row-major tokens -> same shape.

    Each order in ``orders`` (default: rows and columns, forwards and backwards) reads the grid with its
    own ``inner`` mixer (``share=False``; VMamba's per-direction parameters) or one shared mixer; the
    outputs, put back in place, are merged by ``merge`` ("mean", "sum" or "concat").
    """

    causal = False

    def __init__(self, d_model: int, grid: tuple[int, int] | list[int],
                 orders: list[str] | tuple[str, ...] = CROSS_SCAN, inner: str = "mamba", merge: str = "mean",
                 share: bool = False, **inner_options):
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        orders = [scan_order(o) for o in orders]
        self.multi = MultiOrder(make_mixer(inner, d_model, **inner_options), orders, merge=merge, share=share)
        for i in range(1, len(self.multi.modules_)):  # fresh weights per direction, not deep copies
            self.multi.modules_[i] = make_mixer(inner, d_model, **inner_options)
        self.proj = nn.Linear(len(orders) * d_model, d_model) if merge == "concat" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != self.grid[0] * self.grid[1]:
            raise ValueError(f"cross-scan over a {self.grid[0]}x{self.grid[1]} grid got {x.shape[1]} tokens")
        y = self.multi(x, grid=self.grid)
        return self.proj(y) if self.proj is not None else y

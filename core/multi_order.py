"""Multi-order wrapper: one module run over several scan orders, outputs merged in place."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .scan_orders import ScanOrder, apply_order, inverse_permutation


def resolve_order(order: str | ScanOrder) -> ScanOrder:
    if isinstance(order, ScanOrder):
        return order
    from . import registry

    return registry.get("scan_orders", order)


class MultiOrder(nn.Module):
    """For each order: read x (batch, L, d) in that order, run the module, put outputs back;
    merge by "mean", "sum" or "concat". ``share=False`` gives each order its own copy."""

    def __init__(self, module: nn.Module, orders: list[str | ScanOrder], merge: str = "mean",
                 share: bool = True):
        super().__init__()
        if not orders:
            raise ValueError("MultiOrder needs at least one scan order")
        if merge not in ("mean", "sum", "concat"):
            raise ValueError(f"unknown merge {merge!r}: use mean, sum or concat")
        self.orders = [resolve_order(o) for o in orders]
        self.merge = merge
        n = 1 if share else len(self.orders)
        self.modules_ = nn.ModuleList([module] + [copy.deepcopy(module) for _ in range(n - 1)])

    def forward(self, x: torch.Tensor, *, grid: tuple[int, int] | None = None,
                coords: torch.Tensor | None = None) -> torch.Tensor:
        outs = []
        for i, order in enumerate(self.orders):
            perm = order.permutation(length=x.shape[1], grid=grid, coords=coords, device=x.device)
            module = self.modules_[i % len(self.modules_)]
            outs.append(apply_order(module(apply_order(x, perm)), inverse_permutation(perm)))
        if self.merge == "concat":
            return torch.cat(outs, dim=-1)
        total = torch.stack(outs).sum(0)
        return total / len(outs) if self.merge == "mean" else total

"""Forecast errors per horizon step, summed across batches and ranks."""

from __future__ import annotations

import torch
from torchmetrics import Metric

STANDARD_HORIZONS = (24, 48, 96, 192, 336, 720)


class HorizonError(Metric):
    """Squared and absolute errors of forecasts (b, H, c) kept per step h, so any prefix of the
    horizon can be reported; ``compute`` gives the mean over everything."""

    full_state_update = False

    def __init__(self, pred_len: int):
        super().__init__()
        self.add_state("sse", torch.zeros(pred_len, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("sae", torch.zeros(pred_len, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        err = pred.double() - target.double()
        self.sse += err.square().sum((0, 2))
        self.sae += err.abs().sum((0, 2))
        self.count += err.shape[0] * err.shape[2]

    def compute(self) -> dict[str, torch.Tensor]:
        out = {"mse": self.sse.sum() / (self.count * len(self.sse)),
               "mae": self.sae.sum() / (self.count * len(self.sse))}
        for h in STANDARD_HORIZONS:
            if h < len(self.sse):
                out[f"mse@{h}"] = self.sse[:h].sum() / (self.count * h)
                out[f"mae@{h}"] = self.sae[:h].sum() / (self.count * h)
        return out


class Coverage(Metric):
    """Fraction of targets inside [lower, upper] and the mean pinball loss of the quantiles."""

    full_state_update = False

    def __init__(self, quantiles: list[float]):
        super().__init__()
        self.quantiles = list(quantiles)
        self.add_state("inside", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("pinball", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """pred (b, H, c, q), target (b, H, c)."""
        from .quantile import pinball_loss

        pred, target = pred.double(), target.double()
        lo, hi = pred[..., 0], pred[..., -1]
        self.inside += ((target >= lo) & (target <= hi)).sum()
        self.pinball += pinball_loss(pred, target, self.quantiles) * target.numel()
        self.count += target.numel()

    def compute(self) -> dict[str, torch.Tensor]:
        return {"coverage": self.inside / self.count, "pinball": self.pinball / self.count}

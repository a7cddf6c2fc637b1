"""Quantile forecasts: pinball loss, interval coverage, and where the median sits."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles: Sequence[float]) -> torch.Tensor:
    """Mean quantile (pinball) loss. pred (..., q), target (...) -> scalar.

    For level tau and error e = target - pred: tau * e if e >= 0 else (tau - 1) * e.
    """
    q = len(quantiles)
    if pred.shape[-1] != q:
        raise ValueError(f"pred has {pred.shape[-1]} quantiles on its last axis but {q} levels were given")
    if pred.shape[:-1] != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} should be target {tuple(target.shape)} plus a quantile axis")
    tau = torch.as_tensor(list(quantiles), dtype=pred.dtype, device=pred.device)
    err = target.unsqueeze(-1) - pred
    return torch.maximum(tau * err, (tau - 1) * err).mean()


def interval_coverage(lower: torch.Tensor, upper: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Fraction (0-dim tensor) of targets with lower <= target <= upper; all three the same shape."""
    inside = (target >= lower) & (target <= upper)
    return inside.float().mean()


def median_index(quantiles: Sequence[float]) -> int:
    """Index of the 0.5 level; 0 for a single (point) output. ValueError when q > 1 lacks 0.5."""
    quantiles = list(quantiles)
    if len(quantiles) <= 1:
        return 0
    for i, tau in enumerate(quantiles):
        if abs(float(tau) - 0.5) < 1e-9:
            return i
    raise ValueError(f"quantile levels {quantiles} have no 0.5 (median)")

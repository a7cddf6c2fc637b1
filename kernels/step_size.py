"""The step size dt (delta) as every op prepares it: + bias, softplus, clamp."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NO_LIMIT = (0.0, float("inf"))


def prepare_dt(dt: torch.Tensor, bias: torch.Tensor | None, softplus: bool,
               limit: tuple[float, float] = NO_LIMIT, dtype: torch.dtype | None = None) -> torch.Tensor:
    """dt (..., channels) in ``dtype``; ``bias``: (channels,), or already shaped to broadcast."""
    out = dt.to(dtype or dt.dtype)
    if bias is not None:
        out = out + bias.to(out.dtype)
    if softplus:
        out = F.softplus(out)
    if tuple(limit) != NO_LIMIT:
        out = out.clamp(min=limit[0], max=limit[1])
    return out

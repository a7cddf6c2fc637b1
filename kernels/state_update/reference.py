"""Single-token state updates for recurrent inference (generation, streaming)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import repeat

from ..step_size import prepare_dt

__all__ = ["selective_state_update_ref", "ssd_state_update_ref"]


def selective_state_update_ref(
    state: torch.Tensor,
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    dt_bias: torch.Tensor | None = None,
    dt_softplus: bool = False,
) -> torch.Tensor:
    """One Mamba-1 step; ``state`` (batch, d, n) is updated in place.

    x, dt, z: (batch, d); A: (d, n); B, C: (batch, n) or (batch, groups, n); D, dt_bias: (d,).
    Returns y (batch, d) in x's dtype.
    """
    d = x.shape[-1]
    work = state.dtype
    dt_ = prepare_dt(dt, dt_bias, dt_softplus, dtype=work)
    if B.dim() == 3:
        B = repeat(B, "b g n -> b (g r) n", r=d // B.shape[1])
        C = repeat(C, "b g n -> b (g r) n", r=d // C.shape[1])
    else:
        B, C = B.unsqueeze(1), C.unsqueeze(1)
    x_ = x.to(work)
    state.mul_(torch.exp(dt_.unsqueeze(-1) * A.to(work)))
    state.add_((dt_ * x_).unsqueeze(-1) * B.to(work))
    y = (state * C.to(work)).sum(-1)
    if D is not None:
        y = y + x_ * D.to(work)
    if z is not None:
        y = y * F.silu(z.to(work))
    return y.to(x.dtype)


def ssd_state_update_ref(
    state: torch.Tensor,
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    dt_bias: torch.Tensor | None = None,
    dt_softplus: bool = False,
    dt_limit: tuple[float, float] = (0.0, float("inf")),
) -> torch.Tensor:
    """One Mamba-2 step; ``state`` (batch, heads, headdim, n) is updated in place.

    x, z: (batch, heads, headdim); dt: (batch, heads); A: (heads,); B, C: (batch, groups, n);
    D: (heads,) or (heads, headdim); dt_bias: (heads,). Returns y like x.
    """
    H = x.shape[1]
    work = state.dtype
    dt_ = prepare_dt(dt, dt_bias, dt_softplus, dt_limit, work)
    B_ = repeat(B.to(work), "b g n -> b (g r) n", r=H // B.shape[1])
    C_ = repeat(C.to(work), "b g n -> b (g r) n", r=H // C.shape[1])
    x_ = x.to(work)
    state.mul_(torch.exp(dt_ * A.to(work))[..., None, None])
    state.add_((dt_[..., None] * x_).unsqueeze(-1) * B_.unsqueeze(2))
    y = (state * C_.unsqueeze(2)).sum(-1)
    if D is not None:
        Dw = D.to(work)
        y = y + x_ * (Dw[:, None] if Dw.dim() == 1 else Dw)
    if z is not None:
        y = y * F.silu(z.to(work))
    return y.to(x.dtype)

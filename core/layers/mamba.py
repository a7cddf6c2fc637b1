"""Mamba (selective SSM) mixer, with a recurrent step for generation and streaming."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import kernels


def inverse_softplus_dt(size: int, dt_min: float, dt_max: float, floor: float = 1e-4) -> torch.Tensor:
    """Biases b with softplus(b) log-uniform in [dt_min, dt_max] (Mamba's dt initialisation)."""
    dt = torch.exp(torch.rand(size) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


def no_weight_decay(*params: nn.Parameter) -> None:
    """Mark parameters (A_log, D, dt biases) that AdamW should not decay."""
    for p in params:
        p._no_weight_decay = True


def conv_silu(x: torch.Tensor, conv1d: nn.Conv1d, state: dict[str, torch.Tensor] | None,
              seq_idx: torch.Tensor | None = None) -> torch.Tensor:
    """Causal depthwise conv + SiLU of x (b, d, L); with ``state`` it starts from state["conv"] (the
    last W inputs before x) and leaves the last W inputs of [state, x] there; ``seq_idx`` (b, L)
    restarts the window at each packed sequence."""
    weight = conv1d.weight.squeeze(1)
    if state is not None and seq_idx is not None:
        raise ValueError("a carried state and packed sequences (seq_idx) cannot be combined")
    if state is None:
        return kernels.causal_conv1d(x, weight, conv1d.bias, "silu", seq_idx=seq_idx)
    before = state["conv"]
    out = kernels.causal_conv1d(x, weight, conv1d.bias, "silu", initial_states=before[..., 1:])
    state["conv"] = torch.cat([before, x.to(before.dtype)], dim=-1)[..., -before.shape[-1]:]
    return out


class Mamba(nn.Module):
    """Selective SSM block of Gu & Dao (2023) mapping (batch, L, d_model) -> (batch, L, d_model).

    in_proj -> causal depthwise conv -> SiLU -> input-dependent (dt, B, C) -> selective scan
    gated by SiLU(z) -> out_proj. ``step`` runs one token with a carried state.
    """

    causal = True

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | str = "auto", dt_min: float = 0.001, dt_max: float = 0.1,
                 conv_bias: bool = True, bias: bool = False):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        nn.init.uniform_(self.dt_proj.weight, -self.dt_rank**-0.5, self.dt_rank**-0.5)
        with torch.no_grad():
            self.dt_proj.bias.copy_(inverse_softplus_dt(self.d_inner, dt_min, dt_max))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        no_weight_decay(self.A_log, self.D, self.dt_proj.bias)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def _ssm_params(self, x: torch.Tensor):
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        return F.linear(dt, self.dt_proj.weight), B, C

    def forward(self, hidden: torch.Tensor, state: dict[str, torch.Tensor] | None = None,
                seq_idx: torch.Tensor | None = None) -> torch.Tensor:
        """hidden: (batch, L, d_model) -> (batch, L, d_model); ``seq_idx`` (batch, L) int: packed
        sequences (see ``ssmkit.kernels.packing``), no state crossing from one to the next.

        ``state`` (from ``allocate_state``) carries a long sequence across chunks: the chunk starts
        from it and its entries are replaced by the state at the chunk's end (detach them between
        chunks for truncated backpropagation), so chunk after chunk equals one whole forward.
        """
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)  # (b, d_inner, L) each
        x = conv_silu(x, self.conv1d, state, seq_idx)
        dt, B, C = self._ssm_params(x.transpose(1, 2))
        y = kernels.selective_scan_fn(
            x, dt.transpose(1, 2), -torch.exp(self.A_log.float()), B.transpose(1, 2), C.transpose(1, 2),
            self.D.float(), z, self.dt_proj.bias.float(), delta_softplus=True,
            return_last_state=state is not None, initial_state=None if state is None else state["ssm"],
            seq_idx=seq_idx,
        )
        if state is not None:
            y, state["ssm"] = y
        return self.out_proj(y.transpose(1, 2))

    def allocate_state(self, batch: int, device=None, dtype=torch.float32) -> dict[str, torch.Tensor]:
        """Zero state for ``step``: conv (batch, d_inner, d_conv), ssm (batch, d_inner, d_state)."""
        return {
            "conv": torch.zeros(batch, self.d_inner, self.d_conv, device=device, dtype=dtype),
            "ssm": torch.zeros(batch, self.d_inner, self.d_state, device=device, dtype=torch.float32),
        }

    def step(self, hidden: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """One token: hidden (batch, d_model) -> (batch, d_model); ``state`` is updated in place."""
        x, z = self.in_proj(hidden).chunk(2, dim=-1)
        x = kernels.causal_conv1d_update(x, state["conv"], self.conv1d.weight.squeeze(1), self.conv1d.bias, "silu")
        dt, B, C = self._ssm_params(x)
        y = kernels.selective_state_update(
            state["ssm"], x, dt, -torch.exp(self.A_log.float()), B, C, self.D.float(), z,
            self.dt_proj.bias.float(), dt_softplus=True,
        )
        return self.out_proj(y)

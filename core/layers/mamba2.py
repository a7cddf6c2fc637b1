"""Mamba-2 (SSD) mixer: scalar decay per head, chunked matmul scan, gated RMSNorm."""

from __future__ import annotations

import torch
from torch import nn

from .. import kernels
from .mamba import conv_silu, inverse_softplus_dt, no_weight_decay
from .norm import GatedRMSNorm


class Mamba2(nn.Module):
    """Mamba-2 block of Dao & Gu (2024) mapping (batch, L, d_model) -> (batch, L, d_model).

    One in_proj gives z, x, B, C and dt; x, B, C pass a causal conv; the SSD scan runs over
    ``nheads = expand * d_model / headdim`` heads; output is RMSNorm(y * silu(z)) -> out_proj.
    """

    causal = True

    def __init__(self, d_model: int, d_state: int = 64, d_conv: int = 4, expand: int = 2,
                 headdim: int = 32, ngroups: int = 1, chunk_size: int = 64,
                 dt_min: float = 0.001, dt_max: float = 0.1, A_init_range: tuple[float, float] = (1.0, 16.0),
                 conv_bias: bool = True, bias: bool = False):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        if self.d_inner % headdim:
            raise ValueError(f"Mamba2: expand * d_model = {self.d_inner} is not a multiple of headdim={headdim}")
        self.headdim, self.ngroups, self.chunk_size = headdim, ngroups, chunk_size
        self.nheads = self.d_inner // headdim
        if self.nheads % ngroups:
            raise ValueError(f"Mamba2: {self.nheads} heads are not divisible by ngroups={ngroups}")
        self.conv_dim = self.d_inner + 2 * ngroups * d_state
        self.in_proj = nn.Linear(d_model, self.d_inner + self.conv_dim + self.nheads, bias=bias)
        self.conv1d = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, groups=self.conv_dim, bias=conv_bias)
        self.dt_bias = nn.Parameter(inverse_softplus_dt(self.nheads, dt_min, dt_max))
        lo, hi = A_init_range
        self.A_log = nn.Parameter(torch.log(torch.empty(self.nheads).uniform_(lo, hi)))
        self.D = nn.Parameter(torch.ones(self.nheads))
        no_weight_decay(self.dt_bias, self.A_log, self.D)
        self.norm = GatedRMSNorm(self.d_inner)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def _split(self, zxbcdt: torch.Tensor):
        return zxbcdt.split([self.d_inner, self.conv_dim, self.nheads], dim=-1)

    def forward(self, hidden: torch.Tensor, state: dict[str, torch.Tensor] | None = None,
                seq_idx: torch.Tensor | None = None) -> torch.Tensor:
        """hidden: (batch, L, d_model) -> (batch, L, d_model); ``state`` carries across chunks and
        ``seq_idx`` packs sequences, as in ``Mamba.forward``."""
        b, L, _ = hidden.shape
        z, xBC, dt = self._split(self.in_proj(hidden))
        xBC = conv_silu(xBC.transpose(1, 2), self.conv1d, state, seq_idx)
        gn = self.ngroups * self.d_state
        x, B, C = xBC.transpose(1, 2).split([self.d_inner, gn, gn], dim=-1)
        y = kernels.ssd_scan(
            x.reshape(b, L, self.nheads, self.headdim), dt, -torch.exp(self.A_log.float()),
            B.reshape(b, L, self.ngroups, self.d_state), C.reshape(b, L, self.ngroups, self.d_state),
            chunk_size=self.chunk_size, D=self.D.float(), dt_bias=self.dt_bias.float(), dt_softplus=True,
            initial_states=None if state is None else state["ssm"], return_final_states=state is not None,
            seq_idx=None if seq_idx is None else seq_idx.to(torch.int32),
        )
        if state is not None:
            y, state["ssm"] = y
        y = self.norm(y.reshape(b, L, self.d_inner), z)
        return self.out_proj(y)

    def allocate_state(self, batch: int, device=None, dtype=torch.float32) -> dict[str, torch.Tensor]:
        """Zero state: conv (batch, conv_dim, d_conv), ssm (batch, nheads, headdim, d_state)."""
        return {
            "conv": torch.zeros(batch, self.conv_dim, self.d_conv, device=device, dtype=dtype),
            "ssm": torch.zeros(batch, self.nheads, self.headdim, self.d_state, device=device, dtype=torch.float32),
        }

    def step(self, hidden: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """One token: (batch, d_model) -> (batch, d_model); ``state`` is updated in place."""
        b = hidden.shape[0]
        z, xBC, dt = self._split(self.in_proj(hidden))
        xBC = kernels.causal_conv1d_update(xBC, state["conv"], self.conv1d.weight.squeeze(1), self.conv1d.bias, "silu")
        gn = self.ngroups * self.d_state
        x, B, C = xBC.split([self.d_inner, gn, gn], dim=-1)
        y = kernels.ssd_state_update(
            state["ssm"], x.reshape(b, self.nheads, self.headdim), dt, -torch.exp(self.A_log.float()),
            B.reshape(b, self.ngroups, self.d_state), C.reshape(b, self.ngroups, self.d_state),
            D=self.D.float(), dt_bias=self.dt_bias.float(), dt_softplus=True,
        )
        return self.out_proj(self.norm(y.reshape(b, self.d_inner), z))

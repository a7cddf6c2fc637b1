"""S4D: a diagonal, time-invariant SSM (Gu et al., 2022), run as an FFT convolution."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import kernels
from .mamba import no_weight_decay


class S4D(nn.Module):
    """S4D-Lin mixer mapping (batch, L, d_model) -> (batch, L, d_model).

    Per channel a complex diagonal SSM of d_state/2 modes, discretised by zero-order hold:
    its convolution kernel K_l = 2 Re(sum_n C_n dB_n dA_n^l) is applied by FFT, then GELU
    and a GLU output projection. ``step`` runs the same SSM as a recurrence.
    """

    causal = True

    def __init__(self, d_model: int, d_state: int = 64, dt_min: float = 0.001, dt_max: float = 0.1,
                 dropout: float = 0.0):
        super().__init__()
        self.d_model, self.modes = d_model, d_state // 2
        log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(d_model, self.modes)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(self.modes, dtype=torch.float32).repeat(d_model, 1))
        self.C = nn.Parameter(torch.view_as_real(torch.randn(d_model, self.modes, dtype=torch.cfloat) * 0.5**0.5))
        self.D = nn.Parameter(torch.randn(d_model))
        no_weight_decay(self.log_dt, self.log_A_real, self.A_imag)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(d_model, 2 * d_model)

    def _discrete(self):
        """dA, C * dB: (d_model, modes) complex each."""
        dt = torch.exp(self.log_dt.float()).unsqueeze(-1)
        A = torch.complex(-torch.exp(self.log_A_real.float()), self.A_imag.float())
        dA = torch.exp(A * dt)
        return dA, torch.view_as_complex(self.C.float()) * (dA - 1.0) / A

    def kernel(self, L: int) -> torch.Tensor:
        """Convolution kernel (d_model, L)."""
        dA, CdB = self._discrete()
        powers = torch.exp(torch.log(dA).unsqueeze(-1) * torch.arange(L, device=dA.device))  # (d, modes, L)
        return 2 * torch.einsum("dm,dml->dl", CdB, powers).real

    def _output(self, y: torch.Tensor) -> torch.Tensor:
        return F.glu(self.out(self.dropout(F.gelu(y))), dim=-1)

    def forward(self, hidden: torch.Tensor, state: dict[str, torch.Tensor] | None = None,
                seq_idx: torch.Tensor | None = None) -> torch.Tensor:
        """hidden: (batch, L, d_model) -> (batch, L, d_model); ``state`` carries across chunks as in
        ``Mamba.forward``: the initial state adds its decaying response, the final state is
        dA^L h0 + sum_t dA^(L-1-t) u_t."""
        if seq_idx is not None:
            raise ValueError("S4D runs as one FFT convolution per row: packed sequences (seq_idx) need "
                             "mamba or mamba2")
        u = hidden.transpose(1, 2)
        L = u.shape[-1]
        y = kernels.fft_conv(u, self.kernel(L), self.D.float())
        if state is not None:
            dA, CdB = self._discrete()
            powers = torch.exp(torch.log(dA).unsqueeze(-1) * torch.arange(L + 1, device=dA.device))  # (d, m, L+1)
            h0 = state["ssm"]
            y = y + (2 * torch.einsum("bdm,dm,dml->bdl", h0, CdB, powers[..., 1:]).real).to(y.dtype)
            decay = powers[..., :L].flip(-1)  # dA^(L-1-t)
            state["ssm"] = h0 * powers[..., L] + torch.einsum("bdl,dml->bdm", u.float().to(decay.dtype), decay)
        return self._output(y.transpose(1, 2))

    def allocate_state(self, batch: int, device=None, dtype=torch.float32) -> dict[str, torch.Tensor]:
        """Zero complex state (batch, d_model, modes)."""
        return {"ssm": torch.zeros(batch, self.d_model, self.modes, device=device, dtype=torch.cfloat)}

    def step(self, hidden: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """One token: (batch, d_model) -> (batch, d_model); ``state`` is updated in place."""
        dA, CdB = self._discrete()
        u = hidden.float()
        h = state["ssm"]
        h.mul_(dA).add_(u.unsqueeze(-1).to(h.dtype))  # dB is folded into CdB
        y = 2 * (h * CdB).sum(-1).real + self.D.float() * u
        return self._output(y.to(hidden.dtype))

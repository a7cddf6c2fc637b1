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
    recurrent_below = 16  # chunks of up to this many tokens with a carried state run as a recurrence

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

    @torch.no_grad()
    def rescale_step(self, factor: float) -> None:
        """Multiply every channel's step size by ``factor`` (the continuous-time SSM read at another token
        rate: tokens ``factor`` times further apart in time -> ``factor`` times the step)."""
        if not factor > 0:
            raise ValueError(f"step-size factor {factor} must be positive")
        self.log_dt.add_(math.log(factor))

    def _discrete(self):
        """dA, C * dB: (d_model, modes) complex each. For the state-carrying paths (``step``, short chunks) of a
        module in eval mode without autograd they are kept (``_stream_cache``)."""
        cached = self._stream_cache()
        return (cached["dA"], cached["CdB"]) if cached is not None else self._discretise()

    def _stream_cache(self) -> dict | None:
        """{"dA", "CdB", "chunks": {L: matrix}} kept between streamed chunks, or None where it must not be used:
        while autograd records, in training mode, while compiling, for inference-mode parameters. Keyed on the
        parameters' versions and storage; cleared by ``train()`` and device/dtype moves, so parameters updated
        without a version bump (fused optimizers, ``.data`` writes) are read afresh after the next ``train()``."""
        if torch.is_grad_enabled() or self.training or torch.compiler.is_compiling():
            return None
        params = (self.log_dt, self.log_A_real, self.A_imag, self.C, self.D)
        if any(p.is_inference() for p in params):
            return None
        key = tuple((p._version, p.data_ptr(), p.dtype, p.device) for p in params)
        cached = self.__dict__.get("_cache")
        if cached is None or cached["key"] != key:
            dA, CdB = self._discretise()
            cached = {"key": key, "dA": dA, "CdB": CdB, "chunks": {}}
            self.__dict__["_cache"] = cached
        return cached

    def train(self, mode: bool = True):
        self.__dict__.pop("_cache", None)
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        self.__dict__.pop("_cache", None)
        return super()._apply(fn, *args, **kwargs)

    def __getstate__(self):
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        state.pop("_cache", None)  # derived tensors: never pickled or deep-copied
        return state

    def _discretise(self):
        dt = torch.exp(self.log_dt.float()).unsqueeze(-1)
        A = torch.complex(-torch.exp(self.log_A_real.float()), self.A_imag.float())
        dA = torch.exp(A * dt)
        return dA, torch.view_as_complex(self.C.float()) * (dA - 1.0) / A

    def kernel(self, L: int) -> torch.Tensor:
        """Convolution kernel (d_model, L)."""
        dA, CdB = self._discretise()
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
        if state is not None and L <= self.recurrent_below:  # short chunks (streaming): the recurrence is cheaper
            y = self._recurrence(u, state).transpose(1, 2)
            return self._output(y if y.dtype == hidden.dtype else y.to(hidden.dtype))
        y = kernels.fft_conv(u, self.kernel(L), self.D.float())
        if state is not None:
            dA, CdB = self._discrete()
            powers = torch.exp(torch.log(dA).unsqueeze(-1) * torch.arange(L + 1, device=dA.device))  # (d, m, L+1)
            h0 = state["ssm"]
            y = y + (2 * torch.einsum("bdm,dm,dml->bdl", h0, CdB, powers[..., 1:]).real).to(y.dtype)
            decay = powers[..., :L].flip(-1)  # dA^(L-1-t)
            state["ssm"] = h0 * powers[..., L] + torch.einsum("bdl,dml->bdm", u.float().to(decay.dtype), decay)
        return self._output(y.transpose(1, 2))

    def _recurrence(self, u: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        """u (batch, d_model, L) from ``state`` -> the SSM's y (batch, d_model, L) float32, the state left at
        the chunk's end: the FFT path's map for chunks of a few tokens, as one batched matmul of
        [state as real pairs, u] by the chunk's transition matrix (``_chunk_matrix``)."""
        b, d, L = u.shape
        with torch.autocast(u.device.type, enabled=False):  # the carried state stays float32 under bf16 autocast
            h = torch.view_as_real(state["ssm"]).reshape(b, d, 2 * self.modes)
            u = u if u.dtype == torch.float32 else u.float()
            out = torch.bmm(torch.cat([h, u], -1).transpose(0, 1), self._chunk_matrix(L)).transpose(0, 1)
            state["ssm"] = torch.view_as_complex(out[..., :2 * self.modes].reshape(b, d, self.modes, 2).contiguous())
        return out[..., 2 * self.modes:]

    def _chunk_matrix(self, L: int) -> torch.Tensor:
        """(d_model, 2 modes + L, 2 modes + L) real W with [h_end, y] = [h_0, u] W for a chunk of L tokens: h as
        (real, imaginary) pairs, h_end = dA^L h_0 + sum_t dA^(L-1-t) u_t, y_t = 2 Re(sum C dB dA^(t+1) h_0)
        + sum_(s<=t) K_(t-s) u_s + D u_t. Kept per L while the parameters do not change (see ``_discrete``)."""
        cached = self._stream_cache()
        if cached is not None and L in cached["chunks"]:
            return cached["chunks"][L]
        dA, CdB = self._discrete()
        dA, CdB = dA.to(torch.complex128), CdB.to(torch.complex128)
        d, m = dA.shape
        powers = torch.exp(torch.log(dA).unsqueeze(-1) * torch.arange(L + 1, device=dA.device))  # (d, m, L+1)
        W = torch.zeros(d, 2 * m + L, 2 * m + L, dtype=torch.float64, device=dA.device)
        z = powers[..., L]  # h_end from h_0: multiply by z, written on (re, im) pairs
        k = torch.arange(m, device=dA.device)
        W[:, 2 * k, 2 * k], W[:, 2 * k, 2 * k + 1] = z.real, z.imag
        W[:, 2 * k + 1, 2 * k], W[:, 2 * k + 1, 2 * k + 1] = -z.imag, z.real
        decay = powers[..., :L].flip(-1)  # (d, m, L): dA^(L-1-t), h_end from u_t
        W[:, 2 * m:, 0:2 * m:2], W[:, 2 * m:, 1:2 * m:2] = decay.real.transpose(1, 2), decay.imag.transpose(1, 2)
        w = CdB.unsqueeze(-1) * powers[..., 1:]  # (d, m, L): y_t from h_0 is 2 Re(w_t h_0)
        W[:, 0:2 * m:2, 2 * m:], W[:, 1:2 * m:2, 2 * m:] = 2 * w.real, -2 * w.imag
        K = 2 * (CdB.unsqueeze(-1) * powers[..., :L]).real.sum(1)  # (d, L) convolution kernel
        pos = torch.arange(L, device=dA.device)
        lag = pos.unsqueeze(0) - pos.unsqueeze(1)  # [s, t] -> t - s
        T = torch.where(lag >= 0, K[:, lag.clamp_min(0)], torch.zeros((), dtype=K.dtype))
        W[:, 2 * m:, 2 * m:] = T + torch.diag_embed(self.D.double().expand(L, d).t())
        W = W.float()
        if cached is not None:
            cached["chunks"][L] = W
        return W

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

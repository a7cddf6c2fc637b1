"""Causal long convolution by FFT (S4/S4D/Hyena), O(L log L)."""

from __future__ import annotations

import torch

__all__ = ["fft_conv_ref"]


def fft_conv_ref(u: torch.Tensor, k: torch.Tensor, D: torch.Tensor | None = None) -> torch.Tensor:
    """y_t = sum_{s<=t} k_{t-s} u_s (+ D u_t).

    u: (batch, d, L); k: (d, Lk) or (batch, d, Lk), Lk <= L is zero-extended; D: (d,).
    Computed in float32 (float64 for float64 input) with an FFT of length 2L so the
    circular wrap-around never reaches the causal part. Returns y like u.
    """
    L = u.shape[-1]
    if k.shape[-1] > L:
        k = k[..., :L]
    work = torch.float64 if u.dtype == torch.float64 else torch.float32
    n = 2 * L
    uf = torch.fft.rfft(u.to(work), n=n)
    kf = torch.fft.rfft(k.to(work), n=n)
    y = torch.fft.irfft(uf * kf, n=n)[..., :L]
    if D is not None:
        y = y + u.to(work) * D.to(work)[:, None]
    return y.to(u.dtype)

"""Quality of a denoised cube against the clean one, as the field reports it (data range 1, cubes in [0, 1]).

All take tensors or arrays (bands, H, W) or batches (batch, bands, H, W) and return one value per cube
((batch,) or a 0-d tensor), computed in float64:

* ``mpsnr``: PSNR of each band, 10 log10(peak^2 / MSE), averaged over bands (dB).
* ``mssim``: SSIM of each band (Wang et al. 2004: 11x11 Gaussian window of sigma 1.5 over the "valid"
  positions, K1 = 0.01, K2 = 0.03, L = peak), averaged over bands.
* ``sam``: spectral angle of each pixel, arccos(<x, y> / (|x| |y|)), averaged over pixels, in degrees.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["mpsnr", "mssim", "sam", "gaussian_window", "cube_metrics"]


def _pair(x, y) -> tuple[torch.Tensor, torch.Tensor, bool]:
    x = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).to(torch.float64)
    y = torch.as_tensor(np.asarray(y) if not torch.is_tensor(y) else y).to(device=x.device, dtype=torch.float64)
    if x.shape != y.shape or x.dim() not in (3, 4):
        raise ValueError(f"metrics want two (bands, H, W) or (batch, bands, H, W) cubes, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    single = x.dim() == 3
    return (x[None], y[None], True) if single else (x, y, False)


def mpsnr(x, y, peak: float = 1.0, eps: float = 1e-12) -> torch.Tensor:
    """Mean over bands of per-band PSNR (dB)."""
    x, y, single = _pair(x, y)
    mse = (x - y).square().mean(dim=(-2, -1)).clamp_min(eps)
    out = (10 * torch.log10(peak**2 / mse)).mean(-1)
    return out[0] if single else out


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """(size, size) float64 Gaussian weights summing to 1."""
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-r.square() / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def mssim(x, y, peak: float = 1.0, size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03
          ) -> torch.Tensor:
    """Mean over bands of per-band SSIM (needs H, W >= ``size``)."""
    x, y, single = _pair(x, y)
    b, B, H, W = x.shape
    if H < size or W < size:
        raise ValueError(f"SSIM needs bands of at least {size}x{size} pixels, got {H}x{W}")
    w = gaussian_window(size, sigma).to(x.device)[None, None]
    xs, ys = x.reshape(b * B, 1, H, W), y.reshape(b * B, 1, H, W)
    mu_x, mu_y = F.conv2d(xs, w), F.conv2d(ys, w)
    var_x = F.conv2d(xs * xs, w) - mu_x.square()
    var_y = F.conv2d(ys * ys, w) - mu_y.square()
    cov = F.conv2d(xs * ys, w) - mu_x * mu_y
    c1, c2 = (k1 * peak) ** 2, (k2 * peak) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    out = s.mean(dim=(-2, -1)).reshape(b, B).mean(-1)
    return out[0] if single else out


def sam(x, y, eps: float = 1e-12) -> torch.Tensor:
    """Mean spectral angle over pixels, in degrees."""
    x, y, single = _pair(x, y)
    dot = (x * y).sum(1)
    norm = x.norm(dim=1) * y.norm(dim=1)
    cos = (dot / norm.clamp_min(eps)).clamp(-1.0, 1.0)
    out = torch.rad2deg(torch.acos(cos)).mean(dim=(-2, -1))
    return out[0] if single else out


def cube_metrics(x, y) -> dict[str, float]:
    """{"psnr", "ssim", "sam"} of one cube (bands, H, W) against its reference."""
    return {"psnr": float(mpsnr(x, y)), "ssim": float(mssim(x, y)), "sam": float(sam(x, y))}


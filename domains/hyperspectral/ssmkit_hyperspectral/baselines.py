"""Classical denoisers run in the same harness as the SSM: a low-rank spectral projection, and BM4D when the
optional ``bm4d`` package is installed (compiled, non-commercial licence: never a hard dependency).

All map a noisy cube (bands, H, W) float -> a denoised cube of the same shape (float32).
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np

from ssmkit.errors import ConfigError

__all__ = ["BASELINES", "estimate_sigma", "lowrank_projection", "bm4d_denoise", "bm4d_available", "run_baseline"]


def estimate_sigma(cube: np.ndarray) -> np.ndarray:
    """Per-band noise standard deviation (bands,) from the median absolute deviation of horizontal
    differences (a difference of two noisy values has variance 2 sigma^2; edges barely move the median)."""
    d = np.diff(np.asarray(cube, dtype=np.float64), axis=2).reshape(cube.shape[0], -1)
    mad = np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1)
    return mad / 0.6745 / math.sqrt(2)


def lowrank_projection(noisy: np.ndarray, rank: int | None = None) -> np.ndarray:
    """Project every pixel's spectrum onto the leading spectral subspace.

    The bands are whitened by their estimated noise sigma; with ``rank`` None the components kept are those
    whose singular value exceeds the largest one pure unit noise would give (sqrt(N) + sqrt(B), the
    Marchenko-Pastur edge for N pixels and B bands). (bands, H, W) -> (bands, H, W).
    """
    x = np.asarray(noisy, dtype=np.float64)
    B = x.shape[0]
    flat = x.reshape(B, -1)
    N = flat.shape[1]
    sigma = np.maximum(estimate_sigma(x), 1e-6)
    mean = flat.mean(1, keepdims=True)
    z = (flat - mean) / sigma[:, None]
    evals, evecs = np.linalg.eigh(z @ z.T)  # (B, B): the squared singular values of z and its left vectors
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    if rank is None:
        rank = int((np.sqrt(np.maximum(evals, 0)) > math.sqrt(N) + math.sqrt(B)).sum())
    rank = max(1, min(int(rank), B))
    u = evecs[:, :rank]
    out = (u @ (u.T @ z)) * sigma[:, None] + mean
    return out.reshape(x.shape).astype(np.float32)


def bm4d_available() -> bool:
    return importlib.util.find_spec("bm4d") is not None


def bm4d_denoise(noisy: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """BM4D (the ``bm4d`` package) on (bands, H, W) with noise std ``sigma`` (default: estimated, the root
    mean square of the per-band estimates)."""
    if not bm4d_available():
        raise ConfigError("baseline 'bm4d' needs the bm4d package: pip install 'ssmkit-hyperspectral[bm4d]' "
                          "(compiled, non-commercial licence)")
    import bm4d

    x = np.asarray(noisy, dtype=np.float64)
    if sigma is None:
        sigma = float(np.sqrt(np.mean(estimate_sigma(x) ** 2)))
    out = bm4d.bm4d(np.ascontiguousarray(x.transpose(1, 2, 0)), float(sigma))
    return np.asarray(out, dtype=np.float32).transpose(2, 0, 1)


BASELINES = ("noisy", "lowrank", "bm4d")


def run_baseline(name: str, noisy: np.ndarray, sigma: np.ndarray | None = None) -> np.ndarray:
    """One named baseline on (bands, H, W); ``sigma`` (bands,) the true per-band noise sigma when known
    (BM4D is given its root mean square, as the protocol gives BM4D the sigma)."""
    if name == "noisy":
        return np.asarray(noisy, dtype=np.float32)
    if name == "lowrank":
        return lowrank_projection(noisy)
    if name == "bm4d":
        return bm4d_denoise(noisy, None if sigma is None else float(np.sqrt(np.mean(np.square(sigma)))))
    raise ConfigError(f"unknown baseline {name!r}: use {', '.join(BASELINES)}")

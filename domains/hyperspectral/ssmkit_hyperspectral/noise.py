"""The field's noise protocol (QRNN3D, T3SC, SST, SERT), seeded: the same seed gives the same noise.

Cubes are first min-max scaled to [0, 1] over the whole cube (``minmax``). Cases (``NOISE_CASES``), all on
arrays (bands, H, W); noise is added, never clipped:

* ``gaussian10|30|50|70``: i.i.d. Gaussian of standard deviation sigma/255 on every value.
* ``blind``: every band its own sigma drawn uniformly in [10, 70]/255.
* ``noniid``: every band its own sigma drawn from {10, 30, 50, 70}/255 (QRNN3D's non-i.i.d. case).
* ``stripe``: noniid, plus on a fraction ``band_fraction`` (default 1/3) of the bands, 5-15 % of the
  columns shifted by a constant drawn uniformly in [-0.25, 0.25].
* ``deadline``: noniid, plus on ``band_fraction`` of the bands, 5-15 % of the column positions set to 0
  over 1-3 adjacent columns each (dead lines).
* ``impulse``: noniid, plus on ``band_fraction`` of the bands salt-and-pepper noise (a share of the values
  drawn from {0.1, 0.3, 0.5, 0.7} set to 0 or 1, half each).
* ``mixture``: noniid, plus stripes, dead lines and impulse noise, each on its own random
  ``band_fraction`` of the bands (bands may get more than one).

``add_noise(clean, case, seed)`` returns (noisy, info) with info["sigma"] (bands,) the Gaussian sigma of each
band and info["bands"] {kind: band indices} for the structured noise.
"""

from __future__ import annotations

import numpy as np

from ssmkit.errors import ConfigError

__all__ = ["NOISE_CASES", "GAUSSIAN_SIGMAS", "minmax", "add_noise", "noise_case"]

GAUSSIAN_SIGMAS = (10, 30, 50, 70)
NOISE_CASES = (*(f"gaussian{s}" for s in GAUSSIAN_SIGMAS), "blind", "noniid", "stripe", "deadline", "impulse",
               "mixture")
BAND_FRACTION = 1 / 3
IMPULSE_AMOUNTS = (0.1, 0.3, 0.5, 0.7)


def minmax(cube: np.ndarray) -> np.ndarray:
    """Scale a whole cube to [0, 1] (float32); a constant cube becomes zeros."""
    cube = np.asarray(cube, dtype=np.float64)
    lo, hi = float(cube.min()), float(cube.max())
    return ((cube - lo) / (hi - lo) if hi > lo else np.zeros_like(cube)).astype(np.float32)


def noise_case(case: str) -> str:
    """Validate a case name (``gaussianN`` accepts any N in 1..255)."""
    if case in NOISE_CASES:
        return case
    if case.startswith("gaussian") and case[8:].isdigit() and 0 < int(case[8:]) < 256:
        return case
    raise ConfigError(f"unknown noise case {case!r}: use one of {', '.join(NOISE_CASES)} (or gaussianN)")


def _pick_bands(rng: np.random.Generator, bands: int, fraction: float) -> np.ndarray:
    n = max(1, int(round(fraction * bands)))
    return np.sort(rng.choice(bands, n, replace=False))


def _stripes(x: np.ndarray, bands: np.ndarray, rng: np.random.Generator) -> None:
    W = x.shape[2]
    for b in bands:
        n = int(rng.integers(int(np.ceil(0.05 * W)), int(np.ceil(0.15 * W)) + 1))
        cols = rng.permutation(W)[:n]
        x[b][:, cols] -= (rng.uniform(0, 1, n) * 0.5 - 0.25).astype(x.dtype)


def _deadlines(x: np.ndarray, bands: np.ndarray, rng: np.random.Generator) -> None:
    W = x.shape[2]
    for b in bands:
        n = int(rng.integers(int(np.ceil(0.05 * W)), int(np.ceil(0.15 * W)) + 1))
        cols = rng.permutation(W)[:n]
        widths = rng.integers(1, 4, n)
        for c, w in zip(cols, widths):
            x[b][:, c:c + w] = 0


def _impulse(x: np.ndarray, bands: np.ndarray, rng: np.random.Generator) -> None:
    for b in bands:
        amount = float(rng.choice(IMPULSE_AMOUNTS))
        hit = rng.random(x[b].shape) < amount
        salt = rng.random(x[b].shape) < 0.5
        x[b][hit & salt] = 1
        x[b][hit & ~salt] = 0


def add_noise(clean: np.ndarray, case: str, seed: int = 0, band_fraction: float = BAND_FRACTION
              ) -> tuple[np.ndarray, dict]:
    """clean (bands, H, W) in [0, 1] -> (noisy (bands, H, W) float32, info) for one case of the protocol."""
    case = noise_case(case)
    clean = np.asarray(clean, dtype=np.float32)
    if clean.ndim != 3:
        raise ValueError(f"add_noise wants (bands, H, W), got shape {clean.shape}")
    if not 0 < band_fraction <= 1:
        raise ConfigError(f"band_fraction={band_fraction}: give a fraction of the bands in (0, 1]")
    rng = np.random.default_rng(seed)
    B = clean.shape[0]
    if case.startswith("gaussian"):
        sigma = np.full(B, int(case[8:]) / 255.0)
    elif case == "blind":
        sigma = rng.uniform(10, 70, B) / 255.0
    else:
        sigma = rng.choice(GAUSSIAN_SIGMAS, B) / 255.0
    noisy = clean + (rng.standard_normal(clean.shape) * sigma[:, None, None]).astype(np.float32)
    info: dict = {"sigma": sigma, "bands": {}}
    kinds = {"stripe": ("stripe",), "deadline": ("deadline",), "impulse": ("impulse",),
             "mixture": ("stripe", "deadline", "impulse")}.get(case, ())
    for kind in kinds:
        bands = _pick_bands(rng, B, band_fraction)
        {"stripe": _stripes, "deadline": _deadlines, "impulse": _impulse}[kind](noisy, bands, rng)
        info["bands"][kind] = bands
    return noisy, info

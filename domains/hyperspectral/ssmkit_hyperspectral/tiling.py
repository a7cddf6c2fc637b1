"""Tiled inference: overlapping spatial tiles (all bands each), blended with smooth weights.

Each tile's output is weighted by a separable window that rises as sin^2 over ``overlap`` pixels from each
edge and is flat inside, and the weighted outputs are summed and normalised: seams vanish, and a cube of any
size runs in the memory of one tile.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

__all__ = ["tile_starts", "blend_window", "tiled"]


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, size) with tiles of ``tile`` overlapping by at least ``overlap``."""
    if size <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, size - tile, step))
    return starts + [size - tile]


def blend_window(length: int, overlap: int, device=None) -> torch.Tensor:
    """(length,) weights in (0, 1]: sin^2 ramps over ``overlap`` at both ends, 1 between."""
    w = torch.ones(length, device=device)
    ramp = min(overlap, length // 2)
    if ramp > 0:
        r = torch.sin(0.5 * math.pi * (torch.arange(ramp, device=device) + 0.5) / ramp).square()
        w[:ramp] = r
        w[length - ramp:] = torch.minimum(w[length - ramp:], r.flip(0))
    return w


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = 128, overlap: int = 16
          ) -> torch.Tensor:
    """fn over (batch, bands, tile, tile) pieces of x (batch, bands, H, W), blended -> (batch, bands, H, W).

    A cube no larger than one tile goes through ``fn`` whole."""
    H, W = x.shape[-2:]
    if H <= tile and W <= tile:
        return fn(x)
    th, tw = min(tile, H), min(tile, W)
    out = torch.zeros_like(x, dtype=torch.float32)
    weight = torch.zeros(H, W, device=x.device)
    win = blend_window(th, overlap, x.device)[:, None] * blend_window(tw, overlap, x.device)[None, :]
    for r in tile_starts(H, th, overlap):
        for c in tile_starts(W, tw, overlap):
            piece = fn(x[..., r:r + th, c:c + tw]).float()
            out[..., r:r + th, c:c + tw] += piece * win
            weight[r:r + th, c:c + tw] += win
    return (out / weight).to(x.dtype)

"""Scan orders for images: names resolved through the core registry, plus permuted sequential MNIST.

An image of (H, W) patches is read as L = H * W positions stored row-major; a scan order gives the
permutation ``perm`` (L,) in which the SSM reads them (``ssmkit.scan_orders.apply_order``) and its inverse
puts outputs back. Grid orders (row, column, snake, hilbert, zorder, *_reverse) come from the core;
length orders (identity, reverse, random, vision/pmnist) work on any L.

Point clouds are serialised by coords orders: the core's ``hilbert3d`` / ``zorder3d`` and, here, the same
curves over axes read in the other order (``vision/hilbert3d_swap``, ``vision/zorder3d_swap``), which
visit the points differently (PointMamba reads both a curve and its axis-swapped twin).
"""

from __future__ import annotations

import torch

from ssmkit.errors import ConfigError, PluginError
from ssmkit.multi_order import resolve_order
from ssmkit.scan_orders import CROSS_SCAN, Hilbert3D, RandomPermutation, ScanOrder, ZOrder3D, inverse_permutation

PMNIST_SEED = 1729  # fixed once: every run of permuted sequential MNIST reads pixels in the same order


class PermutedPixels(RandomPermutation):
    """Permuted sequential MNIST: one fixed random permutation of the L pixels (seed ``PMNIST_SEED``)."""

    name = "pmnist"

    def __init__(self, seed: int = PMNIST_SEED):
        super().__init__(seed)

    def __repr__(self) -> str:
        return f"PermutedPixels(seed={self.seed})"


class AxisSwapped(ScanOrder):
    """A coords order applied to the points with their axes permuted (default z, y, x): the same curve
    family, another path through the cloud."""

    needs = "coords"

    def __init__(self, base: ScanOrder, axes: tuple[int, ...] = (2, 1, 0)):
        self.base, self.axes = base, tuple(axes)
        self.name = f"{base.name}_swap"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        if coords is None:
            raise ValueError(f"scan order {self.name!r} needs coords (batch, L, {len(self.axes)})")
        return self.base.permutation(coords=coords[..., list(self.axes)], device=device)

    def __repr__(self) -> str:
        return f"AxisSwapped({self.base!r}, axes={self.axes})"


def scan_order(name: str | ScanOrder) -> ScanOrder:
    """A scan order by registered name ("row", "hilbert", "vision/pmnist", ...); ConfigError if unknown."""
    try:
        order = resolve_order(name)
    except PluginError as exc:
        raise ConfigError(f"unknown scan order {name!r}: {exc}") from None
    if order.needs == "coords":
        raise ConfigError(f"scan order {name!r} sorts point coordinates; images need a grid or length order")
    return order


def grid_permutation(name: str | ScanOrder, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(perm, inverse) (L,) int64 for an (H, W) grid of positions stored row-major."""
    perm = scan_order(name).permutation(length=grid[0] * grid[1], grid=grid)
    return perm, inverse_permutation(perm)


def scan_names(scan: str | list[str] | tuple[str, ...]) -> list[str]:
    """"cross" -> the four cross-scan directions; a comma list or list -> its names; one name -> [name]."""
    if isinstance(scan, (list, tuple)):
        return [str(s) for s in scan]
    if scan in ("cross", "cross_scan"):
        return list(CROSS_SCAN)
    return [s.strip() for s in str(scan).split(",") if s.strip()]


SCAN_ORDERS: dict[str, ScanOrder] = {}
SCAN_ORDERS["pmnist"] = PermutedPixels()
SCAN_ORDERS["hilbert3d_swap"] = AxisSwapped(Hilbert3D())
SCAN_ORDERS["zorder3d_swap"] = AxisSwapped(ZOrder3D())

__all__ = ["PMNIST_SEED", "AxisSwapped", "PermutedPixels", "SCAN_ORDERS", "grid_permutation", "scan_names",
           "scan_order"]

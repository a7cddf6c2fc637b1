"""Scan orders for hyperspectral cubes, registered as "hyperspectral/<name>".

A cube of (bands, h, w) tokens is read two ways: within each band over the (h, w) grid (spatial orders: the
core's row, column, snake, hilbert, zorder and their ``*_reverse`` plus ``snake_reverse`` and
``hilbert_reverse`` added here), and along the bands of each spatial token (``spectral``, shortest to longest
wavelength, and ``spectral_reverse``). Names are resolved through the core registry, so plug-in and core
orders combine freely (e.g. ``spatial_orders=["row", "hyperspectral/hilbert_reverse"]``).
"""

from __future__ import annotations

import torch

from ssmkit.errors import ConfigError, PluginError
from ssmkit.multi_order import resolve_order
from ssmkit.scan_orders import Hilbert2D, Reversed, ScanOrder, Snake

__all__ = ["Spectral", "SCAN_ORDERS", "SPATIAL_DEFAULT", "SPECTRAL_DEFAULT", "order_names", "check_orders"]


class Spectral(ScanOrder):
    """Along the bands of one pixel, in stored (wavelength) order: (bands,) positions."""

    name = "spectral"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        return torch.arange(self._length(length, grid, coords), device=device)


# every kind of spatial order of the issue, directions alternating
SPATIAL_DEFAULT = ("row", "column_reverse", "snake", "hyperspectral/hilbert_reverse")
SPECTRAL_DEFAULT = ("hyperspectral/spectral", "hyperspectral/spectral_reverse")


def order_names(orders: str | list[str] | tuple[str, ...]) -> list[str]:
    """A comma-separated string or a list -> a list of names."""
    if isinstance(orders, (list, tuple)):
        return [str(o) for o in orders]
    return [o.strip() for o in str(orders).split(",") if o.strip()]


def check_orders(orders: list[str], kind: str) -> list[ScanOrder]:
    """Resolve names; spatial orders need a grid or a length, spectral ones a length (ConfigError if not)."""
    if not orders:
        raise ConfigError(f"give at least one {kind} scan order")
    out = []
    for name in orders:
        try:
            order = resolve_order(name)
        except PluginError as exc:
            raise ConfigError(f"unknown scan order {name!r}: {exc}") from None
        if order.needs == "coords" or (kind == "spectral" and order.needs == "grid"):
            raise ConfigError(f"scan order {name!r} needs {order.needs}; a {kind} order needs "
                              f"{'a length' if kind == 'spectral' else 'a grid or a length'}")
        out.append(order)
    return out


SCAN_ORDERS: dict[str, ScanOrder] = {}
SCAN_ORDERS["spectral"] = Spectral()
SCAN_ORDERS["spectral_reverse"] = Reversed(Spectral())
SCAN_ORDERS["snake_reverse"] = Reversed(Snake())
SCAN_ORDERS["hilbert_reverse"] = Reversed(Hilbert2D())

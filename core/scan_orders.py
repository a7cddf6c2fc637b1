"""Scan orders: the order in which an SSM reads the L positions of an input.

A ``ScanOrder`` turns an input's geometry into a permutation ``perm`` of its positions:
the model reads ``x[:, perm]`` and ``inverse(perm)`` puts outputs back in place.
Geometry is one of: ``length`` (a plain sequence), ``grid=(H, W)`` (row-major 2-D positions)
or ``coords`` (batch, L, k) (point coordinates; one permutation per sample).
"""

from __future__ import annotations

import torch

__all__ = [
    "ScanOrder", "Identity", "Reverse", "Row", "Column", "Snake", "Hilbert2D", "ZOrder2D",
    "Reversed", "Hilbert3D", "ZOrder3D", "RandomPermutation", "CROSS_SCAN", "SCAN_ORDERS",
    "apply_order", "inverse_permutation", "hilbert_index_2d", "hilbert_index_nd", "morton_index",
]


def inverse_permutation(perm: torch.Tensor) -> torch.Tensor:
    """inv with inv[perm[i]] = i, for (L,) or (batch, L) permutations."""
    inv = torch.empty_like(perm)
    src = torch.arange(perm.shape[-1], device=perm.device).expand_as(perm)
    return inv.scatter_(-1, perm, src)


def apply_order(x: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """x (batch, L, ...) read in the order perm: (L,) shared or (batch, L) per sample."""
    if perm.dim() == 1:
        return x.index_select(1, perm)
    index = perm.reshape(*perm.shape, *([1] * (x.dim() - 2))).expand(-1, -1, *x.shape[2:])
    return torch.gather(x, 1, index)


class ScanOrder:
    """A named rule mapping geometry to a permutation of positions."""

    name = "scan_order"
    needs = "length"  # "length", "grid", "coords", or "graph" (also edge_index (2, E) over the positions)

    def permutation(self, *, length: int | None = None, grid: tuple[int, int] | None = None,
                    coords: torch.Tensor | None = None, device=None) -> torch.Tensor:
        """(L,) for length/grid geometry, (batch, L) for coords."""
        raise NotImplementedError

    def inverse(self, perm: torch.Tensor) -> torch.Tensor:
        return inverse_permutation(perm)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    @staticmethod
    def _length(length, grid, coords) -> int:
        if length is not None:
            return int(length)
        if grid is not None:
            return int(grid[0]) * int(grid[1])
        if coords is not None:
            return int(coords.shape[1])
        raise ValueError("scan order needs a length, a grid or coords")

    def _grid(self, grid) -> tuple[int, int]:
        if grid is None:
            raise ValueError(f"scan order {self.name!r} needs grid=(height, width)")
        return int(grid[0]), int(grid[1])


class Identity(ScanOrder):
    """Positions in their stored order."""

    name = "identity"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        return torch.arange(self._length(length, grid, coords), device=device)


class Reverse(ScanOrder):
    """Positions last to first."""

    name = "reverse"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        return torch.arange(self._length(length, grid, coords) - 1, -1, -1, device=device)


class Row(ScanOrder):
    """Row by row, left to right (raster order)."""

    name, needs = "row", "grid"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        H, W = self._grid(grid)
        return torch.arange(H * W, device=device)


class Column(ScanOrder):
    """Column by column, top to bottom."""

    name, needs = "column", "grid"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        H, W = self._grid(grid)
        return torch.arange(H * W, device=device).reshape(H, W).t().reshape(-1)


class Snake(ScanOrder):
    """Rows alternating direction (boustrophedon): neighbours stay adjacent at row ends."""

    name, needs = "snake", "grid"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        H, W = self._grid(grid)
        idx = torch.arange(H * W, device=device).reshape(H, W)
        idx[1::2] = idx[1::2].flip(-1)
        return idx.reshape(-1)


def hilbert_index_2d(x: torch.Tensor, y: torch.Tensor, bits: int) -> torch.Tensor:
    """Distance along the 2-D Hilbert curve of side 2**bits of integer points (x, y)."""
    x, y = x.clone().long(), y.clone().long()
    n = 1 << bits
    d = torch.zeros_like(x)
    s = n // 2
    while s > 0:
        rx = (x & s) > 0
        ry = (y & s) > 0
        d += s * s * ((3 * rx.long()) ^ ry.long())
        flip = (~ry) & rx  # reflect, then (where ry == 0) swap x and y
        x = torch.where(flip, n - 1 - x, x)
        y = torch.where(flip, n - 1 - y, y)
        x, y = torch.where(~ry, y, x), torch.where(~ry, x, y)
        s //= 2
    return d


def hilbert_index_nd(points: torch.Tensor, bits: int) -> torch.Tensor:
    """Hilbert distance of integer points (..., k) on a 2**bits grid in k dimensions.

    Skilling's transform (AIP Conf. Proc. 707, 2004): axes -> "transposed" Hilbert index,
    whose bits interleaved give the distance.
    """
    X = [points[..., i].clone().long() for i in range(points.shape[-1])]
    k = len(X)
    M = 1 << (bits - 1)
    Q = M
    while Q > 1:  # inverse undo
        P = Q - 1
        for i in range(k):
            high = (X[i] & Q) > 0
            t = (X[0] ^ X[i]) & P
            X0_invert = X[0] ^ P
            X0_swap = X[0] ^ t
            Xi_swap = X[i] ^ t
            if i == 0:
                X[0] = torch.where(high, X0_invert, X[0])
            else:
                X[0], X[i] = torch.where(high, X0_invert, X0_swap), torch.where(high, X[i], Xi_swap)
        Q >>= 1
    for i in range(1, k):  # Gray encode
        X[i] = X[i] ^ X[i - 1]
    t = torch.zeros_like(X[0])
    Q = M
    while Q > 1:
        t = torch.where((X[k - 1] & Q) > 0, t ^ (Q - 1), t)
        Q >>= 1
    X = [xi ^ t for xi in X]
    d = torch.zeros_like(X[0])
    for b in range(bits - 1, -1, -1):
        for i in range(k):
            d = (d << 1) | ((X[i] >> b) & 1)
    return d


def morton_index(points: torch.Tensor, bits: int) -> torch.Tensor:
    """Z-order (Morton) code of integer points (..., k): their bits interleaved."""
    k = points.shape[-1]
    p = points.long()
    d = torch.zeros(points.shape[:-1], dtype=torch.long, device=points.device)
    for b in range(bits - 1, -1, -1):
        for i in range(k):
            d = (d << 1) | ((p[..., i] >> b) & 1)
    return d


def _grid_curve(H: int, W: int, device, curve) -> torch.Tensor:
    bits = max(1, (max(H, W) - 1).bit_length())
    r = torch.arange(H, device=device).repeat_interleave(W)
    c = torch.arange(W, device=device).repeat(H)
    return torch.argsort(curve(r, c, bits), stable=True)


class Hilbert2D(ScanOrder):
    """Along a Hilbert curve over the grid (cells outside a non-square grid are skipped)."""

    name, needs = "hilbert", "grid"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        H, W = self._grid(grid)
        return _grid_curve(H, W, device, lambda r, c, bits: hilbert_index_2d(c, r, bits))


class ZOrder2D(ScanOrder):
    """Along the Z-order (Morton) curve over the grid."""

    name, needs = "zorder", "grid"

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        H, W = self._grid(grid)
        return _grid_curve(H, W, device, lambda r, c, bits: morton_index(torch.stack([r, c], -1), bits))


class Reversed(ScanOrder):
    """Another order read backwards."""

    def __init__(self, base: ScanOrder):
        self.base = base
        self.name, self.needs = f"{base.name}_reverse", base.needs

    def permutation(self, **geometry):
        return self.base.permutation(**geometry).flip(-1)

    def __repr__(self) -> str:
        return f"Reversed({self.base!r})"


def _quantise(coords: torch.Tensor, bits: int) -> torch.Tensor:
    """(batch, L, k) float coords -> integer cells of a 2**bits grid over each sample's bounding cube."""
    lo = coords.amin(dim=1, keepdim=True)
    extent = (coords.amax(dim=1, keepdim=True) - lo).amax(dim=-1, keepdim=True).clamp_min(1e-12)
    cells = ((coords - lo) / extent * ((1 << bits) - 1)).round()
    return cells.long().clamp_(0, (1 << bits) - 1)


class Hilbert3D(ScanOrder):
    """Points sorted along a 3-D Hilbert curve through their bounding cube (2**bits cells a side)."""

    name, needs = "hilbert3d", "coords"

    def __init__(self, bits: int = 10):
        self.bits = bits

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        if coords is None:
            raise ValueError(f"scan order {self.name!r} needs coords (batch, L, 3)")
        return torch.argsort(hilbert_index_nd(_quantise(coords, self.bits), self.bits), dim=-1, stable=True)


class ZOrder3D(ScanOrder):
    """Points sorted along the 3-D Z-order curve through their bounding cube."""

    name, needs = "zorder3d", "coords"

    def __init__(self, bits: int = 10):
        self.bits = bits

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        if coords is None:
            raise ValueError(f"scan order {self.name!r} needs coords (batch, L, 3)")
        return torch.argsort(morton_index(_quantise(coords, self.bits), self.bits), dim=-1, stable=True)


class RandomPermutation(ScanOrder):
    """A fixed random permutation drawn from ``seed`` (e.g. permuted sequential MNIST)."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def permutation(self, *, length=None, grid=None, coords=None, device=None):
        gen = torch.Generator().manual_seed(self.seed)
        return torch.randperm(self._length(length, grid, coords), generator=gen).to(device)

    def __repr__(self) -> str:
        return f"RandomPermutation(seed={self.seed})"


# VMamba's cross-scan: rows and columns, each forwards and backwards
CROSS_SCAN = ("row", "column", "row_reverse", "column_reverse")

SCAN_ORDERS: dict[str, ScanOrder] = {}
SCAN_ORDERS["identity"] = Identity()
SCAN_ORDERS["reverse"] = Reverse()
SCAN_ORDERS["row"] = Row()
SCAN_ORDERS["column"] = Column()
SCAN_ORDERS["row_reverse"] = Reversed(Row())
SCAN_ORDERS["column_reverse"] = Reversed(Column())
SCAN_ORDERS["snake"] = Snake()
SCAN_ORDERS["hilbert"] = Hilbert2D()
SCAN_ORDERS["zorder"] = ZOrder2D()
SCAN_ORDERS["hilbert3d"] = Hilbert3D()
SCAN_ORDERS["zorder3d"] = ZOrder3D()
SCAN_ORDERS["random"] = RandomPermutation()

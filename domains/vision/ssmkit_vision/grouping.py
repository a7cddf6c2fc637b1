"""Point-cloud patches: normalisation, farthest-point sampling and k-nearest-neighbour groups.

The standard front end of PointNet++ / Point-MAE / PointMamba: pick M well-spread centres by FPS, group the
k nearest points around each, and express each group relative to its centre.
"""

from __future__ import annotations

import torch


def normalize(points: torch.Tensor) -> torch.Tensor:
    """(..., N, 3) -> centred on the centroid and scaled into the unit sphere (per cloud)."""
    centred = points - points.mean(-2, keepdim=True)
    radius = centred.norm(dim=-1).amax(-1, keepdim=True).clamp_min(1e-12)
    return centred / radius.unsqueeze(-1)


def farthest_point_sample(xyz: torch.Tensor, m: int, start: int | torch.Tensor = 0) -> torch.Tensor:
    """Indices (batch, m) of m points of xyz (batch, N, 3): ``start`` first, then each time the point
    farthest (Euclidean) from all those already picked (ties: the lowest index)."""
    b, n, _ = xyz.shape
    if not 0 < m <= n:
        raise ValueError(f"cannot pick {m} of {n} points")
    idx = torch.empty(b, m, dtype=torch.long, device=xyz.device)
    dist = torch.full((b, n), float("inf"), dtype=xyz.dtype, device=xyz.device)
    current = torch.as_tensor(start, device=xyz.device).long().expand(b).clone()
    rows = torch.arange(b, device=xyz.device)
    for i in range(m):
        idx[:, i] = current
        d = (xyz - xyz[rows, current].unsqueeze(1)).square().sum(-1)
        dist = torch.minimum(dist, d)
        current = dist.argmax(-1)
    return idx


def knn(query: torch.Tensor, ref: torch.Tensor, k: int) -> torch.Tensor:
    """Indices (batch, M, k) into ref (batch, N, 3) of the k nearest points to each query (batch, M, 3),
    nearest first."""
    if k > ref.shape[1]:
        raise ValueError(f"k={k} neighbours asked of {ref.shape[1]} points")
    d = torch.cdist(query, ref)
    return d.topk(k, dim=-1, largest=False).indices


def gather_points(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x (batch, N, c), idx (batch, ...) -> (batch, ..., c)."""
    flat = idx.reshape(idx.shape[0], -1)
    out = torch.gather(x, 1, flat.unsqueeze(-1).expand(-1, -1, x.shape[-1]))
    return out.reshape(*idx.shape, x.shape[-1])


def group(xyz: torch.Tensor, n_groups: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """xyz (batch, N, 3) -> (centres (batch, n_groups, 3), neighbourhoods (batch, n_groups, k, 3) relative
    to their centre)."""
    centres = gather_points(xyz, farthest_point_sample(xyz, n_groups))
    neighbours = gather_points(xyz, knn(centres, xyz, k))
    return centres, neighbours - centres.unsqueeze(2)


__all__ = ["farthest_point_sample", "gather_points", "group", "knn", "normalize"]

"""Packed variable-length batches: several sequences laid end to end in one row.

Every op takes ``seq_idx`` (batch, L) int32: positions with equal values in a row belong to
one sequence, and the state (scan or conv window) starts from zero wherever the value
changes from t-1 to t. ``cu_seqlens`` (the flash-attention convention: cumulative lengths
[0, l0, l0+l1, ...]) converts with ``seq_idx_from_cu_seqlens``. With ``seq_idx`` the
returned final state is that of each row's last sequence, and ``initial_state`` applies to
each row's first sequence.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["seq_idx_from_cu_seqlens", "cu_seqlens_from_lengths", "segments", "pack", "unpack",
           "reverse_within_segments"]


def cu_seqlens_from_lengths(lengths) -> torch.Tensor:
    """[l0, l1, ...] -> int32 [0, l0, l0+l1, ...]."""
    lengths = torch.as_tensor(lengths, dtype=torch.int64)
    return torch.cat([lengths.new_zeros(1), lengths.cumsum(0)]).to(torch.int32)


def seq_idx_from_cu_seqlens(cu_seqlens: torch.Tensor, L: int | None = None) -> torch.Tensor:
    """cu_seqlens (nseq + 1,) -> seq_idx (1, L) int32; L defaults to cu_seqlens[-1]."""
    cu = torch.as_tensor(cu_seqlens).to(torch.int64)
    if cu.dim() != 1 or cu.numel() < 2 or int(cu[0]) != 0 or bool((cu[1:] < cu[:-1]).any()):
        raise ValueError("cu_seqlens must be a non-decreasing 1-D tensor starting at 0, e.g. [0, 5, 12]")
    total = int(cu[-1])
    L = total if L is None else L
    if L < total:
        raise ValueError(f"cu_seqlens covers {total} positions but the batch has only L={L}")
    lengths = cu[1:] - cu[:-1]
    idx = torch.repeat_interleave(torch.arange(lengths.numel(), device=cu.device), lengths)
    if L > total:  # trailing padding forms one more sequence of its own
        idx = torch.cat([idx, idx.new_full((L - total,), lengths.numel())])
    return idx.to(torch.int32).unsqueeze(0)


def segments(seq_idx: torch.Tensor) -> Iterator[tuple[int, int, int]]:
    """(row, start, end) of every run of equal values in seq_idx (batch, L)."""
    s = seq_idx.detach().cpu()
    for row in range(s.shape[0]):
        change = (s[row, 1:] != s[row, :-1]).nonzero().flatten() + 1
        bounds = [0, *change.tolist(), s.shape[1]]
        for start, end in zip(bounds[:-1], bounds[1:]):
            yield row, start, end


def reverse_within_segments(seq_idx: torch.Tensor) -> torch.Tensor:
    """(batch, L) long index that reverses every run of equal seq_idx values in place: position t of
    the run [s, e) reads position s + e - 1 - t. An involution; the runs keep their positions."""
    b, L = seq_idx.shape
    pos = torch.arange(L, device=seq_idx.device).expand(b, L)
    change = seq_idx[:, 1:] != seq_idx[:, :-1]
    first = torch.cat([torch.ones_like(change[:, :1]), change], 1)
    last = torch.cat([change, torch.ones_like(change[:, :1])], 1)
    start = torch.where(first, pos, torch.zeros_like(pos)).cummax(1).values
    end = torch.where(last, pos, torch.full_like(pos, L - 1)).flip(1).cummin(1).values.flip(1)
    return start + end - pos


def pack(seqs: list[torch.Tensor], dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate sequences along ``dim`` into one row: (packed with a leading batch of 1, seq_idx)."""
    packed = torch.cat(seqs, dim=dim).unsqueeze(0)
    lengths = [t.shape[dim] for t in seqs]
    return packed, seq_idx_from_cu_seqlens(cu_seqlens_from_lengths(lengths)).to(packed.device)


def unpack(packed: torch.Tensor, seq_idx: torch.Tensor, dim: int = -1) -> list[torch.Tensor]:
    """Inverse of ``pack``: the per-sequence slices of row 0 of ``packed`` along ``dim``."""
    row = packed[0]  # dim counts the axes of one sequence, as in ``pack``
    return [row.narrow(dim, start, end - start) for r, start, end in segments(seq_idx[:1]) if r == 0]

"""Full-catalogue ranking: the rank of each target among ALL items (no sampled negatives), computed in item
chunks so no users x items matrix is ever held, and HR / NDCG / MRR at several cut-offs.

Ranks are 0-based and pessimistic about ties: rank = #{other items scored higher or equal}, so a model that
scores everything alike (a collapsed one) ranks every target last instead of being credited by the item order.
Padding (index 0) and, when
``seen`` is given, the user's earlier items are never ranked; the target itself is always ranked.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torchmetrics import Metric

__all__ = ["target_ranks", "RankingMetrics", "DEFAULT_KS"]

DEFAULT_KS = (5, 10, 20)


def target_ranks(score_fn: Callable[[int, int], torch.Tensor], n_items: int, target: torch.Tensor,
                 seen: torch.Tensor | None = None, chunk: int = 65_536) -> torch.Tensor:
    """0-based rank of ``target`` (b,) among items 1..n_items.

    ``score_fn(start, stop)`` returns the scores (b, stop - start) of items start..stop-1 (float32 or wider);
    ``seen`` (b, S) lists item indices to exclude (PAD entries ignored). Holds at most (b, chunk) scores at a time.
    """
    if n_items + 1 <= chunk:  # one pass: every score at once
        scores = score_fn(0, n_items + 1)
        return _ahead(scores[:, 1:], 1, scores.gather(1, target[:, None]), target, seen)
    t_score = _target_scores(score_fn, target, n_items, chunk)
    ranks = torch.zeros(target.shape[0], dtype=torch.long, device=target.device)
    for start in range(1, n_items + 1, chunk):
        stop = min(n_items + 1, start + chunk)
        ranks += _ahead(score_fn(start, stop), start, t_score, target, seen)
    return ranks


def _ahead(s: torch.Tensor, start: int, t_score: torch.Tensor, target: torch.Tensor,
           seen: torch.Tensor | None) -> torch.Tensor:
    """How many of items start..start+c-1 (scores s (b, c)) rank before the target (b,): (b,) long."""
    idx = torch.arange(start, start + s.shape[1], device=s.device)
    ahead = ~(s < t_score)  # ties (and NaN scores) count against the target (pessimistic)
    ahead &= idx[None, :] != target[:, None]
    if seen is not None:
        ahead &= ~_in_seen(idx, seen)
    return ahead.sum(1)


def _target_scores(score_fn, target: torch.Tensor, n_items: int, chunk: int) -> torch.Tensor:
    """(b, 1) scores of the targets, read chunk by chunk."""
    out = None
    for start in range(1, n_items + 1, chunk):  # the chunks of the ranking loop: the same scores bit for bit
        stop = min(n_items + 1, start + chunk)
        inside = (target >= start) & (target < stop)
        if inside.any():
            s = score_fn(start, stop)
            out = torch.zeros(target.shape[0], 1, device=target.device, dtype=s.dtype) if out is None else out
            rel = (target - start).clamp(0, stop - start - 1)
            out = torch.where(inside[:, None], s.gather(1, rel[:, None]), out)
    return out


def _in_seen(idx: torch.Tensor, seen: torch.Tensor) -> torch.Tensor:
    """(b, c) bool: is item idx[j] among seen[i, :]? (seen (b, S), PAD ignored since idx >= 1)."""
    start, c = int(idx[0]), idx.numel()
    mask = torch.zeros(seen.shape[0], c + 1, dtype=torch.bool, device=seen.device)
    rel = seen - start
    rel = torch.where((rel >= 0) & (rel < c) & (seen > 0), rel, torch.full_like(rel, c))
    mask.scatter_(1, rel, True)
    return mask[:, :c]


class RankingMetrics(Metric):
    """HR@k, NDCG@k and MRR@k averaged over users, fed with 0-based ranks (b,).

    HR@k = [rank < k]; NDCG@k = [rank < k] / log2(rank + 2) (one relevant item); MRR@k = [rank < k] / (rank + 1).
    ``compute`` returns {"hr@5": ..., "ndcg@5": ..., "mrr@5": ..., ...}.
    """

    full_state_update = False

    def __init__(self, ks: tuple[int, ...] = DEFAULT_KS):
        super().__init__()
        self.ks = tuple(int(k) for k in ks)
        for k in self.ks:
            for name in ("hr", "ndcg", "mrr"):
                self.add_state(f"{name}{k}", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, ranks: torch.Tensor) -> None:
        r = ranks.double()
        for k in self.ks:
            hit = r < k
            setattr(self, f"hr{k}", getattr(self, f"hr{k}") + hit.sum())
            setattr(self, f"ndcg{k}", getattr(self, f"ndcg{k}") + (hit / torch.log2(r + 2)).sum())
            setattr(self, f"mrr{k}", getattr(self, f"mrr{k}") + (hit / (r + 1)).sum())
        self.count += ranks.numel()

    def compute(self) -> dict[str, torch.Tensor]:
        n = self.count.clamp(min=1).double()
        return {f"{name}@{k}": (getattr(self, f"{name}{k}") / n).float()
                for k in self.ks for name in ("hr", "ndcg", "mrr")}

"""Full-ranking metrics against a brute-force numpy ranking and a hand-computed example."""

import numpy as np
import pytest
import torch
from ssmkit_recsys.metrics import RankingMetrics, target_ranks


def brute_force(scores: np.ndarray, target: np.ndarray, seen: list[set] | None, ks=(5, 10, 20)) -> dict:
    """Sort every user's items (1..n) by descending score, the target after every item tied with it; drop seen
    items (not the target)."""
    out = {f"{m}@{k}": [] for k in ks for m in ("hr", "ndcg", "mrr")}
    for u in range(len(scores)):
        items = [i for i in range(1, scores.shape[1]) if seen is None or i not in seen[u] or i == target[u]]
        order = sorted(items, key=lambda i: (-scores[u, i], i == target[u]))
        rank = order.index(target[u])
        for k in ks:
            hit = rank < k
            out[f"hr@{k}"].append(float(hit))
            out[f"ndcg@{k}"].append(hit / np.log2(rank + 2))
            out[f"mrr@{k}"].append(hit / (rank + 1))
    return {key: float(np.mean(v)) for key, v in out.items()}


@pytest.mark.parametrize("exclude", [False, True])
@pytest.mark.parametrize("chunk", [7, 65_536])
def test_full_ranking_equals_brute_force(exclude, chunk):
    rng = np.random.default_rng(1)
    n_users, n_items = 40, 50
    scores = rng.normal(size=(n_users, n_items + 1)).round(1)  # rounded: plenty of ties
    target = rng.integers(1, n_items + 1, n_users)
    seen = [set(rng.integers(1, n_items + 1, rng.integers(0, 12)).tolist()) | {int(target[u])}
            for u in range(n_users)]  # the target among the earlier items too: it stays ranked
    seen_t = torch.zeros(n_users, 13, dtype=torch.long)
    for u, s in enumerate(seen):
        s = sorted(s - {int(target[u])})
        seen_t[u, :len(s)] = torch.tensor(s, dtype=torch.long)
    s_t = torch.tensor(scores)
    ranks = target_ranks(lambda a, b: s_t[:, a:b], n_items, torch.tensor(target), seen_t if exclude else None,
                         chunk=chunk)
    metric = RankingMetrics()
    metric.update(ranks[:17])
    metric.update(ranks[17:])  # accumulated over batches
    got = {k: float(v) for k, v in metric.compute().items()}
    expected = brute_force(scores, target, seen if exclude else None)
    assert got == pytest.approx(expected, abs=1e-6)


def test_hand_computed_example():
    # items 1..6; user 0 scores the target (3) second best; user 1 has it 4th, but items 5 and 6 (ranked above it)
    # are in its history, so excluding them moves it to 2nd
    scores = torch.tensor([[0, 0.1, 0.9, 0.5, 0.3, 0.0, 0.2],
                           [0, 0.1, 0.2, 0.3, 0.9, 0.8, 0.85]])
    target = torch.tensor([3, 3])
    seen = torch.tensor([[0, 0], [5, 6]])
    assert target_ranks(lambda a, b: scores[:, a:b], 6, target).tolist() == [1, 3]
    ranks = target_ranks(lambda a, b: scores[:, a:b], 6, target, seen)
    assert ranks.tolist() == [1, 1]
    flat = torch.zeros(2, 7)  # a collapsed model: every item tied, so every target ranks behind all the others
    assert target_ranks(lambda a, b: flat[:, a:b], 6, target).tolist() == [5, 5]
    assert target_ranks(lambda a, b: flat[:, a:b], 6, target, seen).tolist() == [5, 3]
    broken = torch.full((2, 7), float("nan"))  # NaN scores rank the targets last too, never first
    assert target_ranks(lambda a, b: broken[:, a:b], 6, target).tolist() == [5, 5]
    metric = RankingMetrics(ks=(1, 2, 3))
    metric.update(torch.tensor([1, 3]))
    m = metric.compute()
    assert float(m["hr@1"]) == 0 and float(m["hr@2"]) == 0.5 and float(m["hr@3"]) == 0.5
    assert float(m["ndcg@2"]) == pytest.approx(0.5 / np.log2(3))
    assert float(m["mrr@3"]) == pytest.approx(0.25)


def test_large_catalogue_is_ranked_in_chunks():
    """1M items: scores are produced chunk by chunk, never a users x items matrix."""
    n_items, b = 1_000_000, 4
    g = torch.Generator().manual_seed(0)
    h = torch.randn(b, 8, generator=g, dtype=torch.float64)
    emb = torch.randn(n_items + 1, 8, generator=g, dtype=torch.float64)
    widest = []

    def score(a, z):
        widest.append(z - a)
        return h @ emb[a:z].T

    target = torch.tensor([5, 500_000, 999_999, 1_000_000])
    ranks = target_ranks(score, n_items, target, chunk=100_000)
    full = h @ emb[1:].T
    t = full.gather(1, target[:, None] - 1)
    expected = (full > t).sum(1)  # float64 scores: no ties
    assert ranks.tolist() == expected.tolist() and max(widest) <= 100_000

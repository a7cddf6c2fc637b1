"""Incremental serving: each user's history lives in a fixed-size recurrent state, updated in O(1) per new
interaction through the mixers' ``step`` (the kernels' single-step state updates), ranked against the
whole catalogue on demand."""

from __future__ import annotations

import time

import torch

from ssmkit.errors import ConfigError, DataError

from .models import NextItemModel
from .vocab import PAD, Vocabulary

__all__ = ["Recommender", "update_latency"]


class Recommender:
    """Serve a recurrent next-item model (mamba4rec, gru4rec) user by user.

    ``update(user, item)`` folds one interaction (original ids) into the user's state; ``recommend(user, k)``
    returns [(item, score)] * k, best first, the user's earlier items excluded unless ``exclude_seen=False``.
    State per user: for Mamba, (d_inner, d_conv) + (d_inner, d_state) per layer, whatever the history length.
    """

    def __init__(self, model: NextItemModel, vocab: Vocabulary, device: str | torch.device = "cpu"):
        if not getattr(model, "recurrent", False):
            raise ConfigError(f"{type(model).__name__} has no recurrent step; serve mamba4rec or gru4rec")
        self.model = model.to(device).eval()
        self.vocab, self.device = vocab, torch.device(device)
        self.states: dict[str, list] = {}
        self.hidden: dict[str, torch.Tensor] = {}
        self.seen: dict[str, set[int]] = {}

    @classmethod
    def from_task(cls, task, vocab: Vocabulary | None = None, device="cpu") -> Recommender:
        """From a trained NextItemRecommender (its checkpointed vocabulary unless ``vocab`` is given)."""
        items = vocab.items if vocab is not None else task.vocab_items
        if items is None:
            raise DataError("the task carries no vocabulary; pass vocab=Vocabulary.load('vocab.json')")
        return cls(task.net, Vocabulary(items), device)

    @torch.no_grad()
    def update(self, user: str, item: str) -> None:
        """Fold one interaction of ``user`` with ``item`` (original ids) into its state: O(1) in the history."""
        index = self.vocab.index.get(str(item))
        if index is None:
            raise DataError(f"user {user!r}: item {item!r} is not in the model's vocabulary of {len(self.vocab)} items")
        state = self.states.get(user)
        if state is None:
            state = self.states[user] = self.model.allocate_state(1, self.device)
            self.seen[user] = set()
        self.hidden[user] = self.model.step(torch.tensor([index], device=self.device), state)[0]
        self.seen[user].add(index)

    def fold(self, user: str, items: list[str]) -> None:
        """``update`` with each of ``items`` (oldest first); all or nothing: an unknown item stops it before any
        item is folded in."""
        unknown = [item for item in items if str(item) not in self.vocab.index]
        if unknown:
            raise DataError(f"user {user!r}: {len(unknown)} item(s) not in the model's vocabulary of "
                            f"{len(self.vocab)} items (first: {unknown[0]!r}); nothing was folded in")
        for item in items:
            self.update(user, item)

    @torch.no_grad()
    def scores(self, user: str) -> torch.Tensor:
        """Scores of every item for ``user``: (n_items + 1,), index 0 (padding) is -inf."""
        if user not in self.hidden:
            raise DataError(f"user {user!r} has no interactions yet: call update() first")
        s = self.model.scores(self.hidden[user][None].float())[0].float()
        s[PAD] = float("-inf")
        return s

    def recommend(self, user: str, k: int = 10, exclude_seen: bool = True) -> list[tuple[str, float]]:
        """The top ``k`` [(item, score)], best first; at most the number of items not excluded."""
        s = self.scores(user).clone()
        if exclude_seen and self.seen.get(user):
            s[torch.tensor(sorted(self.seen[user]), device=s.device)] = float("-inf")
        top = s.topk(min(k, len(self.vocab)))  # excluded items (-inf) are dropped: fewer than k when k is large
        return [(self.vocab.decode(int(i)), float(v)) for i, v in zip(top.indices, top.values) if v > float("-inf")]


@torch.no_grad()
def update_latency(model: NextItemModel, history: int, repeats: int = 20, k: int = 10) -> float:
    """Seconds for one step of a recurrent ``model`` (after ``history`` items) + top-k, or, for a
    non-recurrent one, for recomputing its forward over the whole history + top-k. Median of ``repeats``."""
    model.eval()
    items = torch.randint(1, model.n_items + 1, (1, history + repeats))
    times = []
    if getattr(model, "recurrent", False):
        state = model.allocate_state(1)
        for t in range(history):
            model.step(items[:, t], state)
        for r in range(repeats):
            start = time.perf_counter()
            h = model.step(items[:, history + r], state)
            model.scores(h).topk(k)
            times.append(time.perf_counter() - start)
    else:
        for r in range(repeats):
            x = items[:, r + 1:history + r + 1]
            start = time.perf_counter()
            model.scores(model(x)[:, -1]).topk(k)
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]

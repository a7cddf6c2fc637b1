"""Leave-one-out splits and the tensors the models see.

A user with history h (n items, integer indices, time order) gives, when n >= 3:
train: the sequence h[:-2] (every next item predicted from the items before it);
validation: input h[:-2], target h[-2]; test: input h[:-1], target h[-1] (the field's protocol).
Users with n < 3 only train (n = 2) or are dropped (n = 1: nothing to predict).
Sequences are cut to their last ``max_len`` items; right-padded with 0, so causal models never see padding
before a real item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from .vocab import PAD

__all__ = ["LeaveOneOut", "leave_one_out", "TrainWindows", "EvalSet", "pad_right"]


def pad_right(seq: np.ndarray, length: int) -> np.ndarray:
    """The last ``length`` items of ``seq``, right-padded with PAD to ``length``: (length,) int64."""
    seq = np.asarray(seq, dtype=np.int64)[-length:] if length else np.zeros(0, np.int64)
    out = np.full(length, PAD, dtype=np.int64)
    out[:len(seq)] = seq
    return out


@dataclass
class LeaveOneOut:
    """Index arrays into the user list and the per-user pieces of the split."""

    train: list[np.ndarray]          # per user (all users), the training sequence (may be empty)
    val_users: np.ndarray            # users with a validation item
    test_users: np.ndarray           # users with a test item
    histories: list[np.ndarray]      # the full encoded histories

    def val_input(self, u: int) -> np.ndarray:
        return self.histories[u][:-2]

    def val_target(self, u: int) -> int:
        return int(self.histories[u][-2])

    def test_input(self, u: int) -> np.ndarray:
        return self.histories[u][:-1]

    def test_target(self, u: int) -> int:
        return int(self.histories[u][-1])


def leave_one_out(histories: list[np.ndarray]) -> LeaveOneOut:
    """Split encoded histories (time order) as described in the module docstring."""
    train, val, test = [], [], []
    for u, h in enumerate(histories):
        if len(h) >= 3:
            train.append(h[:-2])
            val.append(u)
            test.append(u)
        else:
            train.append(h if len(h) == 2 else h[:0])
    return LeaveOneOut(train, np.asarray(val, dtype=np.int64), np.asarray(test, dtype=np.int64), histories)


class TrainWindows(Dataset):
    """Training windows: items {"x": (max_len,) inputs, "y": (max_len,) next items (PAD where none),
    "index": user}. A training sequence s gives inputs s[:-1] and targets s[1:], cut into windows of
    ``max_len`` from its end, so no target is lost when s is longer than the model's window."""

    def __init__(self, train: list[np.ndarray], max_len: int):
        self.max_len = max_len
        self.windows: list[tuple[int, int, int]] = []  # (user, start, end) over the inputs s[:-1]
        self.train = train
        for u, s in enumerate(train):
            end = len(s) - 1
            while end > 0:
                self.windows.append((u, max(0, end - max_len), end))
                end -= max_len

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        u, start, end = self.windows[i]
        s = self.train[u]
        return {"x": torch.from_numpy(pad_right(s[start:end], self.max_len)),
                "y": torch.from_numpy(pad_right(s[start + 1:end + 1], self.max_len)), "index": u}


class EvalSet(Dataset):
    """Ranking examples: {"x": (max_len,) the last inputs, "target": item or PAD (predict), "seen": (S,) the
    user's earlier items (all of them, padded; the target itself is never listed), "index": user}."""

    def __init__(self, users: np.ndarray, inputs: list[np.ndarray], targets: list[int] | None, max_len: int,
                 seen_len: int | None = None):
        self.users, self.inputs, self.targets, self.max_len = users, inputs, targets, max_len
        self.seen_len = max(1, seen_len or max((len(x) for x in inputs), default=1))

    def __len__(self) -> int:
        return len(self.users)

    def __getitem__(self, i: int) -> dict:
        x = self.inputs[i]
        target = PAD if self.targets is None else int(self.targets[i])
        seen = np.unique(x)
        seen = seen[seen != target][-self.seen_len:]
        out = np.full(self.seen_len, PAD, dtype=np.int64)
        out[:len(seen)] = seen
        return {"x": torch.from_numpy(pad_right(x, self.max_len)), "target": target,
                "seen": torch.from_numpy(out), "index": int(self.users[i])}

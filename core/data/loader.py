"""The training loader: a shuffle seeded per epoch, and its place in the epoch saved in checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler


class EpochSampler(Sampler[int]):
    """A random order of ``range(n)`` drawn from ``seed + epoch`` (Lightning calls ``set_epoch`` each epoch),
    so every run with the same seed, resumed or not, sees the same orders."""

    def __init__(self, n: int, seed: int = 0):
        self.n, self.seed, self.epoch = n, seed, 0
        self._resume: tuple[int, int] | None = None  # (epoch, indices of it already trained on)
        self.skipped = 0  # indices left out of the current pass

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, skip: int) -> None:
        """Leave out the first ``skip`` indices of ``epoch``, once (a run resumed mid-epoch)."""
        self.epoch, self._resume = epoch, (epoch, skip)

    def __len__(self) -> int:
        return self.n  # the whole epoch: Lightning counts the batches already done itself

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        resume, self._resume = self._resume, None
        self.skipped = resume[1] if resume is not None and resume[0] == self.epoch else 0
        # Python ints a block at a time: a list of every index would take ~36 bytes per sample (large data sets)
        return (i for block in order[self.skipped:].split(1 << 16) for i in block.tolist())


class ResumableLoader(DataLoader):
    """A DataLoader over an ``EpochSampler`` that counts the batches it served: its ``state_dict`` goes into
    checkpoints (Lightning's fit loop and ``DataModule.state_dict``) and ``load_state_dict`` on resume makes a
    run resumed mid-epoch train on the batches it had not seen. With another sampler (e.g. Lightning's
    distributed one) the state is empty: exact mid-epoch resume is for one process."""

    _served = 0

    def __iter__(self) -> Iterator[Any]:
        self._served = 0
        return self._batches()

    def _batches(self) -> Iterator[Any]:
        # DataLoader's own iterator (and its workers) starts at the first batch asked for: Lightning may create
        # the iterator before it resumes a run and before it calls set_epoch
        for i, batch in enumerate(super().__iter__()):
            if i == 0:  # the sampler has started: count the batches it left out (a resumed epoch) as served
                self._served = getattr(self.sampler, "skipped", 0) // self.batch_size
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        if not isinstance(self.sampler, EpochSampler):
            return {}
        return {"epoch": self.sampler.epoch, "batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if state and isinstance(self.sampler, EpochSampler):
            self.sampler.resume(state["epoch"], state["batches"] * self.batch_size)

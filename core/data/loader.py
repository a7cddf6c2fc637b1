"""The training loader: a shuffle seeded per epoch, and its place in the epoch saved in checkpoints."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, DistributedSampler


class EpochSampler(DistributedSampler):
    """A random order of ``range(n)`` drawn from ``seed + epoch`` (Lightning calls ``set_epoch`` each epoch),
    so every run with the same seed, resumed or not, sees the same orders. With ``num_replicas`` > 1 (DDP) the
    order is padded to a multiple of the processes by repeating its head, as torch's ``DistributedSampler``
    does, and process ``rank`` takes every ``num_replicas``-th index from position ``rank``: the shards are
    disjoint except for that padding. It is a ``DistributedSampler`` so that Lightning keeps it instead of
    putting its own in its place; its place in the epoch is checkpointed (``ResumableLoader``) in both cases."""

    def __init__(self, n: int, seed: int = 0, num_replicas: int = 1, rank: int = 0):
        # DistributedSampler.__init__ is not called: it wants a data set and, without num_replicas, a process group
        if not 0 <= rank < num_replicas:
            raise ValueError(f"EpochSampler: rank {rank} is not in [0, {num_replicas})")
        self.n, self.seed, self.epoch = n, seed, 0
        self.num_replicas, self.rank, self.shuffle, self.drop_last = num_replicas, rank, True, False
        self.num_samples = -(-n // num_replicas)  # per process
        self.total_size = self.num_samples * num_replicas
        self._resume: tuple[int, int] | None = None  # (epoch, indices of this process's shard already trained on)
        self.skipped = 0  # indices left out of the current pass

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def resume(self, epoch: int, skip: int) -> None:
        """Leave out the first ``skip`` indices of this process's share of ``epoch``, once (a run resumed
        mid-epoch)."""
        self.epoch, self._resume = epoch, (epoch, skip)

    def __len__(self) -> int:
        return self.num_samples  # the whole epoch: Lightning counts the batches already done itself

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        if self.num_replicas > 1:
            if self.total_size > self.n:
                order = order.repeat(-(-self.total_size // max(self.n, 1)))[:self.total_size]
            order = order[self.rank::self.num_replicas]
        resume, self._resume = self._resume, None
        self.skipped = resume[1] if resume is not None and resume[0] == self.epoch else 0
        # Python ints a block at a time: a list of every index would take ~36 bytes per sample (large data sets)
        return (i for block in order[self.skipped:].split(1 << 16) for i in block.tolist())


class ResumableLoader(DataLoader):
    """A DataLoader over an ``EpochSampler`` that counts the batches it served: its ``state_dict`` goes into
    checkpoints (Lightning's fit loop and ``DataModule.state_dict``) and ``load_state_dict`` on resume makes a
    run resumed mid-epoch train on the batches it had not seen, in one process or several (each process skips
    the same number of batches of its own shard). With another sampler the state is empty (the epoch restarts)."""

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
        return {"epoch": self.sampler.epoch, "batches": self._served, "processes": self.sampler.num_replicas}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if not state or not isinstance(self.sampler, EpochSampler):
            return
        if state.get("processes", 1) != self.sampler.num_replicas:  # other shards: the place does not carry over
            warnings.warn(f"resuming with {self.sampler.num_replicas} training processes where the checkpoint was "
                          f"saved with {state.get('processes', 1)}: epoch {state['epoch']} starts again from its "
                          "first batch", stacklevel=2)
            self.sampler.set_epoch(state["epoch"])
            return
        self.sampler.resume(state["epoch"], state["batches"] * self.batch_size)

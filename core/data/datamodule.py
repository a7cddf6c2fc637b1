"""Base LightningDataModule for pipelines: loaders, seeded splits, prediction output."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from ..atomic import atomic_write


def split_indices(n: int, val: float, test: float, seed: int = 0,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled train/val/test index arrays; stratified by ``labels`` when given."""
    if not 0 <= val < 1 or not 0 <= test < 1 or val + test >= 1:
        raise ValueError(f"split fractions val={val}, test={test} must be in [0, 1) and sum below 1")
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    parts: list[list[np.ndarray]] = [[], [], []]
    for idx in groups:
        idx = rng.permutation(idx)
        n_test, n_val = int(round(test * len(idx))), int(round(val * len(idx)))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test:n_test + n_val])
        parts[0].append(idx[n_test + n_val:])
    return tuple(np.sort(np.concatenate(p)) for p in parts)  # type: ignore[return-value]


class DataModule(pl.LightningDataModule):
    """Holds ``train_set``/``val_set``/``test_set``/``predict_set`` filled by ``setup``.

    ``source`` says where the data came from ("real: <what>" or "generated: <why>"), so
    reports never pass generated data off as real. ``prediction_file``: the file ``predict`` writes
    in the run folder when no ``--output`` is given.
    """

    prediction_file = "predictions.csv"

    def __init__(self, batch_size: int = 32, num_workers: int = 0, seed: int = 0):
        super().__init__()
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.predict_set: Dataset | None = None
        self.source = ""

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: this split is empty or setup() was not run")
        gen = torch.Generator().manual_seed(self.seed)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0, generator=gen if shuffle else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_set, shuffle=False)

    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Turn the model's per-sample rows into output rows (override to add file names...)."""
        return rows

    def write_predictions(self, rows: list[dict[str, Any]], path: str | Path) -> Path:
        """Write rows as CSV atomically (temporary name, then rename)."""
        rows = self.prediction_rows(rows)
        path = Path(path)
        fields = list(rows[0]) if rows else ["index"]
        with atomic_write(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        return path

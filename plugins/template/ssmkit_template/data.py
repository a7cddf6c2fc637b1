"""Data module of the template pipeline: one sequence per CSV row."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ssmkit.data import DataModule, dataset_root, split_indices
from ssmkit.errors import DataError

from .waves import KINDS, make_waves


def read_sequences(path: str | Path, need_label: bool = True) -> tuple[np.ndarray, list[str] | None]:
    """CSV with a header: an optional 'label' column, every other column one time step.

    Returns values (rows, steps) float32 and the labels (or None without a label column).
    """
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if not header:
            raise DataError("empty file (expected a header row)", path=path)
        has_label = "label" in header
        if need_label and not has_label:
            raise DataError("no 'label' column in the header", path=path, line=1)
        li = header.index("label") if has_label else -1
        values, labels = [], []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(f"{len(row)} fields, the header has {len(header)}", path=path, line=line)
            nums = []
            for col, cell in enumerate(row):
                if col == li:
                    continue
                try:
                    v = float(cell)
                except ValueError:
                    raise DataError(f"not a number: {cell!r}", path=path, line=line, column=header[col]) from None
                if not math.isfinite(v):
                    raise DataError(f"not a finite number: {cell!r}", path=path, line=line, column=header[col])
                nums.append(v)
            values.append(nums)
            if has_label:
                labels.append(row[li])
    if not values:
        raise DataError("no data rows", path=path)
    return np.asarray(values, dtype=np.float32), (labels if has_label else None)


class SequenceSet(Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray | None, index: np.ndarray):
        self.x, self.y, self.index = torch.from_numpy(x), None if y is None else torch.from_numpy(y), index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        j = int(self.index[i])
        item = {"x": self.x[j], "index": j}
        if self.y is not None:
            item["y"] = self.y[j]
        return item


class CsvSequenceDataModule(DataModule):
    """Sequences from ``path`` (or the registered dataset ``dataset``), split train/val/test.

    Args:
        path: CSV file; default: the dataset entry ``dataset`` in ``data_dir``.
        predict_path: CSV to predict (label column optional); default: the test split.
        normalize: standardise with the training split's mean and std.
    """

    def __init__(self, path: str | None = None, dataset: str = "template/waves", data_dir: str | None = None,
                 predict_path: str | None = None, val_fraction: float = 0.2, test_fraction: float = 0.2,
                 normalize: bool = True, batch_size: int = 32, num_workers: int = 0, seed: int = 0):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.path, self.dataset, self.data_dir, self.predict_path = path, dataset, data_dir, predict_path
        self.val_fraction, self.test_fraction, self.normalize = val_fraction, test_fraction, normalize
        self._data: tuple[np.ndarray, list[str]] | None = None

    @property
    def classes(self) -> list[str]:
        """Distinct labels of the training data, sorted; class i is classes[i] (predict: the checkpoint's)."""
        if self.fitted is not None:
            return list(self.fitted["classes"])
        return sorted(set(self._load()[1]))

    @property
    def num_classes(self) -> int:
        """Sets the model's output size (see the pipeline's ``links``)."""
        return len(self.classes)

    def _load(self) -> tuple[np.ndarray, list[str]]:
        if self._data is None:
            self._data = self._read()
        return self._data

    def _read(self) -> tuple[np.ndarray, list[str]]:
        if self.path:
            self.source = f"real: {self.path}"
            return read_sequences(self.path)
        self.source = f"generated: {self.dataset}"
        try:  # present after `ssmkit data fetch template/waves`
            folder = dataset_root(self.dataset, self.data_dir)
        except DataError:  # absent: generate in memory, never write into a data directory unasked
            x, y = make_waves()
            return x, [KINDS[i] for i in y]
        return read_sequences(folder / "waves.csv")  # present but bad: that is an error, not a fallback

    def fitted_state(self) -> dict | None:
        """What predicting a new CSV needs: class names, row length and the training split's scaling."""
        if self._data is None:
            return None
        scale = getattr(self, "_scale", None)
        return {"classes": self.classes, "length": int(self._data[0].shape[1]),
                "scale": None if scale is None else [float(scale[0]), float(scale[1])]}

    def _predict_rows(self, length: int, scale) -> SequenceSet:
        px, _ = read_sequences(self.predict_path, need_label=False)
        if px.shape[1] != length:
            raise DataError(f"{px.shape[1]} time steps per row, the model was trained on {length}",
                            path=self.predict_path)
        if scale is not None:
            px = (px - scale[0]) / scale[1]
        return SequenceSet(px, None, np.arange(len(px)))

    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_path and self.fitted is not None:  # no training data needed
            self.predict_set = self._predict_rows(self.fitted["length"], self.fitted["scale"])
            self.source = f"real: {self.predict_path} (classes and scaling from the checkpoint)"
            return
        x, labels = self._load()
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.asarray([index[lab] for lab in labels], dtype=np.int64)
        train, val, test = split_indices(len(x), self.val_fraction, self.test_fraction, self.seed, labels=y)
        if self.normalize:
            mean, std = x[train].mean(), x[train].std() + 1e-6
            x = (x - mean) / std
            self._scale = (mean, std)
        self.train_set, self.val_set, self.test_set = (SequenceSet(x, y, i) for i in (train, val, test))
        self.predict_set = self.test_set
        if self.predict_path:
            self.predict_set = self._predict_rows(x.shape[1], self._scale if self.normalize else None)

    def prediction_rows(self, rows: list[dict]) -> list[dict]:
        return [{**r, "label": self.classes[r["label"]]} for r in rows]


__all__ = ["CsvSequenceDataModule", "read_sequences"]

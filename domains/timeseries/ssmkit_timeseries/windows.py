"""Splits, scaling and sliding windows over one multivariate series."""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from ssmkit.errors import DataError

SPLITS = ("auto", "ett", "ratio")
HOURS_PER_MONTH = 30 * 24  # the ETT convention: a "month" is 30 days


@dataclass(frozen=True)
class Borders:
    """Row ranges [start, end) of each split, look-back rows included (val/test start seq_len early)."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]
    fit_rows: int  # rows [0, fit_rows) fit the scaler: the training part alone


def steps_per_hour(freq: str | None) -> float:
    """Rows per hour for a pandas frequency alias ("h" -> 1, "15min" -> 4); ValueError if unknown."""
    import pandas as pd

    if not freq:
        raise ValueError("the series has no frequency (no timestamp column)")
    step = pd.tseries.frequencies.to_offset(freq)
    try:
        seconds = pd.Timedelta(step).total_seconds()
    except ValueError:  # calendar frequencies (months, years) have no fixed length
        raise ValueError(f"frequency {freq!r} has no fixed step") from None
    return 3600.0 / seconds


def split_borders(n_rows: int, seq_len: int, pred_len: int, split: str = "ratio", freq: str | None = None,
                  ratios: tuple[float, float, float] = (0.7, 0.1, 0.2), path=None) -> Borders:
    """Borders of the standard splits.

    "ett": 12/4/4 months of 30 days (8,640/2,880/2,880 rows of hourly data), rows after that unused;
    "ratio": the first ``ratios[0]`` of the rows train, the last ``ratios[2]`` test, the rest validation.
    """
    if split == "ett":
        try:
            per_month = int(round(HOURS_PER_MONTH * steps_per_hour(freq)))
        except ValueError as exc:
            raise DataError(f"the 'ett' split needs a fixed-step timestamp column ({exc}); use split='ratio'",
                            path=path) from None
        train_end, val_end, test_end = 12 * per_month, 16 * per_month, 20 * per_month
        if test_end > n_rows:
            raise DataError(f"the 'ett' split needs 20 months of data ({test_end} rows at {freq}), "
                            f"the file has {n_rows}; use split='ratio'", path=path)
    elif split == "ratio":
        if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1) > 1e-6:
            raise ValueError(f"ratios {ratios} must be three non-negative fractions summing to 1")
        train_end = int(n_rows * ratios[0])
        n_test = int(n_rows * ratios[2])
        val_end, test_end = n_rows - n_test, n_rows
    else:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    borders = Borders((0, train_end), (train_end - seq_len, val_end), (val_end - seq_len, test_end), train_end)
    for name in ("train", "val", "test"):
        start, end = getattr(borders, name)
        if end - max(start, 0) < seq_len + pred_len:
            raise DataError(f"the {name} split has {end - max(start, 0)} rows, fewer than look-back {seq_len} + "
                            f"horizon {pred_len}; use a longer file or a shorter look-back/horizon", path=path)
    return borders


def _drop_pages(values: np.ndarray) -> None:
    """Unmap the pages a pass over a memory map has read (they stay in the page cache): a pass over the
    training rows would otherwise leave them all counted in the process's resident memory."""
    mapped = getattr(values, "_mmap", None)  # numpy keeps the mmap object of a memmap (and of its views) here
    if mapped is not None and getattr(values, "mode", None) == "r" and hasattr(mmap, "MADV_DONTNEED"):
        mapped.madvise(mmap.MADV_DONTNEED)


class Scaler:
    """Per-column standardisation fitted on the training rows only."""

    def __init__(self, mean: np.ndarray, std: np.ndarray):
        self.mean, self.std = mean.astype(np.float64), std.astype(np.float64)

    @classmethod
    def fit(cls, values: np.ndarray) -> Scaler:
        """values (T, C) -> a scaler; constant columns get std 1 (no division by zero)."""
        std = values.std(0, dtype=np.float64)
        return cls(values.mean(0, dtype=np.float64), np.where(std > 0, std, 1.0))

    @classmethod
    def fit_chunked(cls, values: np.ndarray, chunk_rows: int = 1 << 16) -> Scaler:
        """As ``fit``, reading ``chunk_rows`` rows at a time (a memory-mapped series is never loaded whole):
        per-chunk means and sums of squared deviations merged in float64 (Chan et al.)."""
        n, mean, m2 = 0, np.zeros(values.shape[1]), np.zeros(values.shape[1])
        for start in range(0, len(values), chunk_rows):
            block = np.asarray(values[start:start + chunk_rows], dtype=np.float64)
            k, block_mean = len(block), block.mean(0)
            block_m2 = ((block - block_mean) ** 2).sum(0)
            delta = block_mean - mean
            mean = mean + delta * (k / (n + k))
            m2 = m2 + block_m2 + delta ** 2 * (n * k / (n + k))
            n += k
            _drop_pages(values)
        std = np.sqrt(m2 / max(n, 1))
        return cls(mean, np.where(std > 0, std, 1.0))

    @classmethod
    def identity(cls, n: int) -> Scaler:
        return cls(np.zeros(n), np.ones(n))

    def transform(self, values: np.ndarray) -> np.ndarray:
        return ((values - self.mean) / self.std).astype(np.float32)

    def inverse(self, values, columns=None):
        """Undo the scaling of values (..., C') whose last axis holds ``columns`` (default all)."""
        idx = slice(None) if columns is None else list(columns)
        if isinstance(values, torch.Tensor):
            mean = torch.as_tensor(self.mean[idx], dtype=values.dtype, device=values.device)
            std = torch.as_tensor(self.std[idx], dtype=values.dtype, device=values.device)
            return values * std + mean
        return values * self.std[idx] + self.mean[idx]


class WindowSet(Dataset):
    """Windows of a scaled series: x = rows [s, s+L), y = rows [s+L, s+L+H) for s in [start, end-L-H].

    Items: {"x": (L, C), "y": (H, C), "marks": (L, k) if calendar features, "index": s, "step": the
    absolute step number of row s (``steps[s]``, for seasonal phases; s when ``steps`` is None)}.
    """

    def __init__(self, values: np.ndarray, marks: np.ndarray | None, start: int, end: int, seq_len: int,
                 pred_len: int, stride: int = 1, steps: np.ndarray | None = None):
        self.values = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        self.marks = None if marks is None else torch.from_numpy(np.ascontiguousarray(marks, dtype=np.float32))
        self.seq_len, self.pred_len = seq_len, pred_len
        self.steps = steps
        last = end - seq_len - pred_len
        self.starts = np.arange(max(start, 0), last + 1, max(1, stride))

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> dict:
        s = int(self.starts[i])
        mid, stop = s + self.seq_len, s + self.seq_len + self.pred_len
        step = s if self.steps is None else int(self.steps[s])
        item = {"x": self.values[s:mid], "y": self.values[mid:stop], "index": s, "step": step}
        if self.marks is not None:
            item["marks"] = self.marks[s:mid]
        return item

    def arrays(self, limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The windows as x (N, L, C), y (N, H, C) (copies); ``limit``: a seeded random subset of at most
        that many windows, chosen before anything is copied."""
        idx = torch.as_tensor(self.starts)
        if limit is not None and len(idx) > limit:
            keep = torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))[:limit]
            idx = idx[keep.sort().values]
        x = self.values.unfold(0, self.seq_len, 1)[idx].transpose(1, 2)
        y = self.values[self.seq_len:].unfold(0, self.pred_len, 1)[idx].transpose(1, 2)
        return x, y


class MappedWindowSet(WindowSet):
    """The windows of ``WindowSet`` over a memory-mapped series (``memmap.mapped_table``): each item's rows are
    read, scaled and given calendar features when it is asked for, so memory follows the batch, not the file.
    Items equal those of ``WindowSet(scaler.transform(values), calendar_features(timestamps), ...)``."""

    def __init__(self, values: np.ndarray, scaler: Scaler, timestamps: np.ndarray | None, freq: str | None,
                 marks: bool, start: int, end: int, seq_len: int, pred_len: int, stride: int = 1):
        self.source, self.scaler, self.timestamps, self.freq = values, scaler, timestamps, freq
        self.with_marks = marks and timestamps is not None
        self.seq_len, self.pred_len, self.n = seq_len, pred_len, len(values)
        self.first, self.stride = max(start, 0), max(1, stride)
        self.count = max(0, (end - seq_len - pred_len - self.first) // self.stride + 1)

    def __len__(self) -> int:
        return self.count

    @property
    def starts(self) -> np.ndarray:
        return self.first + self.stride * np.arange(self.count)

    def __getitem__(self, i: int) -> dict:
        if not 0 <= i < self.count:
            raise IndexError(f"window {i} of {self.count}")
        from .calendar import calendar_features

        s = self.first + self.stride * int(i)
        mid, stop = s + self.seq_len, s + self.seq_len + self.pred_len
        rows = torch.from_numpy(self.scaler.transform(np.asarray(self.source[s:stop])))
        step = int(absolute_steps(self.timestamps, self.freq, self.n, slice(s, s + 1))[0])
        item = {"x": rows[:self.seq_len], "y": rows[self.seq_len:], "index": s, "step": step}
        if self.with_marks:
            item["marks"] = torch.from_numpy(calendar_features(np.asarray(self.timestamps[s:mid]), self.freq)[0])
        return item

    def arrays(self, limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.arange(self.count)
        if limit is not None and len(idx) > limit:
            keep = torch.randperm(len(idx), generator=torch.Generator().manual_seed(seed))[:limit]
            idx = idx[keep.sort().values]
        span = self.seq_len + self.pred_len
        rows = np.stack([self.scaler.transform(np.asarray(self.source[s:s + span]))
                         for s in (self.first + self.stride * idx).tolist()]) if len(idx) else \
            np.zeros((0, span, self.source.shape[1]), np.float32)
        _drop_pages(self.source)
        block = torch.from_numpy(rows)
        return block[:, :self.seq_len], block[:, self.seq_len:]


def absolute_steps(timestamps: np.ndarray | None, freq: str | None, n: int, rows: slice | None = None) -> np.ndarray:
    """(n,) int64 step numbers counted from 1970-01-01 at the series' fixed step, so that a seasonal
    phase (step mod period) is the same for the same time of day in any file; row numbers otherwise.
    ``rows``: only those rows' numbers (a memory-mapped series is not read whole)."""
    rows = slice(None) if rows is None else rows
    try:
        seconds = 3600.0 / steps_per_hour(freq)
    except ValueError:
        return np.arange(*rows.indices(n), dtype=np.int64)
    if timestamps is None:
        return np.arange(*rows.indices(n), dtype=np.int64)
    ns = np.asarray(timestamps[rows]).astype("datetime64[ns]").astype(np.int64)
    return np.floor_divide(ns, int(round(seconds * 1e9))).astype(np.int64)


def season_length(freq: str | None) -> int:
    """The seasonal-naive period for a frequency: one day of sub-daily data, a week of daily data..."""
    if not freq:
        return 1
    try:
        per_hour = steps_per_hour(freq)
    except ValueError:
        head = freq.lstrip("0123456789").upper()
        return 12 if head.startswith("M") else 4 if head.startswith("Q") else 1
    per_day = per_hour * 24
    if per_day >= 1.5:
        return int(round(per_day))
    if per_day >= 0.9:
        return 7
    return 52 if per_day >= 1 / 7.5 else 1

"""Base LightningDataModule for pipelines: loaders, seeded splits, prediction output."""

from __future__ import annotations

import csv
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from ..atomic import atomic_write
from ..errors import ConfigError
from .loader import EpochSampler, ResumableLoader

# What a checkpoint's data module learned from its training data (``DataModule.fitted_state``), set by the CLI
# while it builds the data module for ``predict --ckpt_path``: read in ``DataModule.__init__`` as ``self.fitted``.
FITTED_STATE: ContextVar[dict | None] = ContextVar("ssmkit_fitted_state", default=None)


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


def plain(value: Any, where: str) -> Any:
    """``value`` with numpy scalars, tuples and paths made plain Python (what ``weights_only`` loading
    accepts); anything else that is not a str, int, float, bool, None, list or str-keyed dict is refused."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise ConfigError(f"{where} holds a {type(value).__name__}: a checkpoint keeps only plain lists, numbers and "
                      "strings there")


def delimiter_for(path: str | Path) -> str:
    """The column separator a table at ``path`` should use: a tab for .tsv/.tab, else a comma."""
    return "\t" if Path(path).suffix.lower() in (".tsv", ".tab") else ","


class DataModule(pl.LightningDataModule):
    """Holds ``train_set``/``val_set``/``test_set``/``predict_set`` filled by ``setup``.

    ``source`` says where the data came from ("real: <what>" or "generated: <why>"), so
    reports never pass generated data off as real. ``prediction_file``: the file ``predict`` writes
    in the run folder when no ``--output`` is given.

    ``fitted_state()``: what ``setup`` learned from the training data that predicting new files needs
    (class names, normalisation...), as plain lists, numbers and strings; it is saved in every checkpoint,
    and ``predict --ckpt_path`` hands it back as ``self.fitted`` before ``setup``, so a subclass can predict
    without the training data (and with the model's own classes even when the data has changed).
    """

    prediction_file = "predictions.csv"
    prediction_fields: tuple[str, ...] = ()  # the CSV header when there are no rows (else the rows' keys)

    def __init__(self, batch_size: int = 32, num_workers: int = 0, seed: int = 0):
        super().__init__()
        if batch_size < 1 or num_workers < 0:
            raise ConfigError(f"--data.batch_size {batch_size} must be at least 1 and --data.num_workers "
                              f"{num_workers} at least 0")
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.train_set: Dataset | None = None
        self.val_set: Dataset | None = None
        self.test_set: Dataset | None = None
        self.predict_set: Dataset | None = None
        self.source = ""
        self._resume_train: dict | None = None
        self.fitted: dict | None = FITTED_STATE.get()

    def _loader(self, dataset: Dataset | None, shuffle: bool, **kwargs: Any) -> DataLoader:
        """Shuffled: a ``ResumableLoader`` (order drawn from seed + epoch, place in the epoch checkpointed),
        so a run resumed from any checkpoint trains as the uninterrupted one. kwargs: e.g. ``collate_fn``."""
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: this split is empty or setup() was not run")
        # a generator of its own for every loader: worker seeds are never drawn from the global RNG (with
        # persistent workers a resumed run would draw them at other times than an uninterrupted one)
        common = dict(batch_size=self.batch_size, num_workers=self.num_workers, persistent_workers=self.num_workers > 0,
                      generator=torch.Generator().manual_seed(self.seed), **kwargs)
        if not shuffle:
            return DataLoader(dataset, shuffle=False, **common)
        # several processes (DDP): this one's shard of the seeded order; Lightning keeps the sampler (it is a
        # DistributedSampler), so the shard's place in the epoch is checkpointed as in one process
        shards = getattr(getattr(self.trainer, "strategy", None), "distributed_sampler_kwargs", None) or {}
        sampler = EpochSampler(len(dataset), self.seed, num_replicas=shards.get("num_replicas", 1),
                               rank=shards.get("rank", 0))
        loader = ResumableLoader(dataset, sampler=sampler, **common)
        if self._resume_train:
            loader.load_state_dict(self._resume_train)
            self._resume_train = None
        return loader

    def fitted_state(self) -> dict[str, Any] | None:
        """What predicting new files needs from the training data (override; None: nothing)."""
        return None

    def state_dict(self) -> dict[str, Any]:
        """The training loader's place (saved in checkpoints; Lightning's own copy is not restored when the
        loader was built before the resume, e.g. by ``trainer.estimated_stepping_batches``) and the
        ``fitted_state()``."""
        loader = self.trainer.train_dataloader if self.trainer is not None else None
        state = {"train_loader": loader.state_dict()} if isinstance(loader, ResumableLoader) else {}
        fitted = self.fitted_state()
        if fitted is not None:
            state["fitted"] = plain(fitted, "fitted_state()")
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resume_train = state_dict.get("train_loader")

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

    def input_files(self) -> list[Path]:
        """The existing files and folders named by this data module's attributes (str or Path, or lists)."""
        found = []
        for value in vars(self).values():
            for v in value if isinstance(value, (list, tuple)) else [value]:
                try:
                    if isinstance(v, (str, Path)) and str(v) and Path(v).exists():
                        found.append(Path(v))
                except OSError:  # a string that is no file name (too long...)
                    pass
        return found

    def check_output(self, path: str | Path) -> None:
        """Refuse to write predictions over one of ``input_files()`` or over an existing file inside an input
        folder (outside any ``runs/`` folder there), and an output that is a folder or lies under a file."""
        target = Path(path).resolve()
        if target.suffix.lower() in (".gz", ".bz2", ".xz", ".zip"):
            raise ConfigError(f"{path}: outputs are written uncompressed; give a name without {target.suffix}")
        if target.is_dir():
            raise ConfigError(f"{path}: is a folder; give --output a file name (e.g. {Path(path) / 'predictions.csv'})")
        for parent in target.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise ConfigError(f"{path}: {parent} is a file, so no output can be written under it")
                break
        for f in self.input_files():
            source = f.resolve()
            inside = source.is_dir() and target.is_file() and target.is_relative_to(source) \
                and "runs" not in target.relative_to(source).parts  # ssmkit's own run folders are outputs
            if source == target or inside:
                raise ConfigError(f"{path}: this is an input of the run (or a file in an input folder); predict "
                                  f"will not write over it (give another --output)")

    def write_predictions(self, rows: list[dict[str, Any]], path: str | Path) -> Path:
        """Write rows atomically (temporary name, then rename): tab-separated to a .tsv/.tab name, else CSV."""
        self.check_output(path)
        rows = self.prediction_rows(rows)
        path = Path(path)
        fields = list(rows[0]) if rows else list(self.prediction_fields or ["index"])
        with atomic_write(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, delimiter=delimiter_for(path))
            writer.writeheader()
            writer.writerows(rows)
        return path

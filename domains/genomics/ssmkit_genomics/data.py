"""The classification data module: labelled DNA records -> token ids, stratified splits, TSV predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ssmkit.data import DataModule, data_dir, dataset_root, split_indices
from ssmkit.errors import ConfigError, DataError

from .alphabet import PAD, crop_or_pad, reverse_complement
from .readers import (
    Record,
    encode_records,
    label_ids,
    labels_from_csv,
    labels_from_files,
    labels_from_header,
    read_genomic_benchmarks,
    read_records,
    softmasks,
)

LOWERCASE = ("upper", "n", "error", "mask")


class TokenSet(Dataset):
    """Items {"x": (length,) int64 ids, "mask": (length,) bool, "y", "index"} and, with ``softmasks``
    (one (L,) bool per sequence), "softmask": (length,) bool, cropped, padded (False) and reversed with the
    ids. Training sets crop at random positions and, with ``rc_augment``, read the reverse strand half of
    the time."""

    def __init__(self, seqs: list[np.ndarray], y: np.ndarray | None, index: np.ndarray, length: int,
                 train: bool = False, rc_augment: bool = False, seed: int = 0,
                 softmasks: list[np.ndarray] | None = None):
        self.seqs, self.y, self.index, self.length = seqs, y, index, length
        self.train, self.rc_augment, self.softmasks = train, rc_augment, softmasks
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        j = int(self.index[i])
        ids = self.seqs[j]
        soft = None if self.softmasks is None else self.softmasks[j]
        if self.train and self.rc_augment and self.rng.random() < 0.5:
            ids = reverse_complement(ids)
            soft = None if soft is None else soft[::-1]
        rows = ids if soft is None else np.stack([ids, soft.astype(ids.dtype)])  # one crop for both
        rows = crop_or_pad(rows, self.length, self.rng if self.train else None,
                           mode="random" if self.train else "center")
        rows = torch.from_numpy(np.ascontiguousarray(rows, dtype=np.int64))
        x = rows if soft is None else rows[0]
        item = {"x": x, "mask": x != PAD, "index": j}
        if soft is not None:
            item["softmask"] = rows[1].bool()
        if self.y is not None:
            item["y"] = int(self.y[j])
        return item


class DNAClassDataModule(DataModule):
    """Labelled sequences for classification.

    The labels come from (first that is given): ``files`` ({class: FASTA/FASTQ/GenBank file or files});
    ``path`` with ``label_csv`` (id,label) or ``label_field`` (a header field: an index, or a key of
    "key=value"); ``benchmarks_root`` (a Genomic Benchmarks folder: train/ + test/, class folders);
    else the registered ``dataset`` (one file per class) in ``data_dir``. Any of these files (and
    ``predict_path``) may be a BED file (``.bed``, ``.bed.gz``) of intervals cut from ``reference``.

    Args:
        reference: the FASTA (plain or bgzip) that BED inputs are cut from, '-' strand intervals
            reverse-complemented; random access through Biopython's index, one chromosome in memory.
        length: tokens per sequence (longer ones are cropped, randomly when training; shorter padded);
            default: the longest sequence.
        lowercase: "upper" (soft-masked bases read as bases), "n" (as N), "error", or "mask" (read as
            bases, and their positions go to the model, which adds a learned vector there: ``softmask``).
        rc_augment: read the reverse strand of half the training sequences.
        predict_path: sequences to classify (default: the test split); ``predict`` writes id, label,
            probability, tab-separated (predictions.tsv; comma-separated to an ``--output`` named .csv).
    """

    prediction_file = "predictions.tsv"
    prediction_fields = ("id", "label", "probability")

    def __init__(self, dataset: str = "genomics/promoters_ecoli", data_dir: str | None = None,
                 files: dict[str, str | list[str]] | None = None, path: str | None = None, label_csv: str | None = None,
                 label_field: str | None = None, benchmarks_root: str | None = None, length: int | None = None,
                 lowercase: str = "upper", rc_augment: bool = False, val_fraction: float = 0.1,
                 test_fraction: float = 0.2, predict_path: str | None = None, batch_size: int = 64,
                 num_workers: int = 0, seed: int = 0, reference: str | None = None):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.dataset, self.data_dir, self.files, self.path = dataset, data_dir, files, path
        self.reference = reference
        self.label_csv, self.label_field, self.benchmarks_root = label_csv, label_field, benchmarks_root
        self.length_arg, self.lowercase, self.rc_augment = length, lowercase, rc_augment
        self.val_fraction, self.test_fraction, self.predict_path = val_fraction, test_fraction, predict_path
        if lowercase not in LOWERCASE:
            raise ConfigError(f"--data.lowercase {lowercase!r}: use one of {', '.join(LOWERCASE)}")
        self._data: tuple[list[Record], list[str], dict | None] | None = None

    # reading ---------------------------------------------------------------------------------
    def _read(self) -> tuple[list[Record], list[str], dict | None]:
        if self.files:
            self.source = "real: " + ", ".join(sorted(self.files))
            recs, labels = labels_from_files(self.files, duplicates="rename", reference=self.reference)
            return recs, labels, None
        if self.path:
            recs = read_records(self.path, duplicates="rename", reference=self.reference)
            self.source = f"real: {Path(self.path).name}"
            if self.label_csv:
                return recs, labels_from_csv(recs, self.label_csv), None
            if self.label_field is not None:
                field = int(self.label_field) if str(self.label_field).isdigit() else self.label_field
                return recs, labels_from_header(recs, field), None
            raise DataError("no labels: give label_csv (id,label) or label_field (a header field)", path=self.path)
        from .datasets import CLASS_FILES, DATASETS, GENOMIC_BENCHMARKS

        name = self.dataset.split("/", 1)[-1]
        root = self.benchmarks_root
        if root is None and name in GENOMIC_BENCHMARKS:  # its tree: the entry's one path
            dataset_root(self.dataset, self.data_dir)  # names the missing folder and the fetch command
            root = data_dir(self.data_dir) / DATASETS[name].files[0].path
        if root:
            splits = read_genomic_benchmarks(root)
            self.source = f"real: {Path(root).name}"
            recs, labels, fixed = [], [], {}
            for split, (r, lab) in splits.items():
                fixed[split] = np.arange(len(recs), len(recs) + len(r))
                recs, labels = recs + list(r), labels + list(lab)
            return recs, labels, fixed
        if name not in CLASS_FILES:
            raise DataError(f"dataset {self.dataset!r} has no class files; use files=, path= or benchmarks_root=")
        folder = dataset_root(self.dataset, self.data_dir)
        self.source = f"real: {name}"
        recs, labels = labels_from_files({c: folder / f for c, f in CLASS_FILES[name].items()}, duplicates="rename")
        return recs, labels, None

    def _load(self) -> tuple[list[Record], list[str], dict | None]:
        if self._data is None:
            self._data = self._read()
        return self._data

    @property
    def classes(self) -> list[str]:
        if self.fitted is not None:  # predict: the checkpoint's classes
            return list(self.fitted["classes"])
        return label_ids(self._load()[1])[1]

    @property
    def softmask(self) -> bool:
        """Whether items carry soft-mask positions (``lowercase="mask"``; linked to the model)."""
        return self.lowercase == "mask"

    def _softmasks(self, recs: list[Record]) -> list[np.ndarray] | None:
        return softmasks(recs) if self.softmask else None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def max_length(self) -> int:
        """Tokens per sequence the model sees: ``length`` if given, else the longest sequence."""
        if self.length_arg:
            return int(self.length_arg)
        if self.fitted is not None:
            return int(self.fitted["length"])
        return max(len(r.seq) for r in self._load()[0])

    @property
    def class_counts(self) -> list[int]:
        """Sequences per class over the whole labelled set (the loss weights of ``balance``)."""
        if self.fitted is not None:
            return list(self.fitted["class_counts"])
        y, _ = label_ids(self._load()[1], self.classes)
        return np.bincount(y, minlength=self.num_classes).tolist()

    def fitted_state(self) -> dict[str, Any] | None:
        """Class names, their counts (the loss weights) and the model's sequence length (kept at setup)."""
        return getattr(self, "_fitted_now", None)

    def _predict_tokens(self, length: int) -> None:
        prec = read_records(self.predict_path, duplicates="rename", reference=self.reference)
        self._predict_records = prec
        self.predict_set = TokenSet(encode_records(prec, self.lowercase), None, np.arange(len(prec)), length,
                                    softmasks=self._softmasks(prec))

    # splits ----------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_path and self.fitted is not None:  # no training data needed
            self.length = self.max_length
            self._predict_tokens(self.length)
            self.source = f"real: {self.predict_path} (classes and length from the checkpoint)"
            return
        recs, labels, fixed = self._load()
        y, _ = label_ids(labels, self.classes)
        seqs = encode_records(recs, self.lowercase)
        self.length = self.max_length
        if fixed is not None:  # Genomic Benchmarks: its own test split, validation carved from train
            train_all, test = fixed["train"], fixed["test"]
            tr, va, _ = split_indices(len(train_all), self.val_fraction, 0.0, self.seed, labels=y[train_all])
            train, val = train_all[tr], train_all[va]
        else:
            train, val, test = split_indices(len(seqs), self.val_fraction, self.test_fraction, self.seed, labels=y)
        self._records = recs
        self._fitted_now = {"classes": self.classes, "class_counts": self.class_counts, "length": int(self.length)}
        soft = self._softmasks(recs)
        self.train_set = TokenSet(seqs, y, train, self.length, train=True, rc_augment=self.rc_augment,
                                  seed=self.seed, softmasks=soft)
        self.val_set = TokenSet(seqs, y, val, self.length, softmasks=soft)
        self.test_set = TokenSet(seqs, y, test, self.length, softmasks=soft)
        self.predict_set, self._predict_records = self.test_set, recs
        if self.predict_path:
            self._predict_tokens(self.length)

    # predictions -----------------------------------------------------------------------------
    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": self._predict_records[r["index"]].id, "label": self.classes[r["label"]],
                 "probability": r["probability"]} for r in rows]


__all__ = ["DNAClassDataModule", "TokenSet"]

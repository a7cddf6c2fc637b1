"""Datasets: registry entries, the data directory, downloads and data-module helpers.

``DataModule`` (and with it Lightning) loads on first use, so plug-ins can declare their dataset entries
without paying for it."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .catalog import DatasetEntry, RemoteFile, data_dir, dataset_root
from .download import fetch, sha256_of, verify

if TYPE_CHECKING:
    from .datamodule import DataModule, delimiter_for, split_indices

_LAZY = {"DataModule": ".datamodule", "split_indices": ".datamodule", "delimiter_for": ".datamodule"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DatasetEntry", "RemoteFile", "data_dir", "dataset_root", "fetch", "verify", "sha256_of",
           "DataModule", "split_indices", "delimiter_for"]

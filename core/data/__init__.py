"""Datasets: registry entries, the data directory, downloads and data-module helpers."""

from .catalog import DatasetEntry, RemoteFile, data_dir, dataset_root
from .datamodule import DataModule, split_indices
from .download import fetch, sha256_of, verify

__all__ = ["DatasetEntry", "RemoteFile", "data_dir", "dataset_root", "fetch", "verify", "sha256_of",
           "DataModule", "split_indices"]

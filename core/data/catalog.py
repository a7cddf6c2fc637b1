"""Dataset entries: what a public dataset is, where its files live and how to check them."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError

ENV_VAR = "SSMKIT_DATA_DIR"
DEFAULT_DIR = Path("~/.cache/ssmkit/data")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset. ``path`` is relative to the data directory and follows the
    layout of a local mirror (e.g. "timeseries/ETTh1.csv")."""

    path: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset the library knows: its files, licence and citation.

    ``generate`` (optional) writes a synthetic stand-in into the data directory for entries
    that have no public files (such data is always labelled "generated").
    """

    files: tuple[RemoteFile, ...]
    description: str = ""
    licence: str = ""
    citation: str = ""
    homepage: str = ""
    generate: Callable[[Path], None] | None = field(default=None, compare=False)

    @property
    def size(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)

    @property
    def generated(self) -> bool:
        return self.generate is not None


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path``, else $SSMKIT_DATA_DIR, else ~/.cache/ssmkit/data."""
    chosen = path or os.environ.get(ENV_VAR) or DEFAULT_DIR
    return Path(chosen).expanduser()


def entry(name: str) -> DatasetEntry:
    from .. import registry

    return registry.get("datasets", name)


def dataset_root(name: str, root: str | os.PathLike | None = None) -> Path:
    """Where dataset ``name`` lies: the common folder of its files, checked to exist."""
    ent = entry(name)
    base = data_dir(root)
    missing = [f.path for f in ent.files if not (base / f.path).exists()]
    if missing:
        hint = f"run `ssmkit data fetch {name} --data-dir {base}`"
        raise DataError(f"dataset {name!r} is not in the data directory (missing {missing[0]}); {hint}",
                        path=base)
    paths = [Path(f.path) for f in ent.files]
    common = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else Path()
    return base / common

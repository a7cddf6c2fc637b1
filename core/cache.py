"""Where files derived from a data file (indexes, converted arrays) live: beside it, else in a user cache.

A derived file goes beside its data when that folder is writable (a ``.fai`` beside its FASTA, as samtools
puts it); for a read-only data folder it goes under ``$SSMKIT_CACHE`` (default ``~/.cache/ssmkit``) in
``derived/<hash of the data folder>/``. Lookups try beside the data first, then the cache.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

ENV_VAR = "SSMKIT_CACHE"
DEFAULT_DIR = Path("~/.cache/ssmkit")


def cache_root() -> Path:
    """$SSMKIT_CACHE, else ~/.cache/ssmkit."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_DIR).expanduser()


def _candidates(data: str | os.PathLike, name: str) -> tuple[Path, Path]:
    folder = Path(data).resolve().parent
    key = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return folder / name, cache_root() / "derived" / key / name


def _writable(folder: Path) -> bool:
    """Writable, and not marked read-only: root passes ``os.access`` on an ``r-x`` folder, which still means
    'leave this alone' (a shared data mirror)."""
    try:
        return os.access(folder, os.W_OK) and bool(folder.stat().st_mode & 0o222)
    except OSError:
        return False


def derived_path(data: str | os.PathLike, name: str) -> Path:
    """Where to write the file ``name`` derived from ``data``: beside it if its folder is writable, else in the
    user cache (folders are created by the writer, e.g. ``ssmkit.atomic.atomic_write``)."""
    beside, cached = _candidates(data, name)
    return beside if _writable(beside.parent) else cached


def find_derived(data: str | os.PathLike, name: str) -> Path | None:
    """The existing file ``name`` derived from ``data`` (beside it first, then in the user cache), or None."""
    return next((p for p in _candidates(data, name) if p.is_file()), None)


__all__ = ["ENV_VAR", "cache_root", "derived_path", "find_derived"]

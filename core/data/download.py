"""Fetch and verify dataset files: resumable HTTP downloads, sha256 checks, atomic landing."""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..errors import DataError
from .catalog import DatasetEntry, RemoteFile, data_dir, entry

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class FileStatus:
    path: Path
    status: str  # "ok", "missing", "corrupt", "unchecked" (no sha256 declared)
    detail: str = ""


def check_file(base: Path, f: RemoteFile) -> FileStatus:
    target = base / f.path
    if not target.exists():
        return FileStatus(target, "missing")
    if f.size is not None and target.stat().st_size != f.size:
        return FileStatus(target, "corrupt", f"size {target.stat().st_size}, expected {f.size}")
    if f.sha256 is None:
        return FileStatus(target, "unchecked", "no sha256 declared")
    actual = sha256_of(target)
    if actual != f.sha256:
        return FileStatus(target, "corrupt", f"sha256 {actual[:12]}..., expected {f.sha256[:12]}...")
    return FileStatus(target, "ok")


def verify(name: str, root=None) -> list[FileStatus]:
    """Status of every file of dataset ``name`` in the data directory."""
    base = data_dir(root)
    return [check_file(base, f) for f in entry(name).files]


def _download(f: RemoteFile, target: Path, progress: bool, attempts: int = 3) -> None:
    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    last_error: Exception | None = None
    for attempt in range(attempts):
        have = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(f.url, headers={"User-Agent": "ssmkit"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if have and response.status != 206:  # server ignored the range: start again
                    have = 0
                total = response.headers.get("Content-Length")
                total = int(total) + have if total is not None else f.size
                with open(part, "ab" if have else "wb") as out, tqdm(
                    total=total, initial=have, unit="B", unit_scale=True, disable=not progress,
                    desc=target.name, leave=False,
                ) as bar:
                    for block in iter(lambda: response.read(CHUNK), b""):
                        out.write(block)
                        bar.update(len(block))
            got = part.stat().st_size
            if total is not None and got < total:
                raise ConnectionError(f"connection closed after {got} of {total} bytes")
            break
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            if isinstance(exc, urllib.error.HTTPError) and exc.code == 416 and have:
                # nothing left to send: the .part is complete (kept if it checks out) or too long
                if f.sha256 is not None and sha256_of(part) == f.sha256:
                    break
                part.unlink()
                continue
            if isinstance(exc, urllib.error.HTTPError) and exc.code in (404, 403, 410):
                raise DataError(f"download failed: HTTP {exc.code} {exc.reason}", path=f.url) from exc
            last_error = exc
            time.sleep(0.2 * (attempt + 1))
    else:
        size = part.stat().st_size if part.exists() else 0
        raise DataError(f"download interrupted after {size} bytes ({last_error}); "
                        "run the same command again to resume", path=f.url)
    if f.sha256 is not None:
        actual = sha256_of(part)
        if actual != f.sha256:
            part.unlink()
            raise DataError(f"sha256 mismatch (got {actual}, expected {f.sha256}); the file was discarded",
                            path=f.url)
    os.replace(part, target)


def fetch(name: str, root=None, progress: bool = True) -> list[FileStatus]:
    """Make dataset ``name`` present and verified in the data directory."""
    ent: DatasetEntry = entry(name)
    base = data_dir(root)
    if ent.generated:
        if any(check_file(base, f).status == "missing" for f in ent.files):
            ent.generate(base)
        return [check_file(base, f) for f in ent.files]
    statuses = []
    for f in ent.files:
        status = check_file(base, f)
        if status.status in ("ok", "unchecked"):
            statuses.append(status)
            continue
        if f.url is None:
            raise DataError(f"dataset {name!r}: {status.status} and it has no download URL; "
                            f"copy it there by hand ({status.detail or 'not present'})", path=status.path)
        if status.status == "corrupt":
            status.path.unlink()
        _download(f, status.path, progress)
        statuses.append(check_file(base, f))
    return statuses

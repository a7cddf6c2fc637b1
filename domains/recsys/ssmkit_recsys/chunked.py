"""Interaction logs read line by line, never whole: a plain or gzipped file, or the member of a zip archive that
holds the interactions (its ratings.dat, its .inter file, or its only file).

The text is UTF-8 (a leading byte-order mark, as Excel writes, is dropped), or latin-1 when it is not (MovieLens
files are latin-1): one streaming pass through an incremental decoder tells which, then each pass over the lines
reopens the file, so memory holds a block and a line, whatever the file's size.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from ssmkit.errors import DataError

__all__ = ["TextLines"]

BLOCK_BYTES = 1 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError)


class TextLines:
    """The text of an interaction file, read a line at a time.

    ``iter(lines)``: physical lines with their line ends (as a file opened with ``newline=""`` gives them, what
    ``csv.reader`` wants); ``lines.splitlines()``: the lines ``str.splitlines()`` gives for the whole text, without
    ends. ``where`` names the file in messages ("file", or "archive!member" for a zip).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.member: str | None = None
        self.where = str(self.path)
        with open(self.path, "rb") as handle:
            self.gzipped = handle.read(2) == b"\x1f\x8b"
        if zipfile.is_zipfile(self.path):
            try:
                with zipfile.ZipFile(self.path) as archive:
                    names = [n for n in archive.namelist() if not n.endswith("/")]
            except _ZIP_ERRORS as exc:
                raise self._zip_error(exc) from None
            chosen = [n for n in names if n.endswith("ratings.dat") or n.endswith(".inter")] or names
            if len(chosen) != 1:
                raise DataError(f"zip archive with {len(chosen)} candidate files ({', '.join(chosen[:4])}); "
                                "unpack it and pass the interaction file", path=self.path)
            self.member = chosen[0]
            self.where = f"{self.path}!{self.member}"
        self.encoding = self._encoding()

    def _zip_error(self, exc: BaseException) -> DataError:
        # a damaged archive (bad headers, CRC, truncated data), an encrypted or unsupported member
        what = "gzip file" if self.gzipped and self.member is None else "zip archive"
        return DataError(f"cannot read the {what} ({type(exc).__name__}: {exc})", path=self.path)

    @contextlib.contextmanager
    def _binary(self) -> Iterator[io.BufferedIOBase]:
        if self.member is None and not self.gzipped:
            with open(self.path, "rb") as handle:
                yield handle
            return
        try:
            if self.member is None:
                with gzip.open(self.path, "rb") as handle:
                    yield handle
                return
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as handle:
                yield handle
        except _ZIP_ERRORS as exc:
            raise self._zip_error(exc) from None

    def _encoding(self) -> str:
        """'utf-8-sig' when every byte decodes as UTF-8, else 'latin-1' (which decodes anything)."""
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            with self._binary() as handle:
                while block := handle.read(BLOCK_BYTES):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "latin-1"
        return "utf-8-sig"  # UTF-8, without a leading byte-order mark

    def __iter__(self) -> Iterator[str]:
        with contextlib.ExitStack() as stack:
            if self.member is None and not self.gzipped:
                yield from stack.enter_context(open(self.path, encoding=self.encoding, newline=""))
                return
            try:
                if self.member is None:
                    member = stack.enter_context(gzip.open(self.path, "rb"))
                else:
                    archive = stack.enter_context(zipfile.ZipFile(self.path))
                    member = stack.enter_context(archive.open(self.member))
                yield from io.TextIOWrapper(member, encoding=self.encoding, newline="")
            except _ZIP_ERRORS as exc:
                raise self._zip_error(exc) from None

    def splitlines(self) -> Iterator[str]:
        """The lines of ``text.splitlines()``: each physical line split again at what str.splitlines also breaks
        at (\\v, \\f, \\x1c-\\x1e, \\x85, \\u2028, \\u2029)."""
        for line in self:
            yield from line.splitlines()

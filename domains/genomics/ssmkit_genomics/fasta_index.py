"""Random access into plain FASTA through a samtools-style ``.fai`` index, for files bigger than memory.

The index (``NAME.fai``, what ``samtools faidx`` writes and reads: name, length, offset of the first base, bases
per line, bytes per line; tab-separated, one record a line) is built once by streaming the file in blocks,
checking as it goes that each record's lines share one length and that every sequence byte is a base or an
IUPAC code (errors name the file, line and record). It is written beside the FASTA, or in the user cache when
that folder is read-only (``ssmkit.cache``), and reused while it is newer than the FASTA. Bases [a, b) of a
record are then one ``pread`` away (``FastaIndex.read``); the records' names, lengths and offsets are arrays, so
memory follows the number of records, never their bases.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path

import numpy as np

from ssmkit.atomic import atomic_write
from ssmkit.cache import derived_path, find_derived
from ssmkit.errors import DataError

from .alphabet import InvalidBase, encode

__all__ = ["FastaIndex", "fasta_index", "build_fai", "read_fai", "write_fai", "BLOCK_BYTES"]

BLOCK_BYTES = 8 << 20  # bytes read at a time while indexing
_NL, _CR, _GT = 10, 13, ord(">")


def _is_base(byte: int) -> bool:
    try:
        encode(bytes([byte]))
    except InvalidBase:
        return False
    return True


_SEQ_BYTE = np.array([_is_base(b) for b in range(256)])  # what alphabet.encode accepts (lowercase="upper")
_LINE_BYTE = _SEQ_BYTE.copy()
_LINE_BYTE[[_NL, _CR]] = True  # line ends (a lone CR is caught apart)
_UNEVEN = ("indexed reading needs every line of a record but its last to hold the same number of bases: rewrap "
           "the file (e.g. `seqkit seq -w 60`) or read it whole (index='never')")


class _Record:
    __slots__ = ("name", "line", "offset", "length", "line_bases", "line_bytes", "closed")

    def __init__(self, name: str, line: int, offset: int):
        self.name, self.line, self.offset = name, line, offset
        self.length, self.line_bases, self.line_bytes, self.closed = 0, -1, -1, 0  # closed: line of a short line


class _Columns:
    """The .fai columns as arrays; names as one UTF-8 blob and end offsets (memory per record stays small)."""

    def __init__(self):
        self.blob, self.ends = bytearray(), array("q")
        self.length, self.offset, self.line_bases, self.line_bytes = (array("q") for _ in range(4))

    def add(self, name: str, length: int, offset: int, line_bases: int, line_bytes: int) -> None:
        self.blob += name.encode("utf-8")
        self.ends.append(len(self.blob))
        for col, value in zip((self.length, self.offset, self.line_bases, self.line_bytes),
                              (length, offset, line_bases, line_bytes)):
            col.append(value)


class _Indexer:
    """Feeds blocks of a FASTA file; keeps only the line that crosses a block border (its length, first and
    last byte, and its text when it is a header)."""

    def __init__(self, path: Path):
        self.path, self.cols, self.rec = path, _Columns(), None
        self.lines = 0  # complete lines seen
        self.part_len, self.part_first, self.part_last, self.part_head = 0, -1, -1, bytearray()

    # records ---------------------------------------------------------------------------------
    def _close(self) -> None:
        rec = self.rec
        if rec is None:
            return
        if rec.length == 0:
            raise DataError(f"record {rec.name!r}: empty sequence", path=self.path, line=rec.line)
        self.cols.add(rec.name, rec.length, rec.offset, rec.line_bases, rec.line_bytes)

    def _header(self, text: bytes, line: int, next_offset: int) -> None:
        self._close()
        try:
            title = text[1:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"header is not UTF-8 text ({exc.reason})", path=self.path, line=line) from None
        words = title.split(None, 1)
        if not words:
            raise DataError("record without an id (empty header)", path=self.path, line=line)
        self.rec = _Record(words[0], line, next_offset)

    def _uneven(self, line: int) -> DataError:
        rec = self.rec
        return DataError(f"record {rec.name!r}: this line breaks the record's line length of {rec.line_bases} "
                         f"bases; {_UNEVEN}", path=self.path, line=line)

    def _sequence_lines(self, content: np.ndarray, widths: np.ndarray, line0: int) -> None:
        """Sequence lines of the current record: bases per line, bytes per line (newline included)."""
        if not len(content):
            return
        rec = self.rec
        if rec is None:
            filled = np.flatnonzero(content)
            if len(filled):
                raise DataError("sequence before the first '>' header", path=self.path, line=line0 + int(filled[0]))
            return
        rec.length += int(content.sum())
        if rec.line_bases < 0:
            rec.line_bases, rec.line_bytes = int(content[0]), int(widths[0])
            if rec.line_bases == 0:
                rec.closed = line0
        if rec.closed:
            filled = np.flatnonzero(content)
            if len(filled):
                raise self._uneven(line0 + int(filled[0]))
            return
        off = np.flatnonzero((content != rec.line_bases) | (widths != rec.line_bytes))
        if not len(off):
            return
        j = int(off[0])
        if content[j] >= rec.line_bases:  # a longer line, or another line ending
            raise self._uneven(line0 + j)
        rec.closed = line0 + j  # a shorter line ends the record: blank lines may follow, bases may not
        filled = np.flatnonzero(content[j + 1:])
        if len(filled):
            raise self._uneven(line0 + j + 1 + int(filled[0]))

    # blocks ----------------------------------------------------------------------------------
    def feed(self, buf: bytes, pos: int) -> None:
        """The next block of the file, starting at byte ``pos``."""
        arr = np.frombuffer(buf, dtype=np.uint8)
        n = len(arr)
        nl = np.flatnonzero(arr == _NL)
        k = len(nl)
        starts = np.empty(k, dtype=np.int64)
        starts[:1] = 0
        starts[1:] = nl[:-1] + 1
        inblock = nl - starts
        lens = inblock.copy()
        if k:
            lens[0] += self.part_len
        first = np.where(inblock > 0, arr[np.minimum(starts, n - 1)], -1) if k else np.zeros(0, np.int64)
        cr = (inblock > 0) & (arr[np.maximum(nl - 1, 0)] == _CR)
        if k and self.part_len:
            if inblock[0] == 0:
                cr[0] = self.part_last == _CR
            first[0] = self.part_first
        header = first == _GT
        tail = int(nl[-1]) + 1 if k else 0
        tail_header = (self.part_first == _GT) if (tail == 0 and self.part_len) else (tail < n and arr[tail] == _GT)

        # bytes that are no base, outside header lines (a CR is fine only before a newline)
        bad = np.flatnonzero(~_LINE_BYTE[arr])
        lone_cr = np.flatnonzero(arr[:-1] == _CR)
        lone_cr = lone_cr[arr[lone_cr + 1] != _NL]
        if len(lone_cr):
            bad = np.union1d(bad, lone_cr)
        limit = k
        if len(bad):
            line_of = np.searchsorted(nl, bad)  # k: the unfinished last line
            in_header = np.append(header, tail_header)[line_of]
            bad, line_of = bad[~in_header], line_of[~in_header]
            if len(bad):
                limit = int(line_of[0])

        # the complete lines before the first bad byte, record by record
        content = lens - cr
        prev = 0
        for h in [*np.flatnonzero(header[:limit]).tolist(), limit]:
            self._sequence_lines(content[prev:h], lens[prev:h] + 1, self.lines + prev + 1)
            if h < limit:
                text = bytes(buf[starts[h]:nl[h]])
                if h == 0 and self.part_len:
                    text = bytes(self.part_head) + text
                self._header(text.rstrip(b"\r"), self.lines + h + 1, pos + int(nl[h]) + 1)
            prev = h + 1
        if len(bad):
            self._bad_byte(buf, int(bad[0]), limit, starts, nl, k)
        self.lines += k

        # the unfinished last line
        if k:
            self.part_len, self.part_head = 0, bytearray()
        if tail < n:
            if self.part_len == 0:
                self.part_first = int(arr[tail])
            self.part_len += n - tail
            self.part_last = int(arr[-1])
            if tail_header and len(self.part_head) < 1 << 16:  # the name is all that is kept of a header
                self.part_head += buf[tail:]

    def _bad_byte(self, buf: bytes, at: int, line_index: int, starts, nl, k: int) -> None:
        line = self.lines + line_index + 1
        col = at - (int(starts[line_index]) if line_index < k else (int(nl[-1]) + 1 if k else 0))
        if line_index == 0:  # the line began in an earlier block
            col += self.part_len
        char = chr(buf[at])
        if self.rec is None:
            raise DataError(f"sequence before the first '>' header (invalid character {char!r})", path=self.path,
                            line=line)
        base = self.rec.length + col + 1
        what = "a gap is not a base" if char in "-." else "not a DNA base or IUPAC code"
        raise DataError(f"record {self.rec.name!r}: invalid character {char!r} at base {base} (column {col + 1}): "
                        f"{what}", path=self.path, line=line)

    def finish(self) -> _Columns:
        if self.part_len:  # a last line without a newline
            line = self.lines + 1
            if self.part_first == _GT:
                self._header(bytes(self.part_head).rstrip(b"\r"), line, -1)
            else:
                content = self.part_len - (self.part_last == _CR)
                width = self.rec.line_bytes if self.rec is not None and content == self.rec.line_bases \
                    else self.part_len
                self._sequence_lines(np.array([content]), np.array([width]), line)
        if self.rec is None and not len(self.cols.ends):
            raise DataError("no FASTA records found (no '>' header line)", path=self.path)
        self._close()
        return self.cols


def build_fai(path: str | os.PathLike) -> _Columns:
    """Stream a plain FASTA once and return its index columns (DataError on a malformed or unevenly wrapped file)."""
    path = Path(path)
    indexer = _Indexer(path)
    pos = 0
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            indexer.feed(block, pos)
            pos += len(block)
    return indexer.finish()


def write_fai(cols: _Columns, path: str | os.PathLike) -> None:
    """The index as a samtools .fai, written atomically."""
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as handle:
        start = 0
        for i, end in enumerate(cols.ends):
            name = cols.blob[start:end].decode("utf-8")
            handle.write(f"{name}\t{cols.length[i]}\t{cols.offset[i]}\t{cols.line_bases[i]}\t{cols.line_bytes[i]}\n")
            start = end


def read_fai(path: str | os.PathLike) -> _Columns:
    """A .fai file, line by line (five tab-separated columns; FASTQ indexes have six and are refused)."""
    cols = _Columns()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\r\n").split("\t")
            try:
                if len(fields) != 5 or not fields[0]:
                    raise ValueError
                values = [int(f) for f in fields[1:]]
            except ValueError:
                raise DataError("not a FASTA .fai line (name, length, offset, bases per line, bytes per line)",
                                path=path, line=number) from None
            cols.add(fields[0], *values)
    return cols


def _renamed(cols: _Columns) -> dict[int, str]:
    """Record -> 'name#2', 'name#3', ... for the second and later copies of a name (as read_records renames);
    names are compared only where their hashes collide, so no set of every name is built."""
    if len(cols.ends) < 2:
        return {}
    starts = [0, *cols.ends[:-1]]
    hashes = np.fromiter((hash(bytes(cols.blob[a:b])) for a, b in zip(starts, cols.ends)), dtype=np.int64,
                         count=len(cols.ends))
    values, counts = np.unique(hashes, return_counts=True)
    seen: dict[bytes, int] = {}
    out = {}
    for k in np.flatnonzero(np.isin(hashes, values[counts > 1])).tolist():
        name = bytes(cols.blob[starts[k]:cols.ends[k]])
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            out[k] = f"{name.decode('utf-8')}#{seen[name]}"
    return out


class FastaIndex:
    """A plain FASTA opened through its index. ``lengths`` (n,) bases per record; ``read(k, a, b)``: token ids
    (b - a,) uint8 of bases [a, b) of record k (``alphabet.encode`` with ``lowercase``); ``id(k)``: the record's
    id (a repeated id gets '#2', '#3', ... as ``read_records(duplicates='rename')`` gives it).

    Reads use ``os.pread`` on a descriptor opened in each process (DataLoader workers share nothing)."""

    def __init__(self, path: str | os.PathLike, cols: _Columns, lowercase: str = "upper"):
        self.path, self.lowercase = Path(path), lowercase
        self._blob = bytes(cols.blob)
        self._ends = np.asarray(cols.ends, dtype=np.int64)
        self.lengths = np.asarray(cols.length, dtype=np.int64)
        self._offset = np.asarray(cols.offset, dtype=np.int64)
        self._line_bases = np.asarray(cols.line_bases, dtype=np.int64)
        self._line_bytes = np.asarray(cols.line_bytes, dtype=np.int64)
        self._renamed = _renamed(cols)
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return len(self.lengths)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_fd": None, "_pid": -1}

    def __del__(self):
        self.close()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def id(self, k: int) -> str:
        if k in self._renamed:
            return self._renamed[k]
        start = int(self._ends[k - 1]) if k else 0
        return self._blob[start:int(self._ends[k])].decode("utf-8")

    def _byte(self, k: int, pos: int) -> int:
        per_line = int(self._line_bases[k])
        return int(self._offset[k]) + (pos // per_line) * int(self._line_bytes[k]) + pos % per_line

    def read_raw(self, k: int, a: int, b: int) -> bytes:
        """The sequence bytes of bases [a, b) of record k, line ends removed."""
        n = int(self.lengths[k])
        if not 0 <= a <= b <= n:
            raise IndexError(f"bases [{a}, {b}) outside record {self.id(k)!r} of length {n}")
        if a == b:
            return b""
        if self._fd is None or self._pid != os.getpid():
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        start, stop = self._byte(k, a), self._byte(k, b - 1) + 1
        raw = os.pread(self._fd, stop - start, start).translate(None, b"\r\n")
        if len(raw) != b - a:
            raise DataError(f"record {self.id(k)!r}: the file does not match its index (changed since it was "
                            "indexed?); delete the .fai to rebuild it", path=self.path)
        return raw

    def read(self, k: int, a: int, b: int) -> np.ndarray:
        raw = self.read_raw(k, a, b)
        try:
            return encode(raw, self.lowercase)
        except InvalidBase as exc:
            what = str(exc).split(": ", 1)[-1]
            raise DataError(f"record {self.id(k)!r}: invalid character {exc.char!r} at base {a + exc.position + 1}: "
                            f"{what}", path=self.path) from None


def _fits(cols: _Columns, size: int) -> bool:
    """A sane index for a file of ``size`` bytes: positive line sizes, every record inside the file."""
    if not len(cols.ends):
        return False
    lengths, line_bases = np.asarray(cols.length), np.asarray(cols.line_bases)
    line_bytes, offsets = np.asarray(cols.line_bytes), np.asarray(cols.offset)
    if (lengths <= 0).any() or (line_bases <= 0).any() or (line_bytes < line_bases).any() or (offsets < 0).any():
        return False
    last = offsets + (lengths - 1) // line_bases * line_bytes + (lengths - 1) % line_bases
    return bool((last < size).all())


def fasta_index(path: str | os.PathLike, lowercase: str = "upper") -> FastaIndex:
    """Open a plain-text FASTA through its .fai: found beside it (or in the user cache) and newer than the FASTA,
    else built by one streaming pass and written (beside it, or in the user cache for a read-only folder)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found" if not path.exists() else "is a directory, expected a file", path=path)
    with open(path, "rb") as handle:
        if handle.read(2) == b"\x1f\x8b":
            raise DataError("gzip-compressed FASTA cannot be read by position; decompress it (`gunzip -k`) or read "
                            "it whole (index='never')", path=path)
    stat = path.stat()
    name = path.name + ".fai"
    found = find_derived(path, name)
    cols = None
    if found is not None and found.stat().st_mtime_ns >= stat.st_mtime_ns:
        try:
            cols = read_fai(found)
        except (DataError, OSError, UnicodeDecodeError):
            cols = None  # a broken index is rebuilt
        if cols is not None and not _fits(cols, stat.st_size):
            cols = None
    if cols is None:
        cols = build_fai(path)
        try:
            write_fai(cols, derived_path(path, name))
        except OSError:  # the index is a cache: a full or read-only disk only costs the next run a pass
            pass
    return FastaIndex(path, cols, lowercase)


def is_plain_fasta(path: str | os.PathLike) -> bool:
    """A FASTA by its suffix (.fa .fasta .fna .fas) that is not gzip-compressed."""
    path = Path(path)
    if path.suffix.lower() not in (".fa", ".fasta", ".fna", ".fas") or not path.is_file():
        return False
    with open(path, "rb") as handle:
        return handle.read(2) != b"\x1f\x8b"


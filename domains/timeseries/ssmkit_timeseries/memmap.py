"""Time-series tables bigger than memory: a CSV converted once, chunk by chunk, to float32 ``.npy`` arrays that are
then opened memory-mapped (``np.load(mmap_mode="r")``).

``mapped_table`` returns the :class:`~ssmkit_timeseries.table.TimeTable` that ``read_table(path, repair="none")``
returns, with ``values`` (T, C) float32 and ``timestamps`` (T,) datetime64[ns] as read-only memory maps. The
conversion streams the file through pandas ``chunk_rows`` rows at a time and checks every cell and step as
``read_table`` does, with its messages (file, line, column); it reports the first problem in file order, a gap only
when the rows are otherwise in order. Decided from the first rows: the timestamp column ("auto"), the value columns
(one with no number in the first chunk is dropped, where read_table looks at the whole column) and the frequency.

The arrays and a small JSON description are cached beside the file (hidden: ``.NAME.<key>.values.npy``,
``.times.npy``, ``.json``) or, for a read-only folder, in the user cache (``ssmkit.cache``); the key covers the
file's size and modification time and the reading options. Every file is written under a temporary name and
renamed, the description last, so a cache is either whole or absent.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pandas as pd

from ssmkit.atomic import atomic_write
from ssmkit.cache import derived_path, find_derived
from ssmkit.errors import ConfigError, DataError

from .table import (
    _NOT_FINITE,
    _OK,
    _REPAIR_HINT,
    TimeTable,
    _cell_problem,
    _cell_text,
    _checked_times,
    _human,
    _kind,
    _listing,
    _numeric,
    _order_error,
    _sniff_delimiter,
    _Source,
    _time_column,
    csv_errors,
    csv_options,
    drop_blank_rows,
    fixed_step,
    infer_freq,
)

__all__ = ["MMAP_MODES", "MMAP_MIN_BYTES", "CHUNK_ROWS", "mapped_table", "use_mmap"]

MMAP_MODES = ("auto", "always", "never")
MMAP_MIN_BYTES = 256 << 20  # mmap="auto": CSV files from this size are converted and memory-mapped
CHUNK_ROWS = 100_000
_VERSION = 1
_HEADER_BYTES = 128  # a fixed .npy header, rewritten with the final shape once the row count is known


def use_mmap(path: str | Path, mode: str, repair: str) -> bool:
    """Whether ``ForecastDataModule`` reads ``path`` memory-mapped: "always", or "auto" for a CSV of at least
    ``MMAP_MIN_BYTES``; never with repair="interpolate" (repairs sort and regrid the whole table in memory)."""
    if mode not in MMAP_MODES:
        raise ConfigError(f"--data.mmap {mode!r}: use one of {', '.join(MMAP_MODES)}")
    if mode == "never":
        return False
    path = Path(path)
    csv_file = path.is_file() and _kind(path) == "csv"
    if mode == "always":
        if repair != "none":
            raise ConfigError("--data.mmap always reads with --data.repair none only (repairs need the whole table "
                              "in memory)")
        if path.is_file() and not csv_file:
            raise ConfigError(f"--data.mmap always converts CSV/TSV files only, not {path.name}")
        return path.is_file()  # a missing file: read_table names it
    return csv_file and repair == "none" and path.stat().st_size >= MMAP_MIN_BYTES


# ------------------------------------------------------------------------------------------------- .npy files


def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """A version-1.0 .npy header of exactly ``_HEADER_BYTES`` bytes (so it can be rewritten in place)."""
    text = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    body = text.ljust(_HEADER_BYTES - 10 - 1) + "\n"
    if len(body) + 10 != _HEADER_BYTES:
        raise ValueError(f"shape {shape} does not fit a {_HEADER_BYTES}-byte .npy header")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")


def _chunks(path: Path, sep: str, chunk_rows: int):
    """The file as frames of ``chunk_rows`` rows, read as ``table._load_csv`` reads it; pandas' errors as DataError."""
    with csv_errors(path), pd.read_csv(path, **csv_options(sep, chunksize=chunk_rows)) as reader:
        yield from reader


# ------------------------------------------------------------------------------------------------ conversion


class _Converter:
    """Checks and writes one chunk after another; keeps only the last row and the first problem of each kind."""

    def __init__(self, path: Path, timestamp: str | None, columns: list[str] | None, values_out, times_out):
        self.path, self.timestamp, self.columns = path, timestamp, columns
        self.values_out, self.times_out = values_out, times_out
        self.names: list[str] | None = None
        self.tcol: str | None = None
        self.freq: str | None = None
        self.want: int | None = None  # the fixed step in ns, None for calendar frequencies
        self.notes: list[str] = []
        self.rows = 0
        self.last: tuple[int, int] | None = None  # (ns, line) of the last row written
        self.shifts: list[tuple[int, int]] = []  # (first row, line - row - 2 from that row on): blank lines
        self.cell_err: DataError | None = None
        self.order_err: DataError | None = None
        self.gap_err: DataError | None = None

    # where rows are ----------------------------------------------------------------------------
    def _line(self, row: int) -> int:
        """The file line of an already written row."""
        i = int(np.searchsorted([r for r, _ in self.shifts], row, side="right")) - 1
        return row + 2 + (self.shifts[i][1] if i >= 0 else 0)

    def _written_ns(self, row: int) -> int:
        self.times_out.seek(_HEADER_BYTES + 8 * row)
        value = int(np.frombuffer(self.times_out.read(8), dtype=np.int64)[0])
        self.times_out.seek(0, 2)
        return value

    def _find_written(self, ns: int) -> int | None:
        """The row already written holding timestamp ``ns`` (they are strictly increasing so far), or None."""
        lo, hi = 0, self.rows
        while lo < hi:
            mid = (lo + hi) // 2
            if self._written_ns(mid) < ns:
                lo = mid + 1
            else:
                hi = mid
        return lo if lo < self.rows and self._written_ns(lo) == ns else None

    # the first rows decide ---------------------------------------------------------------------
    def _start(self, src: _Source):
        frame = src.frame
        self.tcol, tseries = _time_column(src, self.timestamp)
        if self.columns is not None:
            names = list(self.columns)
            for name in names:
                if name not in frame.columns:
                    raise src.error(f"no column {name!r}; the columns are {_listing(frame.columns)}")
                if name == self.tcol:
                    raise src.error(f"column {name!r} is the timestamp column; it cannot also be a value column")
        else:
            names = []
            for name in frame.columns:
                if name == self.tcol:
                    continue
                codes = _numeric(frame[name])[1]
                if not (codes == _OK).any() and not (codes == _NOT_FINITE).any():
                    self.notes.append(f"dropped column {name!r}: no numeric value")
                    continue
                names.append(name)
            if not names:
                raise DataError("no numeric columns" + (f" besides the timestamp column {self.tcol!r}"
                                                        if self.tcol else ""), path=self.path)
        self.names = names
        if tseries is not None:
            self.freq = infer_freq(pd.DatetimeIndex(tseries.to_numpy(dtype="datetime64[ns]")))
            step = fixed_step(self.freq) if self.freq is not None else None
            self.want = None if step is None else int(step.value)
        self.values_out.write(_npy_header("<f4", (0, len(names))))
        self.times_out.write(_npy_header("<M8[ns]", (0,)))
        return tseries

    # one chunk -----------------------------------------------------------------------------------
    def add(self, frame: pd.DataFrame, row0: int) -> None:
        """A chunk of the raw frame whose first row is data row ``row0`` of the file (blank rows counted)."""
        frame.columns = [str(c).strip() for c in frame.columns]
        if not frame.index.equals(pd.RangeIndex(row0, row0 + len(frame))):
            raise DataError("the data rows have more fields than the header", path=self.path, line=2)
        lines = np.arange(len(frame), dtype=np.int64) + row0 + 2
        frame, lines = drop_blank_rows(frame, lines)
        if not len(frame):
            return
        src = _Source(self.path, frame.reset_index(drop=True), lines)
        tseries = self._start(src) if self.names is None else (
            _checked_times(src, self.tcol) if self.tcol is not None else None)
        converted = [_numeric(src.frame[name]) for name in self.names]
        vals = np.stack([v for v, _ in converted], axis=1)
        codes = np.stack([c for _, c in converted], axis=1)
        bad = codes != _OK
        if bad.any() and self.cell_err is None:
            row = int(bad.any(axis=1).argmax())
            j = int(bad[row].argmax())
            problem = _cell_problem(int(codes[row, j]), _cell_text(src, self.names[j], row))
            self.cell_err = src.error(problem, row=row, column=self.names[j])
        ns = None
        if tseries is not None:
            ns = tseries.to_numpy(dtype="datetime64[ns]").view(np.int64)
            if self.freq is None or self.want is not None:  # calendar frequencies are checked at the end
                self._check_steps(ns, lines)
        # write the rows; remember where blank lines shifted the line numbers
        shift = lines - (self.rows + np.arange(len(lines))) - 2
        change = np.flatnonzero(np.diff(shift, prepend=self.shifts[-1][1] if self.shifts else 0))
        self.shifts += [(self.rows + int(i), int(shift[i])) for i in change]
        self.values_out.write(vals.astype(np.float32).tobytes())
        if ns is not None:
            self.times_out.write(ns.tobytes())
            self.last = (int(ns[-1]), int(lines[-1]))
        self.rows += len(lines)

    def _check_steps(self, ns: np.ndarray, lines: np.ndarray) -> None:
        """Duplicated, backwards and (fixed-step) missing timestamps, as table._order_error words them."""
        if self.order_err is not None:
            return
        full = ns if self.last is None else np.concatenate([[self.last[0]], ns])
        steps = np.diff(full)
        lead = 1 if self.last is None else 0  # chunk row of steps[0]

        def line_of(r: int) -> int:
            return int(lines[r]) if r >= 0 else self.last[1]

        def time_of(r: int) -> pd.Timestamp:
            return pd.Timestamp(int(ns[r]) if r >= 0 else self.last[0])

        back = np.flatnonzero(steps <= 0)
        if len(back):
            r = int(back[0]) + lead
            t = int(ns[r])
            first_line = None
            if steps[r - lead] == 0:
                first_line = line_of(r - 1)
            else:  # the rows before are strictly increasing: a binary search finds an earlier copy
                pos = int(np.searchsorted(ns[:r], t))
                if pos < r and ns[pos] == t:
                    first_line = line_of(pos)
                elif self.rows:
                    found = self._find_written(t)
                    first_line = None if found is None else self._line(found)
            if first_line is not None:
                problem = f"duplicated timestamp {pd.Timestamp(t)} (also on line {first_line}); " + _REPAIR_HINT
            else:
                problem = (f"timestamps go backwards: {pd.Timestamp(t)} comes after {time_of(r - 1)} on line "
                           f"{line_of(r - 1)}; " + _REPAIR_HINT)
            self.order_err = DataError(problem, path=self.path, line=line_of(r), column=self.tcol)
            return
        if self.want is None or self.gap_err is not None:
            return
        odd = np.flatnonzero(steps != self.want)
        if len(odd):
            r = int(odd[0]) + lead
            got, want = int(steps[r - lead]), self.want
            if got > want and got % want == 0:
                what = f"gap of {got // want - 1} missing step{'s' if got // want > 2 else ''}"
            else:
                what = f"irregular step of {_human(got)}"
            self.gap_err = DataError(
                f"{what}: {time_of(r - 1)} (line {line_of(r - 1)}) is followed by {time_of(r)}, expected a step of "
                f"{_human(want)} ({self.freq!r}); " + _REPAIR_HINT, path=self.path, line=line_of(r), column=self.tcol)

    def settled(self) -> bool:
        """True once the error to report is known whatever the rest of the file holds."""
        if self.freq is not None and self.want is None:
            return False  # calendar frequencies: the order is checked over the whole series at the end
        if self.order_err is not None:
            return True
        return self.cell_err is not None and (self.gap_err is None or self.gap_err.line > self.cell_err.line)

    def finish(self) -> None:
        if self.rows == 0:
            raise DataError("no data rows", path=self.path)
        order = self.order_err or self.gap_err
        if self.tcol is not None and self.freq is not None and self.want is None:  # a calendar frequency
            self.times_out.seek(_HEADER_BYTES)
            stamps = np.frombuffer(self.times_out.read(8 * self.rows), dtype="datetime64[ns]")
            lines = np.array([self._line(r) for r in range(self.rows)], dtype=np.int64)
            found = _order_error(_Source(self.path, pd.DataFrame(), lines), pd.DatetimeIndex(stamps), self.tcol,
                                 self.freq)
            order = None if found is None else found[1]
        problems = [e for e in (self.cell_err, order) if e is not None]
        if problems:
            raise min(problems, key=lambda e: e.line)
        self.values_out.seek(0)
        self.values_out.write(_npy_header("<f4", (self.rows, len(self.names))))
        self.times_out.seek(0)
        self.times_out.write(_npy_header("<M8[ns]", (self.rows if self.tcol is not None else 0,)))


def _convert(path: Path, timestamp: str | None, columns: list[str] | None, folder: Path, base: str,
             chunk_rows: int) -> dict:
    sep = _sniff_delimiter(path)
    with atomic_write(folder / f"{base}.values.npy", "w+b") as values_out, \
            atomic_write(folder / f"{base}.times.npy", "w+b") as times_out:
        conv = _Converter(path, timestamp, columns, values_out, times_out)
        row0 = 0
        for frame in _chunks(path, sep, chunk_rows):
            conv.add(frame, row0)
            row0 += len(frame)
            if conv.settled():
                break
        conv.finish()
    return {"version": _VERSION, "rows": conv.rows, "columns": conv.names, "freq": conv.freq,
            "time_column": conv.tcol, "notes": conv.notes}


def _key(path: Path, timestamp: str | None, columns: list[str] | None) -> str:
    stat = path.stat()
    ident = [_VERSION, str(path.resolve()), stat.st_size, stat.st_mtime_ns, timestamp, columns]
    return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:16]


def _load(meta_file: Path, base: str) -> TimeTable | None:
    """The cached table described by ``meta_file``, or None when any part is missing or does not match."""
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        values = np.load(meta_file.parent / f"{base}.values.npy", mmap_mode="r")
        times = np.load(meta_file.parent / f"{base}.times.npy", mmap_mode="r") if meta["time_column"] else None
    except (OSError, ValueError, KeyError):
        return None
    if meta.get("version") != _VERSION or values.shape != (meta["rows"], len(meta["columns"])):
        return None
    if times is not None and times.shape != (meta["rows"],):
        return None
    return TimeTable(path=Path(meta["source"]), timestamps=times, columns=list(meta["columns"]), values=values,
                     freq=meta["freq"], repairs=[], notes=list(meta["notes"]), time_column=meta["time_column"])


def _remove_stale(folder: Path, name: str, keep: str) -> None:
    """Earlier conversions of the same file (another size, mtime or options)."""
    for old in folder.glob(f".{glob.escape(name)}.*"):
        if old.name.startswith(keep) or not old.name.endswith((".values.npy", ".times.npy", ".json")):
            continue
        with contextlib.suppress(OSError):
            old.unlink()


def mapped_table(path: str | Path, timestamp: str | None = "auto", columns: list[str] | None = None,
                 chunk_rows: int = CHUNK_ROWS) -> TimeTable:
    """The table of a CSV/TSV/TXT (optionally .gz), memory-mapped from its .npy cache (converted on first use)."""
    path = Path(path)
    if _kind(path) != "csv":
        raise DataError("memory-mapped reading converts CSV/TSV/TXT tables only", path=path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    base = f".{path.name}.{_key(path, timestamp, columns)}"
    found = find_derived(path, base + ".json")
    table = _load(found, base) if found is not None else None
    if table is None:
        target = derived_path(path, base + ".json")
        meta = _convert(path, timestamp, columns, target.parent, base, chunk_rows)
        with atomic_write(target, "w", encoding="utf-8") as handle:
            json.dump({**meta, "source": str(path)}, handle)
        _remove_stale(target.parent, path.name, base)
        table = _load(target, base)
        if table is None:  # pragma: no cover (written just now)
            raise DataError(f"cannot open the converted arrays in {target.parent}", path=path)
    table.path = path
    return table

"""Reading time-series tables (CSV, TSV, gzipped CSV, Parquet) into arrays, with checks that name the bad cell.

A table has an optional timestamp column and numeric value columns. Problems are reported as
:class:`ssmkit.errors.DataError` with the file, the 1-based line as an editor shows it (header = line 1)
and the column. ``repair="interpolate"`` fixes what can be fixed and lists each change in ``repairs``.
"""

from __future__ import annotations

import contextlib
import gzip
import re
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format
from pandas.tseries.frequencies import to_offset

from ssmkit.errors import DataError

REPAIRS = ("none", "interpolate")
TIMESTAMP_NAMES = ("date", "datetime", "time", "timestamp", "ds")
MISSING_TOKENS = frozenset({"", "na", "n/a", "#n/a", "nan", "-nan", "null", "none", "nat"})
CSV_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
_REPAIR_HINT = "pass repair='interpolate' / --data.repair interpolate to fix it"
_DAY_NS = 86_400 * 10**9
_OK, _MISSING, _NOT_NUMBER, _NOT_FINITE = 0, 1, 2, 3


@dataclass
class TimeTable:
    """A table read from ``path``.

    timestamps: datetime64[ns] (T,), or None without a timestamp column; values: float32 (T, C), one column
    per name in ``columns``; freq: pandas offset alias ("h", "15min", "D", "MS", ...), None without timestamps;
    repairs: one line per kind of change made by repair="interpolate"; notes: other remarks (dropped columns).
    """

    path: Path
    timestamps: np.ndarray | None
    columns: list[str]
    values: np.ndarray
    freq: str | None
    repairs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    time_column: str | None = None  # the timestamp column's name in the file

    def column_index(self, name: str) -> int:
        """Position of value column ``name`` in ``columns`` (and in the last axis of ``values``)."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise DataError(f"no value column {name!r}; the columns are {_listing(self.columns)}",
                            path=self.path) from None

    def __len__(self) -> int:
        return int(self.values.shape[0])


# --------------------------------------------------------------------------------------------------- reading


class _Source:
    """The raw frame and how to point at one of its rows: CSV rows by line, Parquet rows by row number."""

    def __init__(self, path: Path, frame: pd.DataFrame, lines: np.ndarray | None):
        self.path, self.frame, self.lines = path, frame, lines

    def line(self, row: int) -> int | None:
        return None if self.lines is None else int(self.lines[row])

    def where(self, row: int) -> str:
        """'line N' (CSV) or 'row N' (Parquet, 1-based data row) for messages about another row."""
        return f"line {self.lines[row]}" if self.lines is not None else f"row {row + 1}"

    def error(self, problem: str, row: int | None = None, column: str | None = None) -> DataError:
        if row is not None and self.lines is None:
            problem = f"row {row + 1}: {problem}"
        return DataError(problem, path=self.path, line=None if row is None else self.line(row), column=column)


def _listing(names) -> str:
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:30])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 30 else "")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    suffix = "".join(path.suffixes[-2:]) or "(none)"
    raise DataError(f"unknown file type {suffix!r}; expected one of {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)}",
                    path=path)


def _sniff_delimiter(path: Path) -> str:
    """The delimiter of the header line: whichever of comma, tab, semicolon occurs most (comma on a tie)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as handle:
            header = ""
            for raw in handle:
                if raw.strip():
                    header = raw
                    break
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: corrupt gzip data
        raise DataError(f"cannot read the file: {exc}", path=path) from None
    if not header:
        raise DataError("no data rows (the file is empty)", path=path)
    counts = {d: header.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        return "\t" if path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
    return best



def csv_options(sep: str, **extra) -> dict:
    """pandas.read_csv arguments of every table read (whole or in chunks): cells kept verbatim."""
    return dict(sep=sep, keep_default_na=False, na_filter=False, skip_blank_lines=False, encoding="utf-8-sig",
                **extra)


@contextlib.contextmanager
def csv_errors(path: Path):
    """Turn pandas' and the decoders' errors while reading ``path`` into one-line DataErrors."""
    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError("no data rows (the file is empty)", path=path) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            want, line, got = (int(g) for g in found.groups())
            raise DataError(f"{got} fields, the header has {want}", path=path, line=line) from None
        raise DataError(f"malformed table: {str(exc).strip()}", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: corrupt gzip data
        raise DataError(f"cannot read the file: {exc}", path=path) from None

def _load_csv(path: Path) -> _Source:
    sep = _sniff_delimiter(path)
    # No NA conversion: a column with any empty or non-numeric cell arrives as exact strings (reported
    # verbatim); clean numeric columns are parsed by the C reader (8x faster than dtype=str on wide files).
    with csv_errors(path):
        frame = pd.read_csv(path, **csv_options(sep))
    if not frame.index.equals(pd.RangeIndex(len(frame))):  # pandas took the extra first field as the index
        raise DataError("the data rows have more fields than the header", path=path, line=2)
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = np.arange(len(frame), dtype=np.int64) + 2
    frame, lines = drop_blank_rows(frame, lines)
    return _Source(path, frame, lines)


def drop_blank_rows(frame: pd.DataFrame, lines: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Drop rows that are entirely empty (blank lines are not data); ``lines`` (n,) the file line of each row."""
    if not len(frame):
        return frame, lines
    first = frame.iloc[:, 0].to_numpy(dtype=object)
    candidates = np.flatnonzero(pd.isna(first) | (first == ""))
    if len(candidates):
        sub = frame.iloc[candidates]
        blank = (sub.isna() | sub.eq("")).all(axis=1).to_numpy()
        if blank.any():
            keep = np.ones(len(frame), dtype=bool)
            keep[candidates[blank]] = False
            frame, lines = frame.iloc[keep].reset_index(drop=True), lines[keep]
    return frame, lines


def _load_parquet(path: Path) -> _Source:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several unrelated types for corrupt files
        raise DataError(f"cannot read the Parquet file: {exc}", path=path) from None
    if not isinstance(frame.index, pd.RangeIndex):  # a named index written by pandas is a column to us
        frame = frame.reset_index()
    frame.columns = [str(c) for c in frame.columns]
    return _Source(path, frame.reset_index(drop=True), None)


# ------------------------------------------------------------------------------------------------ timestamps


def _strings(series: pd.Series) -> pd.Series:
    """Cells as stripped strings, missing cells as ""."""
    return series.astype("str").fillna("").str.strip()


def _is_numeric_text(cells: pd.Series) -> bool:
    """True when every non-empty cell is a number (such a column is never taken for timestamps)."""
    filled = cells != ""
    if not filled.any():
        return True
    return bool(pd.to_numeric(cells[filled], errors="coerce").notna().all())


def _to_datetime(cells: pd.Series, **kwargs) -> pd.Series:
    try:
        out = pd.to_datetime(cells, errors="coerce", **kwargs)
    except (ValueError, TypeError):  # mixed UTC offsets: compare them in UTC
        out = pd.to_datetime(cells, errors="coerce", utc=True, **kwargs)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _parse_times(cells: pd.Series) -> pd.Series:
    """Parse stripped strings; NaT where a cell is empty or not a date. Fast path: the format of the first cell."""
    filled = cells != ""
    if not filled.any():
        return pd.Series(pd.NaT, index=cells.index, dtype="datetime64[ns]")
    fmt = guess_datetime_format(cells[filled].iloc[0])
    out = None
    if fmt is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = _to_datetime(cells, format=fmt)
    if out is None or (out.isna() & filled).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mixed = _to_datetime(cells.where(filled, None), format="mixed")
        out = mixed if out is None else out.fillna(mixed)
    return _ns_range(out)


def _ns_range(times: pd.Series) -> pd.Series:
    """As datetime64[ns], NaT where a time lies outside what nanoseconds hold (about 1677-09-22 to 2262-04-11)."""
    inside = times.isna() | ((times >= pd.Timestamp.min) & (times <= pd.Timestamp.max))
    return times.where(inside).astype("datetime64[ns]")


def _time_column(src: _Source, timestamp: str | None) -> tuple[str | None, pd.Series | None]:
    """Choose and parse the timestamp column; returns (name, datetime64 series) or (None, None)."""
    frame = src.frame
    if timestamp is None:
        return None, None
    if timestamp != "auto":
        if timestamp not in frame.columns:
            raise src.error(f"no timestamp column {timestamp!r}; the columns are {_listing(frame.columns)}")
        return timestamp, _checked_times(src, timestamp)
    by_name = [c for c in frame.columns if c.strip().lower() in TIMESTAMP_NAMES]
    for name in by_name:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            return name, _checked_times(src, name)
        if pd.api.types.is_numeric_dtype(col.dtype) or _is_numeric_text(_strings(col)):
            continue  # e.g. a "time" column of seconds: a value, not a timestamp
        return name, _checked_times(src, name)
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name].dtype):
            return name, _checked_times(src, name)
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype):
            continue
        cells = _strings(col)
        if _is_numeric_text(cells):
            continue
        sample = cells[cells != ""].iloc[:20]
        if _parse_times(sample).notna().all():  # the first cells are dates: later bad cells are errors
            return name, _checked_times(src, name)
    return None, None


def _checked_times(src: _Source, name: str) -> pd.Series:
    col = src.frame[name]
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        times = col
        if getattr(times.dt, "tz", None) is not None:
            times = times.dt.tz_convert("UTC").dt.tz_localize(None)
        bad = times.isna().to_numpy()
        if bad.any():
            raise src.error("missing timestamp", row=int(bad.argmax()), column=name)
        times = _ns_range(times)
        bad = times.isna().to_numpy()
        if bad.any():
            row = int(bad.argmax())
            raise src.error(f"timestamp {col.iloc[row]} outside the years 1678-2261", row=row, column=name)
        return times
    cells = _strings(col)
    times = _parse_times(cells)
    bad = times.isna().to_numpy()
    if bad.any():
        row = int(bad.argmax())
        cell = cells.iloc[row]
        problem = "missing timestamp" if cell == "" else f"not a timestamp: {cell!r}"
        if cell and _to_datetime(pd.Series([cell]), format="mixed").notna().all():
            problem = f"timestamp {cell!r} outside the years 1678-2261"
        raise src.error(problem, row=row, column=name)
    return times


# ------------------------------------------------------------------------------------------------- frequency


def _human(step_ns: int) -> str:
    """A duration in words: "1 hour", "15 minutes", "1 day 6 hours"."""
    parts, rest = [], int(step_ns)
    for unit, size in (("day", _DAY_NS), ("hour", 3600 * 10**9), ("minute", 60 * 10**9), ("second", 10**9)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{n} {unit}{'s' if n > 1 else ''}")
    if rest or not parts:
        parts.append(f"{rest / 1e6:g} ms")
    return " ".join(parts)


def _step_alias(step_ns: int) -> str:
    if step_ns % _DAY_NS == 0:
        days = step_ns // _DAY_NS
        return "D" if days == 1 else f"{days}D"
    return to_offset(pd.Timedelta(int(step_ns), unit="ns")).freqstr


def _on_grid(times: pd.DatetimeIndex, freq: str) -> bool:
    try:
        grid = pd.date_range(times[0], times[-1], freq=freq).as_unit("ns")
    except (ValueError, OverflowError):
        return False
    return len(grid) > 0 and grid[0] == times[0] and bool(times.isin(grid).all())


def infer_freq(timestamps) -> str | None:
    """Frequency alias of (T,) timestamps: pandas.infer_freq when the series is regular, else the most
    common step (calendar frequencies such as "MS" or "B" are recognised despite gaps); None for T < 2."""
    times = pd.DatetimeIndex(timestamps).as_unit("ns").sort_values().unique()
    if len(times) < 2:
        return None
    if len(times) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                found = pd.infer_freq(times)
            except (TypeError, ValueError):
                found = None
        if found is not None:
            return found if isinstance(found, str) else found.freqstr
    steps = np.diff(times.asi8)
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[counts.argmax()])
    first = times[0]
    if step >= 28 * _DAY_NS:
        month = first.strftime("%b").upper()
        for cand in (f"YS-{month}", f"YE-{month}", f"QS-{month}", f"QE-{month}", "MS", "ME"):
            if _on_grid(times, cand):
                return cand
    if step == 7 * _DAY_NS and len(np.unique(times.dayofweek)) == 1:
        return "W-" + first.strftime("%a").upper()
    if step == _DAY_NS and (times.dayofweek < 5).all() and (steps == 3 * _DAY_NS).any() and _on_grid(times, "B"):
        return "B"
    return _step_alias(step)


def fixed_step(freq: str) -> pd.Timedelta | None:
    """The step of a fixed-length frequency ("h", "15min", "D"), None for calendar ones ("MS", "B", "W-SUN")."""
    try:
        return pd.Timedelta(to_offset(freq))
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------- values


def _codes(vals: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(vals), _MISSING, np.where(np.isinf(vals), _NOT_FINITE, _OK)).astype(np.int8)


def _arrow_floats(col: pd.Series) -> np.ndarray | None:
    """Strings -> float64 through pyarrow's parser, or None when a cell is not a plain number (or no pyarrow)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        return np.array(pc.cast(pa.array(col, from_pandas=True), pa.float64()).to_numpy(zero_copy_only=False),
                        dtype=np.float64)
    except (ImportError, ValueError, TypeError, NotImplementedError, ArithmeticError):
        return None
    except Exception as exc:  # pyarrow.ArrowInvalid and friends
        if type(exc).__module__.startswith("pyarrow"):
            return None
        raise


def _numeric(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Cells as float64 (NaN where unusable) and a code per cell: ok, missing, not a number, not finite."""
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        vals = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return vals, _codes(vals)
    if pd.api.types.is_string_dtype(col.dtype):
        vals = _arrow_floats(col)  # fast path: every cell is a number ("NaN" and "inf" included)
        if vals is not None:
            return vals, _codes(vals)
    cells = _strings(col)
    vals = np.array(pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan))
    missing = cells.str.lower().isin(MISSING_TOKENS).to_numpy()
    codes = np.full(len(vals), _OK, dtype=np.int8)
    codes[np.isnan(vals)] = _NOT_NUMBER
    codes[missing] = _MISSING
    codes[np.isinf(vals)] = _NOT_FINITE
    vals[codes != _OK] = np.nan
    return vals, codes


def _cell_text(src: _Source, column: str, row: int) -> str:
    value = src.frame[column].iloc[row]
    return value.strip() if isinstance(value, str) else str(value)


def _cell_problem(code: int, text: str) -> str:
    if code == _MISSING:
        return "missing value (pass repair='interpolate' / --data.repair interpolate to fill it)"
    if code == _NOT_NUMBER:
        return f"not a number: {text!r}"
    return f"not a finite number: {text!r}"


# --------------------------------------------------------------------------------------------- table checks


def _order_error(src: _Source, times: pd.DatetimeIndex, tcol: str, freq: str | None) -> tuple[int, DataError] | None:
    """First duplicated, backwards or missing step in file order, as (row, error); None when regular."""
    found: list[tuple[int, DataError]] = []
    ns = times.asi8
    dup = times.duplicated()
    if dup.any():
        row = int(dup.argmax())
        first = int(np.flatnonzero(ns == ns[row])[0])
        found.append((row, src.error(f"duplicated timestamp {times[row]} (also on {src.where(first)}); "
                                     + _REPAIR_HINT, row=row, column=tcol)))
    steps = np.diff(ns)
    back = steps < 0
    if back.any():
        row = int(back.argmax()) + 1
        found.append((row, src.error(f"timestamps go backwards: {times[row]} comes after {times[row - 1]} "
                                     f"on {src.where(row - 1)}; " + _REPAIR_HINT, row=row, column=tcol)))
    if freq is not None and not found:  # gaps only mean something once the order is right
        step = fixed_step(freq)
        if step is not None:
            want = step.value
            odd = (steps > 0) & (steps != want)
            if odd.any():
                row = int(odd.argmax()) + 1
                got = int(steps[row - 1])
                if got > want and got % want == 0:
                    what = f"gap of {got // want - 1} missing step{'s' if got // want > 2 else ''}"
                else:
                    what = f"irregular step of {_human(got)}"
                found.append((row, src.error(
                    f"{what}: {times[row - 1]} ({src.where(row - 1)}) is followed by {times[row]}, "
                    f"expected a step of {_human(want)} ({freq!r}); " + _REPAIR_HINT, row=row, column=tcol)))
        else:
            found.extend(_calendar_gap(src, times, tcol, freq))
    return min(found, key=lambda item: item[0]) if found else None


def _calendar_gap(src: _Source, times: pd.DatetimeIndex, tcol: str, freq: str) -> list[tuple[int, DataError]]:
    """Gaps of a calendar frequency ("MS", "B", ...), found by comparing with pd.date_range."""
    uniq = times.sort_values().unique()
    grid = pd.date_range(uniq[0], uniq[-1], freq=freq).as_unit("ns")
    found = []
    off = ~times.isin(grid)
    if off.any():
        row = int(off.argmax())
        found.append((row, src.error(f"timestamp {times[row]} is not on the {freq!r} grid of the other rows; "
                                     + _REPAIR_HINT, row=row, column=tcol)))
    absent = grid[~grid.isin(uniq)]
    if len(absent):
        gap = absent[0]
        after = uniq[uniq > gap][0]
        before = uniq[uniq < gap][-1]
        n = int(((grid > before) & (grid < after)).sum())
        row = int(np.flatnonzero(times == after)[0])
        prev = int(np.flatnonzero(times == before)[0])
        found.append((row, src.error(
            f"gap of {n} missing step{'s' if n > 1 else ''}: {before} ({src.where(prev)}) is followed by {after}, "
            f"expected a step of {freq!r} (next {gap}); " + _REPAIR_HINT, row=row, column=tcol)))
    return found


# ---------------------------------------------------------------------------------------------------- repair


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _repair(src: _Source, times: pd.DatetimeIndex | None, names: list[str], vals: np.ndarray,
            codes: np.ndarray, repairs: list[str]) -> tuple[pd.DatetimeIndex | None, np.ndarray, str | None]:
    """Sort, average duplicates, fill the grid and interpolate. vals (T, C) float64 with NaN at bad cells."""
    for j, name in enumerate(names):
        for code, label in ((_NOT_NUMBER, "non-numeric"), (_NOT_FINITE, "infinite")):
            bad = np.flatnonzero(codes[:, j] == code)
            if len(bad):
                row = int(bad[0])
                repairs.append(f"treated {_plural(len(bad), label + ' cell')} in column {name!r} as missing "
                               f"(first on {src.where(row)}: {_cell_text(src, name, row)!r})")
    frame = pd.DataFrame(vals, columns=range(len(names)))
    freq = None
    inserted = None
    if times is not None:
        frame.index = times
        if not times.is_monotonic_increasing:
            back = int(np.flatnonzero(np.diff(times.asi8) < 0)[0]) + 1
            order = np.argsort(times.asi8, kind="stable")
            moved = int((order != np.arange(len(order))).sum())
            frame = frame.iloc[order]
            repairs.append(f"sorted the rows by timestamp ({_plural(moved, 'row')} moved; first out of order on "
                           f"{src.where(back)})")
        if frame.index.has_duplicates:
            dup = frame.index.duplicated(keep=False)
            n_rows, n_stamps = int(dup.sum()), int(frame.index[dup].nunique())
            first_dup = frame.index[dup][0]
            frame = frame.groupby(level=0, sort=True).mean()
            repairs.append(f"averaged {n_rows} rows sharing {_plural(n_stamps, 'duplicated timestamp')} "
                           f"(first {first_dup})")
        freq = infer_freq(frame.index)
        if freq is not None:
            limit, step = max(10 * len(frame), 1_000_000), fixed_step(freq)
            # count fixed steps before building the grid: one stray far-off timestamp must not allocate gigabytes
            steps = (frame.index[-1] - frame.index[0]) // step + 1 if step is not None else None
            grid = pd.date_range(frame.index[0], frame.index[-1], freq=freq).as_unit("ns") \
                if steps is None or steps <= limit else None
            if grid is None or len(grid) > limit:
                raise src.error(f"the timestamps span {steps or len(grid)} steps of {freq} but the file has only "
                                f"{len(frame)} rows: too sparse to fill in")
            off = ~frame.index.isin(grid)
            if off.any():
                repairs.append(f"dropped {_plural(int(off.sum()), 'row')} off the {freq!r} grid "
                               f"(first {frame.index[off][0]})")
                frame = frame.loc[~off]
            absent = ~grid.isin(frame.index)
            if absent.any():
                first = int(np.flatnonzero(absent)[0])
                inserted = (int(absent.sum()), grid[first - 1])
                frame = frame.reindex(grid)
    holes = frame.isna()
    if inserted is not None:
        holes = holes.loc[frame.index.isin(times)]
    for j, name in enumerate(names):
        if frame[j].isna().all():
            raise src.error("no usable value in this column, nothing to interpolate from", column=name)
    method = "time" if times is not None else "linear"
    filled = frame.interpolate(method=method, limit_area="inside").ffill().bfill()
    if inserted is not None:
        repairs.append(f"inserted {_plural(inserted[0], 'missing step')} (first after {inserted[1]}), "
                       "values interpolated")
    for j, name in enumerate(names):
        n = int(holes[j].sum())
        if n:
            repairs.append(f"filled {_plural(n, 'missing cell')} in column {name!r}")
    out_times = None if times is None else pd.DatetimeIndex(filled.index)
    return out_times, filled.to_numpy(dtype=np.float64), freq


# ------------------------------------------------------------------------------------------------------- API


def read_table(path: str | Path, timestamp: str | None = "auto", columns: list[str] | None = None,
               repair: str = "none") -> TimeTable:
    """Read a CSV/TSV/TXT (optionally .gz) or Parquet table into a :class:`TimeTable`.

    timestamp: "auto" (a column named date/datetime/time/timestamp/ds, else the first column of dates),
    a column name, or None (no timestamps). columns: value columns to keep, in that order (default: every
    numeric column but the timestamp). repair: "none" (bad cells, duplicates, disorder and gaps are errors)
    or "interpolate" (fixed and listed in ``repairs``). Values come back as float32 (T, C).
    """
    if repair not in REPAIRS:
        raise ValueError(f"repair must be one of {', '.join(repr(r) for r in REPAIRS)}, not {repair!r}")
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    src = _load_csv(path) if kind == "csv" else _load_parquet(path)
    if len(src.frame) == 0:
        raise DataError("no data rows", path=path)

    tcol, tseries = _time_column(src, timestamp)
    notes: list[str] = []
    if columns is not None:
        names = list(columns)
        for name in names:
            if name not in src.frame.columns:
                raise src.error(f"no column {name!r}; the columns are {_listing(src.frame.columns)}")
            if name == tcol:
                raise src.error(f"column {name!r} is the timestamp column; it cannot also be a value column")
        converted = [_numeric(src.frame[name]) for name in names]
    else:
        names, converted = [], []
        for name in src.frame.columns:
            if name == tcol:
                continue
            vals, codes = _numeric(src.frame[name])
            if not (codes == _OK).any() and not (codes == _NOT_FINITE).any():
                notes.append(f"dropped column {name!r}: no numeric value")
                continue
            names.append(name)
            converted.append((vals, codes))
        if not names:
            raise DataError("no numeric columns" + (f" besides the timestamp column {tcol!r}" if tcol else ""),
                            path=path)
    vals = np.stack([v for v, _ in converted], axis=1)
    codes = np.stack([c for _, c in converted], axis=1)
    times = None if tseries is None else pd.DatetimeIndex(tseries.to_numpy(dtype="datetime64[ns]"))

    repairs: list[str] = []
    if repair == "none":
        found: list[tuple[int, DataError]] = []
        bad = codes != _OK
        if bad.any():
            row_bad = bad.any(axis=1)
            row = int(row_bad.argmax())
            j = int(bad[row].argmax())
            problem = _cell_problem(int(codes[row, j]), _cell_text(src, names[j], row))
            found.append((row, src.error(problem, row=row, column=names[j])))
        freq = None
        if times is not None:
            freq = infer_freq(times)
            order = _order_error(src, times, tcol, freq)
            if order is not None:
                found.append(order)
        if found:
            raise min(found, key=lambda item: item[0])[1]
    else:
        times, vals, freq = _repair(src, times, names, vals, codes, repairs)

    stamps = None if times is None else times.as_unit("ns").to_numpy()
    return TimeTable(path=path, timestamps=stamps, columns=names, values=vals.astype(np.float32), freq=freq,
                     repairs=repairs, notes=notes, time_column=tcol)

"""Fuzzing the time-series table reader (read_table: CSV, TSV, gzipped CSV, Parquet)."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'ssmkit[dev]')")
pytest.importorskip("ssmkit_timeseries", reason="the ssmkit-timeseries plug-in is not installed")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from ssmkit_timeseries.table import read_table  # noqa: E402

from .conftest import attempt, fuzz_settings, mutated, write_input  # noqa: E402

ETTH1 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "timeseries" / "ETTh1.csv"


def _csv(sep: str = ",", rows: int = 30) -> bytes:
    rng = np.random.default_rng(0)
    lines = [sep.join(["date", "load", "temp", "OT"])]
    stamps = np.datetime64("2021-03-01T00:00") + np.arange(rows) * np.timedelta64(1, "h")
    for t, v in zip(stamps, rng.normal(size=(rows, 3)).round(3)):
        lines.append(sep.join([str(t).replace("T", " ")] + [f"{x:g}" for x in v]))
    return ("\n".join(lines) + "\n").encode()


CSV, TSV = _csv(","), _csv("\t")
SEEDS = [CSV, _csv(";", 12)]


def _table_ok(table) -> None:
    assert table.values.dtype == np.float32 and table.values.ndim == 2
    assert table.values.shape == (len(table), len(table.columns)) and len(table) > 0
    assert np.isfinite(table.values).all()
    if table.timestamps is not None:
        assert len(table.timestamps) == len(table)


def test_seeds_load(tmp_path):
    for name, data in (("a.csv", CSV), ("a.tsv", TSV), ("a.csv.gz", gzip.compress(CSV))):
        _table_ok(read_table(write_input(tmp_path, name, data)))


@fuzz_settings(100)
@given(data=mutated(SEEDS))
def test_csv(fuzz_dir, data):
    path = write_input(fuzz_dir, "series.csv", data)
    attempt("timeseries csv", lambda: read_table(path), path, _table_ok)
    attempt("timeseries csv (repair)", lambda: read_table(path, repair="interpolate"), path, _table_ok)


@fuzz_settings(30)
@given(data=mutated(TSV))
def test_tsv(fuzz_dir, data):
    path = write_input(fuzz_dir, "series.tsv", data)
    attempt("timeseries tsv", lambda: read_table(path), path, _table_ok)


@fuzz_settings(40)
@given(data=mutated([gzip.compress(CSV, mtime=0)]))
def test_gzipped_csv(fuzz_dir, data):
    path = write_input(fuzz_dir, "series.csv.gz", data)
    attempt("timeseries csv.gz", lambda: read_table(path), path, _table_ok)


@pytest.fixture(scope="module")
def parquet_seed() -> bytes:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow", reason="Parquet needs pyarrow")
    frame = pd.read_csv(io.BytesIO(CSV), parse_dates=["date"])
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@fuzz_settings(40)
@given(draw=st.data())
def test_parquet(fuzz_dir, parquet_seed, draw):
    path = write_input(fuzz_dir, "series.parquet", draw.draw(mutated(parquet_seed)))
    attempt("timeseries parquet", lambda: read_table(path), path, _table_ok)


@pytest.fixture(scope="module")
def etth1_head() -> bytes:
    """The header and first 79 rows of the real ETTh1.csv."""
    if not ETTH1.exists():
        pytest.skip(f"real data not found at {ETTH1}")
    with open(ETTH1, "rb") as handle:
        return b"".join(handle.readline() for _ in range(80))


@fuzz_settings(40)
@given(draw=st.data())
def test_real_etth1(fuzz_dir, etth1_head, draw):
    path = write_input(fuzz_dir, "ETTh1.csv", draw.draw(mutated(etth1_head)))
    attempt("timeseries csv (ETTh1)", lambda: read_table(path), path, _table_ok)


def _flip(data: bytes, at: int, mask: int) -> bytes:
    return data[:at] + bytes([data[at] ^ mask]) + data[at + 1:]


@pytest.mark.parametrize("name, data, words", [
    # a year outside datetime64[ns] (1677-2262) leaked pandas' OutOfBoundsDatetime
    ("year.csv", b"date,v\n2021-03-01 00:00,1\n0021-03-01 01:00,2\n", ["line 3", "'0021-03-01 01:00' outside"]),
    ("year.tsv", b"date\tv\n2021-03-01 00:00\t1\n2455-01-01 00:00\t2\n", ["line 3", "outside the years"]),
    # corrupt deflate data leaked zlib.error
    ("bad.csv.gz", _flip(gzip.compress(CSV, mtime=0), 12, 0x10), ["cannot read the file"]),
])
def test_found_by_fuzzing(tmp_path, name, data, words):
    from ssmkit.errors import DataError

    path = write_input(tmp_path, name, data)
    with pytest.raises(DataError) as err:
        read_table(path)
    assert str(err.value).startswith(str(path)) and all(w in str(err.value) for w in words), str(err.value)


def test_a_stray_far_timestamp_is_refused_before_building_the_grid(tmp_path):
    """repair='interpolate' on minute data with one row in 2200 built a 94-million-step grid (3 s, 2 GB) before
    refusing it; the steps are now counted first."""
    from ssmkit.errors import DataError

    path = write_input(tmp_path, "m.csv", b"date,v\n2021-01-01 00:00,1\n2021-01-01 00:01,2\n2021-01-01 00:02,3\n"
                                          b"2200-01-01 00:03,4\n")
    with pytest.raises(DataError, match="span 94144324 steps of min but the file has only 4 rows"):
        read_table(path, repair="interpolate")

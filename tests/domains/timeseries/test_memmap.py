"""Memory-mapped tables: a CSV converted in chunks to a .npy cache gives what read_table gives (values, timestamps,
and the same errors), the forecast data module windows it without loading it, and never reads a file whole."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import ssmkit_timeseries.memmap as mm
import torch
from ssmkit_timeseries.data import ForecastDataModule
from ssmkit_timeseries.table import read_table
from ssmkit_timeseries.windows import MappedWindowSet, Scaler

from ssmkit.errors import ConfigError, DataError


def _rows(n=60, monthly=False):
    out = []
    for i in range(n):
        t = np.datetime64("2020-01", "M") + np.timedelta64(i, "M") if monthly else \
            np.datetime64("2020-01-01T00:00") + np.timedelta64(i, "h")
        out.append([str(np.datetime64(t, "s")).replace("T", " "), f"{i * 0.5:.2f}", f"{i % 7}"])
    return out


def _text(rows, header="date,a,b", sep=","):
    return header.replace(",", sep) + "\n" + "".join(sep.join(r) + "\n" for r in rows)


def _series(path: Path, n: int = 2000, blank_at: int | None = None) -> Path:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n, 3)).cumsum(0)
    stamps = np.datetime64("2016-07-01T00:00") + np.arange(n) * np.timedelta64(1, "h")
    with open(path, "w") as f:
        f.write("date,a,b,OT,note\n")
        for i, (t, row) in enumerate(zip(np.datetime_as_string(stamps, unit="s"), values)):
            f.write(t.replace("T", " ") + "," + ",".join(f"{v:.6f}" for v in row) + ",x\n")
            if i == blank_at:
                f.write("\n")
    return path


@pytest.mark.parametrize("kind", ["csv", "tsv", "csv.gz"])
def test_mapped_table_is_read_table(tmp_path, kind):
    path = tmp_path / f"s.{kind}"
    text = _series(tmp_path / "plain.csv", n=500, blank_at=100).read_text()
    if kind == "tsv":
        text = text.replace(",", "\t")
    if kind == "csv.gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    whole, mapped = read_table(path), mm.mapped_table(path, chunk_rows=37)
    assert isinstance(mapped.values, np.memmap) and not mapped.values.flags.writeable
    np.testing.assert_array_equal(mapped.values, whole.values)
    np.testing.assert_array_equal(mapped.timestamps, whole.timestamps)
    assert (mapped.columns, mapped.freq, mapped.time_column, mapped.notes, mapped.path) == \
           (whole.columns, whole.freq, whole.time_column, whole.notes, whole.path)  # 'note' dropped, said so
    assert len(list(tmp_path.glob(f".s.{kind}.*"))) == 3  # values, timestamps, description: hidden beside the file


def _with(edit, monthly=False):
    rows = _rows(30 if monthly else 60, monthly)
    edit(rows)
    return _text(rows)


def _set(row, col, value):
    return lambda r: r[row].__setitem__(col, value)


BAD = {
    "missing": _with(_set(23, 1, "")),
    "text": _with(_set(23, 2, "abc")),
    "inf": _with(_set(40, 2, "inf")),
    "dup": _with(lambda r: r[30].__setitem__(0, r[29][0])),
    "dup_far": _with(lambda r: r[45].__setitem__(0, r[10][0])),  # an earlier chunk holds the copy
    "backwards": _with(_set(45, 0, "2019-12-31 00:30:00")),
    "gap": _with(lambda r: r.pop(20)),
    "irregular": _with(lambda r: r[33].__setitem__(0, r[33][0][:14] + "30:00")),
    "gap_then_dup": _with(lambda r: (r.pop(5), r[45].__setitem__(0, r[40][0]))),  # order errors hide gaps
    "gap_then_cell": _with(lambda r: (r.pop(5), r[30].__setitem__(1, "?"))),
    "cell_then_gap": _with(lambda r: (r.pop(40), r[30].__setitem__(1, "?"))),
    "bad_time": _with(_set(12, 0, "yesterday")),
    "extra_field": _with(_set(12, 1, "1,2")),
    "first_row_extra": _with(lambda r: r[0].append("9")),
    "monthly_gap": _with(lambda r: r.pop(10), monthly=True),
    "no_numbers": _with(lambda r: r.__setitem__(slice(None), [[x[0], "x", "y"] for x in r])),
    "header_only": "date,a,b\n",
    "empty": "",
}


@pytest.mark.parametrize("name, text", list(BAD.items()))
def test_errors_are_those_of_read_table(tmp_path, name, text):
    path = tmp_path / f"{name}.csv"
    path.write_text(text)
    with pytest.raises(DataError) as whole:
        read_table(path)
    with pytest.raises(DataError) as mapped:
        mm.mapped_table(path, chunk_rows=7)  # problems land in several chunks and across their borders
    assert str(mapped.value) == str(whole.value)
    assert not list(tmp_path.glob(f".{name}.csv.*"))  # nothing half-written is left


def test_cache_is_reused_rebuilt_and_falls_back_to_the_user_cache(tmp_path, monkeypatch):
    path = _series(tmp_path / "s.csv", n=300)
    mm.mapped_table(path)
    converted = []
    real = mm._convert
    monkeypatch.setattr(mm, "_convert", lambda *a: converted.append(a) or real(*a))
    mm.mapped_table(path)
    assert converted == []
    _series(path, n=250)  # another size: a new key, the stale arrays are removed
    assert len(mm.mapped_table(path)) == 250 and len(converted) == 1
    assert len(list(tmp_path.glob(".s.csv.*"))) == 3
    monkeypatch.setenv("SSMKIT_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "ro"
    folder.mkdir()
    ro = _series(folder / "r.csv", n=200)
    folder.chmod(0o555)
    try:
        table = mm.mapped_table(ro)
    finally:
        folder.chmod(0o755)
    assert len(table) == 200 and not list(folder.glob(".r.csv.*"))
    assert len(list((tmp_path / "cache").rglob(".r.csv.*"))) == 3


def test_chunked_scaler_is_the_scaler():
    values = np.random.default_rng(1).normal(5.0, 3.0, (10_001, 4)).astype(np.float32)
    whole, chunked = Scaler.fit(values), Scaler.fit_chunked(values, chunk_rows=999)
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(chunked.std, whole.std, rtol=1e-10)
    const = Scaler.fit_chunked(np.ones((50, 2), np.float32), chunk_rows=7)
    assert const.std.tolist() == [1.0, 1.0]


@pytest.fixture
def no_whole_file_reads(monkeypatch):
    """The in-memory reader, a pandas read without chunks, np.loadtxt and the whole-table scaler all fail."""

    def refuse(*args, **kwargs):
        raise AssertionError("a whole-file read")

    real_read_csv = pd.read_csv

    def chunked_only(*args, **kwargs):
        if not kwargs.get("chunksize"):
            raise AssertionError("pd.read_csv without chunksize")
        return real_read_csv(*args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", chunked_only)
    monkeypatch.setattr("ssmkit_timeseries.data.read_table", refuse)
    monkeypatch.setattr("ssmkit_timeseries.table._load_csv", refuse)
    monkeypatch.setattr(np, "loadtxt", refuse)
    monkeypatch.setattr(Scaler, "fit", refuse)


@pytest.mark.parametrize("features", ["M", "S"])
def test_forecast_windows_from_the_memory_map_are_the_in_memory_ones(tmp_path, features, request):
    path = _series(tmp_path / "s.csv", blank_at=700)
    kw = dict(path=str(path), seq_len=48, pred_len=24, features=features, target="OT", train_stride=3)
    whole = ForecastDataModule(mmap="never", **kw)
    whole.setup("fit")
    request.getfixturevalue("no_whole_file_reads")
    mapped = ForecastDataModule(mmap="always", **kw)
    mapped.setup("fit")
    assert isinstance(mapped.table.values, np.memmap) and isinstance(mapped.train_set, MappedWindowSet)
    np.testing.assert_allclose(mapped.scaler.mean, whole.scaler.mean, rtol=1e-12)
    np.testing.assert_allclose(mapped.scaler.std, whole.scaler.std, rtol=1e-10)
    for a, b in ((whole.train_set, mapped.train_set), (whole.val_set, mapped.val_set),
                 (whole.test_set, mapped.test_set), (whole.predict_set, mapped.predict_set)):
        assert len(a) == len(b)
        for i in sorted({0, len(a) // 3, len(a) - 1}):
            x, y = a[i], b[i]
            assert x.keys() == y.keys() and x["index"] == y["index"] and x["step"] == y["step"]
            for key in ("x", "y", "marks"):
                torch.testing.assert_close(x[key], y[key], rtol=1e-6, atol=1e-6)
    for (x1, y1), (x2, y2) in ((whole.train_set.arrays(50, seed=3), mapped.train_set.arrays(50, seed=3)),):
        torch.testing.assert_close(x1, x2, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(y1, y2, rtol=1e-6, atol=1e-6)


def test_a_short_fit_on_the_memory_map(tmp_path):
    from ssmkit import registry

    path = _series(tmp_path / "s.csv", n=1500)
    pipe = registry.get("pipelines", "timeseries/forecast")
    dm, model = pipe.instantiate(model={"model": "patch_mamba", "options": {"d_model": 16, "d_ff": 32, "n_layers": 1}},
                                 data={"path": str(path), "mmap": "always", "seq_len": 48, "pred_len": 24,
                                       "batch_size": 32})
    trainer = pl.Trainer(max_steps=3, limit_val_batches=2, limit_test_batches=2, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, datamodule=dm)  # the ridge start draws its windows from the memory map too
    metrics = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert isinstance(dm.table.values, np.memmap) and np.isfinite(metrics["test/mse"])


def test_when_the_memory_map_is_used(tmp_path, monkeypatch):
    path = _series(tmp_path / "s.csv", n=300)
    assert not mm.use_mmap(path, "auto", "none")  # small
    monkeypatch.setattr(mm, "MMAP_MIN_BYTES", 1)
    assert mm.use_mmap(path, "auto", "none") and not mm.use_mmap(path, "auto", "interpolate")
    assert not mm.use_mmap(path, "never", "none")
    with pytest.raises(ConfigError, match="repair none only"):
        mm.use_mmap(path, "always", "interpolate")
    parquet = tmp_path / "s.parquet"
    pd.DataFrame({"a": [1.0, 2.0]}).to_parquet(parquet)
    assert not mm.use_mmap(parquet, "auto", "none")
    with pytest.raises(ConfigError, match="CSV/TSV files only"):
        mm.use_mmap(parquet, "always", "none")
    with pytest.raises(ConfigError, match="--data.mmap 'sometimes'"):
        ForecastDataModule(path=str(path), mmap="sometimes")

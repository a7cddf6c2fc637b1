"""Tests of ssmkit_timeseries.table / calendar / datasets: reading, checks with line numbers, repair."""

from __future__ import annotations

import gzip
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ssmkit_timeseries.calendar import calendar_features, future_timestamps
from ssmkit_timeseries.datasets import DATASETS, DEFAULTS
from ssmkit_timeseries.table import TimeTable, infer_freq, read_table

from ssmkit.errors import DataError

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
ETTH1 = SHARED / "timeseries" / "ETTh1.csv"

GOOD = """date,HUFL,OT
2016-07-01 00:00:00,5.827,30.531
2016-07-01 01:00:00,5.693,27.787
2016-07-01 02:00:00,-1.5e-1,27.787
2016-07-01 03:00:00,5.09,25.044
"""
GOOD_VALUES = np.array([[5.827, 30.531], [5.693, 27.787], [-0.15, 27.787], [5.09, 25.044]], dtype=np.float32)
GOOD_STAMPS = np.array(["2016-07-01T00", "2016-07-01T01", "2016-07-01T02", "2016-07-01T03"], dtype="datetime64[ns]")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path, **kwargs) -> DataError:
    with pytest.raises(DataError) as info:
        read_table(path, **kwargs)
    return info.value


def assert_names(err: DataError, path: Path, line: int | None, column: str | None, *words: str) -> None:
    message = str(err)
    assert path.name in message, message
    assert err.line == line, message
    assert err.column == column, message
    if line is not None:
        assert f"line {line}," in message or f"line {line}:" in message, message
    if column is not None:
        assert f"column {column!r}" in message, message
    for word in words:
        assert word in message, message


# ------------------------------------------------------------------------------------------------ good files


def test_good_csv_exact(tmp_path):
    table = read_table(write(tmp_path, "good.csv", GOOD))
    assert isinstance(table, TimeTable)
    assert table.columns == ["HUFL", "OT"]
    assert table.values.dtype == np.float32 and table.values.shape == (4, 2)
    np.testing.assert_array_equal(table.values, GOOD_VALUES)
    assert table.timestamps.dtype == np.dtype("datetime64[ns]")
    np.testing.assert_array_equal(table.timestamps, GOOD_STAMPS)
    assert table.freq == "h"
    assert table.repairs == [] and table.notes == []
    assert table.column_index("OT") == 1 and len(table) == 4


def test_column_index_error_lists_columns(tmp_path):
    table = read_table(write(tmp_path, "good.csv", GOOD))
    with pytest.raises(DataError) as info:
        table.column_index("load")
    assert "good.csv" in str(info.value) and "'load'" in str(info.value)
    assert "'HUFL'" in str(info.value) and "'OT'" in str(info.value)


def test_select_and_order_columns(tmp_path):
    table = read_table(write(tmp_path, "good.csv", GOOD), columns=["OT", "HUFL"])
    assert table.columns == ["OT", "HUFL"]
    np.testing.assert_array_equal(table.values, GOOD_VALUES[:, ::-1])


def test_auto_detects_timestamp_column_by_content(tmp_path):
    text = ("sensor,recorded,load\n"
            "s1,01/07/2016 00:00,1.0\n"
            "s1,01/07/2016 00:15,2.0\n"
            "s1,01/07/2016 00:30,3.0\n")
    table = read_table(write(tmp_path, "odd.csv", text))
    assert table.columns == ["load"]
    np.testing.assert_array_equal(table.values[:, 0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(table.timestamps, np.array(
        ["2016-01-07T00:00", "2016-01-07T00:15", "2016-01-07T00:30"], dtype="datetime64[ns]"))
    assert table.freq == "15min"
    assert any("'sensor'" in note for note in table.notes)


def test_auto_detects_named_timestamp_case_insensitive(tmp_path):
    text = "a,Timestamp\n1,2021-03-01\n2,2021-03-02\n3,2021-03-03\n"
    table = read_table(write(tmp_path, "named.csv", text))
    assert table.columns == ["a"] and table.freq == "D"
    assert table.timestamps[0] == np.datetime64("2021-03-01", "ns")


def test_numbers_are_not_taken_for_dates(tmp_path):
    text = "day,value\n20160701,1.5\n20160702,2.5\n20160703,3.5\n"
    table = read_table(write(tmp_path, "numbers.csv", text))
    assert table.timestamps is None and table.freq is None
    assert table.columns == ["day", "value"]
    np.testing.assert_array_equal(table.values[:, 0], np.float32([20160701, 20160702, 20160703]))


def test_no_timestamp_file(tmp_path):
    table = read_table(write(tmp_path, "plain.csv", "x,y\n1,2\n3,4\n5,6\n"))
    assert table.timestamps is None and table.freq is None
    np.testing.assert_array_equal(table.values, [[1, 2], [3, 4], [5, 6]])


def test_timestamp_none_drops_the_date_column_with_a_note(tmp_path):
    table = read_table(write(tmp_path, "good.csv", GOOD), timestamp=None)
    assert table.timestamps is None and table.columns == ["HUFL", "OT"]
    assert table.notes == ["dropped column 'date': no numeric value"]


@pytest.mark.parametrize("name,sep", [("good.tsv", "\t"), ("semi.csv", ";"), ("tabbed.txt", "\t")])
def test_delimiters(tmp_path, name, sep):
    table = read_table(write(tmp_path, name, GOOD.replace(",", sep)))
    assert table.columns == ["HUFL", "OT"] and table.freq == "h"
    np.testing.assert_array_equal(table.values, GOOD_VALUES)
    np.testing.assert_array_equal(table.timestamps, GOOD_STAMPS)


def test_gzip(tmp_path):
    path = tmp_path / "good.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(GOOD)
    table = read_table(path)
    np.testing.assert_array_equal(table.values, GOOD_VALUES)
    np.testing.assert_array_equal(table.timestamps, GOOD_STAMPS)
    assert table.freq == "h"


def test_parquet(tmp_path):
    frame = pd.DataFrame({"when": pd.date_range("2020-01-01", periods=5, freq="10min"),
                          "a": np.arange(5, dtype=np.float64) / 4, "b": np.arange(5, dtype=np.int64)})
    for name in ("t.parquet", "t.pq"):
        frame.to_parquet(tmp_path / name)
        table = read_table(tmp_path / name)
        assert table.columns == ["a", "b"] and table.freq == "10min"
        np.testing.assert_array_equal(table.values, frame[["a", "b"]].to_numpy(np.float32))
        np.testing.assert_array_equal(table.timestamps, frame["when"].to_numpy("datetime64[ns]"))


def test_parquet_missing_value_names_row_and_column(tmp_path):
    frame = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=4, freq="h"), "a": [1.0, 2.0, np.nan, 4.0]})
    frame.to_parquet(tmp_path / "hole.parquet")
    err = error_of(tmp_path / "hole.parquet")
    assert_names(err, tmp_path / "hole.parquet", None, "a", "row 3", "missing value")


def test_blank_lines_keep_line_numbers(tmp_path):
    text = "date,a\n2020-01-01 00:00,1\n\n2020-01-01 01:00,2\n2020-01-01 02:00,x\n\n"
    path = write(tmp_path, "blank.csv", text)
    assert_names(error_of(path), path, 5, "a", "not a number: 'x'")


def test_regular_calendar_frequencies_have_no_gaps(tmp_path):
    months = "date,v\n" + "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13))
    assert read_table(write(tmp_path, "months.csv", months)).freq == "MS"
    ends = "date,v\n" + "".join(f"{d.date()},{i}\n" for i, d in enumerate(pd.date_range("2020-01", periods=8,
                                                                                      freq="ME")))
    assert read_table(write(tmp_path, "ends.csv", ends)).freq == "ME"
    days = pd.bdate_range("2024-01-01", periods=15)
    business = "date,v\n" + "".join(f"{d.date()},{i}\n" for i, d in enumerate(days))
    table = read_table(write(tmp_path, "business.csv", business))
    assert table.freq == "B" and len(table) == 15


def test_infer_freq_with_gaps_and_short_series():
    hours = pd.date_range("2020-01-01", periods=10, freq="h").delete(4)
    assert infer_freq(hours) == "h"
    months = pd.date_range("2020-01-01", periods=12, freq="MS").delete(5)
    assert infer_freq(months) == "MS"
    business = pd.bdate_range("2024-01-01", periods=15).delete(6)
    assert infer_freq(business) == "B"
    assert infer_freq(np.array(["2020-01-01T00", "2020-01-01T00:30"], dtype="datetime64[ns]")) == "30min"
    assert infer_freq(np.array(["2020-01-01", "2020-01-03"], dtype="datetime64[ns]")) == "2D"
    assert infer_freq(np.array(["2020-01-01"], dtype="datetime64[ns]")) is None


# -------------------------------------------------------------------------------------------- malformed files


def test_missing_value(tmp_path):
    path = write(tmp_path, "hole.csv", GOOD.replace("5.693,27.787", "5.693,"))
    assert_names(error_of(path), path, 3, "OT", "missing value", "repair='interpolate'", "--data.repair interpolate")


@pytest.mark.parametrize("token", ["NA", "NaN", "null", "nan"])
def test_missing_tokens(tmp_path, token):
    path = write(tmp_path, "tok.csv", GOOD.replace("5.09,", f"{token},"))
    assert_names(error_of(path), path, 5, "HUFL", "missing value")


def test_not_a_number(tmp_path):
    path = write(tmp_path, "text.csv", GOOD.replace("-1.5e-1", "abc"))
    assert_names(error_of(path), path, 4, "HUFL", "not a number: 'abc'")


def test_not_finite(tmp_path):
    path = write(tmp_path, "inf.csv", GOOD.replace("25.044", "inf"))
    assert_names(error_of(path), path, 5, "OT", "not a finite number")


def test_first_bad_cell_is_reported(tmp_path):
    text = GOOD.replace("25.044", "zz").replace("5.693,27.787", "5.693,")
    path = write(tmp_path, "two.csv", text)
    assert_names(error_of(path), path, 3, "OT", "missing value")


def test_unparseable_timestamp(tmp_path):
    path = write(tmp_path, "when.csv", GOOD.replace("2016-07-01 02:00:00", "2016-07-01 2 o'clock"))
    assert_names(error_of(path), path, 4, "date", "not a timestamp", "2 o'clock")


def test_duplicated_timestamp(tmp_path):
    path = write(tmp_path, "dup.csv", GOOD.replace("2016-07-01 02:00:00", "2016-07-01 01:00:00"))
    err = error_of(path)
    assert_names(err, path, 4, "date", "duplicated timestamp 2016-07-01 01:00:00", "line 3")


def test_backwards_timestamps(tmp_path):
    text = GOOD.replace("2016-07-01 02:00:00", "2016-07-01 04:00:00").replace("2016-07-01 03:00:00",
                                                                            "2016-07-01 02:00:00")
    path = write(tmp_path, "back.csv", text + "2016-07-01 03:00:00,1,2\n2016-07-01 05:00:00,1,2\n")
    err = error_of(path)
    assert_names(err, path, 5, "date", "backwards", "2016-07-01 02:00:00", "2016-07-01 04:00:00", "line 4")


def test_gap(tmp_path):
    text = GOOD + "2016-07-01 06:00:00,1,2\n2016-07-01 07:00:00,3,4\n"
    path = write(tmp_path, "gap.csv", text)
    err = error_of(path)
    assert_names(err, path, 6, "date", "2016-07-01 03:00:00", "2016-07-01 06:00:00", "gap of 2 missing steps",
                 "line 5", "expected a step of 1 hour ('h')")


def test_monthly_gap(tmp_path):
    months = [m for m in range(1, 13) if m != 6]
    text = "date,v\n" + "".join(f"2020-{m:02d}-01,{m}\n" for m in months)
    path = write(tmp_path, "months.csv", text)
    err = error_of(path)
    assert_names(err, path, 7, "date", "2020-05-01", "2020-07-01", "'MS'", "gap of 1 missing step", "line 6")


def test_empty_and_header_only(tmp_path):
    for name, text in (("empty.csv", ""), ("header.csv", "date,a,b\n"), ("blank.csv", "\n\n")):
        path = write(tmp_path, name, text)
        err = error_of(path)
        assert "no data rows" in str(err) and name in str(err)


def test_missing_file_and_unknown_suffix(tmp_path):
    err = error_of(tmp_path / "absent.csv")
    assert "file not found" in str(err) and "absent.csv" in str(err)
    path = write(tmp_path, "table.xlsx", "a\n1\n")
    err = error_of(path)
    assert "unknown file type" in str(err) and "'.xlsx'" in str(err)


def test_named_timestamp_and_columns_must_exist(tmp_path):
    path = write(tmp_path, "good.csv", GOOD)
    err = error_of(path, timestamp="when")
    assert "'when'" in str(err) and "'date'" in str(err) and "'OT'" in str(err)
    err = error_of(path, columns=["OT", "LOAD"])
    assert "'LOAD'" in str(err) and "'HUFL'" in str(err)


def test_no_numeric_columns(tmp_path):
    path = write(tmp_path, "words.csv", "date,name\n2020-01-01,a\n2020-01-02,b\n")
    err = error_of(path)
    assert "no numeric columns" in str(err) and "words.csv" in str(err)


def test_ragged_row(tmp_path):
    path = write(tmp_path, "ragged.csv", GOOD.replace("5.09,25.044", "5.09,25.044,7"))
    assert_names(error_of(path), path, 5, None, "4 fields, the header has 3")
    path = write(tmp_path, "wide.csv", "a,b\n1,2,3\n4,5,6\n")
    assert_names(error_of(path), path, 2, None, "more fields than the header")


def test_bad_repair_value(tmp_path):
    with pytest.raises(ValueError) as info:
        read_table(write(tmp_path, "good.csv", GOOD), repair="drop")
    assert "'none'" in str(info.value) and "'interpolate'" in str(info.value) and "'drop'" in str(info.value)


# ------------------------------------------------------------------------------------------------------ repair

REPAIR = """date,a,b
2020-01-01 01:00:00,,20
2020-01-01 00:00:00,1,10
2020-01-01 03:00:00,4,40
2020-01-01 04:00:00,abc,50
2020-01-01 05:00:00,5,60
2020-01-01 05:00:00,7,60
2020-01-01 06:00:00,8,
"""


def test_repair_interpolate(tmp_path):
    path = write(tmp_path, "messy.csv", REPAIR)
    with pytest.raises(DataError):
        read_table(path)
    table = read_table(path, repair="interpolate")
    # sorted; 02:00 inserted; 05:00 averaged ((5 + 7) / 2); a linear in time, b's last cell from the edge
    np.testing.assert_array_equal(table.timestamps, pd.date_range("2020-01-01", periods=7, freq="h").to_numpy())
    np.testing.assert_allclose(table.values[:, 0], [1, 2, 3, 4, 5, 6, 8], rtol=0, atol=1e-6)
    np.testing.assert_allclose(table.values[:, 1], [10, 20, 30, 40, 50, 60, 60], rtol=0, atol=1e-6)
    assert table.freq == "h"
    text = "\n".join(table.repairs)
    assert "non-numeric" in text and "'abc'" in text and "line 5" in text
    assert "sorted" in text
    assert "averaged 2 rows" in text and "2020-01-01 05:00:00" in text
    assert "inserted 1 missing step (first after 2020-01-01 01:00:00)" in text
    assert "filled 2 missing cells in column 'a'" in text
    assert "filled 1 missing cell in column 'b'" in text


def test_repair_interpolates_unevenly_spaced_in_time(tmp_path):
    # 15-minute grid, two inserted steps: a goes 0 -> 3 over three steps
    text = "date,a\n2020-01-01 00:00,0\n2020-01-01 00:15,1\n2020-01-01 01:00,4\n2020-01-01 01:15,5\n"
    table = read_table(write(tmp_path, "q.csv", text), repair="interpolate")
    np.testing.assert_allclose(table.values[:, 0], [0, 1, 2, 3, 4, 5], atol=1e-6)
    assert table.freq == "15min" and len(table.timestamps) == 6


def test_repair_without_timestamps_fills_edges(tmp_path):
    text = "a,b\n,1\n2,\n,3\n4,4\n"
    table = read_table(write(tmp_path, "edges.csv", text), repair="interpolate")
    np.testing.assert_allclose(table.values, [[2, 1], [2, 2], [3, 3], [4, 4]], atol=1e-6)


def test_repair_clean_file_changes_nothing(tmp_path):
    table = read_table(write(tmp_path, "good.csv", GOOD), repair="interpolate")
    np.testing.assert_array_equal(table.values, GOOD_VALUES)
    assert table.repairs == []


def test_repair_column_entirely_missing(tmp_path):
    path = write(tmp_path, "empty_col.csv", "date,a,b\n2020-01-01,1,\n2020-01-02,2,NA\n")
    err = error_of(path, columns=["a", "b"], repair="interpolate")
    assert "empty_col.csv" in str(err) and err.column == "b"


# ---------------------------------------------------------------------------------------------------- calendar


def test_calendar_features_hourly():
    stamps = np.array(["2016-07-01T05:00", "2016-01-04T23:00"], dtype="datetime64[ns]")
    feats, names = calendar_features(stamps, "h")
    assert names == ["hour_of_day", "day_of_week", "day_of_month", "day_of_year"]
    assert feats.dtype == np.float32 and feats.shape == (2, 4)
    # 2016-07-01 is a Friday (4), day 183 of a leap year; 2016-01-04 is a Monday, day 4
    expected = [[5 / 23 - 0.5, 4 / 6 - 0.5, 0 / 30 - 0.5, 182 / 365 - 0.5],
                [23 / 23 - 0.5, 0 / 6 - 0.5, 3 / 30 - 0.5, 3 / 365 - 0.5]]
    np.testing.assert_allclose(feats, expected, atol=1e-6)


def test_calendar_features_15min_monthly_weekly():
    stamps = np.array(["2016-12-31T23:45"], dtype="datetime64[ns]")
    feats, names = calendar_features(stamps, "15min")
    assert names == ["minute_of_hour", "hour_of_day", "day_of_week", "day_of_month", "day_of_year"]
    np.testing.assert_allclose(feats[0], [45 / 59 - 0.5, 0.5, 5 / 6 - 0.5, 0.5, 0.5], atol=1e-6)
    feats, names = calendar_features(np.array(["2020-03-01"], dtype="datetime64[ns]"), "MS")
    assert names == ["month_of_year"]
    np.testing.assert_allclose(feats[0], [2 / 11 - 0.5], atol=1e-6)
    feats, names = calendar_features(np.array(["2021-01-03"], dtype="datetime64[ns]"), "W-SUN")
    assert names == ["day_of_month", "week_of_year"]
    np.testing.assert_allclose(feats[0], [2 / 30 - 0.5, 52 / 52 - 0.5], atol=1e-6)  # ISO week 53 of 2020
    assert calendar_features(np.array(["2020-01-01"], dtype="datetime64[ns]"), "D")[1] == [
        "day_of_week", "day_of_month", "day_of_year"]
    assert calendar_features(np.array(["2020-01-01"], dtype="datetime64[ns]"), None)[0].shape == (1, 4)


def test_future_timestamps():
    out = future_timestamps(np.datetime64("2018-06-26T19:00"), "h", 3)
    np.testing.assert_array_equal(out, np.array(["2018-06-26T20", "2018-06-26T21", "2018-06-26T22"],
                                                dtype="datetime64[ns]"))
    assert out.dtype == np.dtype("datetime64[ns]")
    out = future_timestamps(np.datetime64("2020-11-01"), "MS", 3)
    np.testing.assert_array_equal(out, np.array(["2020-12-01", "2021-01-01", "2021-02-01"], dtype="datetime64[ns]"))
    out = future_timestamps(np.datetime64("2024-01-05"), "B", 2)  # a Friday: next Monday, Tuesday
    np.testing.assert_array_equal(out, np.array(["2024-01-08", "2024-01-09"], dtype="datetime64[ns]"))
    assert len(future_timestamps(np.datetime64("2020-01-01"), "h", 0)) == 0


# ---------------------------------------------------------------------------------------------------- datasets


def test_dataset_entries():
    assert set(DATASETS) == set(DEFAULTS) == {"ETTh1", "ETTh2", "ETTm1", "ETTm2", "Weather", "Electricity",
                                              "Traffic", "Exchange"}
    ett = DATASETS["ETTh1"]
    assert ett.files[0].path == "timeseries/ETTh1.csv"
    assert ett.files[0].url == "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/ETTh1.csv"
    assert ett.files[0].size == 2_589_657 and len(ett.files[0].sha256) == 64
    assert ett.licence == "CC BY-ND 4.0" and "Informer" in ett.citation
    assert "Autoformer" in DATASETS["Weather"].citation
    assert DATASETS["Exchange"].files[0].path == "timeseries/exchange_rate.csv"
    assert DEFAULTS["ETTm1"] == {"target": "OT", "split": "ett", "freq": "15min"}
    assert DEFAULTS["Traffic"]["split"] == "ratio" and DEFAULTS["Weather"]["freq"] == "10min"


# --------------------------------------------------------------------------------------------------- real data


@pytest.mark.skipif(not ETTH1.exists(), reason=f"real data not found at {ETTH1} (clone with ../shared beside the repo)")
def test_real_etth1():
    start = time.perf_counter()
    table = read_table(ETTH1)
    elapsed = time.perf_counter() - start
    assert table.values.shape == (17_420, 7)
    assert table.columns == ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
    assert table.freq == "h" and table.repairs == [] and table.notes == []
    assert table.timestamps[0] == np.datetime64("2016-07-01T00:00", "ns")
    assert table.timestamps[-1] == np.datetime64("2018-06-26T19:00", "ns")
    np.testing.assert_allclose(table.values[-1, -1], 9.56700038909912, rtol=1e-6)
    assert elapsed < 2.0, f"reading ETTh1 took {elapsed:.2f}s"
    digest = hashlib.sha256(ETTH1.read_bytes()).hexdigest()
    assert digest == DATASETS["ETTh1"].files[0].sha256
    assert ETTH1.stat().st_size == DATASETS["ETTh1"].files[0].size
    feats, names = calendar_features(table.timestamps, table.freq)
    assert feats.shape == (17_420, 4) and feats.min() >= -0.5 and feats.max() <= 0.5


def test_utc_offsets_across_a_daylight_saving_change_read_as_one_utc_grid(tmp_path):
    # Europe/Berlin, 2021-03-28: 01:00+01:00 is followed by 03:00+02:00 (one hour later in UTC); ISO 8601 'Z'
    lines = ["2021-03-28T00:00:00+01:00", "2021-03-28T01:00:00+01:00", "2021-03-28T03:00:00+02:00",
             "2021-03-28T04:00:00+02:00", "2021-03-28T03:00:00Z"]
    path = write(tmp_path, "dst.csv", "time,load\n" + "".join(f"{t},{i}\n" for i, t in enumerate(lines)))
    table = read_table(path)
    expected = np.array(["2021-03-27T23", "2021-03-28T00", "2021-03-28T01", "2021-03-28T02", "2021-03-28T03"],
                        dtype="datetime64[ns]")
    np.testing.assert_array_equal(table.timestamps, expected)  # worked by hand: local time minus offset
    assert table.freq == "h" and table.values[:, 0].tolist() == [0, 1, 2, 3, 4]
    # one offset throughout: the same instants (no hour lost or doubled by the conversion)
    same = write(tmp_path, "fixed.csv", "time,load\n" + "".join(
        f"{np.datetime_as_string(t + np.timedelta64(5, 'h'), unit='s')}+05:00,{i}\n" for i, t in enumerate(expected)))
    np.testing.assert_array_equal(read_table(same).timestamps, expected)

"""Splits, scaling and windows of the forecasting data module, against hand-computed borders."""

import numpy as np
import pytest
import torch
from ssmkit_timeseries.data import ForecastDataModule
from ssmkit_timeseries.windows import Scaler, WindowSet, season_length, split_borders

from ssmkit.errors import DataError


def _hourly_csv(path, n=17_420, n_vars=3, seed=0):
    rng = np.random.default_rng(seed)
    stamps = np.datetime64("2016-07-01T00:00") + np.arange(n) * np.timedelta64(1, "h")
    values = rng.normal(size=(n, n_vars)).cumsum(0)
    with open(path, "w") as f:
        f.write("date," + ",".join([f"v{i}" for i in range(n_vars - 1)] + ["OT"]) + "\n")
        for t, row in zip(np.datetime_as_string(stamps, unit="s"), values):
            f.write(t.replace("T", " ") + "," + ",".join(f"{v:.6f}" for v in row) + "\n")
    return path, values


def test_ett_split_is_12_4_4_months_of_hourly_rows():
    b = split_borders(17_420, 96, 96, "ett", "h")
    assert b.train == (0, 8640) and b.val == (8640 - 96, 11_520) and b.test == (11_520 - 96, 14_400)
    assert b.fit_rows == 8640
    m = split_borders(69_680, 96, 96, "ett", "15min")  # ETTm: four rows an hour
    assert m.train == (0, 34_560) and m.test == (46_080 - 96, 57_600)


def test_ratio_split_and_short_files():
    b = split_borders(1000, 24, 12, "ratio", ratios=(0.7, 0.1, 0.2))
    assert b.train == (0, 700) and b.val == (676, 800) and b.test == (776, 1000)
    with pytest.raises(DataError, match="fewer than look-back"):
        split_borders(100, 96, 96, "ratio")
    with pytest.raises(DataError, match="20 months"):
        split_borders(5000, 96, 96, "ett", "h")


def test_windows_cover_the_split_exactly():
    values = np.arange(200, dtype=np.float32).reshape(100, 2)
    ws = WindowSet(values, None, 10, 60, seq_len=8, pred_len=4)
    assert len(ws) == 60 - 10 - 8 - 4 + 1
    first, last = ws[0], ws[len(ws) - 1]
    assert first["x"][0, 0] == 20 and first["y"][0, 0] == 2 * 18
    assert int(last["y"][-1, 0]) // 2 == 59  # the last target row is the split's last row
    x, y = ws.arrays()
    assert torch.equal(x[3], ws[3]["x"]) and torch.equal(y[-1], ws[len(ws) - 1]["y"])


def test_scaler_uses_training_rows_only(tmp_path):
    path, values = _hourly_csv(tmp_path / "ETTh_like.csv")
    dm = ForecastDataModule(path=str(path), seq_len=96, pred_len=24)
    dm.setup("fit")
    np.testing.assert_allclose(dm.scaler.mean, values[:8640].mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dm.scaler.std, values[:8640].std(0), rtol=1e-5)
    # changing the test part changes nothing in the scaler (no leakage)
    values2 = values.copy()
    values2[8640:] += 1000.0
    path2 = tmp_path / "ETTh_like2.csv"
    with open(path) as src, open(path2, "w") as dst:
        dst.write(src.readline())
        for line, row in zip(src, values2):
            dst.write(line.split(",")[0] + "," + ",".join(f"{v:.6f}" for v in row) + "\n")
    dm2 = ForecastDataModule(path=str(path2), seq_len=96, pred_len=24)
    dm2.setup("fit")
    np.testing.assert_allclose(dm2.scaler.mean, dm.scaler.mean)
    scaled = (values - dm.scaler.mean) / dm.scaler.std
    item = dm.test_set[0]
    np.testing.assert_allclose(item["x"].numpy(), scaled[11_520 - 96:11_520], rtol=1e-4, atol=1e-4)
    assert item["marks"].shape == (96, dm.n_marks) and dm.n_marks == 4
    assert dm.train_set[0]["y"].shape == (24, 3)


def test_modes_choose_the_columns(tmp_path):
    path, _ = _hourly_csv(tmp_path / "series.csv", n=3000)
    ms = ForecastDataModule(path=str(path), features="MS", target="OT", seq_len=48, pred_len=24)
    s = ForecastDataModule(path=str(path), features="S", target="OT", seq_len=48, pred_len=24)
    m = ForecastDataModule(path=str(path), features="M", seq_len=48, pred_len=24)
    assert (ms.n_vars, ms.target_index) == (3, 2)
    assert (s.n_vars, s.target_index) == (1, 0)
    assert (m.n_vars, m.target_index) == (3, None)
    assert m._split_name() == "ratio" and m.period == 24
    with pytest.raises(DataError, match="OT|target|column"):
        _ = ForecastDataModule(path=str(path), features="S", target="nope").n_vars


def test_scaler_inverse_round_trip():
    rng = np.random.default_rng(0)
    v = rng.normal(3.0, 2.0, (50, 4))
    sc = Scaler.fit(v)
    np.testing.assert_allclose(sc.inverse(sc.transform(v).astype(np.float64)), v, rtol=1e-5, atol=1e-5)
    t = torch.from_numpy(sc.transform(v)[:, 1:2]).double()
    np.testing.assert_allclose(sc.inverse(t, [1]).numpy(), v[:, 1:2], rtol=1e-5, atol=1e-5)


def test_season_lengths():
    assert season_length("h") == 24 and season_length("15min") == 96 and season_length("10min") == 144
    assert season_length("D") == 7 and season_length("MS") == 12 and season_length(None) == 1

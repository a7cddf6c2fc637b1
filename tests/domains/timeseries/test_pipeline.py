"""The forecast pipeline end to end: a short fit on ETTh1, and fit/test/predict through the console script."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from ssmkit import registry

BIN = Path(sys.executable).parent
SSMKIT = shutil.which("ssmkit", path=str(BIN)) or shutil.which("ssmkit")


def _cli(args, cwd):
    return subprocess.run([SSMKIT, *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True,
                          timeout=600)


def test_short_fit_on_etth1_beats_last_value(shared_data):
    pl.seed_everything(0)
    pipe = registry.get("pipelines", "timeseries/forecast")
    dm, model = pipe.instantiate(
        # no ridge start, no cycle: the network itself must learn to beat the last value
        model={"model": "patch_mamba", "options": {"d_model": 32, "d_ff": 64, "n_layers": 1, "linear_skip": False},
               "lr": 2e-3, "cycle": False, "ridge_init": False},
        data={"dataset": "timeseries/ETTh1", "data_dir": str(shared_data), "train_stride": 8, "batch_size": 64,
              "pred_len": 96})
    assert dm.source == "real: ETTh1" and dm.n_vars == 7 and dm.n_marks == 4
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert len(dm.test_set) == 2880 - 96 + 1  # every test window of the standard protocol, none dropped
    assert m["test/mse"] < 0.8 * m["test/last_value/mse"]
    assert 0.3 < m["test/ridge/mse"] < 0.5  # the closed-form linear rival on the same windows
    # original units: the scaled error times each column's training variance, averaged over columns
    var = torch.as_tensor(dm.scaler.std) ** 2
    assert m["test/mse_units"] == pytest.approx(float((m["test/mse"] * var).mean()), rel=0.25)


def _series_csv(path, n=1200, missing=False):
    t = np.arange(n)
    stamps = np.datetime64("2021-01-01T00:00") + t * np.timedelta64(1, "h")
    load = 10 + 3 * np.sin(2 * np.pi * t / 24) + 0.01 * t
    temp = 5 + np.cos(2 * np.pi * t / 24)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "temp", "load"])
        for i, (s, a, b) in enumerate(zip(np.datetime_as_string(stamps, unit="s"), temp, load)):
            w.writerow([s.replace("T", " "), "" if missing and i == 40 else f"{a:.4f}", f"{b:.4f}"])
    return path


def test_fit_test_predict_through_the_console_script(tmp_path):
    assert SSMKIT, "the ssmkit console script is not installed"
    data = _series_csv(tmp_path / "load.csv")
    common = ["--data.path", str(data), "--data.features", "MS", "--data.target", "load", "--data.seq_len", "48",
              "--data.pred_len", "24"]
    fit = _cli(["timeseries", "forecast", "fit", *common, "--model.model", "dlinear",
                "--model.quantiles", "[0.1, 0.5, 0.9]", "--trainer.max_epochs", "2"], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    ckpts = sorted((tmp_path / "runs").rglob("last.ckpt"))
    assert ckpts, fit.stdout[-2000:]
    test = _cli(["timeseries", "forecast", "test", "--ckpt_path", str(ckpts[0])], tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "seasonal_naive (baseline)" in test.stdout and "coverage" in test.stdout
    out = tmp_path / "forecast.csv"
    pred = _cli(["timeseries", "forecast", "predict", "--ckpt_path", str(ckpts[0]), "--output", str(out)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    with open(out) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", "load_q0.1", "load_q0.5", "load_q0.9"]
    assert len(rows) == 1 + 24
    last = np.datetime64("2021-01-01T00:00:00") + 1199 * np.timedelta64(1, "h")
    assert rows[1][0] == str(last + np.timedelta64(1, "h")).replace("T", " ")
    assert rows[-1][0] == str(last + np.timedelta64(24, "h")).replace("T", " ")
    lo, mid, hi = (np.array([float(r[k]) for r in rows[1:]]) for k in (1, 2, 3))
    assert np.all(lo <= mid + 1e-6) and np.all(mid <= hi + 1e-6)
    assert 5 < mid.mean() < 30  # original units of the 'load' column, not scaled ones
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".forecast*"))  # no temporary files left behind

    # columns, calendar features and the training rows' scaler come from the checkpoint: forecasting from a
    # copy of the table with the training file gone gives the same forecast
    recent = tmp_path / "recent.csv"
    recent.write_bytes(data.read_bytes())
    data.rename(tmp_path / "gone.csv")

    def forecast(ckpt, table, name):
        """The rows `predict` writes for ``table`` with ``ckpt`` (asserting it succeeded)."""
        out = tmp_path / name
        res = _cli(["timeseries", "forecast", "predict", "--ckpt_path", str(ckpt), "--data.predict_path", str(table),
                    "--output", str(out)], tmp_path)
        assert res.returncode == 0, res.stderr[-3000:]
        with open(out) as f:
            return list(csv.reader(f))

    assert forecast(ckpts[0], recent, "again.csv") == rows
    # a checkpoint copied away from its run folder (no config.yaml beside it) still knows its look-back,
    # horizon, mode and target
    alone = tmp_path / "elsewhere" / "model.ckpt"
    alone.parent.mkdir()
    alone.write_bytes(ckpts[0].read_bytes())
    assert forecast(alone, recent, "third.csv") == rows
    # a table at another frequency, or without timestamps for a model with calendar features: one line each
    lines = recent.read_text().splitlines()
    daily = tmp_path / "daily.csv"
    days = np.datetime64("2021-01-01") + np.arange(100)
    daily.write_text("\n".join([lines[0]] + [f"{d} 00:00:00,{ln.split(',', 1)[1]}"
                                               for d, ln in zip(days, lines[1:101])]) + "\n")
    untimed = tmp_path / "untimed.csv"
    untimed.write_text("\n".join(ln.split(",", 1)[1] for ln in lines) + "\n")
    for table, says in ((daily, "rows every D, the model was trained on rows every h"),
                        (untimed, "no timestamp column")):
        res = _cli(["timeseries", "forecast", "predict", "--ckpt_path", str(alone), "--data.predict_path", str(table),
                    "--output", str(tmp_path / "x.csv")], tmp_path)
        assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
        last = res.stderr.strip().splitlines()[-1]
        assert last.startswith(f"ssmkit: error: {table}") and says in last, last
    # the model's columns are taken by name: reordered and extra columns give the same forecast
    shuffled = tmp_path / "shuffled.csv"
    cells = [ln.split(",") for ln in lines]
    shuffled.write_text("\n".join(",".join([c[0], c[2], "7" if i else "extra", c[1]]) for i, c in enumerate(cells))
                        + "\n")
    assert forecast(alone, shuffled, "fourth.csv") == rows
    res = _cli(["timeseries", "forecast", "predict", "--ckpt_path", str(alone), "--data.predict_path", str(recent),
                "--output", str(tmp_path / "plot.png")], tmp_path)
    assert res.returncode == 2 and "give the forecast CSV's name" in res.stderr.strip().splitlines()[-1]


def test_bad_table_is_one_line_error(tmp_path):
    data = _series_csv(tmp_path / "holes.csv", missing=True)
    res = _cli(["timeseries", "forecast", "fit", "--data.path", str(data), "--trainer.max_epochs", "1"], tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    err = [line for line in res.stderr.splitlines() if line.startswith("ssmkit: error")]
    assert len(err) == 1 and "holes.csv" in err[0] and "line 42" in err[0] and "temp" in err[0], res.stderr[-2000:]


@pytest.mark.parametrize("model", ["last_value", "ridge"])
def test_parameter_free_models_run_in_the_harness(model, tmp_path):
    data = _series_csv(tmp_path / "load.csv")
    pipe = registry.get("pipelines", "timeseries/forecast")
    dm, module = pipe.instantiate(model={"model": model},
                                  data={"path": str(data), "seq_len": 48, "pred_len": 24})
    trainer = pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, datamodule=dm)
    m = trainer.test(module, datamodule=dm, verbose=False)[0]
    if model == "ridge":  # a noiseless daily sine plus trend: the linear map is (nearly) exact
        assert m["test/mse"] < 1e-3
    else:  # the harness's number equals the last-value error computed here from the test windows
        x, y = dm.test_set.arrays()
        expected = (y.double() - x[:, -1:, :].double()).square().mean().item()
        assert m["test/mse"] == pytest.approx(expected, rel=1e-5) and "test/last_value/mse" not in m


def test_ridge_init_starts_at_the_ridge_forecast(tmp_path):
    """Before any step the SSM forecaster equals the closed-form ridge fitted on the same windows."""
    data = _series_csv(tmp_path / "load.csv")
    pipe = registry.get("pipelines", "timeseries/forecast")
    dm, module = pipe.instantiate(model={"model": "patch_mamba", "options": {"d_model": 16, "n_layers": 1}},
                                  data={"path": str(data), "seq_len": 48, "pred_len": 24})
    trainer = pl.Trainer(max_epochs=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(module, datamodule=dm)
    assert bool(module.ridge_initialised)
    ridge = module.baselines["ridge"]
    module._fit_ridge(ridge)
    x, _ = dm.test_set.arrays()
    module.eval()
    with torch.no_grad():
        ours = module.net(x)[..., 0]
        reference = ridge(x)[..., 0]
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), atol=2e-4, rtol=1e-4)


def test_cycle_phases_follow_the_clock():
    from ssmkit_timeseries.windows import absolute_steps

    stamps = np.datetime64("2021-03-04T05:00:00", "ns") + np.arange(50) * np.timedelta64(1, "h")
    steps = absolute_steps(stamps, "h", 50)
    hours = (stamps.astype("datetime64[h]").astype(np.int64) % 24)
    assert np.array_equal(steps % 24, hours) and steps[0] % 24 == 5
    quarter = np.datetime64("2021-03-04T05:15:00", "ns") + np.arange(8) * np.timedelta64(15, "m")
    assert list(absolute_steps(quarter, "15min", 8) % 96)[:3] == [21, 22, 23]


def test_absent_dataset_is_an_error_not_generated_data(tmp_path):
    from ssmkit_timeseries.data import ForecastDataModule

    from ssmkit.errors import DataError

    with pytest.raises(DataError, match="ETTh1.*not in the data directory"):
        _ = ForecastDataModule(dataset="timeseries/ETTh1", data_dir=str(tmp_path)).n_vars
    dm = ForecastDataModule(dataset="timeseries/ETTh1", data_dir=str(tmp_path), allow_generated=True)
    assert dm.n_vars == 7 and dm.source.startswith("generated")


@pytest.mark.parametrize("flag, value, words", [
    ("--model.quantiles", "[0.1, 0.9]", "0.5"), ("--model.model", "nope", "nope"),
    ("--data.features", "X", "features"), ("--data.repair", "fix", "repair"),
])
def test_bad_options_are_one_line_errors(tmp_path, flag, value, words):
    data = _series_csv(tmp_path / "load.csv")
    res = _cli(["timeseries", "forecast", "fit", "--data.path", str(data), flag, value,
                "--trainer.max_epochs", "1"], tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-2000:]
    err = [line for line in res.stderr.splitlines() if line.startswith("ssmkit: error")]
    assert len(err) == 1 and words in err[0]


def test_checkpoint_columns_name_an_unknown_target():
    """Predicting from a checkpoint's fitted state: a target that is not one of the model's columns is one clear
    error (not a bare ValueError, nor a silently wrong column)."""
    from ssmkit_timeseries.data import ForecastDataModule

    from ssmkit.data.datamodule import FITTED_STATE
    from ssmkit.errors import ConfigError

    state = {"columns": ["load", "temp"], "n_marks": 0, "period": 24, "mean": [0.0, 0.0], "std": [1.0, 1.0]}
    token = FITTED_STATE.set(state)
    try:
        good = ForecastDataModule(path="never_read.csv", features="MS", target="temp")
        bad = ForecastDataModule(path="never_read.csv", features="S", target="wind")
    finally:
        FITTED_STATE.reset(token)
    assert (good.n_vars, good.target_index, good.period) == (2, 1, 24)
    with pytest.raises(ConfigError, match=r"--data.target 'wind' is not one of the model's columns \['load', 'temp'\]"):
        _ = bad.target_index

"""The forecasting data module: a table -> scaled series -> train/val/test windows, and forecast files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from ssmkit.atomic import atomic_write
from ssmkit.data import DataModule, dataset_root, delimiter_for
from ssmkit.errors import ConfigError, DataError

from .calendar import calendar_features, future_timestamps
from .datasets import DEFAULTS
from .memmap import MMAP_MODES, mapped_table, use_mmap
from .table import TimeTable, read_table
from .windows import (
    SPLITS,
    Borders,
    MappedWindowSet,
    Scaler,
    WindowSet,
    absolute_steps,
    season_length,
    split_borders,
)

FEATURES = ("M", "MS", "S")
REPAIRS = ("none", "interpolate")


def synthetic_table(n_rows: int = 17_420, n_vars: int = 7, seed: int = 0) -> TimeTable:
    """An hourly stand-in with daily and weekly cycles, a trend and noise (used only when the real
    dataset is absent; always reported as generated)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_rows, dtype=np.float64)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (2, n_vars))
    values = (np.sin(2 * np.pi * t / 24 + phase[0]) + 0.5 * np.sin(2 * np.pi * t / 168 + phase[1])
              + 0.0002 * t * rng.normal(size=n_vars) + 0.3 * rng.normal(size=(n_rows, n_vars)))
    stamps = np.datetime64("2016-07-01T00:00", "ns") + np.arange(n_rows) * np.timedelta64(1, "h")
    columns = [f"v{i}" for i in range(n_vars - 1)] + ["OT"]
    return TimeTable(Path("<generated>"), stamps, columns, values.astype(np.float32), "h", [])


class ForecastDataModule(DataModule):
    """Windows of a multivariate series for ``seq_len`` -> ``pred_len`` forecasting.

    Args:
        path: a CSV/TSV/Parquet table with a timestamp column (detected, or named by ``timestamp``)
            and numeric columns; default: the registered ``dataset`` in ``data_dir``.
        columns: value columns to use (default: every numeric column).
        features: "M" every column in and out; "MS" every column in, ``target`` scored; "S" ``target`` only.
        split: "ett" (12/4/4 months), "ratio" (``ratios`` of the rows) or "auto" (the dataset's own, else ratio).
        scale: standardise each column with the training part's mean and std.
        calendar: pass calendar features of the look-back window to the model.
        repair: "none" (bad cells, gaps, duplicated or unsorted timestamps are errors) or "interpolate".
        train_stride: use every n-th training window (quick runs).
        predict_path: the table whose end ``predict`` forecasts from (default: ``path``).
        allow_generated: when ``dataset`` is not in the data directory, use a generated stand-in
            (labelled "generated", as the demo does) instead of stopping with an error.
        mmap: "auto" converts a CSV of 256 MiB or more once (in chunks) to a float32 .npy cache and reads it
            memory-mapped, windows scaled as they are drawn, so series bigger than memory train; "always" does
            so for any CSV, "never" reads every table into memory. Only with repair="none".
    """

    def __init__(self, path: str | None = None, dataset: str = "timeseries/ETTh1", data_dir: str | None = None,
                 timestamp: str | None = "auto", columns: list[str] | None = None, features: str = "M",
                 target: str = "OT", seq_len: int = 96, pred_len: int = 96, split: str = "auto",
                 ratios: tuple[float, float, float] = (0.7, 0.1, 0.2), scale: bool = True, calendar: bool = True,
                 repair: str = "none", train_stride: int = 1, predict_path: str | None = None,
                 allow_generated: bool = False, mmap: str = "auto", batch_size: int = 32, num_workers: int = 0,
                 seed: int = 0):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if features not in FEATURES:
            raise ConfigError(f"--data.features {features!r}: use one of {', '.join(FEATURES)}")
        if seq_len < 1 or pred_len < 1:
            raise ConfigError(f"--data.seq_len ({seq_len}) and --data.pred_len ({pred_len}) must be positive")
        if split not in SPLITS:
            raise ConfigError(f"--data.split {split!r}: use one of {', '.join(SPLITS)}")
        if repair not in REPAIRS:
            raise ConfigError(f"--data.repair {repair!r}: use one of {', '.join(REPAIRS)}")
        if mmap not in MMAP_MODES:
            raise ConfigError(f"--data.mmap {mmap!r}: use one of {', '.join(MMAP_MODES)}")
        if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1) > 1e-6:
            raise ConfigError(f"--data.ratios {list(ratios)} must be three fractions summing to 1")
        self.path, self.dataset, self.data_dir, self.timestamp = path, dataset, data_dir, timestamp
        self.columns_arg, self.features, self.target = columns, features, target
        self.seq_len, self.pred_len, self.split, self.ratios = seq_len, pred_len, split, tuple(ratios)
        self.scale, self.calendar, self.repair, self.train_stride = scale, calendar, repair, train_stride
        self.predict_path, self.allow_generated, self.mmap = predict_path, allow_generated, mmap
        self._table: TimeTable | None = None
        self.scaler: Scaler | None = None
        self.borders: Borders | None = None
        if self.fitted is not None:  # predict from a checkpoint: the shapes and mode the model was trained with
            for key in ("features", "target", "seq_len", "pred_len"):
                if key in self.fitted:
                    setattr(self, key, self.fitted[key])

    # the table ----------------------------------------------------------------------------
    @property
    def table(self) -> TimeTable:
        if self._table is None:
            self._table = self._read()
        return self._table

    def _read(self) -> TimeTable:
        if self.path:
            self.source = f"real: {Path(self.path).name}"
            return self._select(self._report(self._read_file(self.path)))
        name = self.dataset.split("/", 1)[-1]
        try:
            folder = dataset_root(self.dataset, self.data_dir)
        except DataError:
            if not self.allow_generated:
                raise
            self.source = f"generated: {name} is not in the data directory"  # never written to disk
            return self._select(synthetic_table())
        from .datasets import DATASETS

        file = Path(DATASETS[name].files[0].path).name
        self.source = f"real: {name}"
        return self._select(self._report(self._read_file(folder / file)))

    def _read_file(self, path: str | Path) -> TimeTable:
        """A table in memory, or memory-mapped from its converted cache (see ``mmap``)."""
        if use_mmap(path, self.mmap, self.repair):
            return mapped_table(path, self.timestamp, self.columns_arg)
        return read_table(path, self.timestamp, self.columns_arg, self.repair)

    @staticmethod
    def _report(table: TimeTable) -> TimeTable:
        """Say what reading changed (repairs, dropped columns): nothing is altered silently."""
        from ssmkit.cli.report import console

        for line in table.repairs + table.notes:
            console.print(f"{table.path.name}: {line}")
        return table

    def _select(self, table: TimeTable) -> TimeTable:
        """Keep the columns the mode needs ("S": the target alone)."""
        if self.features in ("MS", "S"):
            table.column_index(self.target)  # a clear error when the target is absent
        if self.features == "S":
            i = table.column_index(self.target)
            table.values, table.columns = table.values[:, i:i + 1], [self.target]
        return table

    # what the model is linked to -------------------------------------------------------------
    @property
    def n_vars(self) -> int:
        return len(self.fitted["columns"]) if self.fitted is not None else self.table.values.shape[1]

    @property
    def target_index(self) -> int | None:
        if self.features == "M":
            return None
        if self.fitted is not None:
            if self.target not in self.fitted["columns"]:
                raise ConfigError(f"--data.target {self.target!r} is not one of the model's columns "
                                  f"{self.fitted['columns']}")
            return self.fitted["columns"].index(self.target)
        return self.table.column_index(self.target)

    @property
    def n_marks(self) -> int:
        if self.fitted is not None:
            return int(self.fitted["n_marks"])
        if not self.calendar or self.table.timestamps is None:
            return 0
        return calendar_features(self.table.timestamps[:2], self.table.freq)[0].shape[1]

    @property
    def period(self) -> int:
        """Steps per season (a day of sub-daily data, a week of daily data...); may exceed seq_len."""
        return int(self.fitted["period"]) if self.fitted is not None else season_length(self.table.freq)

    def fitted_state(self) -> dict | None:
        """The columns, calendar-feature count, season and the training rows' scaler: all that forecasting
        from a new table needs."""
        if self.scaler is None:
            return None
        return {"columns": list(self.table.columns), "n_marks": self.n_marks, "period": self.period,
                "freq": self.table.freq, "features": self.features, "target": self.target,
                "seq_len": self.seq_len, "pred_len": self.pred_len,
                "mean": [float(v) for v in self.scaler.mean], "std": [float(v) for v in self.scaler.std]}

    # splits and windows -------------------------------------------------------------------------
    def _split_name(self) -> str:
        if self.split != "auto":
            return self.split
        if not self.path:
            return DEFAULTS.get(self.dataset.split("/", 1)[-1], {}).get("split", "ratio")
        return "ett" if Path(self.path).name.upper().startswith("ETT") else "ratio"

    def _marks(self, table: TimeTable) -> np.ndarray | None:
        if not self.n_marks:
            return None
        return calendar_features(table.timestamps, table.freq)[0]

    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_path and self.fitted is not None:  # no training data needed
            self.scaler = Scaler(np.asarray(self.fitted["mean"]), np.asarray(self.fitted["std"]))
            self.predict_set = self._predict_set()
            self.source = f"real: {Path(self.predict_path).name} (columns and scaling from the checkpoint)"
            return
        table = self.table
        self.borders = b = split_borders(len(table.values), self.seq_len, self.pred_len, self._split_name(),
                                         table.freq, self.ratios, path=table.path)
        L, H = self.seq_len, self.pred_len
        if isinstance(table.values, np.memmap):  # scaled window by window, never loaded whole
            self.scaler = Scaler.fit_chunked(table.values[: b.fit_rows]) if self.scale \
                else Scaler.identity(self.n_vars)
            common = (self.scaler, table.timestamps, table.freq, bool(self.n_marks))
            self.train_set = MappedWindowSet(table.values, *common, *b.train, L, H, stride=self.train_stride)
            self.val_set = MappedWindowSet(table.values, *common, *b.val, L, H)
            self.test_set = MappedWindowSet(table.values, *common, *b.test, L, H)
            self.predict_set = self._predict_set()
            return
        self.scaler = Scaler.fit(table.values[: b.fit_rows]) if self.scale else Scaler.identity(self.n_vars)
        values, marks = self.scaler.transform(table.values), self._marks(table)
        steps = absolute_steps(table.timestamps, table.freq, len(table.values))
        self.train_set = WindowSet(values, marks, *b.train, L, H, stride=self.train_stride, steps=steps)
        self.val_set = WindowSet(values, marks, *b.val, L, H, steps=steps)
        self.test_set = WindowSet(values, marks, *b.test, L, H, steps=steps)
        self.predict_set = self._predict_set()

    def _predict_set(self) -> WindowSet:
        """One window: the last ``seq_len`` rows of the predict table (the future is forecast)."""
        table = self.table if not self.predict_path else self._select(self._read_file(self.predict_path))
        trained = list(self.fitted["columns"]) if self.fitted is not None else self.table.columns
        if table.columns != trained:  # the model's columns by name: reordered or extra ones are fine
            missing = [c for c in trained if c not in table.columns]
            if missing:
                raise DataError(f"the model's column(s) {missing} are not in the table (it has {table.columns})",
                                path=table.path)
            table.values = table.values[:, [table.columns.index(c) for c in trained]]
            table.columns = list(trained)
        if len(table.values) < self.seq_len:
            raise DataError(f"{len(table.values)} rows, the model needs a look-back of {self.seq_len}",
                            path=table.path)
        if self.n_marks and table.timestamps is None:
            raise DataError("no timestamp column, but the model was trained with calendar features from "
                            "timestamps (a table with its times is needed)", path=table.path)
        trained_freq = self.fitted.get("freq") if self.fitted is not None else self.table.freq
        if trained_freq and table.freq and table.freq != trained_freq:
            raise DataError(f"rows every {table.freq}, the model was trained on rows every {trained_freq}",
                            path=table.path)
        self._predict_table = table
        values = self.scaler.transform(table.values[-self.seq_len:])
        marks = None if not self.n_marks else calendar_features(table.timestamps[-self.seq_len:], table.freq)[0]
        pad = np.zeros((self.pred_len, values.shape[1]), np.float32)  # no future values: y is unused
        n = len(table.values)
        steps = absolute_steps(table.timestamps, table.freq, n, slice(n - self.seq_len, n))
        return WindowSet(np.concatenate([values, pad]), marks if marks is None else np.concatenate(
            [marks, np.zeros((self.pred_len, marks.shape[1]), np.float32)]), 0, len(values) + self.pred_len,
            self.seq_len, self.pred_len, steps=steps)

    # forecast files ---------------------------------------------------------------------------
    def forecast_frame(self, forecast: np.ndarray, quantiles: list[float] | None = None) -> tuple[list, list[str],
                                                                                                  np.ndarray]:
        """forecast (H, C, q) scaled -> (timestamps, column names, values (H, n_columns)) in the file's units."""
        table = self._predict_table
        q = forecast.shape[-1]
        names = [str(x) for x in quantiles] if quantiles and len(quantiles) == q else [f"q{k}" for k in range(q)]
        unscaled = self.scaler.inverse(forecast.transpose(0, 2, 1).astype(np.float64))  # (H, q, C)
        cols = range(len(table.columns)) if self.features == "M" else [self.target_index]
        header, blocks = [], []
        for c in cols:
            for k in range(q):
                header.append(table.columns[c] if q == 1 else f"{table.columns[c]}_q{float(names[k]):g}"
                              if quantiles else f"{table.columns[c]}_{names[k]}")
                blocks.append(unscaled[:, k, c])
        if table.timestamps is not None and table.freq:
            stamps = [str(t) for t in np.datetime_as_string(
                future_timestamps(table.timestamps[-1], table.freq, len(forecast)), unit="s")]
            stamps = [s.replace("T", " ") for s in stamps]
        else:
            stamps = list(range(len(table.values), len(table.values) + len(forecast)))
        return stamps, header, np.stack(blocks, 1)

    def check_output(self, path: str | Path) -> None:
        if Path(path).suffix.lower() == ".png":  # the plot goes beside the CSV under the same name
            raise ConfigError(f"--output {path}: give the forecast CSV's name (its plot is written beside it as "
                              f"{Path(path).with_suffix('.png').name})")
        super().check_output(path)

    def write_predictions(self, rows: list[dict[str, Any]], path: str | Path, quantiles=None) -> Path:
        """The forecast of the last window as CSV (TSV to a .tsv/.tab name; timestamps continued) and a PNG plot
        beside it."""
        if not rows:
            raise DataError("nothing to forecast", path=path)
        path = Path(path)
        stamps, header, values = self.forecast_frame(rows[-1]["forecast"], quantiles or self._quantiles())
        time_name = self._time_column()
        with atomic_write(path, "w", newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter_for(path))
            writer.writerow([time_name] + header)
            for stamp, row in zip(stamps, values):
                writer.writerow([stamp] + [f"{v:.6g}" for v in row])
        from .plot import plot_forecast

        target = self.target if self.target in self._predict_table.columns else self._predict_table.columns[-1]
        if target != self.target:  # "M" mode with the default target absent: say which column the plot shows
            from ssmkit.cli.report import console

            console.print(f"plot: --data.target {self.target!r} is not a column; plotting {target!r}")
        png = plot_forecast(self._predict_table, target, stamps, header, values, path.with_suffix(".png"),
                            history=max(self.seq_len, 2 * self.pred_len))
        self.written = [path, png]
        return path

    def _quantiles(self) -> list[float] | None:
        model = getattr(getattr(self, "trainer", None), "lightning_module", None)
        return getattr(model, "quantiles", None) or None

    def _time_column(self) -> str:
        table = self._predict_table
        return "step" if table.timestamps is None else (getattr(table, "time_column", None) or "date")


__all__ = ["ForecastDataModule", "synthetic_table"]

"""Calendar features ("timeF" of the Informer/Autoformer/Time-Series-Library harness) and future timestamps.

Each feature is scaled to [-0.5, 0.5]; which ones are used depends on the sampling frequency, as in the
harness: hourly data gets hour, weekday, day of month and day of year; 15-minute data adds the minute.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries import offsets
from pandas.tseries.frequencies import to_offset

_SCALERS = {  # name -> (DatetimeIndex -> value, divisor): value / divisor - 0.5
    "second_of_minute": (lambda idx: idx.second, 59.0),
    "minute_of_hour": (lambda idx: idx.minute, 59.0),
    "hour_of_day": (lambda idx: idx.hour, 23.0),
    "day_of_week": (lambda idx: idx.dayofweek, 6.0),
    "day_of_month": (lambda idx: idx.day - 1, 30.0),
    "day_of_year": (lambda idx: idx.dayofyear - 1, 365.0),
    "month_of_year": (lambda idx: idx.month - 1, 11.0),
    "week_of_year": (lambda idx: idx.isocalendar().week.to_numpy(dtype=np.int64) - 1, 52.0),
}

_DAILY = ["day_of_week", "day_of_month", "day_of_year"]
_BY_OFFSET = (  # first match wins; finer offsets add features in front, as in the harness
    ((offsets.YearBegin, offsets.YearEnd, offsets.BYearBegin, offsets.BYearEnd), []),
    ((offsets.QuarterBegin, offsets.QuarterEnd, offsets.BQuarterBegin, offsets.BQuarterEnd), ["month_of_year"]),
    ((offsets.MonthBegin, offsets.MonthEnd, offsets.BusinessMonthBegin, offsets.BusinessMonthEnd,
      offsets.SemiMonthBegin, offsets.SemiMonthEnd), ["month_of_year"]),
    ((offsets.Week,), ["day_of_month", "week_of_year"]),
    ((offsets.Day, offsets.BusinessDay, offsets.CustomBusinessDay), _DAILY),
    ((offsets.Hour, offsets.BusinessHour), ["hour_of_day", *_DAILY]),
    ((offsets.Minute,), ["minute_of_hour", "hour_of_day", *_DAILY]),
    ((offsets.Second, offsets.Milli, offsets.Micro, offsets.Nano),
     ["second_of_minute", "minute_of_hour", "hour_of_day", *_DAILY]),
)


def feature_names(freq: str | None) -> list[str]:
    """The calendar features used for a frequency alias (None: those of hourly data, the harness default)."""
    offset = to_offset(freq or "h")
    for kinds, names in _BY_OFFSET:
        if isinstance(offset, kinds):
            return list(names)
    raise ValueError(f"no calendar features for frequency {freq!r}")


def calendar_features(timestamps: np.ndarray, freq: str | None) -> tuple[np.ndarray, list[str]]:
    """timestamps (T,) datetime64 -> features (T, k) float32 in [-0.5, 0.5] and their k names."""
    names = feature_names(freq)
    idx = pd.DatetimeIndex(timestamps)
    out = np.empty((len(idx), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        value, divisor = _SCALERS[name]
        out[:, j] = np.asarray(value(idx), dtype=np.float64) / divisor - 0.5
    return out, names


def future_timestamps(last: np.datetime64, freq: str, n: int) -> np.ndarray:
    """The n timestamps after ``last`` at frequency ``freq``: (n,) datetime64[ns]."""
    offset = to_offset(freq)
    start = pd.Timestamp(last) + offset
    return pd.date_range(start, periods=n, freq=offset).as_unit("ns").to_numpy()

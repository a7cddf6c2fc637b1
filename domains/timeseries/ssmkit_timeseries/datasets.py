"""The long-horizon forecasting benchmarks: ETT (Informer) and the Autoformer collection.

``DATASETS`` maps a name to its files (paths under the data directory, as in a local mirror);
``DEFAULTS`` gives each dataset's target column, split protocol and sampling frequency.
"""

from __future__ import annotations

from ssmkit.data import DatasetEntry, RemoteFile

ETT_HOME = "https://github.com/zhouhaoyi/ETDataset"
ETT_RAW = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small"
# Hugging Face mirror of the Autoformer release (Google Drive folder of thuml/Autoformer), pinned to a revision.
AUTOFORMER_MIRROR = ("https://huggingface.co/datasets/AutonLab/Timeseries-PILE/resolve/"
                     "af93f4d4b3ce93d2e0011a1a528636471afd9bff/forecasting/autoformer")
AUTOFORMER_HOME = "https://github.com/thuml/Autoformer"

INFORMER = ("Zhou, H., Zhang, S., Peng, J., Zhang, S., Li, J., Xiong, H., Zhang, W. Informer: Beyond Efficient "
            "Transformer for Long Sequence Time-Series Forecasting. AAAI 2021.")
AUTOFORMER = ("Wu, H., Xu, J., Wang, J., Long, M. Autoformer: Decomposition Transformers with Auto-Correlation "
              "for Long-Term Series Forecasting. NeurIPS 2021.")
_MIRROR_NOTE = (" Files as released with Autoformer (Google Drive folder linked from github.com/thuml/Autoformer "
                "and github.com/thuml/Time-Series-Library); downloaded here from the Hugging Face mirror "
                "AutonLab/Timeseries-PILE (forecasting/autoformer), whose checksums are not pinned.")

_ETT_TEXT = {
    "ETTh1": "hourly, transformer station 1",
    "ETTh2": "hourly, transformer station 2",
    "ETTm1": "15-minute, transformer station 1",
    "ETTm2": "15-minute, transformer station 2",
}
_ETT_ROWS = {"ETTh1": 17_420, "ETTh2": 17_420, "ETTm1": 69_680, "ETTm2": 69_680}
# checksum and size of the upstream ETTh1.csv (the copy in the project's shared data is the same file)
_ETT_CHECKS = {"ETTh1": ("f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066", 2_589_657)}


def _ett(name: str) -> DatasetEntry:
    sha256, size = _ETT_CHECKS.get(name, (None, None))
    return DatasetEntry(
        files=(RemoteFile(f"timeseries/{name}.csv", url=f"{ETT_RAW}/{name}.csv", sha256=sha256, size=size),),
        description=(f"Electricity Transformer Temperature ({_ETT_TEXT[name]}), July 2016 - June 2018: "
                     f"{_ETT_ROWS[name]:,} rows of 6 load series (HUFL, HULL, MUFL, MULL, LUFL, LULL) and the "
                     "oil temperature OT (the usual target). Split 12/4/4 months (train/val/test)."),
        licence="CC BY-ND 4.0",
        citation=INFORMER,
        homepage=ETT_HOME,
    )


def _autoformer(file: str, description: str, licence: str) -> DatasetEntry:
    return DatasetEntry(
        files=(RemoteFile(f"timeseries/{file}", url=f"{AUTOFORMER_MIRROR}/{file}"),),
        description=description + _MIRROR_NOTE,
        licence=licence,
        citation=AUTOFORMER,
        homepage=AUTOFORMER_HOME,
    )


DATASETS: dict[str, DatasetEntry] = {name: _ett(name) for name in _ETT_TEXT}
DATASETS.update({
    "Weather": _autoformer(
        "weather.csv",
        "Weather station of the Max Planck Institute for Biogeochemistry (Jena), 2020, every 10 minutes: "
        "52,696 rows of 21 meteorological variables; target OT (the last column).",
        "source: MPI-BGC Jena weather station (www.bgc-jena.mpg.de/wetter), no explicit licence"),
    "Electricity": _autoformer(
        "electricity.csv",
        "Hourly electricity consumption (kWh) of 321 clients (from UCI ElectricityLoadDiagrams20112014): "
        "26,304 rows; target OT (the last client).",
        "CC BY 4.0 (UCI ElectricityLoadDiagrams20112014)"),
    "Traffic": _autoformer(
        "traffic.csv",
        "Hourly road occupancy rates (0-1) of 862 San Francisco Bay Area freeway sensors (California "
        "PeMS): 17,544 rows; target OT (the last sensor).",
        "source: Caltrans PeMS (public data), no explicit licence"),
    "Exchange": _autoformer(
        "exchange_rate.csv",
        "Daily exchange rates of 8 countries from 1990 (from LSTNet, Lai et al. SIGIR 2018): 7,588 rows; "
        "target OT (the last currency).",
        "source: github.com/laiguokun/multivariate-time-series-data, no explicit licence"),
})

DEFAULTS: dict[str, dict] = {
    "ETTh1": {"target": "OT", "split": "ett", "freq": "h"},
    "ETTh2": {"target": "OT", "split": "ett", "freq": "h"},
    "ETTm1": {"target": "OT", "split": "ett", "freq": "15min"},
    "ETTm2": {"target": "OT", "split": "ett", "freq": "15min"},
    "Weather": {"target": "OT", "split": "ratio", "freq": "10min"},
    "Electricity": {"target": "OT", "split": "ratio", "freq": "h"},
    "Traffic": {"target": "OT", "split": "ratio", "freq": "h"},
    "Exchange": {"target": "OT", "split": "ratio", "freq": "D"},
}

__all__ = ["DATASETS", "DEFAULTS"]

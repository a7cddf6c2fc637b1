"""ssmkit-timeseries: long-horizon forecasting of multivariate series (ETT, Weather, Electricity...).

Importing this module stays cheap: the pipeline names its classes by "module:Class" strings.
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS

__version__ = "0.1.0"

LINKS = {name: name for name in ("n_vars", "seq_len", "pred_len", "n_marks", "target_index", "period")}

plugin = Plugin(
    name="timeseries",
    version=__version__,
    api_version=API_VERSION,
    description="multi-horizon forecasting: CSV/Parquet tables, ETT-style splits, SSM forecasters and baselines",
    datasets=dict(DATASETS),
    pipelines={
        "forecast": Pipeline(
            model="ssmkit_timeseries.task:Forecaster",
            data="ssmkit_timeseries.data:ForecastDataModule",
            description="forecast the next pred_len steps of a table from seq_len steps (fit, test, predict)",
            trainer={"max_epochs": 2},  # two epochs of cosine decay: longer overfits ETTh1 (benchmarks/RESULTS.md)
            patience=3,
            monitor="val/mse",
            mode="min",
            links=LINKS,
            demo={
                "model": {"model": "patch_mamba", "options": {"d_model": 32, "d_ff": 64, "n_layers": 1}},
                "data": {"dataset": "timeseries/ETTh1", "train_stride": 4, "batch_size": 64,
                         "allow_generated": True},
                "trainer": {"max_epochs": 2},
                "metrics": ["test/mse", "test/mae", "test/ridge/mse", "test/last_value/mse"],
            },
        ),
    },
)

__all__ = ["plugin", "__version__"]

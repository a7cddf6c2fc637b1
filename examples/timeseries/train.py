"""Train a forecaster on ETTh1 (or your own table) from Python, then test it against the baselines.

    python examples/timeseries/train.py --data-dir ../shared/data --model patch_mamba --horizon 96
    python examples/timeseries/train.py --path my.csv --target load --features MS
"""

import argparse

import pytorch_lightning as pl

from ssmkit import registry
from ssmkit.cli.report import print_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", default=None, help="CSV/Parquet table (default: the ETTh1 dataset entry)")
    p.add_argument("--data-dir", default=None, help="data directory or local mirror holding timeseries/ETTh1.csv")
    p.add_argument("--model", default="patch_mamba", help="patch_mamba, inverted_mamba, dlinear, ridge, ...")
    p.add_argument("--features", default="M", choices=["M", "MS", "S"])
    p.add_argument("--target", default="OT")
    p.add_argument("--horizon", type=int, default=96)
    p.add_argument("--lookback", type=int, default=96)
    p.add_argument("--quantiles", type=float, nargs="*", default=None, help="e.g. 0.1 0.5 0.9")
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()

    pl.seed_everything(0)
    pipeline = registry.get("pipelines", "timeseries/forecast")
    dm, model = pipeline.instantiate(
        model={"model": args.model, "quantiles": args.quantiles},
        data={"path": args.path, "data_dir": args.data_dir, "features": args.features, "target": args.target,
              "seq_len": args.lookback, "pred_len": args.horizon, "batch_size": 32},
    )
    print(f"data: {dm.source}, {dm.n_vars} variables, frequency {dm.table.freq}")
    best = pl.callbacks.ModelCheckpoint(monitor="val/mse", mode="min")
    trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False,
                         default_root_dir="runs/example-timeseries",
                         callbacks=[best, pl.callbacks.EarlyStopping("val/mse", patience=3)])
    trainer.fit(model, datamodule=dm)
    metrics = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
    print_table(*model.test_table(metrics))


if __name__ == "__main__":
    main()

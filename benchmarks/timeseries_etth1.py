"""ETTh1 long-horizon benchmark: every forecaster x horizon, trained and tested the same way.

    python benchmarks/timeseries_etth1.py --data-dir ../shared/data [--models patch_mamba,dlinear]
        [--horizons 96,192,336,720] [--epochs 2] [--json out.json]

Prints one markdown row per (model, horizon): test MSE/MAE on the scaled data (the literature's
convention), the harness's baselines on the same windows, epochs run and training throughput (windows/s).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import warnings

import pytorch_lightning as pl
import torch

from ssmkit import registry


class Throughput(pl.Callback):
    """Training windows per second, counted over the training batches alone."""

    def __init__(self):
        self.windows, self.seconds, self._t = 0, 0.0, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - self._t
        self.windows += len(batch["x"])


def run(model: str, horizon: int, args) -> dict:
    pl.seed_everything(args.seed, verbose=False)
    pipeline = registry.get("pipelines", "timeseries/forecast")
    model_kwargs = {"model": model, **json.loads(args.model_json)}
    dm, module = pipeline.instantiate(
        model=model_kwargs,
        data={"dataset": "timeseries/ETTh1", "data_dir": args.data_dir, "pred_len": horizon,
              "batch_size": args.batch_size, "features": args.features})
    speed = Throughput()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor="val/mse", mode="min")
        stop = pl.callbacks.EarlyStopping("val/mse", patience=args.patience)
        trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False,
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true",
                             callbacks=[ckpt, stop, speed], enable_progress_bar=False, enable_model_summary=False)
        start = time.perf_counter()
        trainer.fit(module, datamodule=dm)
        fit_s = time.perf_counter() - start
        metrics = trainer.test(module, datamodule=dm, ckpt_path="best" if module.trainable else None,
                               verbose=False)[0]
    row = {"model": model, "horizon": horizon, "epochs": trainer.current_epoch, "fit_s": round(fit_s, 1),
           "windows_per_s": round(speed.windows / speed.seconds) if speed.seconds else None,
           "source": dm.source, **{k: round(float(v), 4) for k, v in metrics.items()}}
    print(f"| {model} | {horizon} | {row['test/mse']:.4f} | {row['test/mae']:.4f} | "
          f"{row.get('test/ridge/mse', float('nan')):.4f} | {row.get('test/last_value/mse', float('nan')):.4f} | "
          f"{row['epochs']} | {row['windows_per_s']} | {row['fit_s']} |", flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--models", default="patch_mamba,inverted_mamba,dlinear")
    p.add_argument("--horizons", default="96,192,336,720")
    p.add_argument("--epochs", type=int, default=2, help="the pipeline's default")
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--features", default="M")
    p.add_argument("--model-json", default="{}", help='extra Forecaster arguments, e.g. \'{"lr": 5e-4}\'')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}")
    print("| model | horizon | test MSE | test MAE | ridge MSE | last-value MSE | epochs | train windows/s | fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [run(m, int(h), args) for m in args.models.split(",") for h in args.horizons.split(",")]
    for model in args.models.split(","):
        mine = [r for r in rows if r["model"] == model]
        if len(mine) > 1:
            print(f"{model}: average over horizons MSE {sum(r['test/mse'] for r in mine) / len(mine):.4f} "
                  f"MAE {sum(r['test/mae'] for r in mine) / len(mine):.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

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


PREDICTIONS: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}


@torch.no_grad()
def test_predictions(module, dm) -> tuple[torch.Tensor, torch.Tensor]:
    """The (best-epoch) module's point forecasts of every test window and the targets: (N, H, c) each."""
    module.eval()
    preds, targets = [], []
    for batch in dm.test_dataloader():
        batch = {k: v.to(module.device) if torch.is_tensor(v) else v for k, v in batch.items()}
        out = module(batch["x"], **module.model_inputs(batch))
        preds.append(module._scored(module.point_forecast(out)).float().cpu())
        targets.append(module._scored(batch["y"]).float().cpu())
    return torch.cat(preds), torch.cat(targets)


def run(model: str, horizon: int, args, index: int = 0) -> dict:
    """Train and test one model; a model listed twice trains with seed + its place in the list."""
    pl.seed_everything(args.seed + index, verbose=False)
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
    if args.ensemble:
        PREDICTIONS[index, horizon] = test_predictions(module, dm)
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
    p.add_argument("--ensemble", action="store_true", help="also score the mean forecast of the models")
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}")
    print("| model | horizon | test MSE | test MAE | ridge MSE | last-value MSE | epochs | train windows/s | fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [run(m, int(h), args, i) for i, m in enumerate(args.models.split(",")) for h in args.horizons.split(",")]
    for model in args.models.split(","):
        mine = [r for r in rows if r["model"] == model]
        if len(mine) > 1:
            print(f"{model}: average over horizons MSE {sum(r['test/mse'] for r in mine) / len(mine):.4f} "
                  f"MAE {sum(r['test/mae'] for r in mine) / len(mine):.4f}")
    if args.ensemble:
        for h in sorted({h for _, h in PREDICTIONS}):
            members = [PREDICTIONS[i, h] for i in range(len(args.models.split(","))) if (i, h) in PREDICTIONS]
            mean = torch.stack([p for p, _ in members]).mean(0)
            y = members[0][1]
            mse, mae = ((mean - y) ** 2).mean().item(), (mean - y).abs().mean().item()
            print(f"| ensemble({args.models}) | {h} | {mse:.4f} | {mae:.4f} | | | | | |")
            rows.append({"model": f"ensemble({args.models})", "horizon": h, "test/mse": mse, "test/mae": mae})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

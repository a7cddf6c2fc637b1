"""ModelNet10 point-cloud classification: the pointcloud pipeline's default model trained on the project's
mirror (the official training split, 3,991 clouds of 1,024 points) with a stratified, seeded 85/15 split.

    python benchmarks/vision_modelnet10.py --data-dir ../shared/data [--epochs 100] [--max-minutes 30] \
        [--model ssmkit_pointmamba] [--options '{"depth": 12, "embed_dim": 384}'] [--json]
    python benchmarks/vision_modelnet10.py --data-dir ../shared/data --epochs 1 --limit-batches 10   # timing

Reports the best validation epoch's overall accuracy and mean-class accuracy (that checkpoint re-validated),
epochs run, training throughput (clouds/s over the training batches, data loading included, validation
excluded), seconds per training epoch, fit seconds, parameters and device. bf16 autocast on CUDA. The
held-out 15% is a validation split, not ModelNet10's official test split (which the mirror lacks).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import warnings

import torch


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def run(args) -> dict:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from ssmkit import registry

    class Throughput(pl.Callback):
        """Clouds and seconds of the training batches (from each epoch's start to its last training batch)."""

        def __init__(self):
            self.clouds, self.seconds, self.start, self.last = 0, 0.0, 0.0, 0.0

        def on_train_epoch_start(self, trainer, module):
            _sync()
            self.start = self.last = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            _sync()
            self.clouds += len(batch["x"])
            self.last = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.seconds += self.last - self.start

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    pl.seed_everything(args.seed, verbose=False)
    pipe = registry.get("pipelines", "vision/pointcloud")
    model = {"model": args.model, "options": json.loads(args.options), "lr": args.lr, "confusion_png": False,
             "label_smoothing": args.label_smoothing}
    data = {"dataset": "vision/modelnet10", "data_dir": args.data_dir, "num_points": args.num_points,
            "batch_size": args.batch, "num_workers": args.workers, "val_fraction": 0.15, "seed": args.seed,
            **json.loads(args.data)}
    dm, net = pipe.instantiate(model=model, data=data)
    speed = Throughput()
    limits = {"limit_train_batches": args.limit_batches, "limit_val_batches": args.limit_batches} \
        if args.limit_batches else {}
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = ModelCheckpoint(dirpath=tmp, monitor="val/acc", mode="max")
        trainer = pl.Trainer(max_epochs=args.epochs, max_time={"minutes": args.max_minutes} if args.max_minutes
                             else None, logger=False, callbacks=[ckpt, speed], enable_progress_bar=not args.json,
                             enable_model_summary=False, gradient_clip_val=1.0, devices=1,
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true", **limits)
        start = time.perf_counter()
        trainer.fit(net, datamodule=dm)
        fit_s = time.perf_counter() - start
        best = ckpt.best_model_path or None
        result = trainer.validate(net, datamodule=dm, ckpt_path=best, verbose=False)[0] if dm.val_set else {}
    train_size = len(dm.train_set)
    per_s = speed.clouds / speed.seconds if speed.seconds else float("nan")
    return {
        "model": args.model, "options": json.loads(args.options), "num_points": args.num_points,
        "epochs": trainer.current_epoch, "best_epoch_checkpoint": bool(best),
        "val_acc": round(float(result.get("val/acc", float("nan"))), 4),
        "val_mean_class_acc": round(float(result.get("val/mean_class_acc", float("nan"))), 4),
        "train_clouds_per_s": round(per_s, 1), "epoch_train_s": round(train_size / per_s, 1) if per_s else None,
        "fit_s": round(fit_s, 1), "train_size": train_size, "val_size": len(dm.val_set) if dm.val_set else 0,
        "params_M": round(sum(p.numel() for p in net.parameters()) / 1e6, 3), "batch": args.batch,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else
        f"cpu ({torch.get_num_threads()} threads)", "data": dm.source,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="data directory holding vision/modelnet10 "
                        "(default: $SSMKIT_DATA_DIR or ~/.cache/ssmkit/data)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop training after this long")
    parser.add_argument("--model", default="ssmkit_pointmamba")
    parser.add_argument("--options", default="{}", help="model keyword arguments as JSON")
    parser.add_argument("--data", default="{}", help="extra data-module arguments as JSON (rotate, jitter...)")
    parser.add_argument("--num-points", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--limit-batches", type=int, default=None,
                        help="training and validation batches per epoch (quick timing runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print only one JSON line")
    args = parser.parse_args()
    out = run(args)
    if args.json:
        print(json.dumps(out), flush=True)
        return
    width = max(map(len, out))
    for key, value in out.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()

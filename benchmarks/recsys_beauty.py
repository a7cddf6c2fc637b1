"""Amazon Beauty next-item benchmark: full ranking, leave-one-out, history items excluded.

    python benchmarks/recsys_beauty.py --data-dir ../shared/data --model mamba4rec [--options '{...}']
        [--loss ce|sampled|bce] [--epochs 200] [--patience 10] [--lr 1e-3] [--batch-size 256] [--max-len 50]
        [--task '{"min_lr_ratio": 1.0}'] [--val-every 1] [--max-minutes 7] [--json out.json]

The ``recsys next-item`` pipeline's model and data with the given options; the best validation
NDCG@10 epoch is tested. Prints HR/NDCG at 5/10/20 and MRR@10, the popularity baseline, and
training throughput (sequences/s, validation excluded). ``--max-minutes`` stops training after that
long (the best epoch so far is still tested; the row says "time"); several runs side by side on one GPU:
benchmarks/recsys_sweep.sh.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import warnings
from datetime import timedelta

import pytorch_lightning as pl
import torch

from ssmkit import registry


class _Clock(pl.Callback):
    """Seconds spent in training batches (validation excluded) and sequences seen."""

    def __init__(self):
        self.seconds, self.sequences, self._start = 0.0, 0, 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - self._start
        self.sequences += len(batch["x"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--model", default="mamba4rec")
    p.add_argument("--options", default="{}", help="model options as JSON, e.g. '{\"n_layers\": 2}'")
    p.add_argument("--data", default="{}", help="extra data-module arguments as JSON")
    p.add_argument("--loss", default="ce", help="ce (full softmax), sampled, bce (SASRec's: one negative)")
    p.add_argument("--task", default="{}", help="extra task arguments as JSON, e.g. '{\"min_lr_ratio\": 1.0}'")
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10, help="validation rounds without improvement")
    p.add_argument("--val-every", type=int, default=1, help="validate every n epochs")
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after this long")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    pl.seed_everything(args.seed, verbose=False)
    pipe = registry.get("pipelines", "recsys/next-item")
    dm, model = pipe.instantiate(
        model={"model": args.model, "options": json.loads(args.options), "lr": args.lr, "loss": args.loss,
               **json.loads(args.task)},
        data={"dataset": "recsys/Beauty", "data_dir": args.data_dir, "batch_size": args.batch_size,
              "max_len": args.max_len, **json.loads(args.data)})
    clock = _Clock()
    with tempfile.TemporaryDirectory() as tmp:
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor="val/ndcg@10", mode="max")
        stop = pl.callbacks.EarlyStopping(monitor="val/ndcg@10", mode="max", patience=args.patience)
        max_time = None if args.max_minutes is None else timedelta(minutes=args.max_minutes)
        trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False, callbacks=[best, stop, clock],
                             check_val_every_n_epoch=args.val_every, max_time=max_time,
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true",
                             enable_progress_bar=False, enable_model_summary=False)
        start = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        fit_s = time.perf_counter() - start
        ended = ("early stop" if stop.stopped_epoch else "max epochs" if trainer.current_epoch >= args.epochs
                 else "time")
        m = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
    row = {"tag": args.tag, "model": args.model, "loss": args.loss, "options": args.options, "task": args.task,
           "batch_size": args.batch_size, "max_len": args.max_len, "lr": args.lr, "epochs": trainer.current_epoch,
           "ended": ended, "best_val_ndcg@10": round(float(best.best_model_score or float("nan")), 4),
           "fit_s": round(fit_s, 1), "train_seqs_per_s": round(clock.sequences / max(clock.seconds, 1e-9)),
           **{k: round(float(v), 4) for k, v in m.items()}}
    keys = ["test/hr@5", "test/ndcg@5", "test/hr@10", "test/ndcg@10", "test/hr@20", "test/ndcg@20"]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"device: {device}")
    print("| tag | model | loss | " + " | ".join(k[5:] for k in keys) + " | epochs | ended | train seqs/s | fit s |")
    print(f"| {args.tag} | {args.model} | {args.loss} | "
          + " | ".join(f"{row.get(k, float('nan')):.4f}" for k in keys)
          + f" | {row['epochs']} | {ended} | {row['train_seqs_per_s']} | {row['fit_s']} |")
    pop = {k: v for k, v in row.items() if "popularity" in k}
    print("popularity:", pop)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row, f, indent=1)


if __name__ == "__main__":
    main()

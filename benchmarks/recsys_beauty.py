"""Amazon Beauty next-item benchmark: full ranking, leave-one-out, history items excluded.

    python benchmarks/recsys_beauty.py --data-dir ../shared/data --model mamba4rec [--options '{...}']
        [--epochs 200] [--patience 10] [--lr 1e-3] [--json out.json]

The ``recsys next-item`` pipeline's model and data with the given options; the best validation
NDCG@10 epoch is tested. Prints HR/NDCG at 5/10/20 and MRR@10, the popularity baseline, and
training throughput (sequences/s, validation excluded).
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
    p.add_argument("--epochs", type=int, default=200)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    pl.seed_everything(args.seed, verbose=False)
    pipe = registry.get("pipelines", "recsys/next-item")
    dm, model = pipe.instantiate(
        model={"model": args.model, "options": json.loads(args.options), "lr": args.lr},
        data={"dataset": "recsys/Beauty", "data_dir": args.data_dir, **json.loads(args.data)})
    clock = _Clock()
    with tempfile.TemporaryDirectory() as tmp:
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor="val/ndcg@10", mode="max")
        stop = pl.callbacks.EarlyStopping(monitor="val/ndcg@10", mode="max", patience=args.patience)
        trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False, callbacks=[best, stop, clock],
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true",
                             enable_progress_bar=False, enable_model_summary=False)
        start = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        fit_s = time.perf_counter() - start
        m = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
    row = {"tag": args.tag, "model": args.model, "options": args.options, "epochs": trainer.current_epoch,
           "fit_s": round(fit_s, 1), "train_seqs_per_s": round(clock.sequences / max(clock.seconds, 1e-9)),
           **{k: round(float(v), 4) for k, v in m.items()}}
    keys = ["test/hr@5", "test/ndcg@5", "test/hr@10", "test/ndcg@10", "test/hr@20", "test/ndcg@20"]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    print(f"device: {device}")
    print("| tag | model | " + " | ".join(k[5:] for k in keys) + " | epochs | train seqs/s | fit s |")
    print(f"| {args.tag} | {args.model} | " + " | ".join(f"{row.get(k, float('nan')):.4f}" for k in keys)
          + f" | {row['epochs']} | {row['train_seqs_per_s']} | {row['fit_s']} |")
    pop = {k: v for k, v in row.items() if "popularity" in k}
    print("popularity:", pop)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(row, f, indent=1)


if __name__ == "__main__":
    main()

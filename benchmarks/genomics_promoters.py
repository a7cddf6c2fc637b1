"""CNNProm promoter benchmark: E. coli sigma-70 and Arabidopsis TATA, default configuration for both.

    python benchmarks/genomics_promoters.py --data-dir ../shared/data [--epochs N] [--json out.json]

Held-out 20% stratified split (seed 0), the best validation-MCC epoch tested; prints sensitivity,
specificity, MCC, accuracy, AUROC and training throughput (sequences/s and nucleotides/s).
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


def run(dataset: str, args) -> dict:
    pl.seed_everything(args.seed, verbose=False)
    pipeline = registry.get("pipelines", "genomics/classify")
    dm, model = pipeline.instantiate(model=json.loads(args.model_json),
                                     data={"dataset": dataset, "data_dir": args.data_dir,
                                                           **json.loads(args.data_json)})
    epochs = args.epochs or pipeline.trainer.get("max_epochs", 10)
    with tempfile.TemporaryDirectory() as tmp:
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor="val/mcc", mode="max")
        trainer = pl.Trainer(max_epochs=epochs, gradient_clip_val=1.0, logger=False, callbacks=[best],
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true",
                             enable_progress_bar=False, enable_model_summary=False)
        start = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        fit_s = time.perf_counter() - start
        m = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
    n_train = len(dm.train_set) * epochs
    row = {"dataset": dataset, "epochs": epochs, "fit_s": round(fit_s, 1), "length": dm.length,
           "seqs_per_s": round(n_train / fit_s), "nt_per_s": round(n_train * dm.length / fit_s),
           **{k: round(float(v), 4) for k, v in m.items()}}
    print(f"| {args.tag} | {dataset} | {row['test/sensitivity']:.4f} | {row['test/specificity']:.4f} | "
          f"{row['test/mcc']:.4f} | "
          f"{row['test/acc']:.4f} | {row['test/auroc']:.4f} | {epochs} | {row['seqs_per_s']} | {row['fit_s']} |",
          flush=True)
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--datasets", default="genomics/promoters_ecoli,genomics/promoters_arabidopsis")
    p.add_argument("--epochs", type=int, default=None, help="default: the pipeline's max_epochs")
    p.add_argument("--model-json", default="{}", help="DNAClassifier arguments, e.g. '{\"d_model\": 64}'")
    p.add_argument("--data-json", default="{}", help="DNAClassDataModule arguments, e.g. '{\"rc_augment\": true}'")
    p.add_argument("--tag", default="", help="a label printed in each row")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}")
    print("| dataset | sensitivity | specificity | MCC | accuracy | AUROC | epochs | train seqs/s (incl. val) "
          "| fit s |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [run(d, args) for d in args.datasets.split(",")]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

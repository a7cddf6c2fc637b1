"""Fit Mamba4Rec on an interaction log, test it against the popularity baseline, then serve it one
interaction at a time with ``Recommender.update`` / ``recommend``.

    python examples/recsys/train.py --data-dir ../shared/data                       # Amazon Beauty
    python examples/recsys/train.py --data-dir ../shared/data --quick   # the demo's CPU recipe on a Beauty slice
    python examples/recsys/train.py --path log.csv                                   # your own log

A log is any format the plug-in reads (``--fmt auto`` tells them apart): one user per line
``user item item ...``; one ``user item`` pair per line in time order; CSV/TSV with user, item and
timestamp columns; RecBole ``.inter``; MovieLens ``ratings.dat``. Evaluation is leave-one-out with full
ranking over every item, the user's earlier items excluded.
"""

import argparse
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from ssmkit_recsys.serving import Recommender

from ssmkit import registry
from ssmkit.cli.report import print_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", default=None, help="an interaction log (default: the recsys/Beauty dataset entry)")
    p.add_argument("--fmt", default="auto", help="auto, lines, pairs, table, inter or movielens")
    p.add_argument("--data-dir", default=None, help="data directory holding recsys/Beauty.txt")
    p.add_argument("--max-users", type=int, default=None, help="only the first n users (a quick run)")
    p.add_argument("--k-core", type=int, default=0, help="keep users and items with at least k interactions")
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--loss", default="ce", help="ce (full softmax), sampled or bce (SASRec's)")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--quick", action="store_true",
                   help="the pipeline demo's recipe: Beauty's first 6,000 users 5-core, d_model 32, 3 epochs")
    p.add_argument("--out", default="runs/example-recsys")
    args = p.parse_args()
    pl.seed_everything(0)
    out = Path(args.out)

    # 1. data and model from the next-item pipeline, trained with early stopping on validation NDCG@10
    pipeline = registry.get("pipelines", "recsys/next-item")
    model = {"model": "mamba4rec", "options": {"d_model": 64, "n_layers": 1, "dropout": 0.3}, "lr": args.lr}
    data = {"path": args.path, "fmt": args.fmt, "data_dir": args.data_dir, "max_users": args.max_users,
            "k_core": args.k_core, "max_len": args.max_len, "batch_size": 256}
    if args.quick:
        model, data = {**model, **pipeline.demo["model"]}, {**data, **pipeline.demo["data"], "data_dir": args.data_dir}
        args.epochs, args.max_len = pipeline.demo["trainer"]["max_epochs"], data["max_len"]
    dm, task = pipeline.instantiate(model={**model, "loss": args.loss}, data=data)
    print(f"data: {dm.source}, {len(dm.histories):,} users, {dm.n_items:,} items, "
          f"{dm.histories.n_interactions:,} interactions")
    best = pl.callbacks.ModelCheckpoint(dirpath=out, monitor="val/ndcg@10", mode="max")
    stop = pl.callbacks.EarlyStopping(monitor="val/ndcg@10", mode="max", patience=5)
    trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False, callbacks=[best, stop],
                         enable_model_summary=False,
                         precision="bf16-mixed" if torch.cuda.is_available() else "32-true")
    trainer.fit(task, datamodule=dm)

    # 2. test the best epoch: HR/NDCG/MRR over the whole catalogue, beside the popularity baseline
    metrics = trainer.test(task, datamodule=dm, ckpt_path="best", verbose=False)[0]
    print_table(*task.test_table(metrics))
    vocab_file = dm.vocab.save(out / "vocab.json")  # what `ssmkit recsys next-item predict` reads back
    print(f"checkpoint: {best.best_model_path}\nvocabulary: {vocab_file}")

    # 3. incremental serving on the CPU: each user's history is a fixed-size recurrent state
    rec = Recommender.from_task(task, dm.vocab, device="cpu")
    hist, split = dm.histories, dm.split
    u = int(split.test_users[0])
    user, items = hist.users[u], hist.items[u]
    rec.fold(user, items[:-1])  # everything before the held-out item, one O(1) update each
    top = rec.recommend(user, k=10)
    held_out = items[-1]
    print(f"\nuser {user!r}: {len(items) - 1} items folded in, held-out next item {held_out!r}")
    print("top-10:", ", ".join(f"{item} ({score:.2f})" for item, score in top))
    print("held-out item in the top-10:", held_out in {item for item, _ in top})

    # the state after step-by-step updates equals the full forward over the (windowed) history
    x = torch.tensor([dm.vocab.encode(items[:-1])[-args.max_len:]])
    with torch.no_grad():
        full = task.net.scores(task.net.last_hidden(x))[0, 1:]
    if len(items) - 1 <= args.max_len:
        print(f"max |score difference| step-by-step vs full forward: {(rec.scores(user)[1:] - full).abs().max():.2e}")

    # a new interaction arrives: fold it in and recommend again
    start = time.perf_counter()
    rec.update(user, held_out)
    top = rec.recommend(user, k=5)
    ms = 1e3 * (time.perf_counter() - start)
    print(f"after update({user!r}, {held_out!r}): {', '.join(item for item, _ in top)}  ({ms:.2f} ms for "
          f"update + top-5 over {dm.n_items:,} items)")

    # a user the model never saw in training: their first interactions are enough to recommend
    first = hist.items[int(split.test_users[1])][:3]
    rec.fold("new-user", first)
    print(f"new user after {first}: {', '.join(item for item, _ in rec.recommend('new-user', k=5))}")


if __name__ == "__main__":
    main()

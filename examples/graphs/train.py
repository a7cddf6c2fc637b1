"""Train a Graph-Mamba (or a baseline) on a graph task from Python, then test it.

    python examples/graphs/train.py --data-dir ../shared/data --task graph-classify --dataset graphs/MUTAG
    python examples/graphs/train.py --data-dir ../shared/data --task graph-classify --folds 10   # mean +- std
    python examples/graphs/train.py --data-dir ../shared/data --task node-classify --dataset graphs/Cora
    python examples/graphs/train.py --data-dir ../shared/data --task graph-regress --dataset graphs/ESOL
    python examples/graphs/train.py --task graph-classify --edges e.csv --nodes n.csv --labels l.csv
"""

import argparse

import pytorch_lightning as pl
from ssmkit_graphs.crossval import cross_validate

from ssmkit import registry
from ssmkit.cli.report import print_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="graph-classify", choices=["graph-classify", "graph-regress", "node-classify"])
    p.add_argument("--dataset", default=None, help="graphs/MUTAG, graphs/ENZYMES, graphs/Cora, graphs/ESOL")
    p.add_argument("--data-dir", default=None, help="data directory or local mirror holding graphs/<Name>/raw")
    p.add_argument("--edges", default=None, help="your own graphs: edge list CSV (src,dst[,weight])")
    p.add_argument("--nodes", default=None, help="node table CSV ([id,][graph,]features...)")
    p.add_argument("--labels", default=None, help="id,label CSV")
    p.add_argument("--model", default="graph_mamba", help="graph_mamba, gps, gin, gcn, gat")
    p.add_argument("--order", default="degree", help="node order: degree, bfs, dfs, spectral, random_walk, random")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--folds", type=int, default=0, help="graph tasks: k-fold cross-validation (mean and std)")
    args = p.parse_args()

    pipeline = registry.get("pipelines", f"graphs/{args.task}")
    model = {"model": args.model, "order": args.order, "d_model": args.d_model, "n_layers": args.layers}
    if args.lr:
        model["lr"] = args.lr
    data = {"data_dir": args.data_dir, "edges": args.edges, "nodes": args.nodes, "labels": args.labels}
    if args.dataset:
        data["dataset"] = args.dataset
    trainer = {"max_epochs": args.epochs}
    if args.folds:
        summary = cross_validate(pipeline, model, data, folds=args.folds, trainer=trainer,
                                 on_fold=lambda i, m: print(f"fold {i}: " + ", ".join(
                                     f"{k} {v:.4f}" for k, v in sorted(m.items()))))
        print_table(f"{args.task}, {args.folds}-fold cross-validation", ["metric", "mean", "std"],
                    [[k, f"{m:.4f}", f"{s:.4f}"] for k, (m, s) in summary.items()])
        return
    pl.seed_everything(0)
    dm, net = pipeline.instantiate(model=model, data=data)
    best = pl.callbacks.ModelCheckpoint(monitor=pipeline.monitor, mode=pipeline.mode)
    t = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False, callbacks=[best],
                   default_root_dir=f"runs/example-graphs-{args.task}")
    t.fit(net, datamodule=dm)
    metrics = t.test(net, datamodule=dm, ckpt_path="best", verbose=False)[0]
    print(f"data: {dm.source}")
    print_table(f"{args.task} ({args.model}, order {args.order})", ["metric", "value"],
                [[k, f"{v:.4f}"] for k, v in sorted(metrics.items())])


if __name__ == "__main__":
    main()

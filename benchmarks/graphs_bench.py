"""Graph benchmarks: the issue's accuracy targets and one global layer's memory/time against node count.

    python benchmarks/graphs_bench.py targets --data-dir ../shared/data [--epochs N] [--json out.json]
    python benchmarks/graphs_bench.py scaling [--nodes 1000,10000,100000,1000000] [--d-model 64]
    python benchmarks/graphs_bench.py packing [--graphs 32,128]

targets (one default configuration per task, not tuned per dataset; record the command, device and commit):
  MUTAG, 10-fold stratified CV: graph_mamba vs gin (target >= 90% mean accuracy; GIN paper 89.4 +- 5.6)
  ENZYMES, 10-fold: graph_mamba vs gin and gps (target: above both)
  Cora, public split: graph_mamba vs gcn and gat (target >= 83.0%; GAT 83.0, GCN 81.5)
  ESOL, random 80/10/10: graph_mamba vs gin (target: RMSE below gin's)
Each fold/run tests the best validation epoch.

scaling: one graph of n nodes (random, average degree 4), one global layer forward + backward: our SSM over the
degree-ordered nodes (linear in n) against torch_geometric's GPSConv with multi-head attention and no local
branch (quadratic in n); peak CUDA memory and time per step, "OOM" where attention runs out of memory.

packing: the global branch over a batch of graphs packed in one row (seq_idx) against padded rows per graph.
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
from ssmkit_graphs.crossval import cross_validate

from ssmkit import registry

TARGETS = [  # (pipeline, dataset, models, folds)
    ("graph-classify", "graphs/MUTAG", ["graph_mamba", "gin"], 10),
    ("graph-classify", "graphs/ENZYMES", ["graph_mamba", "gin", "gps"], 10),
    ("node-classify", "graphs/Cora", ["graph_mamba", "gcn", "gat"], 0),
    ("graph-regress", "graphs/ESOL", ["graph_mamba", "gin"], 0),
]


def _trainer_kwargs(epochs: int | None, pipeline) -> dict:
    return {"max_epochs": epochs or pipeline.trainer.get("max_epochs", 100),
            "precision": "bf16-mixed" if torch.cuda.is_available() else "32-true"}


def run_target(task: str, dataset: str, model: str, folds: int, args) -> dict:
    pipeline = registry.get("pipelines", f"graphs/{task}")
    model_kwargs = {"model": model, **json.loads(args.model_json)}
    data = {"dataset": dataset, "data_dir": args.data_dir, **json.loads(args.data_json)}
    start = time.perf_counter()
    main = "test/rmse" if task == "graph-regress" else "test/acc"
    if folds:
        selections = [s.strip() for s in args.select.split(",") if s.strip()] if args.select else []

        def on_fold(fold: int, m: dict) -> None:  # a run cut short still shows its finished folds
            others = "".join(f" {s} {float(m[f'{main}[{s}]']):.4f}" for s in selections)
            print(f"fold {fold}: {dataset} {model} {main} {float(m[main]):.4f}{others} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)

        summary = cross_validate(pipeline, model_kwargs, data, folds=folds, seed=args.seed,
                                 trainer=_trainer_kwargs(args.epochs, pipeline), on_fold=on_fold,
                                 only=[int(f) for f in args.folds.split(",")] if args.folds else None,
                                 selections=selections)
        for sel in selections:
            m, sd = summary[f"{main}[{sel}]"]
            print(f"| {args.tag} | {dataset} | {model} | {main} [{sel}] | {m:.4f} | {sd:.4f} |", flush=True)
    else:
        if args.select:
            print(f"note: --select applies to cross-validated targets; {dataset} is one split", flush=True)
        pl.seed_everything(args.seed, verbose=False)
        dm, net = pipeline.instantiate(model=model_kwargs, data=data)
        if args.freeze_gates:  # the ablation: graph_mamba without its global branch (gates stay at zero)
            if getattr(net.net, "gates", None) is None:
                raise SystemExit("--freeze-gates: only graph_mamba at node level has gates")
            net.net.gates.requires_grad_(False)
        with tempfile.TemporaryDirectory() as tmp:
            best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor=pipeline.monitor, mode=pipeline.mode)
            t = pl.Trainer(logger=False, callbacks=[best], enable_progress_bar=False, enable_model_summary=False,
                           gradient_clip_val=1.0, **_trainer_kwargs(args.epochs, pipeline))
            t.fit(net, datamodule=dm)
            m = t.test(net, datamodule=dm, ckpt_path="best", verbose=False)[0]
        summary = {k: (float(v), 0.0) for k, v in m.items() if k.startswith("test/")}
    seconds = time.perf_counter() - start
    mean, std = summary[main]
    ran = (f"{args.folds} of {folds}" if args.folds else folds) if folds else "split"
    print(f"| {args.tag} | {dataset} | {model} | {main} | {mean:.4f} | {std:.4f} | {ran} | {seconds:.0f} s |",
          flush=True)
    return {"task": task, "dataset": dataset, "model": model, "folds": ran, "seconds": round(seconds, 1),
            **{k: {"mean": round(m, 4), "std": round(s, 4)} for k, (m, s) in summary.items()}}


def _random_graph(n: int, degree: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.randint(n, (n * degree // 2,), device=device)
    dst = torch.randint(n, (n * degree // 2,), device=device)
    return torch.cat([torch.stack([src, dst]), torch.stack([dst, src])], 1), torch.zeros(n, dtype=torch.long,
                                                                                       device=device)


def scale_one(kind: str, n: int, d: int, device, repeats: int = 3) -> dict:
    from ssmkit_graphs.model import GlobalSSM
    from ssmkit_graphs.orders import SCAN_ORDERS, batch_permutation
    from torch_geometric.nn import GPSConv

    torch.manual_seed(0)
    edge_index, batch = _random_graph(n, 4, device)
    x = torch.randn(n, d, device=device, requires_grad=True)
    if kind == "ssm":
        layer = GlobalSSM(d, bidirectional=True).to(device)
        order = SCAN_ORDERS["degree"]

        def step():
            idx = batch_permutation(order, edge_index, batch, 1)
            rev = batch_permutation(order, edge_index, batch, 1, reverse=True)
            return layer(x, batch, (idx, rev))
    else:
        layer = GPSConv(d, None, heads=4, attn_type="multihead").to(device)

        def step():
            return layer(x, edge_index, batch)

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            step().float().square().mean().backward()  # warm-up (kernel compilation)
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats(device)
            start = time.perf_counter()
            for _ in range(repeats):
                step().float().square().mean().backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
        ms = (time.perf_counter() - start) / repeats * 1000
        peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
        return {"kind": kind, "nodes": n, "ms": round(ms, 2), "peak_mib": round(peak, 1)}
    except torch.OutOfMemoryError:
        return {"kind": kind, "nodes": n, "ms": None, "peak_mib": "OOM"}
    finally:
        x.grad = None
        if device.type == "cuda":
            torch.cuda.empty_cache()


def scaling(args) -> list[dict]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    rows, attention_dead = [], False
    print(f"| layer | nodes | ms / step (fwd+bwd) | peak MiB | device: {device} |")
    for n in [int(v) for v in args.nodes.split(",")]:
        for kind in ("ssm", "attention"):
            if kind == "attention" and attention_dead:
                row = {"kind": kind, "nodes": n, "ms": None, "peak_mib": "OOM (smaller n already)"}
            else:
                row = scale_one(kind, n, args.d_model, device)
                attention_dead |= kind == "attention" and row["peak_mib"] == "OOM"
            rows.append(row)
            print(f"| {kind} | {n} | {row['ms']} | {row['peak_mib']} |", flush=True)
    return rows


def packing(args) -> list[dict]:
    """The global branch on a batch of graphs as one packed row (seq_idx) against one padded row per graph:
    forward + backward time on this device (bf16 autocast on a GPU, float32 and one thread on the CPU) and the
    largest difference of the outputs. Graph sizes drawn like ENZYMES' (mean 33 nodes, up to 126)."""
    from ssmkit_graphs.model import GlobalSSM, ordered_ssm

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)
    rows = []
    print(f"| graphs | nodes | padded tokens | padded ms | packed ms | max abs diff | device: {device} |")
    for graphs in [int(v) for v in args.graphs.split(",")]:
        gen = torch.Generator().manual_seed(graphs)
        sizes = (torch.randn(graphs, generator=gen) * 15 + 33).round().clamp(2, 126).long()
        sizes[0] = 126
        batch = torch.repeat_interleave(torch.arange(graphs), sizes).to(device)
        n = int(sizes.sum())
        torch.manual_seed(0)
        ssm = GlobalSSM(args.d_model).to(device)
        h = torch.randn(n, args.d_model, device=device, requires_grad=True)
        idx = torch.randperm(n, device=device)
        idx = idx[torch.argsort(batch[idx], stable=True)]
        row = {"graphs": graphs, "nodes": n, "padded_tokens": graphs * 126}
        outs = {}
        for packed in (False, True):
            def step(packed=packed, h=h, idx=idx, batch=batch, backbone=ssm.forward_ssm):
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    return ordered_ssm(h, idx, batch, backbone, packed=packed).float()

            with torch.no_grad():
                outs[packed] = step()
            for _ in range(2):
                step().square().mean().backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(args.repeats):
                step().square().mean().backward()
            if device.type == "cuda":
                torch.cuda.synchronize()
            row["packed_ms" if packed else "padded_ms"] = round((time.perf_counter() - start) / args.repeats * 1e3, 2)
        row["max_abs_diff"] = float((outs[True] - outs[False]).abs().max())
        rows.append(row)
        print(f"| {graphs} | {n} | {row['padded_tokens']} | {row['padded_ms']} | {row['packed_ms']} | "
              f"{row['max_abs_diff']:.2e} |", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=["targets", "scaling", "packing"])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--only", default=None, help="targets: datasets to run, e.g. graphs/MUTAG,graphs/Cora")
    p.add_argument("--models", default=None, help="targets: models to run, e.g. graph_mamba,gin")
    p.add_argument("--epochs", type=int, default=None, help="default: the pipeline's max_epochs")
    p.add_argument("--model-json", default="{}", help="extra model arguments for every run")
    p.add_argument("--data-json", default="{}", help="extra data arguments for every run")
    p.add_argument("--select", default=None, help="targets with folds: also test the epoch other rules pick in "
                   "the same fit, e.g. min:val/loss,last (rows marked [rule])")
    p.add_argument("--folds", default=None, help="targets: only these fold indices, e.g. 0,1 (one process per "
                   "fold on a many-core machine; the rows' mean/std then cover these folds only)")
    p.add_argument("--freeze-gates", action="store_true", help="targets, node level, graph_mamba: keep the "
                   "global SSM's gates at zero (an ablation: the model without its global branch)")
    p.add_argument("--nodes", default="1000,10000,100000,1000000")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--graphs", default="32,128", help="packing: graphs per batch")
    p.add_argument("--repeats", type=int, default=5, help="packing: timed steps")
    p.add_argument("--tag", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    if args.part == "scaling":
        rows = scaling(args)
    elif args.part == "packing":
        rows = packing(args)
    else:
        print("| tag | dataset | model | metric | mean | std | folds | time |")
        print("|---|---|---|---|---|---|---|---|")
        rows = []
        for task, dataset, models, folds in TARGETS:
            if args.only and dataset not in args.only.split(","):
                continue
            for model in models:
                if args.models and model not in args.models.split(","):
                    continue
                rows.append(run_target(task, dataset, model, folds, args))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
                       "rows": rows}, handle, indent=1)


if __name__ == "__main__":
    main()

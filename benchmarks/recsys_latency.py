"""CPU latency of serving one new interaction: a recurrent model's O(1) update + top-10 over the whole
catalogue, against recomputing SASRec over the user's whole history + top-10, at several history lengths.

    OMP_NUM_THREADS=1 python benchmarks/recsys_latency.py [--histories 50 200 1000] [--n-items 12101]
        [--repeats 50] [--threads 1] [--json out.json]

Untrained models of the pipeline's default sizes (mamba4rec: d_model 64, 1 layer, d_state 32; gru4rec:
d_model 64, hidden 128; sasrec: d_model 64, 2 layers, 2 heads, its window as long as the history); the
catalogue defaults to Beauty's 12,101 items. Columns: ``serving.update_latency`` (one step + top-10 of the
raw model, median of ``--repeats``), the same through ``Recommender.update`` + ``recommend(10)`` (original
ids, earlier items excluded), SASRec's full forward + top-10, and the ratio of the last to the first.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch
from ssmkit_recsys.models import build_model
from ssmkit_recsys.serving import Recommender, update_latency
from ssmkit_recsys.vocab import Vocabulary


def recommender_latency(model, history: int, repeats: int, k: int = 10) -> float:
    """Median seconds of Recommender.update(user, item) + recommend(user, k) after ``history`` items."""
    vocab = Vocabulary([f"i{i}" for i in range(1, model.n_items + 1)])
    rec = Recommender(model, vocab)
    items = torch.randint(1, model.n_items + 1, (history + repeats,)).tolist()
    rec.fold("u", [f"i{i}" for i in items[:history]])
    times = []
    for item in items[history:]:
        start = time.perf_counter()
        rec.update("u", f"i{item}")
        rec.recommend("u", k)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def state_bytes(model) -> int:
    """Bytes of one user's recurrent state (all layers)."""
    def size(x):
        if torch.is_tensor(x):
            return x.numel() * x.element_size()
        if isinstance(x, dict):
            return sum(size(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return sum(size(v) for v in x)
        return sum(size(v) for v in vars(x).values()) if hasattr(x, "__dict__") else 0

    return size(model.allocate_state(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--histories", type=int, nargs="+", default=[50, 200, 1000])
    p.add_argument("--n-items", type=int, default=12_101)
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    mamba = build_model("mamba4rec", args.n_items, max(args.histories)).eval()
    gru = build_model("gru4rec", args.n_items, max(args.histories)).eval()
    for model in (mamba, gru, build_model("sasrec", args.n_items, 64).eval()):  # warm-up: first calls allocate
        update_latency(model, 32, 5)
    rows = []
    for history in args.histories:
        sasrec = build_model("sasrec", args.n_items, history).eval()
        row = {"history": history,
               "mamba4rec_ms": 1e3 * update_latency(mamba, history, args.repeats),
               "mamba4rec_recommender_ms": 1e3 * recommender_latency(mamba, history, args.repeats),
               "gru4rec_ms": 1e3 * update_latency(gru, history, args.repeats),
               "sasrec_recompute_ms": 1e3 * update_latency(sasrec, history, args.repeats)}
        row["speedup"] = row["sasrec_recompute_ms"] / row["mamba4rec_ms"]
        rows.append(row)
    print(f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{args.n_items:,} items, top-10, median of {args.repeats}; mamba4rec state per user "
          f"{state_bytes(mamba):,} bytes, whatever the history")
    print("| history | mamba4rec update + top-10 (ms) | via Recommender.update + recommend (ms) "
          "| gru4rec update + top-10 (ms) | SASRec recompute + top-10 (ms) | SASRec / mamba4rec |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['history']:,} | {r['mamba4rec_ms']:.3f} | {r['mamba4rec_recommender_ms']:.3f} "
              f"| {r['gru4rec_ms']:.3f} | {r['sasrec_recompute_ms']:.3f} | {r['speedup']:.1f}x |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "n_items": args.n_items, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

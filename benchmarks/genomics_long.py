"""Long DNA sequences: training and inference speed and peak memory against length.

    python benchmarks/genomics_long.py [--lengths 1024,4096,16384,65536,131072] [--json out.json]
    python benchmarks/genomics_long.py --lengths 262144,524288,1048576,2097152 --repeats 1 --only train

Every classifier training step checks that its loss and every gradient are finite (bf16 autocast on a
GPU) and stops with an error otherwise. A length that runs out of GPU memory is reported as not fitting and
ends the sweep (longer ones would not fit either).

Rows: the default classifier (bidirectional, reverse-complement equivariant Mamba, d_model 128,
4 layers, batch 1, one training step = forward + backward + AdamW; inference = forward without
gradients) and chunked next-nucleotide pretraining (causal, state carried across 4,096-token
pieces). Memory: CUDA peak allocated on a GPU; on the CPU the process's peak RSS after the row
(monotone, so read the growth). Random A/C/G/T tokens; the medians of ``--repeats`` timed runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

import torch
from ssmkit_genomics.model import DNAClassifierNet
from ssmkit_genomics.pretrain import DNALanguageModel


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _peak_mb(device: str) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, allocator)
    _sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(L: int, args, device: str) -> list[dict]:
    rows = []
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    x = torch.randint(1, 5, (1, L), device=device)
    y = torch.zeros(1, dtype=torch.long, device=device)
    clf = DNAClassifierNet(2, pool="mean", d_model=args.d_model, n_layers=args.n_layers, stem=15).to(device)
    opt = torch.optim.AdamW(clf.parameters(), lr=1e-4)

    def train_step():
        with torch.autocast(device, dtype=dtype, enabled=device == "cuda"):
            loss = torch.nn.functional.cross_entropy(clf(x).float(), y)
        loss.backward()
        grads = [p.grad for p in clf.parameters() if p.grad is not None]
        finite = torch.isfinite(loss) & torch.stack([torch.isfinite(g).all() for g in grads]).all()
        if not bool(finite):
            raise FloatingPointError(f"length {L}: loss {loss.item()} or a gradient is not finite")
        opt.step()
        opt.zero_grad(set_to_none=True)

    def infer():
        with torch.no_grad(), torch.autocast(device, dtype=dtype, enabled=device == "cuda"):
            clf(x)

    lm = DNALanguageModel(d_model=args.d_model, n_layers=args.n_layers, chunk=args.chunk).to(device)
    lm_opt = torch.optim.AdamW(lm.parameters(), lr=1e-4)
    lm.manual_backward = lambda loss: loss.backward()  # outside a Trainer

    def lm_step():
        with torch.autocast(device, dtype=dtype, enabled=device == "cuda"):
            lm.window_nll(x, backward=True)
        lm_opt.step()
        lm_opt.zero_grad(set_to_none=True)

    jobs = {"train": ("classify train step", train_step), "infer": ("classify inference", infer),
            "pretrain": (f"pretrain step (chunks of {args.chunk})", lm_step)}
    for key in args.only.split(","):
        name, fn = jobs[key]
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        try:
            seconds = _time(fn, args.repeats)
        except torch.OutOfMemoryError:
            opt.zero_grad(set_to_none=True)
            lm_opt.zero_grad(set_to_none=True)
            print(f"| {name} | {L:,} | does not fit | - | - |", flush=True)
            rows.append({"what": name, "length": L, "fits": False, "device": device})
            continue
        row = {"what": name, "length": L, "seconds": round(seconds, 4), "tokens_per_s": round(L / seconds),
               "peak_mb": round(_peak_mb(device), 1), "device": device}
        print(f"| {name} | {L:,} | {row['tokens_per_s']:,} | {row['peak_mb']:,.0f} | {seconds * 1e3:.1f} |",
              flush=True)
        rows.append(row)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", default=None, help="default: up to 131072 on a GPU, 16384 on the CPU")
    p.add_argument("--d-model", type=int, default=128)
    p.add_argument("--n-layers", type=int, default=4)
    p.add_argument("--chunk", type=int, default=4096)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default="train,infer,pretrain", help="rows to run: train, infer, pretrain")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    unknown = set(args.only.split(",")) - {"train", "infer", "pretrain"}
    if unknown:
        p.error(f"--only {args.only}: unknown row(s) {', '.join(sorted(unknown))}; use train, infer, pretrain")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    default = "1024,4096,16384,65536,131072" if device == "cuda" else "1024,4096,16384"
    lengths = [int(v) for v in (args.lengths or default).split(",")]
    name = torch.cuda.get_device_name() if device == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    print(f"device: {name}; d_model {args.d_model}, {args.n_layers} layers, batch 1")
    print("| what | length (nt) | tokens/s | peak memory (MB) | ms per call |")
    print("|---|---|---|---|---|")
    rows = []
    for L in lengths:
        rows += bench(L, args, device)
        if any(r.get("fits") is False for r in rows):
            break  # a longer sequence would not fit either
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

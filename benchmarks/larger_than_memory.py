"""Data larger than memory: peak RSS of one training epoch against the size of the file it reads.

    python benchmarks/larger_than_memory.py [--dir /tmp] [--fasta-gb 2] [--csv-gb 2] [--steps 200]
                                            [--in-memory] [--keep] [--json out.json]

Generates in ``--dir`` a FASTA of ``--fasta-gb`` GB (random A/C/G/T, 8 records, 60-80 nt lines) and a CSV of
``--csv-gb`` GB (a minute timestamp and 8 numeric columns), then, each in a subprocess, trains one epoch limited to
``--steps`` steps of
  (a) genomics pretrain: a tiny causal Mamba (d_model 16, 1 layer) on 512-token windows drawn from the whole
      file through its .fai index (``FastaLMDataModule(index="always")``, what "auto" does from 64 MiB; the
      index is built first, timed apart);
  (b) timeseries forecast: a tiny PatchMamba on 96 -> 24 windows of the CSV converted once to a memory-mapped
      float32 .npy cache (``ForecastDataModule(mmap="always")``, what "auto" does from 256 MiB; the conversion
      is timed apart).
Each row gives the child's resident memory after imports (the fixed cost of torch and Lightning), its peak RSS
(VmHWM) over preparation and training, the one-off indexing / conversion time and the training wall time.
``--in-memory`` adds the same jobs on the former whole-file paths (index="never", mmap="never") for contrast.
The generated files (and their index and cache) are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

GB = 10**9
FASTA_RECORDS = 8
CSV_COLUMNS = 8


# ------------------------------------------------------------------------------------------------ the files


def write_fasta(path: Path, size: int, seed: int = 0) -> None:
    """About ``size`` bytes of FASTA: FASTA_RECORDS records of random A/C/G/T, each wrapped at 60 to 80 nt."""
    import numpy as np

    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    per_record = size // FASTA_RECORDS
    with open(path, "wb") as out:
        for r in range(FASTA_RECORDS):
            width = int(rng.integers(60, 81))
            out.write(f">chr{r + 1} generated random bases, {width} per line\n".encode())
            lines_left = per_record // (width + 1)
            while lines_left:
                k = min(lines_left, (16 << 20) // (width + 1))
                block = np.empty((k, width + 1), dtype=np.uint8)
                block[:, :width] = letters[rng.integers(0, 4, (k, width), dtype=np.uint8)]
                block[:, width] = ord("\n")
                out.write(block.tobytes())
                lines_left -= k


def write_csv(path: Path, size: int, seed: int = 0) -> None:
    """About ``size`` bytes of CSV: ``date`` (one row a minute from 2000-01-01) and CSV_COLUMNS columns of
    daily cycles plus noise written as fixed-point ``DDD.DDD`` (digits built with numpy, no per-cell Python)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    header = "date," + ",".join(f"v{i}" for i in range(CSV_COLUMNS - 1)) + ",OT\n"
    row_bytes = 19 + CSV_COLUMNS * 8 + 1
    rows = max((size - len(header)) // row_bytes, 1)
    phase = rng.uniform(0, 2 * np.pi, CSV_COLUMNS)
    start = np.datetime64("2000-01-01T00:00", "m")
    digits = 10 ** np.arange(5, -1, -1)
    with open(path, "wb") as out:
        out.write(header.encode())
        for first in range(0, rows, 1 << 20):
            n = min(1 << 20, rows - first)
            t = np.arange(first, first + n)
            block = np.empty((n, row_bytes), dtype=np.uint8)
            stamps = np.datetime_as_string(start + t, unit="s").astype("S19")
            block[:, :19] = np.frombuffer(stamps.tobytes(), dtype=np.uint8).reshape(n, 19)
            block[:, 10] = ord(" ")
            values = 500 + 300 * np.sin(2 * np.pi * t[:, None] / 1440 + phase) + rng.normal(0, 20, (n, CSV_COLUMNS))
            milli = np.clip(np.rint(values * 1000), 0, 999_999).astype(np.int64)  # DDD.DDD
            cells = (milli[:, :, None] // digits % 10 + ord("0")).astype(np.uint8)  # (n, columns, 6)
            for c in range(CSV_COLUMNS):
                at = 19 + 8 * c
                block[:, at] = ord(",")
                block[:, at + 1:at + 4] = cells[:, c, :3]
                block[:, at + 4] = ord(".")
                block[:, at + 5:at + 8] = cells[:, c, 3:]
            block[:, -1] = ord("\n")
            out.write(block.tobytes())


# ------------------------------------------------------------------------------------------------ the children


def _status(key: str) -> int:
    """A /proc/self/status field in MiB (VmRSS: now, VmHWM: the peak so far)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    return -1


class AnonPeak:
    """Samples RssAnon (memory the process owns, not file pages it maps) every 20 ms in a thread; ``peak`` MiB.
    VmHWM also counts the clean pages of a memory-mapped file that reads touched, which the kernel can drop."""

    def __init__(self):
        import threading

        self.peak, self._stop = _status("RssAnon"), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, _status("RssAnon"))

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return max(self.peak, _status("RssAnon"))


def _trainer(steps: int):
    import pytorch_lightning as pl

    return pl.Trainer(max_epochs=1, limit_train_batches=steps, limit_val_batches=10, num_sanity_val_steps=0,
                      logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, accelerator="cpu", devices=1)


def child_genomics(path: Path, steps: int, in_memory: bool) -> dict:
    import torch
    from ssmkit_genomics.fasta_index import fasta_index
    from ssmkit_genomics.pretrain import DNALanguageModel, FastaLMDataModule

    torch.manual_seed(0)
    model = DNALanguageModel(d_model=16, n_layers=1, d_state=8, lr=1e-3)
    base, anon = _status("VmRSS"), AnonPeak()
    start = time.perf_counter()
    if not in_memory:
        fasta_index(path).close()  # the one-off pass that writes the .fai (setup below reuses it)
    prep = time.perf_counter() - start
    prep_peak = _status("VmHWM")
    dm = FastaLMDataModule(path=str(path), context=512, batch_size=8, index="never" if in_memory else "always")
    start = time.perf_counter()
    if in_memory:
        dm.setup("fit")
        prep = time.perf_counter() - start  # parsing and encoding every record
        start = time.perf_counter()
    trainer = _trainer(steps)
    trainer.fit(model, datamodule=dm)
    return {"windows": len(dm.train_set), "steps": trainer.global_step, "base_mb": base, "prep_s": prep,
            "prep_peak_mb": prep_peak, "train_s": time.perf_counter() - start, "peak_mb": _status("VmHWM"),
            "anon_peak_mb": anon.stop(),
            "indexed": type(dm.train_set.store).__name__}


def child_timeseries(path: Path, steps: int, in_memory: bool) -> dict:
    import torch
    from ssmkit_timeseries.data import ForecastDataModule
    from ssmkit_timeseries.memmap import mapped_table
    from ssmkit_timeseries.task import Forecaster

    torch.manual_seed(0)
    base, anon = _status("VmRSS"), AnonPeak()
    start = time.perf_counter()
    if not in_memory:
        mapped_table(path)  # the one-off conversion to the .npy cache (setup below opens it)
    prep = time.perf_counter() - start
    prep_peak = _status("VmHWM")
    dm = ForecastDataModule(path=str(path), seq_len=96, pred_len=24, batch_size=32, split="ratio",
                            mmap="never" if in_memory else "always")
    start = time.perf_counter()
    if in_memory:
        dm.setup("fit")
        prep = time.perf_counter() - start  # read_table of the whole file
        start = time.perf_counter()
    model = Forecaster(model="patch_mamba", options={"d_model": 16, "d_ff": 32, "n_layers": 1}, n_vars=dm.n_vars,
                       seq_len=96, pred_len=24, n_marks=dm.n_marks, period=dm.period, lr=1e-3)
    trainer = _trainer(steps)
    trainer.fit(model, datamodule=dm)
    return {"windows": len(dm.train_set), "steps": trainer.global_step, "base_mb": base, "prep_s": prep,
            "prep_peak_mb": prep_peak, "train_s": time.perf_counter() - start, "peak_mb": _status("VmHWM"),
            "anon_peak_mb": anon.stop(),
            "indexed": type(dm.train_set).__name__}


# ------------------------------------------------------------------------------------------------ the parent


def run_child(job: str, path: Path, steps: int, in_memory: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", job, "--path", str(path), "--steps", str(steps)]
    if in_memory:
        cmd.append("--in-memory")
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - start
    lines = [line for line in res.stdout.splitlines() if line.startswith("RESULT ")]
    if res.returncode != 0 or not lines:
        sys.stderr.write(res.stderr[-4000:])
        raise SystemExit(f"{job} child failed (exit {res.returncode})")
    out = json.loads(lines[-1][len("RESULT "):])
    out["child_s"] = wall
    out["children_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return out


def _derived(path: Path) -> list[Path]:
    """The .fai and the hidden .npy cache written beside ``path`` (the user cache is not searched)."""
    return [p for p in path.parent.glob(f".{path.name}.*")] + [p for p in path.parent.glob(f"{path.name}.fai")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default="/tmp")
    ap.add_argument("--fasta-gb", type=float, default=2.0)
    ap.add_argument("--csv-gb", type=float, default=2.0)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--in-memory", action="store_true", help="also run the whole-file paths, for contrast")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--json", default=None)
    ap.add_argument("--child", choices=["genomics", "timeseries"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        job = child_genomics if args.child == "genomics" else child_timeseries
        print("RESULT " + json.dumps(job(Path(args.path), args.steps, args.in_memory)), flush=True)
        return

    folder = Path(args.dir) / f"ssmkit-ltm-{os.getpid()}"
    folder.mkdir(parents=True)
    fasta, table = folder / "random.fa", folder / "series.csv"
    rows = []
    try:
        start = time.perf_counter()
        write_fasta(fasta, int(args.fasta_gb * GB))
        write_csv(table, int(args.csv_gb * GB))
        print(f"generated {fasta.stat().st_size / GB:.2f} GB FASTA and {table.stat().st_size / GB:.2f} GB CSV in "
              f"{folder} ({time.perf_counter() - start:.0f} s)", flush=True)
        jobs = [("genomics pretrain", "genomics", fasta), ("timeseries forecast", "timeseries", table)]
        for in_memory in ([False, True] if args.in_memory else [False]):
            for name, job, path in jobs:
                out = run_child(job, path, args.steps, in_memory)
                out.update(job=name, path="whole file in memory" if in_memory else out["indexed"],
                           file_gb=path.stat().st_size / GB)
                rows.append(out)
                print(f"  {name} ({out['path']}): peak {out['peak_mb']} MiB", flush=True)
    finally:
        if not args.keep:
            for p in [fasta, table, *_derived(fasta), *_derived(table)]:
                p.unlink(missing_ok=True)
            if not any(folder.iterdir()):
                folder.rmdir()

    head = ["job", "reads through", "file GB", "prep s", "train s", "steps", "RSS after imports MiB",
            "peak RSS MiB", "peak anon MiB", "(peak RSS - imports) / file"]
    table_rows = [[r["job"], r["path"], f"{r['file_gb']:.2f}", f"{r['prep_s']:.1f}", f"{r['train_s']:.1f}",
                   str(r["steps"]), str(r["base_mb"]), str(r["peak_mb"]), str(r["anon_peak_mb"]),
                   f"{(r['peak_mb'] - r['base_mb']) * 2**20 / (r['file_gb'] * GB):.3f}"] for r in rows]
    widths = [max(len(h), *(len(t[i]) for t in table_rows)) for i, h in enumerate(head)]
    print()
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for t in table_rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(t, widths)) + " |")
    print("\nprep: building the .fai / converting to the .npy cache (one-off; reused afterwards), or with the "
          "whole-file paths, reading everything. peak RSS: the child's VmHWM over prep and training (it counts the "
          "clean pages of a memory-mapped file that reads touched); peak anon: sampled RssAnon, the memory the "
          "process owns.")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

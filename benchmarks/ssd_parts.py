"""Time every Triton kernel of the chunked SSD scan alone: one table per shape (GPU only).

    source benchmarks/gpu_env.sh && python benchmarks/ssd_parts.py              # b=4 L=2048 and b=2 L=8192
    python benchmarks/ssd_parts.py --shapes 4x2048 --no-bwd

The forward (``triton_fwd.ssd_fwd``) and the backward (``triton_bwd.ssd_bwd``) run once with every kernel of
their modules wrapped, which records each launch (grid and arguments); each recorded launch is then replayed
alone under ``triton.testing.do_bench(..., return_mode="median")`` (which clears L2 before every run, so the
launch is timed from cold caches). Launch config: the autotuner's choice (``best_config``) or the kernel's own,
read from the compiled kernel with its registers per thread and spilled bytes.

bytes: each distinct tensor argument once (an in-place buffer read and written twice), i.e. the DRAM floor of
that launch; flops: the tensor-core work the kernel issues (whole tiles, causal blocks included).
Kernels that work in place (state passing) are replayed on their own buffers: values change, timings do not.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch
import triton
import triton.testing
from triton.runtime.jit import KernelInterface

from ssmkit.kernels.ssd import triton_bwd, triton_fwd

H, P, G, N, Q = 24, 64, 1, 128, 256
IN_PLACE = {"_state_passing_fwd_kernel": ("st_ptr",), "_state_passing_bwd_kernel": ("dst_ptr",)}


def bench(fn) -> float:
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


class Recorder:
    """Stands in for a kernel in its module: ``kernel[grid](*args, **kw)`` launches it and records the launch."""

    def __init__(self, name, kernel, log):
        self.name, self.kernel, self.log = name, kernel, log

    def __getitem__(self, grid):
        def launch(*args, **kw):
            compiled = self.kernel[grid](*args, **kw)
            best = getattr(self.kernel, "best_config", None)
            name = self.name + (" (to start)" if kw.get("TO_END") is False else "") + (
                " (gate bwd)" if kw.get("GATE_BWD") else "")
            self.log.append(dict(name=name, kernel=self.kernel, grid=grid, args=args, kw=kw,
                                 compiled=compiled, best=best))
            return compiled

        return launch

    def __getattr__(self, attr):
        return getattr(self.kernel, attr)


def record(fn):
    """Run fn with the kernels of triton_fwd / triton_bwd wrapped -> (its result, the launches in order)."""
    log, saved = [], []
    for mod in (triton_fwd, triton_bwd):
        for name, obj in list(vars(mod).items()):
            if isinstance(obj, KernelInterface) and name.endswith("_kernel"):  # not jit helpers (_mm): inlined
                saved.append((mod, name, obj))
                setattr(mod, name, Recorder(name, obj, log))
    try:
        out = fn()
        torch.cuda.synchronize()
    finally:
        for mod, name, obj in saved:
            setattr(mod, name, obj)
    return out, log


def arg_names(kernel):
    fn = kernel
    while not hasattr(fn, "arg_names"):
        fn = fn.fn
    return fn.arg_names


def launch_bytes(rec) -> int:
    """Distinct tensors among the arguments, once each; in-place ones twice."""
    names = arg_names(rec["kernel"])
    seen, total = set(), 0
    for name, a in zip(names, rec["args"]):
        if isinstance(a, torch.Tensor) and a.data_ptr() not in seen:
            seen.add(a.data_ptr())
            total += a.numel() * a.element_size() * (2 if name in IN_PLACE.get(rec["name"].split(" ")[0], ()) else 1)
    return total


def launch_flops(rec, b, L) -> float:
    """Dot flops issued (2 per multiply-add), from the block sizes of the launch."""
    kw, name = rec["kw"], rec["name"].split(" ")[0]
    nc = math.ceil(L / Q)
    heads_chunks = b * nc * H
    tri = lambda nb: nb * (nb + 1) // 2  # noqa: E731  causal block pairs
    if name == "_chunk_state_kernel":
        return 2.0 * heads_chunks * Q * P * N
    if name == "_bmm_chunk_kernel":
        bm = kw["BLOCK_M"]
        return float(b * nc * G * tri(Q // bm) * 2 * bm * bm * N)
    if name == "_chunk_scan_fwd_kernel":
        bm, bp = kw["BLOCK_M"], kw["BLOCK_P"]
        nbm, nbp = Q // bm, math.ceil(P / bp)
        cb = 0 if kw.get("HAS_CB") else 2 * bm * bm * N * nbp  # C . B^T per head, or read from _bmm_chunk_kernel
        per = 2 * Q * N * P + tri(nbm) * (cb + 2 * bm * bm * P)
        return float(heads_chunks * per)
    if name in ("_chunk_bwd_dx_kernel", "_chunk_bwd_db_kernel", "_chunk_bwd_dc_kernel"):
        bt = kw["BLOCK_T"]
        nb = Q // bt
        loop = {"_chunk_bwd_dx_kernel": N + P, "_chunk_bwd_db_kernel": N + P, "_chunk_bwd_dc_kernel": 2 * N + P}[name]
        return float(heads_chunks * (2 * Q * P * N + tri(nb) * 2 * bt * bt * loop))
    return 0.0


def launch_config(rec) -> str:
    c = rec["compiled"]
    md = getattr(c, "metadata", None)
    parts = []
    if md is not None:
        parts.append(f"w{md.num_warps} s{md.num_stages}")
    best = rec["best"]
    if best is not None and best.kwargs:
        parts.append(" ".join(f"{k}={v}" for k, v in best.kwargs.items()))
    blocks = {k: v for k, v in rec["kw"].items() if k.startswith("BLOCK") or k == "Q"}
    parts.append(" ".join(f"{k.replace('BLOCK_', 'B')}={v}" for k, v in blocks.items()))
    try:
        parts.append(f"regs={c.n_regs} spill={c.n_spills} smem={md.shared // 1024}K")
    except Exception:  # noqa: BLE001  older/newer Triton without these attributes
        pass
    return " ".join(p for p in parts if p)


def inputs(b, L, dtype=torch.bfloat16):
    r = lambda *s: torch.randn(*s, device="cuda")  # noqa: E731
    return dict(x=r(b, L, H, P).to(dtype), dt=(r(b, L, H) * 0.5).to(dtype), A=-torch.rand(H, device="cuda") - 0.5,
                B=r(b, L, G, N).to(dtype), C=r(b, L, G, N).to(dtype), D=r(H), dt_bias=r(H) * 0.5)


def table(rows, title):
    print(f"\n{title}")
    head = f"{'kernel':<30} {'grid':<16} {'config':<62} {'ms':>7} {'MB':>7} {'GFLOP':>6} {'GB/s':>6} {'TFLOP/s':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        gbs = r["bytes"] / r["ms"] * 1e-6
        tfs = r["flops"] / r["ms"] * 1e-9
        print(f"{r['name']:<30} {str(r['grid']):<16} {r['config']:<62} {r['ms']:7.4f} {r['bytes'] / 1e6:7.1f} "
              f"{r['flops'] / 1e9:6.2f} {gbs:6.0f} {tfs:7.1f}")


def parts(b, L, with_bwd):
    t = inputs(b, L)
    chunk_args = (t["x"], t["dt"], t["A"], t["B"], t["C"], Q, t["D"], None, t["dt_bias"], None, None, True,
                  (0.0, math.inf))
    (y, final, states, cum, dtp), fwd_log = record(lambda: triton_fwd.ssd_fwd(*chunk_args))
    logs = [("forward", fwd_log)]
    if with_bwd:
        dy = torch.randn_like(t["x"])
        _, bwd_log = record(lambda: triton_bwd.ssd_bwd(
            dy, None, t["x"], t["dt"], t["A"], t["B"], t["C"], Q, t["D"], None, t["dt_bias"], None, None, True,
            (0.0, math.inf), states, cum, dtp))
        logs.append(("backward", bwd_log))
    for what, log in logs:
        rows = []
        for rec in log:
            ms = bench(lambda rec=rec: rec["kernel"][rec["grid"]](*rec["args"], **rec["kw"]))
            rows.append(dict(name=rec["name"], grid=tuple(rec["grid"]), config=launch_config(rec), ms=ms,
                             bytes=launch_bytes(rec), flops=launch_flops(rec, b, L)))
        total = dict(name="sum of kernels", grid="", config="", ms=sum(r["ms"] for r in rows),
                     bytes=sum(r["bytes"] for r in rows), flops=sum(r["flops"] for r in rows))
        table([*rows, total], f"{what}: b={b} L={L} h={H} p={P} g={G} n={N} chunk={Q} bf16, D, dt_bias, softplus")
    # the whole op, for comparison with the sum of its kernels (allocations and launch gaps included)
    from ssmkit.kernels.ssd.triton import ssd_scan_triton

    kw = dict(chunk_size=Q, D=t["D"], dt_bias=t["dt_bias"], dt_softplus=True)
    args = [t[k] for k in ("x", "dt", "A", "B", "C")]
    fwd = bench(lambda: ssd_scan_triton(*args, **kw))
    line = f"whole op: forward {fwd:.4f} ms"
    if with_bwd:
        leaves = [v.detach().clone().requires_grad_() for v in args]
        g = torch.randn_like(t["x"])

        def fb():
            torch.autograd.grad(ssd_scan_triton(*leaves, **kw), leaves, g)

        line += f", forward+backward {bench(fb):.4f} ms"
    print(line)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="4x2048,2x8192", help="comma-separated BxL")
    ap.add_argument("--no-bwd", action="store_true", help="forward kernels only")
    a = ap.parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit("ssd_parts.py needs a CUDA GPU")
    print(f"{torch.cuda.get_device_name()}  torch {torch.__version__}  triton {triton.__version__}")
    t0 = time.time()
    for shape in a.shapes.split(","):
        b, L = (int(v) for v in shape.lower().split("x"))
        parts(b, L, not a.no_bwd)
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()

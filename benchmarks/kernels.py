"""GPU kernel benchmark: one table of op, shape, dtype, our fwd / fwd+bwd, the reference's, the byte floor.

    python benchmarks/kernels.py                 # the anchor shapes of ../shared/ANCHORS.md
    python benchmarks/kernels.py --ops scan      # one op family: scan, ssd, conv, step, block
    python benchmarks/kernels.py --sweep scan    # try launch configs of the selective scan

Times are medians of ``triton.testing.do_bench`` (milliseconds). The floor is the fewest bytes the
op must move (each input read once, each output written once) over the measured device-to-device
copy bandwidth; "x floor" is our time over it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import triton
import triton.testing

from ssmkit import kernels

GRAPH = False  # --graph: replay a captured CUDA graph, timing the GPU work without the Python launch cost


def bench(fn) -> float:
    if GRAPH:
        try:
            return triton.testing.do_bench_cudagraph(fn, rep=100, return_mode="median")
        except Exception as e:  # noqa: BLE001 - some closures cannot be captured; say so and time them eagerly
            print(f"(not capturable, timed eagerly: {type(e).__name__}: {str(e)[:80]})")
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def copy_bandwidth() -> float:
    """Bytes read + written per second by a large device-to-device copy."""
    src = torch.randn(256 * 2**20, device="cuda")  # 1 GiB
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src))
    return 2 * src.numel() * 4 / (ms * 1e-3)


def fwd_bwd(fn, inputs, *, grad_index=0):
    """A closure running fn forward and backward (gradients of every input that requires them)."""
    req = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    out = fn()
    out = out[grad_index] if isinstance(out, tuple) else out
    g = torch.randn_like(out)

    def run():
        o = fn()
        o = o[grad_index] if isinstance(o, tuple) else o
        torch.autograd.grad(o, req, g)

    return run


def nbytes(*ts) -> int:
    return sum(t.numel() * t.element_size() for t in ts if t is not None)


# ---- selective scan ----------------------------------------------------------------------------------------


def scan_inputs(b, L, d, n, dtype=torch.bfloat16, grad=True):
    dev = "cuda"
    r = lambda *s: torch.randn(*s, device=dev)  # noqa: E731, B023
    x = dict(u=r(b, d, L).to(dtype), delta=(r(b, d, L) * 0.5).to(dtype), A=-torch.rand(d, n, device=dev) * 4 - 0.1,
             B=r(b, n, L).to(dtype), C=r(b, n, L).to(dtype), D=r(d), z=r(b, d, L).to(dtype), delta_bias=r(d) * 0.5)
    for v in x.values():
        v.requires_grad_(grad)
    return x


def scan_rows(bw, shapes=((4, 2048, 1536, 16), (2, 8192, 1536, 16)), with_ref=True):
    from ssmkit.kernels.selective_scan.triton import selective_scan_triton

    rows = []
    for b, L, d, n in shapes:
        x = scan_inputs(b, L, d, n)
        ours = lambda: selective_scan_triton(**x, delta_softplus=True)  # noqa: E731, B023
        ref = lambda: kernels.selective_scan_ref(**x, delta_softplus=True)  # noqa: E731, B023
        fwd_bytes = nbytes(x["u"], x["delta"], x["z"], x["B"], x["C"]) + nbytes(x["u"])
        bwd_bytes = fwd_bytes + nbytes(x["u"]) + 2 * fwd_bytes  # re-read inputs + gy, write five gradients
        row = dict(op="selective_scan", shape=f"b={b} L={L} d={d} n={n}", dtype="bf16",
                   fwd=bench(ours), fwd_bwd=bench(fwd_bwd(ours, list(x.values()))),
                   floor_fwd=fwd_bytes / bw * 1e3, floor_fwd_bwd=bwd_bytes / bw * 1e3)
        if with_ref:
            row["ref_fwd"] = bench(ref)
            row["ref_fwd_bwd"] = bench(fwd_bwd(ref, list(x.values())))
        rows.append(row)
    return rows


def sweep_scan():
    """Time launch configs (BLOCK_D, LC, num_warps) of the selective scan forward and backward at the anchor
    shape; print the best of each. The backward's config also drives its recomputing forward."""
    from ssmkit.kernels.selective_scan.triton import selective_scan_triton

    x = scan_inputs(4, 2048, 1536, 16)
    fwd_cfgs = ["64,8,8", "32,8,4", "128,8,8", "16,8,4", "4,16,2", "8,16,4", "32,8,8"]
    bwd_cfgs = ["4,16,2", "8,16,4", "16,16,4", "4,8,2"]
    fwd, bwd = {}, {}
    for key, store, cfgs in (("SSMKIT_SCAN_CONFIG", fwd, fwd_cfgs), ("SSMKIT_SCAN_CONFIG_BWD", bwd, bwd_cfgs)):
        for cfg in cfgs:
            os.environ[key] = cfg
            try:
                if store is fwd:
                    t = bench(lambda: selective_scan_triton(**x, delta_softplus=True))
                else:
                    t = bench(fwd_bwd(lambda: selective_scan_triton(**x, delta_softplus=True), list(x.values())))
            except Exception as e:  # a config that does not compile (too many registers) is skipped
                print(f"{key} {cfg}: {type(e).__name__}: {str(e)[:120]}", flush=True)
                continue
            store[cfg] = t
            print(f"{key} {cfg}: {t:.4f} ms", flush=True)
        os.environ.pop(key, None)
    bf = min(fwd, key=fwd.get)
    bb = min(bwd, key=bwd.get)
    print(f"best forward config {bf} ({fwd[bf]:.4f} ms); best backward config {bb} (fwd+bwd {bwd[bb]:.4f} ms "
          f"with the default forward)")
    return fwd, bwd


# ---- the rest, as their kernels land -----------------------------------------------------------------------


def ssd_rows(bw, shapes=((4, 2048), (2, 8192)), with_ref=True):
    from ssmkit.kernels.ssd.triton import ssd_scan_triton

    rows = []
    H, P, N, chunk = 24, 64, 128, 256
    for b, L in shapes:
        r = lambda *s: torch.randn(*s, device="cuda")  # noqa: E731, B023
        x = dict(x=r(b, L, H, P).bfloat16(), dt=(r(b, L, H) * 0.5).bfloat16(), A=-torch.rand(H, device="cuda") - 0.5,
                 B=r(b, L, 1, N).bfloat16(), C=r(b, L, 1, N).bfloat16(), D=r(H), dt_bias=r(H) * 0.5)
        for v in x.values():
            v.requires_grad_()
        kw = dict(chunk_size=chunk, D=x["D"], dt_bias=x["dt_bias"], dt_softplus=True)
        args = [x[k] for k in ("x", "dt", "A", "B", "C")]
        ours = lambda: ssd_scan_triton(*args, **kw)  # noqa: E731, B023
        ref = lambda: kernels.ssd_scan_ref(*args, **kw)  # noqa: E731, B023
        fwd_bytes = nbytes(x["x"], x["dt"], x["B"], x["C"]) + nbytes(x["x"])
        row = dict(op="ssd_scan", shape=f"b={b} L={L} h={H} p={P} n={N} chunk={chunk}", dtype="bf16",
                   fwd=bench(ours), fwd_bwd=bench(fwd_bwd(ours, list(x.values()))),
                   floor_fwd=fwd_bytes / bw * 1e3, floor_fwd_bwd=3 * fwd_bytes / bw * 1e3)
        if with_ref:
            row["ref_fwd"] = bench(ref)
            row["ref_fwd_bwd"] = bench(fwd_bwd(ref, list(x.values())))
        rows.append(row)
    return rows


def conv_rows(bw, shapes=((4, 2048, 3072, 4),)):
    from ssmkit.kernels.conv1d.triton import causal_conv1d_triton

    rows = []
    for b, L, d, W in shapes:
        x = torch.randn(b, d, L, device="cuda").bfloat16().requires_grad_()
        w = torch.randn(d, W, device="cuda").requires_grad_()
        bias = torch.randn(d, device="cuda").requires_grad_()
        ours = lambda: causal_conv1d_triton(x, w, bias, "silu")  # noqa: E731, B023
        ref = lambda: kernels.causal_conv1d_ref(x, w, bias, "silu")  # noqa: E731, B023
        fb = 2 * nbytes(x)
        rows.append(dict(op="causal_conv1d", shape=f"b={b} L={L} d={d} W={W}", dtype="bf16",
                         fwd=bench(ours), fwd_bwd=bench(fwd_bwd(ours, [x, w, bias])),
                         ref_fwd=bench(ref), ref_fwd_bwd=bench(fwd_bwd(ref, [x, w, bias])),
                         floor_fwd=fb / bw * 1e3, floor_fwd_bwd=2.5 * fb / bw * 1e3))
    return rows


def step_rows(bw):
    from ssmkit.kernels.state_update.triton import selective_state_update_triton, ssd_state_update_triton

    rows = []
    b, d, n = 16, 3072, 16
    st = torch.randn(b, d, n, device="cuda")
    x, dt, z = (torch.randn(b, d, device="cuda").bfloat16() for _ in range(3))
    A = -torch.rand(d, n, device="cuda")
    B, C = torch.randn(b, n, device="cuda").bfloat16(), torch.randn(b, n, device="cuda").bfloat16()
    D, bias = torch.randn(d, device="cuda"), torch.randn(d, device="cuda")
    ours = lambda: selective_state_update_triton(st, x, dt, A, B, C, D, z, bias, True)  # noqa: E731, B023
    ref = lambda: kernels.selective_state_update_ref(st, x, dt, A, B, C, D, z, bias, True)  # noqa: E731, B023
    rows.append(dict(op="selective_state_update", shape=f"b={b} d={d} n={n}", dtype="bf16",
                     fwd=bench(ours), ref_fwd=bench(ref), floor_fwd=2 * nbytes(st) / bw * 1e3))
    H, P, N = 48, 64, 128
    st = torch.randn(b, H, P, N, device="cuda")
    x, z = torch.randn(b, H, P, device="cuda").bfloat16(), torch.randn(b, H, P, device="cuda").bfloat16()
    dt, A = torch.randn(b, H, device="cuda").bfloat16(), -torch.rand(H, device="cuda")
    B, C = torch.randn(b, 1, N, device="cuda").bfloat16(), torch.randn(b, 1, N, device="cuda").bfloat16()
    D, bias = torch.randn(H, device="cuda"), torch.randn(H, device="cuda")
    ours = lambda: ssd_state_update_triton(st, x, dt, A, B, C, D, z, bias, True)  # noqa: E731, B023
    ref = lambda: kernels.ssd_state_update_ref(st, x, dt, A, B, C, D, z, bias, True)  # noqa: E731, B023
    rows.append(dict(op="ssd_state_update", shape=f"b={b} h={H} p={P} n={N}", dtype="bf16",
                     fwd=bench(ours), ref_fwd=bench(ref), floor_fwd=2 * nbytes(st) / bw * 1e3))
    return rows


def block_rows(bw, b=4, L=2048, d_model=768):
    """A whole Mamba block forward+backward against the sum of its matmuls and its scan."""
    import torch.nn.functional as F

    from ssmkit.layers import Mamba

    m = Mamba(d_model).cuda().to(torch.bfloat16)
    h = torch.randn(b, L, d_model, device="cuda", dtype=torch.bfloat16, requires_grad=True)
    params = [h, *m.parameters()]
    block = bench(fwd_bwd(lambda: m(h), params))

    def lin(i, o):
        xin = torch.randn(b * L, i, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        w = torch.randn(o, i, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        return bench(fwd_bwd(lambda: F.linear(xin, w), [xin, w]))

    di = m.d_inner
    mm = (lin(d_model, 2 * di) + lin(di, m.dt_rank + 2 * m.d_state) + lin(m.dt_rank, di) + lin(di, d_model))
    x = scan_inputs(b, L, di, m.d_state)
    from ssmkit.kernels.selective_scan.triton import selective_scan_triton

    scan = bench(fwd_bwd(lambda: selective_scan_triton(**x, delta_softplus=True), list(x.values())))
    return [dict(op="mamba_block", shape=f"b={b} L={L} d_model={d_model}", dtype="bf16", fwd_bwd=block,
                 matmuls_plus_scan=mm + scan, matmuls=mm, scan=scan, ratio=block / (mm + scan))]


def table(rows, bw):
    cols = ["op", "shape", "dtype", "fwd", "fwd_bwd", "ref_fwd", "ref_fwd_bwd", "floor_fwd", "floor_fwd_bwd"]
    print(f"\ncopy bandwidth {bw / 1e12:.2f} TB/s; times in ms (median of do_bench)")
    print("| " + " | ".join(cols + ["fwd x floor"]) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for r in rows:
        if r["op"] == "mamba_block":
            print(f"| mamba_block | {r['shape']} | bf16 | - | {r['fwd_bwd']:.3f} | matmuls {r['matmuls']:.3f} + "
                  f"scan {r['scan']:.3f} = {r['matmuls_plus_scan']:.3f} | ratio {r['ratio']:.2f} | | | |")
            continue
        cells = [r["op"], r["shape"], r["dtype"]]
        for c in cols[3:]:
            cells.append(f"{r[c]:.4f}" if c in r else "-")
        cells.append(f"{r['fwd'] / r['floor_fwd']:.1f}" if "floor_fwd" in r else "-")
        print("| " + " | ".join(cells) + " |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ops", default="scan,ssd,conv,step,block")
    p.add_argument("--sweep", default="")
    p.add_argument("--no-ref", action="store_true", help="skip the reference timings")
    p.add_argument("--json", default="")
    p.add_argument("--graph", action="store_true", help="time CUDA-graph replays (GPU time without launch cost)")
    a = p.parse_args(argv)
    global GRAPH
    GRAPH = a.graph
    if not torch.cuda.is_available():
        sys.exit("benchmarks/kernels.py needs a CUDA GPU")
    print(torch.cuda.get_device_name(), "torch", torch.__version__, "triton", triton.__version__)
    if a.sweep == "scan":
        sweep_scan()
    bw = copy_bandwidth()
    rows = []
    makers = dict(scan=scan_rows, ssd=ssd_rows, conv=conv_rows, step=step_rows, block=block_rows)
    for op in a.ops.split(","):
        if not op:
            continue
        try:
            kw = {"with_ref": False} if a.no_ref and op in ("scan", "ssd") else {}
            rows += makers[op](bw, **kw)
        except (ImportError, AttributeError) as e:
            print(f"{op}: not available ({e})")
    table(rows, bw)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(device=torch.cuda.get_device_name(), bandwidth=bw, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()

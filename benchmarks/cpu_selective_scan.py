"""CPU selective scan: ssmkit's chunked reference vs a sequential loop and mambapy's parallel scan.

    python benchmarks/cpu_selective_scan.py [--batch 2 --length 1024 --d 256 --n 16 --repeats 5]

Prints a table of median milliseconds (forward, forward+backward), float32, no z/D.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from ssmkit.kernels import selective_scan_ref


def sequential(u, delta, A, B, C):
    """The obvious loop over time steps, autograd through every step."""
    b, d, L = u.shape
    h = u.new_zeros(b, d, A.shape[1])
    ys = []
    for t in range(L):
        h = torch.exp(delta[:, :, t, None] * A) * h + (delta[:, :, t] * u[:, :, t])[..., None] * B[:, None, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))
    return torch.stack(ys, -1)


def mambapy_scan():
    try:
        from mambapy.pscan import pscan
    except ImportError:
        return None

    def run(u, delta, A, B, C):  # mambapy's layout: (b, L, d[, n])
        dA = torch.exp(delta.transpose(1, 2).unsqueeze(-1) * A)
        BX = (delta * u).transpose(1, 2).unsqueeze(-1) * B.transpose(1, 2).unsqueeze(2)
        hs = pscan(dA, BX)
        return (hs @ C.transpose(1, 2).unsqueeze(-1)).squeeze(-1).transpose(1, 2)

    return run


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--length", type=int, default=1024)
    p.add_argument("--d", type=int, default=256)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--skip-sequential-backward", action="store_true", help="its fwd+bwd takes ~30 s")
    args = p.parse_args()
    torch.manual_seed(0)
    b, L, d, n = args.batch, args.length, args.d, args.n
    u = torch.randn(b, d, L)
    delta = torch.nn.functional.softplus(torch.randn(b, d, L) - 2)
    A = -torch.rand(d, n) * 15 - 1
    B, C = torch.randn(b, n, L), torch.randn(b, n, L)
    impls = {"ssmkit chunked reference": selective_scan_ref, "sequential loop": sequential}
    mp = mambapy_scan()
    if mp is not None:
        impls["mambapy parallel scan"] = mp
    reference = sequential(u, delta, A, B, C)
    rows = []
    for name, fn in impls.items():
        err = (fn(u, delta, A, B, C) - reference).abs().max().item()
        fwd = median_ms(lambda fn=fn: fn(u, delta, A, B, C), args.repeats)
        leaves = [t.clone().requires_grad_() for t in (u, delta, A, B, C)]
        if name == "sequential loop" and args.skip_sequential_backward:
            fb = float("nan")
        else:
            repeats = 1 if name == "sequential loop" else args.repeats
            fb = median_ms(lambda fn=fn, leaves=leaves: fn(*leaves).sum().backward(), repeats)
        rows.append((name, fwd, fb, err))
    print(f"selective scan, CPU float32, b={b} L={L} d={d} n={n}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"{'implementation':<28} {'forward ms':>11} {'fwd+bwd ms':>11} {'max |err|':>10}")
    for name, fwd, fb, err in rows:
        print(f"{name:<28} {fwd:>11.1f} {fb:>11.1f} {err:>10.1e}")
    if mp is not None:
        ours, theirs = rows[0], rows[-1]
        print(f"speed-up over mambapy: forward {theirs[1] / ours[1]:.1f}x, fwd+bwd {theirs[2] / ours[2]:.1f}x")


if __name__ == "__main__":
    main()

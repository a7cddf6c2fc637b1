"""The Triton SSD scan against ``ssd_scan_ref`` and the float64 loop ``ssd_seq``: outputs, final states, gradients.

Without a GPU the kernels run on CPU tensors through Triton's interpreter (small sizes); with one, the same tests
run on CUDA, and the ``gpu`` tests add the real size (b=4, L=2048, 24 heads x 64, n=128, chunk 256).
"""

import math
import zlib

import pytest
import torch

pytest.importorskip("triton")

from ssmkit.kernels.packing import segments  # noqa: E402
from ssmkit.kernels.ssd import ssd_scan_ref  # noqa: E402
from ssmkit.kernels.ssd.triton import ssd_scan_triton  # noqa: E402

from .sequential import ssd_seq  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
NO_LIMIT = (0.0, math.inf)
# fp32 dots: exact in the interpreter, tf32 on a GPU
TOL = {torch.float32: 1e-4 if DEV == "cpu" else 5e-3, torch.bfloat16: 2e-2, torch.float16: 1e-2}
EXTRAS = ("D", "z", "dt_bias", "initial_states")


def _inputs(b, L, H, P, G, N, seed, dtype=torch.float32, extras=EXTRAS, d_per_p=False, device=DEV):
    """Fresh random inputs: x, B, C, z in ``dtype``; A, D, dt_bias, initial_states float32."""
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen)  # noqa: E731
    t = dict(x=r(b, L, H, P).to(dtype), dt=(r(b, L, H) * 0.5).to(dtype), A=-torch.rand(H, generator=gen) * 3 - 0.2,
             B=r(b, L, G, N).to(dtype), C=r(b, L, G, N).to(dtype), D=r(H, P) if d_per_p else r(H),
             z=r(b, L, H, P).to(dtype), dt_bias=r(H) * 0.3, initial_states=r(b, H, P, N))
    return {k: (v.to(device) if k not in EXTRAS or k in extras else None) for k, v in t.items()}


def _run(fn, inp, chunk, seed, dt_softplus=True, dt_limit=NO_LIMIT, seq_idx=None):
    """y, final and the gradient of every input under sum(y * gy) + sum(final * gf)."""
    leaves = {k: v.detach().clone().requires_grad_() for k, v in inp.items() if v is not None}
    kw = {k: leaves.get(k) for k in inp}
    y, final = fn(kw.pop("x"), kw.pop("dt"), kw.pop("A"), kw.pop("B"), kw.pop("C"), chunk, **kw,
                  dt_softplus=dt_softplus, dt_limit=dt_limit, return_final_states=True,
                  **({} if seq_idx is None else dict(seq_idx=seq_idx)))
    gen = torch.Generator().manual_seed(seed + 1)
    gy = torch.randn(y.shape, generator=gen).to(y.device)
    gf = torch.randn(final.shape, generator=gen).to(y.device)
    ((y.double() * gy).sum() + (final.double() * gf).sum()).backward()
    return y.detach(), final.detach(), {k: v.grad for k, v in leaves.items()}


def _close(a, b, tol, what=""):
    """|a - b| <= tol * (|b| + max |b|), elementwise."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    assert a.shape == b.shape, what
    scale = b.abs().max().item() or 1.0
    torch.testing.assert_close(a, b, rtol=tol, atol=tol * scale, msg=lambda m: f"{what}: {m}")


def _seq(inp, seed, dt_softplus):
    """ssd_seq in float64 on CPU, with its gradients (same loss as ``_run``)."""
    cpu = {k: (v.double().cpu() if v is not None else None) for k, v in inp.items()}

    def fn(x, dt, A, B, C, chunk, D=None, z=None, dt_bias=None, initial_states=None, dt_softplus=False, **_):
        y, h = ssd_seq(x, dt, A, B, C, D=D, z=z, dt_bias=dt_bias, dt_softplus=dt_softplus, h0=initial_states)
        return y, h

    return _run(fn, cpu, 0, seed, dt_softplus=dt_softplus)


CASES = [  # (b, L, H, P, G, N), chunk, extras, D per channel, dt_softplus, dt_limit
    ((2, 37, 4, 16, 1, 16), 16, EXTRAS, False, True, NO_LIMIT),
    ((2, 69, 4, 16, 2, 16), 32, EXTRAS, True, True, (0.05, 1.5)),
    ((2, 69, 4, 16, 2, 16), 32, (), False, False, NO_LIMIT),
    ((2, 1, 4, 16, 2, 16), 32, EXTRAS, False, True, NO_LIMIT),
    ((1, 40, 4, 16, 1, 16), 16, ("dt_bias",), False, False, (0.0, 0.8)),
]


@pytest.mark.parametrize("shape,chunk,extras,d_per_p,softplus,limit", CASES)
def test_float32_matches_reference_and_float64_loop(shape, chunk, extras, d_per_p, softplus, limit):
    seed = zlib.crc32(repr((shape, chunk, extras, limit)).encode())
    inp = _inputs(*shape, seed, extras=extras, d_per_p=d_per_p)
    y, final, grads = _run(ssd_scan_triton, inp, chunk, seed, softplus, limit)
    assert y.dtype == torch.float32 and final.dtype == torch.float32
    refs = [("ref", _run(ssd_scan_ref, inp, chunk, seed, softplus, limit))]
    if limit == NO_LIMIT:  # the loop knows no clamp
        refs.append(("seq", _seq(inp, seed, softplus)))
    for name, (y_r, final_r, grads_r) in refs:
        _close(y, y_r, TOL[torch.float32], f"{name} y")
        _close(final, final_r, TOL[torch.float32], f"{name} final")
        assert set(grads) == set(grads_r)
        for k in grads:
            _close(grads[k], grads_r[k], TOL[torch.float32], f"{name} d{k}")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_matches_float32_reference(dtype):
    """bf16/fp16 inputs (one group per head here: dB, dC written directly) against the reference in float32."""
    shape, chunk = (2, 69, 4, 16, 4, 16), 32
    inp = _inputs(*shape, 5, dtype=dtype)
    y, final, grads = _run(ssd_scan_triton, inp, chunk, 5)
    assert y.dtype == dtype and grads["x"].dtype == dtype and grads["B"].dtype == dtype
    y_r, final_r, grads_r = _run(ssd_scan_ref, {k: v.float() for k, v in inp.items()}, chunk, 5)
    _close(y, y_r, TOL[dtype], "y")
    _close(final, final_r, TOL[dtype], "final")
    for k in grads:
        _close(grads[k], grads_r[k], TOL[dtype], f"d{k}")


def test_packed_batch_matches_separate_sequences():
    """Boundaries inside a chunk and on a chunk edge; labels need not increase. Against the reference's packed path
    and against the Triton op run on every sequence alone (initial state for each row's first sequence)."""
    shape, chunk = (2, 69, 4, 16, 2, 16), 32
    inp = _inputs(*shape, 11)
    seq_idx = torch.zeros(2, 69, dtype=torch.int32)
    seq_idx[0, 20:], seq_idx[0, 45:] = 7, 3  # 20, 45: inside chunks 0 and 1
    seq_idx[1, 32:] = 1  # on the edge of chunk 1
    seq_idx = seq_idx.to(DEV)
    y, final, grads = _run(ssd_scan_triton, inp, chunk, 11, seq_idx=seq_idx)
    y_r, final_r, grads_r = _run(ssd_scan_ref, inp, chunk, 11, seq_idx=seq_idx)
    _close(y, y_r, TOL[torch.float32], "y")
    _close(final, final_r, TOL[torch.float32], "final")
    for k in grads:
        _close(grads[k], grads_r[k], TOL[torch.float32], f"d{k}")
    # every sequence alone through the Triton op: same outputs, and their final states
    for row, start, end in segments(seq_idx):
        r, t = slice(row, row + 1), slice(start, end)
        part = {k: (v[r, t] if k in ("x", "dt", "B", "C", "z") else v) for k, v in inp.items()}
        part["initial_states"] = inp["initial_states"][r] if start == 0 else None
        y_s, final_s = ssd_scan_triton(**part, chunk_size=chunk, dt_softplus=True, return_final_states=True)
        _close(y[r, t], y_s, TOL[torch.float32], f"row {row} [{start}, {end})")
        if end == seq_idx.shape[1]:
            _close(final[r], final_s, TOL[torch.float32], f"final of row {row}")


def test_opcheck_forward_op():
    inp = _inputs(1, 20, 2, 16, 1, 16, 3)
    seq_idx = torch.tensor([[0] * 7 + [1] * 13], dtype=torch.int32, device=DEV)
    args = (inp["x"], inp["dt"], inp["A"], inp["B"], inp["C"], inp["D"], inp["z"], inp["dt_bias"],
            inp["initial_states"], seq_idx, 16, True, 0.0, math.inf)
    args = tuple(a.requires_grad_() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
    torch.library.opcheck(torch.ops.ssmkit.ssd_scan_fwd.default, args)


def test_return_convention_and_argument_checks():
    inp = _inputs(1, 5, 2, 16, 1, 16, 4, extras=())
    y = ssd_scan_triton(inp["x"], inp["dt"], inp["A"], inp["B"], inp["C"], chunk_size=16)
    assert isinstance(y, torch.Tensor) and y.shape == inp["x"].shape
    # a chunk size the kernels do not tile runs the reference: same result, no error
    from ssmkit.kernels import ssd_scan_ref

    args = (inp["x"], inp["dt"], inp["A"], inp["B"], inp["C"])
    torch.testing.assert_close(ssd_scan_triton(*args, chunk_size=24), ssd_scan_ref(*args, chunk_size=24))
    with pytest.raises(ValueError, match="divisible"):
        ssd_scan_triton(inp["x"], inp["dt"], inp["A"], inp["B"].expand(-1, -1, 3, -1), inp["C"].expand(-1, -1, 3, -1),
                        chunk_size=16)
    with pytest.raises(ValueError, match="C must have shape"):
        ssd_scan_triton(inp["x"], inp["dt"], inp["A"], inp["B"].expand(-1, -1, 2, -1), inp["C"], chunk_size=16)


# ---------------------------------------------------------------- real size, on a GPU

REAL = (4, 2048, 24, 64, 1, 128)
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _poison():
    """Fill memory the CUDA caching allocator will hand out next with NaN (its large pool, and small blocks), so
    outputs and buffers a kernel fails to write show up."""
    free, _ = torch.cuda.mem_get_info()
    large = torch.full((int(free * 0.5) // 4,), float("nan"), device="cuda")
    small = [torch.full((2**18,), float("nan"), device="cuda") for _ in range(64)]
    del large, small


@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_real_size_matches_reference(dtype):
    inp = _inputs(*REAL, 21, dtype=dtype)
    _poison()
    y, final, grads = _run(ssd_scan_triton, inp, 256, 21)
    for name, t in [("y", y), ("final", final), *grads.items()]:
        assert torch.isfinite(t).all(), name
    y_r, final_r, grads_r = _run(ssd_scan_ref, {k: v.float() for k, v in inp.items()}, 256, 21)
    tol = max(TOL[dtype], 5e-3)
    _close(y, y_r, tol, "y")
    _close(final, final_r, tol, "final")
    for k in grads:
        _close(grads[k], grads_r[k], tol, f"d{k}")


@pytest.mark.gpu
@gpu
def test_real_size_packed_matches_reference():
    inp = _inputs(*REAL, 22, dtype=torch.bfloat16)
    lengths = [[300, 1000, 748], [2048], [17, 239, 1792], [1024, 1024]]
    seq_idx = torch.stack([torch.repeat_interleave(torch.arange(len(ls)), torch.tensor(ls)) for ls in lengths])
    seq_idx = seq_idx.to(torch.int32).cuda()
    _poison()
    y, final, grads = _run(ssd_scan_triton, inp, 256, 22, seq_idx=seq_idx)
    y_r, final_r, grads_r = _run(ssd_scan_ref, {k: v.float() for k, v in inp.items()}, 256, 22, seq_idx=seq_idx)
    _close(y, y_r, TOL[torch.bfloat16], "y")
    _close(final, final_r, TOL[torch.bfloat16], "final")
    for k in grads:
        _close(grads[k], grads_r[k], TOL[torch.bfloat16], f"d{k}")


@pytest.mark.gpu
@gpu
def test_real_size_under_torch_compile():
    inp = _inputs(*REAL, 23, dtype=torch.bfloat16)

    def f(x, dt, A, B, C, chunk, **kw):
        y, final = ssd_scan_triton(x, dt, A, B, C, chunk, **kw)
        return y * 2, final

    y, final, grads = _run(torch.compile(f, fullgraph=True), inp, 256, 23)
    y_e, final_e, grads_e = _run(f, inp, 256, 23)
    _close(y, y_e, 1e-3, "y")
    _close(final, final_e, 1e-3, "final")
    for k in grads:
        _close(grads[k], grads_e[k], 1e-3, f"d{k}")


def test_length_one_packed_and_permuted_inputs():
    from ssmkit.kernels import ssd_scan_ref

    gen = torch.Generator().manual_seed(31)
    x = torch.randn(2, 1, 4, 8, generator=gen)
    dt, A = torch.randn(2, 1, 4, generator=gen), -torch.rand(4, generator=gen)
    B, C = torch.randn(2, 1, 2, 8, generator=gen), torch.randn(2, 1, 2, 8, generator=gen)
    seq = torch.zeros(2, 1, dtype=torch.int32)
    y = ssd_scan_triton(x, dt, A, B, C, 16, seq_idx=seq, dt_softplus=True)
    torch.testing.assert_close(y, ssd_scan_ref(x, dt, A, B, C, 16, dt_softplus=True), rtol=1e-5, atol=1e-5)
    # a dense but permuted x: the op's fake outputs must describe what it returns (contiguous)
    xp = torch.randn(2, 4, 20, 8, generator=gen).transpose(1, 2)
    dtp, Bp, Cp = torch.randn(2, 20, 4, generator=gen), torch.randn(2, 20, 2, 8, generator=gen), \
        torch.randn(2, 20, 2, 8, generator=gen)
    f = torch.compile(lambda *a: ssd_scan_triton(*a, 16, dt_softplus=True), backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(f(xp, dtp, A, Bp, Cp), ssd_scan_ref(xp, dtp, A, Bp, Cp, 16, dt_softplus=True),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="dt must have shape"):
        ssd_scan_triton(xp, dtp[:, :-1], A, Bp, Cp, 16)

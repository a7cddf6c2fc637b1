"""Triton selective scan against the reference and float64 loops (interpreter on CPU, real sizes on GPU)."""

import pytest
import torch

from ssmkit.kernels import selective_scan_fn, selective_scan_ref, seq_idx_from_cu_seqlens

from .sequential import selective_scan_seq

triton = pytest.importorskip("triton")
from ssmkit.kernels.selective_scan.triton import selective_scan_triton  # noqa: E402

NAMES = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "initial_state"]


def _inputs(b, d, L, n, g, seed, device="cpu", dtype=torch.float32, grad=True):
    gen = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=gen)  # noqa: E731
    x = dict(u=r(b, d, L), delta=r(b, d, L) * 0.5, A=-torch.rand(d, n, generator=gen) * 4 - 0.1,
             B=r(b, g, n, L), C=r(b, g, n, L), D=r(d), z=r(b, d, L), delta_bias=r(d) * 0.5, initial_state=r(b, d, n))
    out = {}
    for k, v in x.items():
        v = v.to(device)
        if k in ("u", "delta", "B", "C", "z"):
            v = v.to(dtype)
        out[k] = v.requires_grad_(grad)
    return out


def _rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30)).item()


def _check(x, kw, tol, seq_idx=None):
    y, last = selective_scan_triton(**x, return_last_state=True, seq_idx=seq_idx, **kw)
    yr, lr = selective_scan_ref(**x, return_last_state=True, seq_idx=seq_idx, **kw)
    assert torch.isfinite(y).all()
    assert _rel(y, yr) < tol and _rel(last, lr) < tol
    gy, gl = torch.randn_like(y), torch.randn_like(last)
    present = [k for k in NAMES if x.get(k) is not None]
    g1 = torch.autograd.grad((y.float() * gy).sum() + (last * gl).sum(), [x[k] for k in present])
    g2 = torch.autograd.grad((yr.float() * gy).sum() + (lr * gl).sum(), [x[k] for k in present])
    for k, a, b in zip(present, g1, g2):
        assert _rel(a, b) < tol, (k, _rel(a, b))


CASES = [  # (b, d, L, n, groups): lengths around the interpreter's 16-step chunks, L=1, groups
    (2, 8, 37, 4, 1), (1, 8, 1, 3, 2), (2, 4, 16, 16, 1), (1, 12, 33, 5, 3), (1, 32, 20, 2, 2),  # last: dB slots
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("opts", [dict(delta_softplus=True), dict(delta_softplus=False, drop=("D", "z", "delta_bias"))])
def test_forward_and_gradients_match_reference(case, opts):
    opts = dict(opts)
    drop = opts.pop("drop", ())
    x = _inputs(*case, seed=hash((case, tuple(drop))) % 2**31)
    for k in drop:
        x[k] = None
    if not opts["delta_softplus"]:  # a step size must stay positive without softplus
        x["delta"] = x["delta"].detach().abs().requires_grad_()
    _check(x, opts, tol=1e-5)


def test_matches_float64_loop():
    x = _inputs(2, 6, 29, 4, 1, seed=11, grad=False)
    kw = dict(D=x["D"], z=x["z"], delta_bias=x["delta_bias"], delta_softplus=True)
    y, last = selective_scan_triton(x["u"], x["delta"], x["A"], x["B"][:, 0], x["C"][:, 0], return_last_state=True,
                                    initial_state=x["initial_state"], **kw)
    y64, h64 = selective_scan_seq(x["u"], x["delta"], x["A"], x["B"][:, 0], x["C"][:, 0], h0=x["initial_state"], **kw)
    torch.testing.assert_close(y.double(), y64, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(last.double(), h64, rtol=1e-5, atol=1e-5)


def test_packed_sequences_do_not_leak_state():
    b, d, L, n = 2, 8, 45, 4
    x = _inputs(b, d, L, n, 2, seed=5)
    # boundaries inside a 16-step chunk, a length-1 sequence, an empty one
    seq_idx = torch.cat([seq_idx_from_cu_seqlens(torch.tensor([0, 7, 8, 30, 45])),
                         seq_idx_from_cu_seqlens(torch.tensor([0, 20, 20, 45]))])
    _check(x, dict(delta_softplus=True), tol=1e-5, seq_idx=seq_idx)
    # each sequence alone gives the same output as its slice of the packed run
    y = selective_scan_triton(**x, delta_softplus=True, seq_idx=seq_idx)
    alone = selective_scan_triton(*(x[k][:1, ..., 8:30] for k in ("u", "delta")), x["A"], x["B"][:1, ..., 8:30],
                                  x["C"][:1, ..., 8:30], x["D"], x["z"][:1, ..., 8:30], x["delta_bias"], True)
    torch.testing.assert_close(y[:1, :, 8:30], alone, rtol=1e-5, atol=1e-5)


def test_bfloat16_inputs():
    x = _inputs(2, 8, 40, 4, 1, seed=3, dtype=torch.bfloat16)
    y = selective_scan_triton(**x, delta_softplus=True)
    assert y.dtype == torch.bfloat16
    yr = selective_scan_ref(**{k: (v.float() if v.dtype == torch.bfloat16 else v) for k, v in x.items()},
                            delta_softplus=True)
    assert _rel(y, yr) < 1e-2


def test_dispatch_forced_triton_and_opcheck(monkeypatch):
    x = _inputs(1, 4, 20, 2, 1, seed=9)
    monkeypatch.setenv("SSMKIT_KERNELS", "triton")
    y = selective_scan_fn(**x, delta_softplus=True)
    monkeypatch.setenv("SSMKIT_KERNELS", "reference")
    torch.testing.assert_close(y, selective_scan_fn(**x, delta_softplus=True), rtol=1e-5, atol=1e-5)
    args = [x[k] for k in ("u", "delta", "A")] + [x["B"], x["C"], x["D"], x["z"], x["delta_bias"],
                                                  x["initial_state"], None, True]
    torch.library.opcheck(torch.ops.ssmkit.selective_scan_fwd.default, args,
                          test_utils=("test_schema", "test_faketensor", "test_autograd_registration"))


def test_compiles_with_fullgraph():
    x = _inputs(1, 4, 20, 2, 1, seed=13)
    f = torch.compile(lambda u, dl, A, B, C: selective_scan_triton(u, dl, A, B, C, delta_softplus=True),
                      backend="aot_eager", fullgraph=True)
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    y = f(*args)
    y.sum().backward()
    yr = selective_scan_ref(*[a.detach() for a in args], delta_softplus=True)
    torch.testing.assert_close(y, yr, rtol=1e-5, atol=1e-5)
    assert x["u"].grad is not None and torch.isfinite(x["u"].grad).all()


# ---- real sizes on a GPU -------------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("shape", [(4, 1536, 2048, 16, 1), (2, 768, 8192 + 77, 16, 2), (3, 256, 1, 16, 1)])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.bfloat16, 1e-2)])
def test_gpu_real_sizes(shape, dtype, tol):
    x = _inputs(*shape, seed=int(torch.randint(0, 2**31, (1,))), device="cuda", dtype=dtype)
    ref_in = {k: v.detach().double().requires_grad_() for k, v in x.items()}
    y, last = selective_scan_triton(**x, delta_softplus=True, return_last_state=True)
    yr, lr = selective_scan_ref(**ref_in, delta_softplus=True, return_last_state=True)
    assert torch.isfinite(y).all() and _rel(y, yr) < tol and _rel(last, lr) < tol
    gy = torch.randn_like(yr)
    g1 = torch.autograd.grad((y.double() * gy).sum(), list(x.values()))
    g2 = torch.autograd.grad((yr * gy).sum(), list(ref_in.values()))
    for k, a, b in zip(x, g1, g2):
        assert torch.isfinite(a).all() and _rel(a, b) < 5 * tol, (k, _rel(a, b))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_saved_activations_are_smaller_than_inputs():
    x = _inputs(4, 1536, 2048, 16, 1, seed=1, device="cuda", dtype=torch.bfloat16)
    input_bytes = sum(v.numel() * v.element_size() for v in x.values())
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    y = selective_scan_triton(**x, delta_softplus=True)
    saved = torch.cuda.memory_allocated() - before - y.numel() * y.element_size()
    assert saved < 0.25 * input_bytes, (saved, input_bytes)


def test_bad_shapes_get_clear_errors_and_seq_idx_broadcasts():
    x = _inputs(2, 4, 12, 3, 1, seed=21, grad=False)
    with pytest.raises(ValueError, match="delta must have shape"):
        selective_scan_triton(x["u"], x["delta"][..., :-1], x["A"], x["B"], x["C"])
    with pytest.raises(ValueError, match="seq_idx must be"):
        selective_scan_triton(x["u"], x["delta"], x["A"], x["B"], x["C"], seq_idx=torch.zeros(12, dtype=torch.int32))
    one = seq_idx_from_cu_seqlens(torch.tensor([0, 5, 12]))  # (1, L) serves every row
    y = selective_scan_triton(x["u"], x["delta"], x["A"], x["B"], x["C"], delta_softplus=True, seq_idx=one)
    yr = selective_scan_ref(x["u"], x["delta"], x["A"], x["B"], x["C"], delta_softplus=True,
                            seq_idx=one.expand(2, 12))
    torch.testing.assert_close(y, yr, rtol=1e-5, atol=1e-5)


def test_softplus_is_accurate_for_very_negative_steps():
    x = _inputs(1, 4, 10, 2, 1, seed=22, grad=False)
    bias = torch.full((4,), -12.0)
    y = selective_scan_triton(x["u"], x["delta"], x["A"], x["B"], x["C"], delta_bias=bias, delta_softplus=True)
    y64, _ = selective_scan_seq(x["u"], x["delta"], x["A"], x["B"][:, 0], x["C"][:, 0], delta_bias=bias,
                                delta_softplus=True)
    assert _rel(y, y64) < 1e-5

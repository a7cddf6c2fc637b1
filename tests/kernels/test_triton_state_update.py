"""Triton single-token state updates against the references, float64 loops and the full scans.

On CPU the kernels run through Triton's interpreter (tests/conftest.py), so sizes are tiny;
the ``gpu`` tests repeat the checks at real model sizes.
"""

import math

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("triton")

from ssmkit.kernels import selective_scan_ref, ssd_scan_ref  # noqa: E402
from ssmkit.kernels.state_update import selective_state_update_ref, ssd_state_update_ref  # noqa: E402
from ssmkit.kernels.state_update.triton import selective_state_update_triton, ssd_state_update_triton  # noqa: E402

from .sequential import selective_scan_seq, ssd_seq  # noqa: E402

NO_LIMIT = (0.0, math.inf)
TOL = {torch.float32: {"rtol": 1e-5, "atol": 1e-5}, torch.bfloat16: {"rtol": 2e-2, "atol": 2e-2},
       torch.float16: {"rtol": 2e-3, "atol": 2e-3}}
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def _selective_inputs(b, d, n, groups, dtype, gen, device="cpu", state=None):
    """Fresh Mamba-1 step inputs; groups=None gives B, C of shape (batch, n)."""
    def r(*shape):
        return torch.randn(*shape, generator=gen).to(device)

    bc = (b, n) if groups is None else (b, groups, n)
    return dict(
        state=r(b, d, n) if state is None else state,
        x=r(b, d).to(dtype), dt=(r(b, d) * 0.5).to(dtype), A=-torch.rand(d, n, generator=gen).to(device) * 3,
        B=r(*bc).to(dtype), C=r(*bc).to(dtype), D=r(d), z=r(b, d).to(dtype), dt_bias=r(d) * 0.5,
    )


def _ssd_inputs(b, H, P, n, G, dtype, gen, device="cpu", state=None, D_per_dim=False):
    """Fresh Mamba-2 step inputs."""
    def r(*shape):
        return torch.randn(*shape, generator=gen).to(device)

    return dict(
        state=r(b, H, P, n) if state is None else state,
        x=r(b, H, P).to(dtype), dt=(r(b, H) * 0.5).to(dtype), A=-torch.rand(H, generator=gen).to(device) * 2,
        B=r(b, G, n).to(dtype), C=r(b, G, n).to(dtype), D=r(H, P) if D_per_dim else r(H),
        z=r(b, H, P).to(dtype), dt_bias=r(H) * 0.5,
    )


def _prepared_dt64(dt, bias, softplus, limit):
    out = dt.double() + (0 if bias is None else bias.double())
    if softplus:
        out = F.softplus(out)
    return out.clamp(*limit) if tuple(limit) != NO_LIMIT else out


# --- one step: reference and float64 -------------------------------------------------------

SELECTIVE_CASES = [  # (d, n, groups, with_options, dtype)
    (72, 16, None, True, torch.float32),   # 3 channel blocks, the last one partial
    (72, 5, 4, True, torch.bfloat16),      # n padded to 8; groups straddle blocks
    (72, 16, 3, False, torch.float32),
    (40, 5, 1, True, torch.float16),
]


@pytest.mark.parametrize("d,n,groups,opts,dtype", SELECTIVE_CASES)
def test_selective_step_matches_reference_and_float64(d, n, groups, opts, dtype):
    gen = torch.Generator().manual_seed(d * n + (groups or 0))
    inp = _selective_inputs(3, d, n, groups, dtype, gen)
    if not opts:
        inp.update(D=None, z=None, dt_bias=None)
    state0 = inp.pop("state")
    st_tri, st_ref = state0.clone(), state0.clone()
    y_tri = selective_state_update_triton(st_tri, **inp, dt_softplus=opts)
    y_ref = selective_state_update_ref(st_ref, **inp, dt_softplus=opts)
    assert y_tri.dtype == dtype and y_tri.shape == (3, d) and st_tri.dtype == torch.float32
    torch.testing.assert_close(y_tri, y_ref, **TOL[dtype])
    torch.testing.assert_close(st_tri, st_ref, rtol=1e-5, atol=1e-5)

    # float64 loop, one step from state0
    Bs, Cs = inp["B"][..., None], inp["C"][..., None]
    z = None if inp["z"] is None else inp["z"][..., None]
    y64, h64 = selective_scan_seq(inp["x"][..., None], inp["dt"][..., None], inp["A"], Bs, Cs, inp["D"], z,
                                  inp["dt_bias"], opts, h0=state0)
    torch.testing.assert_close(y_tri.double(), y64[..., 0].to(dtype).double(), **TOL[dtype])
    torch.testing.assert_close(st_tri.double(), h64, rtol=1e-5, atol=1e-5)


SSD_CASES = [  # (H, P, n, G, D_per_dim, with_z, with_bias, softplus, dt_limit, dtype)
    (4, 20, 128, 2, True, True, True, True, (0.1, 1.0), torch.float32),  # 2 headdim blocks, clamp both sides
    (4, 8, 16, 1, False, False, True, False, NO_LIMIT, torch.bfloat16),  # negative dt, no softplus
    (6, 6, 5, 3, None, True, False, True, (0.0, 0.5), torch.float16),    # no D, n padded
    (2, 16, 32, 2, False, True, True, True, (0.3, math.inf), torch.float32),
]


@pytest.mark.parametrize("H,P,n,G,D_per_dim,with_z,with_bias,softplus,limit,dtype", SSD_CASES)
def test_ssd_step_matches_reference_and_float64(H, P, n, G, D_per_dim, with_z, with_bias, softplus, limit, dtype):
    gen = torch.Generator().manual_seed(H * P + n)
    inp = _ssd_inputs(2, H, P, n, G, dtype, gen, D_per_dim=bool(D_per_dim))
    if D_per_dim is None:
        inp["D"] = None
    if not with_z:
        inp["z"] = None
    if not with_bias:
        inp["dt_bias"] = None
    state0 = inp.pop("state")
    st_tri, st_ref = state0.clone(), state0.clone()
    y_tri = ssd_state_update_triton(st_tri, **inp, dt_softplus=softplus, dt_limit=limit)
    y_ref = ssd_state_update_ref(st_ref, **inp, dt_softplus=softplus, dt_limit=limit)
    assert y_tri.dtype == dtype and y_tri.shape == (2, H, P) and st_tri.dtype == torch.float32
    torch.testing.assert_close(y_tri, y_ref, **TOL[dtype])
    torch.testing.assert_close(st_tri, st_ref, rtol=1e-5, atol=1e-5)

    dt64 = _prepared_dt64(inp["dt"], inp["dt_bias"], softplus, limit)
    z = None if inp["z"] is None else inp["z"][:, None]
    y64, h64 = ssd_seq(inp["x"][:, None], dt64[:, None], inp["A"], inp["B"][:, None], inp["C"][:, None], inp["D"],
                       z, h0=state0)
    torch.testing.assert_close(y_tri.double(), y64[:, 0].to(dtype).double(), **TOL[dtype])
    torch.testing.assert_close(st_tri.double(), h64, rtol=1e-5, atol=1e-5)


def test_dt_softplus_keeps_relative_precision():
    """With A = 0, B = x = 1 and a zero state, one step leaves exactly dt in the state."""
    raw = torch.tensor([-40.0, -17.0, -9.0, -1e-3, 0.0, 3.0, 19.9, 20.1, 60.0])
    k = raw.numel()
    want = F.softplus(raw.double())
    one = torch.ones(1, k)
    st = torch.zeros(1, k, 1)
    unit = torch.ones(1, 1)
    selective_state_update_triton(st, one, raw[None], torch.zeros(k, 1), unit, unit, dt_softplus=True)
    torch.testing.assert_close(st[0, :, 0].double(), want, rtol=1e-6, atol=0)
    st = torch.zeros(1, k, 1, 1)
    ssd_state_update_triton(st, one[..., None], raw[None], torch.zeros(k), unit[None], unit[None], dt_softplus=True)
    torch.testing.assert_close(st[0, :, 0, 0].double(), want, rtol=1e-6, atol=0)


# --- in place on a slice of a bigger cache, views as inputs ---------------------------------

def _assert_only_view_changed(big, before, view_mask, expected):
    torch.testing.assert_close(big[view_mask], expected[view_mask], rtol=1e-5, atol=1e-5)
    assert torch.equal(big[~view_mask], before[~view_mask]), "the update wrote outside the state slice"


def test_selective_updates_cache_slice_in_place():
    gen = torch.Generator().manual_seed(7)
    b, d, n = 2, 40, 16
    big = torch.randn(5, n + 3, d, generator=gen).transpose(1, 2)  # (slots, d, n + 3), channel stride 1
    state = big[1:5:2, :, 2:2 + n]
    assert not state.is_contiguous()
    inp = _selective_inputs(b, d, n, 2, torch.float32, gen, state=state)
    xz = torch.randn(b, 2 * d, generator=gen)
    bc = torch.randn(b, 2, 3 * n, generator=gen)
    inp.update(x=xz[:, :d], z=xz[:, d:], B=bc[..., :n], C=bc[..., 2 * n:])  # strided views
    before, expected = big.clone(), big.clone()
    mask = torch.zeros(big.shape, dtype=torch.bool)
    mask[1:5:2, :, 2:2 + n] = True

    y = selective_state_update_triton(**inp, dt_softplus=True)
    y_ref = selective_state_update_ref(**{**inp, "state": expected[1:5:2, :, 2:2 + n]}, dt_softplus=True)
    assert state.data_ptr() == big[1:5:2, :, 2:2 + n].data_ptr()
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    _assert_only_view_changed(big, before, mask, expected)


def test_ssd_updates_cache_slice_in_place():
    gen = torch.Generator().manual_seed(8)
    b, H, P, n, G = 2, 4, 20, 32, 2
    big = torch.randn(5, H, P, n + 4, generator=gen)
    state = big[1:3, :, :, 4:]
    inp = _ssd_inputs(b, H, P, n, G, torch.float32, gen, state=state, D_per_dim=True)
    xz = torch.randn(b, H, 2, P, generator=gen)
    bc = torch.randn(b, 2 * G * n, generator=gen).view(b, 2, G, n)
    inp.update(x=xz[:, :, 0], z=xz[:, :, 1], B=bc[:, 0], C=bc[:, 1], D=inp["D"].t().contiguous().t())
    before, expected = big.clone(), big.clone()
    mask = torch.zeros(big.shape, dtype=torch.bool)
    mask[1:3, :, :, 4:] = True

    y = ssd_state_update_triton(**inp, dt_softplus=True, dt_limit=(0.0, 2.0))
    y_ref = ssd_state_update_ref(**{**inp, "state": expected[1:3, :, :, 4:]}, dt_softplus=True, dt_limit=(0.0, 2.0))
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    _assert_only_view_changed(big, before, mask, expected)


# --- token by token: the steps reproduce the full scans ---------------------------------------

def test_selective_steps_reproduce_selective_scan():
    gen = torch.Generator().manual_seed(3)
    b, d, n, G, L = 2, 40, 16, 2, 9
    u, dt, z = (torch.randn(b, d, L, generator=gen) for _ in range(3))
    A = -torch.rand(d, n, generator=gen) * 3
    B, C = torch.randn(b, G, n, L, generator=gen), torch.randn(b, G, n, L, generator=gen)
    D, bias, h0 = torch.randn(d, generator=gen), torch.randn(d, generator=gen), torch.randn(b, d, n, generator=gen)
    full, last = selective_scan_ref(u, dt, A, B, C, D, z, bias, True, return_last_state=True, initial_state=h0)
    state = h0.clone()
    steps = [selective_state_update_triton(state, u[..., t], dt[..., t], A, B[..., t], C[..., t], D, z[..., t],
                                           bias, True) for t in range(L)]
    torch.testing.assert_close(torch.stack(steps, -1), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, last, rtol=1e-5, atol=1e-5)


def test_ssd_steps_reproduce_ssd_scan():
    gen = torch.Generator().manual_seed(4)
    b, L, H, P, G, n = 2, 7, 4, 8, 2, 32
    x, z = torch.randn(b, L, H, P, generator=gen), torch.randn(b, L, H, P, generator=gen)
    dt, A = torch.randn(b, L, H, generator=gen), -torch.rand(H, generator=gen) * 2
    B, C = torch.randn(b, L, G, n, generator=gen), torch.randn(b, L, G, n, generator=gen)
    D, bias = torch.randn(H, P, generator=gen), torch.randn(H, generator=gen)
    h0 = torch.randn(b, H, P, n, generator=gen)
    limit = (0.05, 1.5)
    full, final = ssd_scan_ref(x, dt, A, B, C, 4, D, z, bias, h0, dt_softplus=True, dt_limit=limit,
                               return_final_states=True)
    state = h0.clone()
    steps = [ssd_state_update_triton(state, x[:, t], dt[:, t], A, B[:, t], C[:, t], D, z[:, t], bias, True, limit)
             for t in range(L)]
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, final, rtol=1e-5, atol=1e-5)


# --- custom-op registration -------------------------------------------------------------------

def test_opcheck_selective_state_update():
    gen = torch.Generator().manual_seed(5)
    inp = _selective_inputs(2, 4, 4, 2, torch.float32, gen)
    torch.library.opcheck(torch.ops.ssmkit.selective_state_update.default, tuple(inp.values()) + (True,))
    inp.update(D=None, z=None, dt_bias=None, B=inp["B"][:, 0], C=inp["C"][:, 0])
    torch.library.opcheck(torch.ops.ssmkit.selective_state_update.default, tuple(inp.values()) + (False,),
                          test_utils=("test_schema", "test_faketensor"))


def test_opcheck_ssd_state_update():
    gen = torch.Generator().manual_seed(6)
    inp = _ssd_inputs(1, 2, 4, 4, 1, torch.float32, gen, D_per_dim=True)
    torch.library.opcheck(torch.ops.ssmkit.ssd_state_update.default, tuple(inp.values()) + (True, 0.0, 1.0))
    inp.update(D=inp["D"][:, 0], z=None, dt_bias=None)
    torch.library.opcheck(torch.ops.ssmkit.ssd_state_update.default, tuple(inp.values()) + (False, 0.0, math.inf),
                          test_utils=("test_schema", "test_faketensor"))


def test_compiled_step_updates_cache_slice():
    """Under torch.compile the mutation of a cache slice is written back to the cache."""
    gen = torch.Generator().manual_seed(9)
    cache = torch.randn(3, 2, 4, 4, generator=gen)
    inp = _ssd_inputs(2, 2, 4, 4, 1, torch.float32, gen, state=None)
    del inp["state"]

    def step(cache, **kw):
        return ssd_state_update_triton(cache[1:], **kw, dt_softplus=True)

    expected = cache.clone()
    y_ref = ssd_state_update_ref(expected[1:], **inp, dt_softplus=True)
    y = torch.compile(step, backend="aot_eager", fullgraph=True)(cache, **inp)
    torch.testing.assert_close(y, y_ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(cache, expected, rtol=1e-5, atol=1e-5)


# --- real sizes on a GPU ---------------------------------------------------------------------

def _poison_allocator(nbytes):
    """Leave NaN in the CUDA caching allocator so that unwritten outputs show up as NaN."""
    torch.full((nbytes // 4 + 1024,), float("nan"), device="cuda")
    torch.cuda.synchronize()


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("groups", [None, 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gpu_selective_step_real_size(groups, dtype):
    gen = torch.Generator().manual_seed(11)
    b, d, n, slots = 4, 5120, 16, 7
    cache = torch.full((slots, d, n), float("nan"), device="cuda")
    cache[1:1 + b] = torch.randn(b, d, n, generator=gen).cuda()
    inp = _selective_inputs(b, d, n, groups, dtype, gen, device="cuda", state=cache[1:1 + b])
    expected = cache.clone()
    y_ref = selective_state_update_ref(**{**inp, "state": expected[1:1 + b]}, dt_softplus=True)
    _poison_allocator(b * d * 4)
    y = selective_state_update_triton(**inp, dt_softplus=True)
    torch.cuda.synchronize()
    assert torch.isfinite(y).all() and torch.isfinite(cache[1:1 + b]).all()
    assert torch.isnan(cache[0]).all() and torch.isnan(cache[1 + b:]).all()
    torch.testing.assert_close(y, y_ref, **TOL[dtype])
    torch.testing.assert_close(cache[1:1 + b], expected[1:1 + b], rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("G,D_per_dim", [(1, False), (8, True)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gpu_ssd_step_real_size(G, D_per_dim, dtype):
    gen = torch.Generator().manual_seed(12)
    b, H, P, n, slots = 4, 80, 64, 128, 6
    cache = torch.full((slots, H, P, n), float("nan"), device="cuda")
    cache[2:2 + b] = torch.randn(b, H, P, n, generator=gen).cuda()
    inp = _ssd_inputs(b, H, P, n, G, dtype, gen, device="cuda", state=cache[2:2 + b], D_per_dim=D_per_dim)
    expected = cache.clone()
    y_ref = ssd_state_update_ref(**{**inp, "state": expected[2:2 + b]}, dt_softplus=True, dt_limit=(0.0, 1.0))
    _poison_allocator(b * H * P * 4)
    y = ssd_state_update_triton(**inp, dt_softplus=True, dt_limit=(0.0, 1.0))
    torch.cuda.synchronize()
    assert torch.isfinite(y).all() and torch.isfinite(cache[2:2 + b]).all()
    assert torch.isnan(cache[:2]).all() and torch.isnan(cache[2 + b:]).all()
    torch.testing.assert_close(y, y_ref, **TOL[dtype])
    torch.testing.assert_close(cache[2:2 + b], expected[2:2 + b], rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@needs_cuda
def test_gpu_steps_reproduce_ssd_scan():
    gen = torch.Generator().manual_seed(13)
    b, L, H, P, G, n = 2, 64, 24, 64, 1, 128
    x, z = torch.randn(b, L, H, P, generator=gen).cuda(), torch.randn(b, L, H, P, generator=gen).cuda()
    dt, A = torch.randn(b, L, H, generator=gen).cuda(), -torch.rand(H, generator=gen).cuda() * 2
    B, C = torch.randn(b, L, G, n, generator=gen).cuda(), torch.randn(b, L, G, n, generator=gen).cuda()
    D, bias = torch.randn(H, generator=gen).cuda(), torch.randn(H, generator=gen).cuda()
    full, final = ssd_scan_ref(x, dt, A, B, C, 64, D, z, bias, dt_softplus=True, return_final_states=True)
    state = torch.zeros(b, H, P, n, device="cuda")
    steps = [ssd_state_update_triton(state, x[:, t], dt[:, t], A, B[:, t], C[:, t], D, z[:, t], bias, True)
             for t in range(L)]
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(state, final, rtol=1e-4, atol=1e-4)

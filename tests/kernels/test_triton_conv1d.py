"""Triton causal conv1d against the reference and the float64 loop (CPU: through the Triton interpreter)."""

import zlib

import pytest
import torch

pytest.importorskip("triton")

from ssmkit.kernels.conv1d import causal_conv1d_ref, causal_conv1d_update_ref  # noqa: E402
from ssmkit.kernels.conv1d import triton as conv_triton  # noqa: E402
from ssmkit.kernels.conv1d.triton import causal_conv1d_triton, causal_conv1d_update_triton  # noqa: E402
from ssmkit.kernels.packing import pack, segments  # noqa: E402

from .sequential import causal_conv1d_seq  # noqa: E402

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(autouse=True)
def _seed_and_poison(request, monkeypatch):
    """Fresh values per test and per parametrisation; every output starts as NaN."""
    torch.manual_seed(zlib.crc32(request.node.name.encode()))
    monkeypatch.setattr(conv_triton, "_POISON", True)


@pytest.fixture
def small_blocks(monkeypatch):
    """4 channels x 16 positions per program, so that tiny inputs still span several tiles."""
    monkeypatch.setattr(conv_triton, "TILE", 64)
    monkeypatch.setattr(conv_triton, "BLOCK_L_FWD", 16)
    monkeypatch.setattr(conv_triton, "BLOCK_L_BWD", 16)


def loop_conv(x, weight, bias=None, activation=None, initial_states=None, return_final_states=False, seq_idx=None):
    """float64 ground truth from ``causal_conv1d_seq``: each sequence of each row on its own."""
    b, d, L = x.shape
    W = weight.shape[1]
    outs, finals = [], []
    for r in range(b):
        bounds = [(s, e) for _, s, e in segments(seq_idx[r:r + 1])] if seq_idx is not None else [(0, L)]
        row = []
        for i, (s, e) in enumerate(bounds):
            first = initial_states is not None and i == 0
            prev = initial_states[r:r + 1].double() if first else x.new_zeros(1, d, W - 1, dtype=torch.float64)
            xp = torch.cat([prev, x[r:r + 1, :, s:e].double()], -1)
            row.append(causal_conv1d_seq(xp, weight, bias, activation == "silu")[..., W - 1:])
        outs.append(torch.cat(row, -1))
        finals.append(xp[..., xp.shape[-1] - (W - 1):])
    out = torch.cat(outs)
    return (out, torch.cat(finals)) if return_final_states else out


def make_inputs(b, d, L, W, bias=True, init=False, dtype=torch.float32):
    t = {"x": torch.randn(b, d, L), "weight": torch.randn(d, W) / W ** 0.5,
         "bias": torch.randn(d) if bias else None, "initial_states": torch.randn(b, d, W - 1) if init else None}
    return {k: v if v is None else v.to(dtype) for k, v in t.items()}


def run(fn, inputs, cots, **kw):
    """Outputs of fn and the gradients of sum(out * cot) with respect to every input tensor."""
    leaves = {k: v.detach().clone().requires_grad_() for k, v in inputs.items() if v is not None}
    args = {k: leaves.get(k) for k in inputs}
    outs = fn(args["x"], args["weight"], args["bias"], initial_states=args["initial_states"], **kw)
    outs = outs if isinstance(outs, tuple) else (outs,)
    loss = sum((o.double() * c.double()).sum() for o, c in zip(outs, cots))
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return [o.detach() for o in outs], dict(zip(leaves, grads))


def cotangents(b, d, L, W, final=False):
    return [torch.randn(b, d, L)] + ([torch.randn(b, d, W - 1)] if final else [])


def assert_matches(got, want, rtol=1e-5, atol=1e-5):
    """got/want: (outputs, grads) from ``run``; atol is relative to each tensor's largest entry."""
    (go, gg), (wo, wg) = got, want
    assert len(go) == len(wo) and gg.keys() == wg.keys()
    for name, a, b in [*((f"out{i}", a, b) for i, (a, b) in enumerate(zip(go, wo))),
                       *((f"d{k}", gg[k], wg[k]) for k in gg)]:
        assert not a.isnan().any(), f"{name}: NaN (unwritten element?)"
        assert a.shape == b.shape, name
        scale = max(b.abs().max().item(), 1.0)
        torch.testing.assert_close(a.double(), b.double(), rtol=rtol, atol=atol * scale,
                                   msg=lambda m, n=name: f"{n}: {m}")


# ---------------------------------------------------------------------------------------------- forward + backward


@pytest.mark.parametrize("b,d,L", [(2, 5, 1), (2, 5, 7), (1, 3, 70)])  # partial channel and position blocks
@pytest.mark.parametrize("W", [2, 3, 4])
@pytest.mark.parametrize("bias,act", [(False, None), (True, "silu")])
def test_matches_loop_forward_and_grads(small_blocks, W, b, d, L, bias, act):
    inputs = make_inputs(b, d, L, W, bias=bias)
    cots = cotangents(b, d, L, W)
    got = run(causal_conv1d_triton, inputs, cots, activation=act)
    assert_matches(got, run(loop_conv, inputs, cots, activation=act))
    assert_matches(got, run(causal_conv1d_ref, inputs, cots, activation=act))


@pytest.mark.parametrize("act", ["swish", None])
def test_bias_without_silu_and_default_blocks(act):
    inputs = make_inputs(2, 6, 37, 4)
    cots = cotangents(2, 6, 37, 4)
    assert_matches(run(causal_conv1d_triton, inputs, cots, activation=act),
                   run(loop_conv, inputs, cots, activation="silu" if act else None))


@pytest.mark.parametrize("L", [1, 2, 9, 20])
@pytest.mark.parametrize("W", [2, 3, 4])
def test_initial_and_final_states(small_blocks, W, L):
    """L < W-1 makes the final state reach back into the initial state."""
    inputs = make_inputs(2, 3, L, W, init=True)
    cots = cotangents(2, 3, L, W, final=True)
    kw = dict(activation="silu", return_final_states=True)
    got = run(causal_conv1d_triton, inputs, cots, **kw)
    assert_matches(got, run(loop_conv, inputs, cots, **kw))
    assert_matches(got, run(causal_conv1d_ref, {k: v if v is None else v.double() for k, v in inputs.items()},
                            cots, **kw))


def test_final_state_without_initial_state(small_blocks):
    inputs = make_inputs(1, 3, 2, 4)
    cots = cotangents(1, 3, 2, 4, final=True)
    got = run(causal_conv1d_triton, inputs, cots, return_final_states=True)
    assert_matches(got, run(loop_conv, inputs, cots, return_final_states=True))
    assert (got[0][1][..., 0] == 0).all()  # before t=0, no initial state: zeros


def test_split_and_steps_continue_the_full_sequence(small_blocks):
    x, w, b = torch.randn(2, 5, 23), torch.randn(5, 4), torch.randn(5)
    full = causal_conv1d_triton(x, w, b, "silu")
    first, state = causal_conv1d_triton(x[..., :9], w, b, "silu", return_final_states=True)
    second = causal_conv1d_triton(x[..., 9:], w, b, "silu", initial_states=state)
    torch.testing.assert_close(torch.cat([first, second], -1), full, rtol=1e-5, atol=1e-6)
    conv_state = torch.zeros(2, 5, 4)
    steps = [causal_conv1d_update_triton(x[..., t], conv_state, w, b, "silu") for t in range(x.shape[-1])]
    torch.testing.assert_close(torch.stack(steps, -1), full, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- packed batches


@pytest.mark.parametrize("W", [2, 3, 4])
def test_packed_matches_separate_sequences(small_blocks, W):
    """Boundaries inside 16-wide blocks, a length-1 sequence, and a length-1 last sequence."""
    d = 3
    lengths = [[5, 1, 20, 3, 11], [17, 22, 1]]
    rows = [pack([torch.randn(d, n) for n in lens]) for lens in lengths]
    x = torch.cat([r[0] for r in rows])
    seq_idx = torch.cat([r[1] for r in rows])
    inputs = {"x": x, "weight": torch.randn(d, W) / W ** 0.5, "bias": torch.randn(d),
              "initial_states": torch.randn(2, d, W - 1)}
    cots = cotangents(2, d, x.shape[-1], W, final=True)
    kw = dict(activation="silu", return_final_states=True, seq_idx=seq_idx)
    got = run(causal_conv1d_triton, inputs, cots, **kw)
    assert_matches(got, run(loop_conv, inputs, cots, **kw))
    assert_matches(got, run(causal_conv1d_ref, inputs, cots, **kw))
    assert (got[0][1][1, :, :W - 2] == 0).all()  # the last sequence of row 1 has one position


# programs 1: every program loops over all 5 tiles; 12: L split in 3 (2, 2, 1 tiles). float32 loads chunks of 4
# positions, bfloat16 chunks of 8.
@pytest.mark.parametrize("W,dtype,programs", [(4, torch.bfloat16, 1), (4, torch.float32, 12), (3, torch.bfloat16, 12),
                                              (2, torch.float32, 1)])
def test_backward_loops_over_tiles(small_blocks, monkeypatch, W, dtype, programs):
    """The backward's tile loop (tiles of 16 positions here) and its split of L over programs: dweight and
    dbias accumulate across tiles and splits; sequences start on, just before and just after tile and
    chunk edges; the initial state's tile runs before the first split's tiles; the final state's gradient
    lands in the last tile."""
    monkeypatch.setattr(conv_triton, "BWD_PROGRAMS", programs)
    b, d, L = 2, 5, 77  # 2 channel blocks x 2 rows = 4 (channel block, row) pairs
    BD, BC, CH = conv_triton._bwd_blocks(d, L, dtype.itemsize)
    assert (BD, BC * CH) == (4, 16)
    starts = [[16, 31, 33, 40, 76], [1, 8, 47, 48, 64]]  # 76: a last sequence of one position
    seq_idx = torch.zeros(b, L, dtype=torch.int32)
    for r, row in enumerate(starts):
        for s in row:
            seq_idx[r, s:] += 1
    inputs = make_inputs(b, d, L, W, init=True, dtype=dtype)
    cots = cotangents(b, d, L, W, final=True)
    kw = dict(activation="silu", return_final_states=True, seq_idx=seq_idx)
    got = run(causal_conv1d_triton, inputs, cots, **kw)
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    assert_matches(got, run(loop_conv, {k: v.double() for k, v in inputs.items()}, cots, **kw), rtol=tol, atol=tol)
    if programs == 1:  # no seq_idx, states or activation
        inputs["initial_states"] = None
        plain = run(causal_conv1d_triton, inputs, cots[:1])
        assert_matches(plain, run(loop_conv, {k: v if v is None else v.double() for k, v in inputs.items()}, cots[:1]),
                       rtol=tol, atol=tol)


def test_packed_reference_matches_separate_calls():
    """The reference's seq_idx path: each sequence through the plain (F.conv1d) path."""
    W, d, lens = 4, 3, [2, 9, 1, 6]
    x, seq_idx = pack([torch.randn(d, n) for n in lens])
    w, b, h0 = torch.randn(d, W), torch.randn(d), torch.randn(1, d, W - 1)
    out, final = causal_conv1d_ref(x, w, b, "silu", h0, True, seq_idx=seq_idx)
    starts = [0, *torch.tensor(lens).cumsum(0).tolist()]
    for i, (s, e) in enumerate(zip(starts[:-1], starts[1:])):
        want, want_final = causal_conv1d_ref(x[..., s:e], w, b, "silu", h0 if i == 0 else None, True)
        torch.testing.assert_close(out[..., s:e], want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(final, want_final)


def test_seq_idx_restarts_at_every_change(small_blocks):
    """Values need not increase: a sequence id seen again later is a new sequence."""
    seq_idx = torch.tensor([[3, 3, 7, 7, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3]], dtype=torch.int32)
    inputs = make_inputs(1, 4, seq_idx.shape[1], 4, init=True)
    cots = cotangents(1, 4, seq_idx.shape[1], 4, final=True)
    kw = dict(activation="silu", return_final_states=True, seq_idx=seq_idx)
    got = run(causal_conv1d_triton, inputs, cots, **kw)
    assert_matches(got, run(loop_conv, inputs, cots, **kw))
    assert_matches(got, run(causal_conv1d_ref, inputs, cots, **kw))


# ---------------------------------------------------------------------------------------------- dtypes, layouts


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision(small_blocks, dtype):
    d, L, W = 3, 24, 4
    seq_idx = torch.tensor([[0] * 13 + [1] * 11, [0] * 24], dtype=torch.int32)
    inputs = make_inputs(2, d, L, W, init=True, dtype=dtype)
    cots = cotangents(2, d, L, W, final=True)
    kw = dict(activation="silu", return_final_states=True, seq_idx=seq_idx)
    got = run(causal_conv1d_triton, inputs, cots, **kw)
    assert got[0][0].dtype == dtype and got[1]["weight"].dtype == dtype
    want = run(loop_conv, {k: v.double() for k, v in inputs.items()}, cots, **kw)
    assert_matches(got, want, rtol=1e-2, atol=1e-2)


def test_noncontiguous_inputs(small_blocks):
    x = torch.randn(2, 20, 3).transpose(1, 2)  # (b, d, L) with d contiguous
    w = torch.randn(4, 3).t()
    h0 = torch.randn(2, 3, 3).transpose(1, 2)
    inputs = {"x": x, "weight": w, "bias": torch.randn(6)[::2], "initial_states": h0}
    cots = cotangents(2, 3, 20, 4, final=True)
    got = run(causal_conv1d_triton, inputs, cots, activation="silu", return_final_states=True)
    assert_matches(got, run(loop_conv, inputs, cots, activation="silu", return_final_states=True))


# ---------------------------------------------------------------------------------------------- single-step update


@pytest.mark.parametrize("W", [2, 3, 4])
@pytest.mark.parametrize("bias,act", [(True, "silu"), (False, None)])
def test_update_matches_forward_token_by_token(W, bias, act):
    b, d, L = 2, 7, 6
    x, w = torch.randn(b, d, L), torch.randn(d, W)
    bb = torch.randn(d) if bias else None
    h0 = torch.randn(b, d, W - 1)
    full = loop_conv(x, w, bb, act, h0)
    buf = torch.randn(b, d, W + 3)  # the state is a strided view into a larger buffer
    state = buf[..., 2:W + 2]
    state[..., 1:] = h0
    before = buf.clone()
    ref_state = state.clone()
    for t in range(L):
        out = causal_conv1d_update_triton(x[..., t], state, w, bb, act)
        want = causal_conv1d_update_ref(x[..., t], ref_state, w, bb, act)
        assert not out.isnan().any()
        torch.testing.assert_close(out.double(), full[..., t], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out, want, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(state, ref_state, rtol=0, atol=0)
    torch.testing.assert_close(buf[..., :2], before[..., :2], rtol=0, atol=0)  # outside the view: untouched
    torch.testing.assert_close(buf[..., W + 2:], before[..., W + 2:], rtol=0, atol=0)


def test_update_bf16_input_float32_state():
    x, w, b = torch.randn(3, 5, dtype=torch.bfloat16), torch.randn(5, 4), torch.randn(5)
    state = torch.randn(3, 5, 4)
    ref_state = state.clone()
    out = causal_conv1d_update_triton(x, state, w, b, "silu")
    want = causal_conv1d_update_ref(x, ref_state, w, b, "silu")
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(state, ref_state, rtol=0, atol=0)
    torch.testing.assert_close(out, want, rtol=1e-2, atol=1e-2)


# ---------------------------------------------------------------------------------------------- custom ops, errors


def test_opcheck_custom_ops():
    x, w, b, h0 = torch.randn(2, 3, 5), torch.randn(3, 4), torch.randn(3), torch.randn(2, 3, 3)
    seq_idx = torch.tensor([[0, 0, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.int32)
    req = lambda t: t.clone().requires_grad_()
    light = ("test_schema", "test_autograd_registration", "test_faketensor")  # the aot checks run fwd + bwd once
    torch.library.opcheck(torch.ops.ssmkit.causal_conv1d_fwd, (req(x), req(w), req(b), req(h0), seq_idx, True, True))
    torch.library.opcheck(torch.ops.ssmkit.causal_conv1d_fwd, (req(x), req(w), None, None, None, False, False),
                          test_utils=light)
    torch.library.opcheck(torch.ops.ssmkit.causal_conv1d_bwd, (x, w, b, h0, seq_idx, torch.randn(2, 3, 5),
                                                               torch.randn(2, 3, 3), True), test_utils=light)
    torch.library.opcheck(torch.ops.ssmkit.causal_conv1d_bwd, (x, w, None, None, None, torch.randn(2, 3, 5), None,
                                                               False), test_utils=light)
    torch.library.opcheck(torch.ops.ssmkit.causal_conv1d_update, (x[..., 0], torch.randn(2, 3, 4), w, b, True))


def test_traces_under_torch_compile():
    x, w, b = (torch.randn(*s, requires_grad=True) for s in ((2, 3, 9), (3, 4), (3,)))

    def f(x, w, b):
        out, final = causal_conv1d_triton(x, w, b, "silu", return_final_states=True)
        return out.square().sum() + final.sum()

    eager = torch.autograd.grad(f(x, w, b), (x, w, b))
    compiled = torch.autograd.grad(torch.compile(f, backend="aot_eager", fullgraph=True)(x, w, b), (x, w, b))
    for a, c in zip(compiled, eager):
        torch.testing.assert_close(a, c)


def test_rejects_unsupported_arguments():
    x = torch.randn(1, 3, 8)
    for W in (1, 5):
        with pytest.raises(ValueError, match="width"):
            causal_conv1d_triton(x, torch.randn(3, W))
        with pytest.raises(ValueError, match="width"):
            causal_conv1d_update_triton(x[..., 0], torch.zeros(1, 3, W), torch.randn(3, W))
    with pytest.raises(ValueError, match="activation"):
        causal_conv1d_triton(x, torch.randn(3, 4), activation="relu")
    with pytest.raises(ValueError, match="seq_idx"):
        causal_conv1d_triton(x, torch.randn(3, 4), seq_idx=torch.zeros(1, 7, dtype=torch.int32))
    with pytest.raises(ValueError, match="initial_states"):
        causal_conv1d_triton(x, torch.randn(3, 4), initial_states=torch.zeros(1, 3, 4))


# ---------------------------------------------------------------------------------------------- real sizes (GPU)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.bfloat16, 1e-2)])
@pytest.mark.parametrize("packed", [False, True])
def test_real_size_matches_reference(dtype, tol, packed):
    b, d, L, W = 4, 1536, 2048, 4
    dev = torch.device("cuda")
    inputs = {k: v if v is None else v.to(dev) for k, v in make_inputs(b, d, L, W, init=True, dtype=dtype).items()}
    cots = [c.to(dev) for c in cotangents(b, d, L, W, final=True)]
    seq_idx = None
    if packed:
        cuts = torch.sort(torch.randint(1, L, (b, 6), device=dev), dim=1).values
        seq_idx = (torch.arange(L, device=dev)[None, :, None] >= cuts[:, None, :]).sum(-1).to(torch.int32)
    kw = dict(activation="silu", return_final_states=True, seq_idx=seq_idx)
    got = run(causal_conv1d_triton, inputs, cots, **kw)
    want = run(causal_conv1d_ref, {k: v.double() for k, v in inputs.items()}, cots, **kw)  # float64: no TF32
    assert_matches(got, want, rtol=tol, atol=tol)


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_real_size_update_matches_forward(dtype):
    b, d, L, W = 4, 1536, 16, 4
    dev = torch.device("cuda")
    x = torch.randn(b, d, L, device=dev, dtype=dtype)
    w, bias = torch.randn(d, W, device=dev), torch.randn(d, device=dev)
    full = causal_conv1d_ref(x.double(), w.double(), bias.double(), "silu")
    state = torch.zeros(b, d, W, device=dev, dtype=dtype)
    steps = torch.stack([causal_conv1d_update_triton(x[..., t], state, w, bias, "silu") for t in range(L)], -1)
    tol = 1e-5 if dtype == torch.float32 else 1e-2
    torch.testing.assert_close(steps.double(), full, rtol=tol, atol=tol)

import pytest
import torch

from ssmkit.kernels import selective_scan_fn, selective_scan_ref

from .sequential import selective_scan_seq

CASES = [  # (batch, d, L, n, B/C layout, groups)
    (2, 8, 37, 4, "variable", 1),
    (1, 6, 100, 3, "grouped", 2),
    (2, 4, 17, 5, "invariant", 1),
    (3, 4, 1, 2, "variable", 1),
    (2, 16, 300, 16, "variable", 1),
]


def _inputs(b, d, L, n, layout, g, gen, dtype=torch.float32):
    r = lambda *s: torch.randn(*s, generator=gen, dtype=dtype)
    A = -torch.rand(d, n, generator=gen, dtype=dtype) * 4 - 0.1
    if layout == "invariant":
        B, C = r(d, n), r(d, n)
    elif layout == "grouped":
        B, C = r(b, g, n, L), r(b, g, n, L)
    else:
        B, C = r(b, n, L), r(b, n, L)
    return dict(u=r(b, d, L), delta=r(b, d, L) * 0.5, A=A, B=B, C=C, D=r(d), z=r(b, d, L), delta_bias=r(d) * 0.5,
                h0=r(b, d, n))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("extras", [(True, True, True, True), (False, False, False, False), (True, False, True, False)])
def test_matches_sequential_float64(case, extras):
    use_d, use_z, use_bias, softplus = extras
    gen = torch.Generator().manual_seed(hash((case, extras)) % 2**31)
    x = _inputs(*case, gen)
    # without softplus keep delta + bias >= 0, as a step size must be
    bias, delta = (x["delta_bias"], x["delta"]) if softplus else (x["delta_bias"].abs(), x["delta"].abs())
    kw = dict(D=x["D"] if use_d else None, z=x["z"] if use_z else None,
              delta_bias=bias if use_bias else None, delta_softplus=softplus)
    y, last = selective_scan_fn(x["u"], delta, x["A"], x["B"], x["C"], return_last_state=True, **kw)
    y_ref, h_ref = selective_scan_seq(x["u"], delta, x["A"], x["B"], x["C"], **kw)
    torch.testing.assert_close(y.double(), y_ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(last.double(), h_ref, rtol=1e-4, atol=1e-4)


def test_initial_state_continues_a_split_sequence():
    gen = torch.Generator().manual_seed(3)
    x = _inputs(2, 8, 64, 4, "variable", 1, gen)
    args = lambda s: (x["u"][..., s], x["delta"][..., s], x["A"], x["B"][..., s], x["C"][..., s])
    kw = dict(D=x["D"], delta_bias=x["delta_bias"], delta_softplus=True)
    full, h_full = selective_scan_fn(*args(slice(None)), return_last_state=True, **kw)
    first, h1 = selective_scan_fn(*args(slice(0, 40)), return_last_state=True, **kw)
    second, h2 = selective_scan_fn(*args(slice(40, None)), return_last_state=True, initial_state=h1, **kw)
    torch.testing.assert_close(torch.cat([first, second], -1), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(h2, h_full, rtol=1e-5, atol=1e-5)
    y_ref, _ = selective_scan_seq(*args(slice(40, None)), h0=h1, **kw)
    torch.testing.assert_close(second.double(), y_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout,g", [("variable", 1), ("grouped", 2), ("invariant", 1)])
def test_gradcheck_float64(layout, g):
    gen = torch.Generator().manual_seed(7)
    x = _inputs(2, 4, 19, 3, layout, g, gen, dtype=torch.float64)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias", "h0"]
    tensors = [x[k].clone().requires_grad_() for k in names]

    def f(u, delta, A, B, C, D, z, delta_bias, h0):
        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, True, True, h0)

    assert torch.autograd.gradcheck(f, tensors, atol=1e-6)


def test_gradients_match_sequential_autograd():
    gen = torch.Generator().manual_seed(11)
    x = _inputs(2, 8, 150, 6, "variable", 1, gen)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]
    ours = [x[k].clone().requires_grad_() for k in names]
    ref = [x[k].double().clone().requires_grad_() for k in names]
    w = torch.randn(2, 8, 150, generator=gen)
    (selective_scan_fn(*ours[:5], D=ours[5], z=ours[6], delta_bias=ours[7], delta_softplus=True) * w).sum().backward()
    y_ref, _ = selective_scan_seq(*ref[:5], D=ref[5], z=ref[6], delta_bias=ref[7], delta_softplus=True)
    (y_ref * w.double()).sum().backward()
    for name, a, b in zip(names, ours, ref):
        torch.testing.assert_close(a.grad.double(), b.grad, rtol=2e-3, atol=2e-3, msg=f"grad of {name}")


def test_low_precision_inputs_keep_dtype():
    gen = torch.Generator().manual_seed(5)
    x = _inputs(1, 4, 33, 4, "variable", 1, gen)
    y = selective_scan_fn(x["u"].bfloat16(), x["delta"].bfloat16(), x["A"], x["B"].bfloat16(), x["C"].bfloat16(),
                          delta_softplus=True)
    assert y.dtype == torch.bfloat16
    y_ref, _ = selective_scan_seq(x["u"].bfloat16(), x["delta"].bfloat16(), x["A"], x["B"].bfloat16(),
                                  x["C"].bfloat16(), delta_softplus=True)
    torch.testing.assert_close(y.double(), y_ref, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("cuts", [(7, 8, 30), (1, 2, 3, 44)])  # boundaries inside and at chunk edges
@pytest.mark.parametrize("layout,g", [("variable", 1), ("grouped", 2), ("invariant", 1)])
def test_packed_reference_equals_each_sequence_alone(layout, g, cuts):
    """seq_idx: the reference restarts the state at every boundary of the packed rows; outputs, each row's final
    state and every gradient equal those of separate float64 calls, one per sequence (a length-1 sequence, a
    boundary inside a chunk, a row's initial state for its first sequence only)."""
    from ssmkit.kernels import seq_idx_from_cu_seqlens
    from ssmkit.kernels.packing import segments

    b, d, L, n = 2, 6, 45, 4
    x = _inputs(b, d, L, n, layout, g, torch.Generator().manual_seed(3), dtype=torch.float64)
    seq_idx = torch.cat([seq_idx_from_cu_seqlens(torch.tensor([0, *cuts, 45])),
                         seq_idx_from_cu_seqlens(torch.tensor([0, 20, 20, 45]))])
    names = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias", "h0")

    def leaves():
        return {k: x[k].clone().requires_grad_() for k in names}

    p = leaves()
    y, last = selective_scan_ref(p["u"], p["delta"], p["A"], p["B"], p["C"], p["D"], p["z"], p["delta_bias"], True,
                                 True, p["h0"], seq_idx)
    (y.square().sum() + last.sum()).backward()

    s = leaves()
    rows, lasts = [[], []], [None, None]
    for row, start, end in segments(seq_idx):
        def cut(t, row=row, start=start, end=end):
            return t if t.dim() == 2 else t[row:row + 1, ..., start:end]

        yy, hh = selective_scan_ref(cut(s["u"]), cut(s["delta"]), s["A"], cut(s["B"]), cut(s["C"]), s["D"],
                                    cut(s["z"]), s["delta_bias"], True, True,
                                    s["h0"][row:row + 1] if start == 0 else None)
        rows[row].append(yy)
        lasts[row] = hh
    y_alone, last_alone = torch.cat([torch.cat(r, -1) for r in rows]), torch.cat(lasts)
    (y_alone.square().sum() + last_alone.sum()).backward()
    torch.testing.assert_close(y, y_alone, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(last, last_alone, rtol=1e-10, atol=1e-12)
    for k in names:
        torch.testing.assert_close(p[k].grad, s[k].grad, rtol=1e-9, atol=1e-11, msg=k)


def test_one_packed_row_of_seq_idx_serves_every_batch_row():
    """seq_idx (1, L) applies to every row of a (b, d, L) batch, as in the Triton path; a wrong shape is refused."""
    from ssmkit.kernels import seq_idx_from_cu_seqlens

    x = _inputs(3, 4, 20, 2, "variable", 1, torch.Generator().manual_seed(4), dtype=torch.float64)
    one = seq_idx_from_cu_seqlens(torch.tensor([0, 9, 20]))
    args = [x[k] for k in ("u", "delta", "A", "B", "C")]
    expanded = selective_scan_ref(*args, seq_idx=one.expand(3, 20))
    torch.testing.assert_close(selective_scan_ref(*args, seq_idx=one), expanded)
    with pytest.raises(ValueError, match="seq_idx must be"):
        selective_scan_ref(*args, seq_idx=one[:, :10])

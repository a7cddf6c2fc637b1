import pytest
import torch

from ssmkit.kernels import ssd_scan, ssd_scan_ref

from .sequential import ssd_seq


def _inputs(b, L, H, P, G, N, gen, dtype=torch.float32):
    r = lambda *s: torch.randn(*s, generator=gen, dtype=dtype)
    return dict(x=r(b, L, H, P), dt=r(b, L, H) * 0.5, A=-torch.rand(H, generator=gen, dtype=dtype) * 3 - 0.2,
                B=r(b, L, G, N), C=r(b, L, G, N), D=r(H), z=r(b, L, H, P), dt_bias=r(H) * 0.3, h0=r(b, H, P, N))


@pytest.mark.parametrize("shape,chunk", [((2, 64, 4, 8, 1, 16), 16), ((1, 77, 6, 4, 2, 8), 32),
                                         ((2, 5, 2, 3, 1, 4), 64), ((2, 200, 4, 16, 4, 16), 64)])
@pytest.mark.parametrize("extras", [(True, True, True), (False, False, False)])
def test_matches_sequential_float64(shape, chunk, extras):
    use_d, use_z, use_h0 = extras
    gen = torch.Generator().manual_seed(hash((shape, chunk, extras)) % 2**31)
    x = _inputs(*shape, gen)
    kw = dict(D=x["D"] if use_d else None, z=x["z"] if use_z else None, dt_bias=x["dt_bias"], dt_softplus=True)
    h0 = x["h0"] if use_h0 else None
    y, final = ssd_scan(x["x"], x["dt"], x["A"], x["B"], x["C"], chunk_size=chunk, initial_states=h0,
                        return_final_states=True, **kw)
    y_ref, h_ref = ssd_seq(x["x"], x["dt"], x["A"], x["B"], x["C"], h0=h0, **kw)
    torch.testing.assert_close(y.double(), y_ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(final.double(), h_ref, rtol=1e-4, atol=1e-4)


def test_headdim_D_and_chunk_size_do_not_change_the_result():
    gen = torch.Generator().manual_seed(2)
    x = _inputs(2, 96, 4, 8, 2, 8, gen)
    D = torch.randn(4, 8, generator=gen)
    outs = [ssd_scan(x["x"], x["dt"], x["A"], x["B"], x["C"], chunk_size=c, D=D, dt_softplus=True) for c in (8, 32, 96)]
    y_ref, _ = ssd_seq(x["x"], x["dt"], x["A"], x["B"], x["C"], D=D, dt_softplus=True)
    for y in outs:
        torch.testing.assert_close(y.double(), y_ref, rtol=1e-4, atol=1e-4)


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(9)
    x = _inputs(1, 11, 2, 3, 1, 4, gen, dtype=torch.float64)
    names = ["x", "dt", "A", "B", "C", "D", "z", "dt_bias", "h0"]
    tensors = [x[k].clone().requires_grad_() for k in names]

    def f(xx, dt, A, B, C, D, z, dt_bias, h0):
        return ssd_scan_ref(xx, dt, A, B, C, 4, D, z, dt_bias, h0, True, (0.0, float("inf")), True)

    assert torch.autograd.gradcheck(f, tensors, atol=1e-6)

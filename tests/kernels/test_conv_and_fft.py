import pytest
import torch

from ssmkit.kernels import causal_conv1d, causal_conv1d_update, fft_conv, fft_conv_ref

from .sequential import causal_conv1d_seq, long_conv_seq


@pytest.mark.parametrize("W", [2, 3, 4])
@pytest.mark.parametrize("silu,bias", [(True, True), (False, False)])
def test_causal_conv1d_matches_loop(W, silu, bias):
    gen = torch.Generator().manual_seed(W)
    x, w, b = torch.randn(2, 6, 29, generator=gen), torch.randn(6, W, generator=gen), torch.randn(6, generator=gen)
    out = causal_conv1d(x, w, b if bias else None, "silu" if silu else None)
    torch.testing.assert_close(out.double(), causal_conv1d_seq(x, w, b if bias else None, silu), rtol=1e-5, atol=1e-5)


def test_causal_conv1d_state_carries_across_splits_and_steps():
    gen = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(2, 5, 20, generator=gen), torch.randn(5, 4, generator=gen), torch.randn(5, generator=gen)
    full = causal_conv1d(x, w, b, "silu")
    first, state = causal_conv1d(x[..., :12], w, b, "silu", return_final_states=True)
    second = causal_conv1d(x[..., 12:], w, b, "silu", initial_states=state)
    torch.testing.assert_close(torch.cat([first, second], -1), full)
    conv_state = torch.zeros(2, 5, 4)
    steps = torch.stack([causal_conv1d_update(x[..., t], conv_state, w, b, "silu") for t in range(20)], -1)
    torch.testing.assert_close(steps, full, rtol=1e-5, atol=1e-6)


def test_causal_conv1d_gradcheck():
    gen = torch.Generator().manual_seed(1)
    t = [torch.randn(*s, generator=gen, dtype=torch.float64, requires_grad=True) for s in ((1, 3, 9), (3, 4), (3,))]
    assert torch.autograd.gradcheck(lambda x, w, b: causal_conv1d(x, w, b, "silu"), t)


@pytest.mark.parametrize("L,Lk", [(50, 50), (64, 10), (7, 7)])
def test_fft_conv_matches_direct_sum(L, Lk):
    gen = torch.Generator().manual_seed(L)
    u, k, D = torch.randn(2, 3, L, generator=gen), torch.randn(3, Lk, generator=gen), torch.randn(3, generator=gen)
    torch.testing.assert_close(fft_conv(u, k, D).double(), long_conv_seq(u, k, D), rtol=1e-4, atol=1e-4)


def test_fft_conv_gradcheck():
    gen = torch.Generator().manual_seed(4)
    t = [torch.randn(*s, generator=gen, dtype=torch.float64, requires_grad=True) for s in ((1, 2, 12), (2, 12), (2,))]
    assert torch.autograd.gradcheck(fft_conv_ref, t)

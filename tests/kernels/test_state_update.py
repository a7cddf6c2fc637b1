import torch

from ssmkit.kernels import selective_scan_fn, selective_state_update, ssd_scan, ssd_state_update


def test_selective_state_update_steps_equal_full_scan():
    gen = torch.Generator().manual_seed(0)
    b, d, n, L = 2, 6, 4, 25
    u, dt, z = (torch.randn(b, d, L, generator=gen) for _ in range(3))
    A = -torch.rand(d, n, generator=gen) * 3
    B, C = torch.randn(b, n, L, generator=gen), torch.randn(b, n, L, generator=gen)
    D, bias = torch.randn(d, generator=gen), torch.randn(d, generator=gen)
    full, last = selective_scan_fn(u, dt, A, B, C, D, z, bias, True, return_last_state=True)
    state = torch.zeros(b, d, n)
    steps = [selective_state_update(state, u[..., t], dt[..., t], A, B[..., t], C[..., t], D, z[..., t], bias, True)
             for t in range(L)]
    torch.testing.assert_close(torch.stack(steps, -1), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, last, rtol=1e-5, atol=1e-5)


def test_ssd_state_update_steps_equal_full_scan():
    gen = torch.Generator().manual_seed(1)
    b, L, H, P, G, N = 2, 30, 4, 3, 2, 5
    x, z = torch.randn(b, L, H, P, generator=gen), torch.randn(b, L, H, P, generator=gen)
    dt, A = torch.randn(b, L, H, generator=gen), -torch.rand(H, generator=gen) * 2
    B, C = torch.randn(b, L, G, N, generator=gen), torch.randn(b, L, G, N, generator=gen)
    D, bias = torch.randn(H, generator=gen), torch.randn(H, generator=gen)
    full, final = ssd_scan(x, dt, A, B, C, 8, D, z, bias, dt_softplus=True, return_final_states=True)
    state = torch.zeros(b, H, P, N)
    steps = [ssd_state_update(state, x[:, t], dt[:, t], A, B[:, t], C[:, t], D, z[:, t], bias, True) for t in range(L)]
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(state, final, rtol=1e-5, atol=1e-5)

"""Independent float64 references: plain loops over time, written from the equations."""

import torch
import torch.nn.functional as F


def selective_scan_seq(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, h0=None):
    u, delta, A = u.double(), delta.double(), A.double()
    b, d, L = u.shape
    n = A.shape[1]
    if delta_bias is not None:
        delta = delta + delta_bias.double()[:, None]
    if delta_softplus:
        delta = torch.log1p(torch.exp(delta))

    def per_channel(M):
        M = M.double()
        if M.dim() == 2:
            return M[None, :, :, None].expand(b, d, n, L)
        if M.dim() == 3:
            return M[:, None].expand(b, d, n, L)
        return M.repeat_interleave(d // M.shape[1], dim=1)

    B, C = per_channel(B), per_channel(C)
    h = torch.zeros(b, d, n, dtype=torch.float64) if h0 is None else h0.double().clone()
    ys = []
    for t in range(L):
        h = torch.exp(delta[:, :, t, None] * A) * h + delta[:, :, t, None] * u[:, :, t, None] * B[..., t]
        ys.append((h * C[..., t]).sum(-1))
    y = torch.stack(ys, -1)
    if D is not None:
        y = y + u * D.double()[:, None]
    if z is not None:
        y = y * z.double() * torch.sigmoid(z.double())
    return y, h


def ssd_seq(x, dt, A, B, C, D=None, z=None, dt_bias=None, dt_softplus=False, h0=None):
    x, dt, A = x.double(), dt.double(), A.double()
    b, L, H, P = x.shape
    G, N = B.shape[-2:]
    if dt_bias is not None:
        dt = dt + dt_bias.double()
    if dt_softplus:
        dt = torch.log1p(torch.exp(dt))
    B = B.double().repeat_interleave(H // G, dim=2)
    C = C.double().repeat_interleave(H // G, dim=2)
    h = torch.zeros(b, H, P, N, dtype=torch.float64) if h0 is None else h0.double().clone()
    ys = []
    for t in range(L):
        decay = torch.exp(dt[:, t] * A)[..., None, None]
        h = decay * h + (dt[:, t, :, None] * x[:, t])[..., None] * B[:, t, :, None, :]
        ys.append((h * C[:, t, :, None, :]).sum(-1))
    y = torch.stack(ys, 1)
    if D is not None:
        Dd = D.double()
        y = y + x * (Dd[:, None] if Dd.dim() == 1 else Dd)
    if z is not None:
        y = y * F.silu(z.double())
    return y, h


def causal_conv1d_seq(x, weight, bias=None, silu=False):
    x, weight = x.double(), weight.double()
    b, d, L = x.shape
    W = weight.shape[1]
    out = torch.zeros(b, d, L, dtype=torch.float64)
    for t in range(L):
        for k in range(W):
            s = t - (W - 1) + k
            if s >= 0:
                out[:, :, t] += weight[:, k] * x[:, :, s]
    if bias is not None:
        out = out + bias.double()[:, None]
    return out * torch.sigmoid(out) if silu else out


def long_conv_seq(u, k, D=None):
    u, k = u.double(), k.double()
    L = u.shape[-1]
    y = torch.zeros_like(u)
    for t in range(L):
        for s in range(max(0, t - k.shape[-1] + 1), t + 1):
            y[..., t] += k[..., t - s] * u[..., s]
    if D is not None:
        y = y + u * D.double()[:, None]
    return y

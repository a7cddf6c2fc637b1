"""Pure-PyTorch selective scan (Mamba-1): chunked, parallel over the sequence.

The sequence of length L is cut into ``nc`` chunks of ``T`` steps (T about sqrt(L)).
Every chunk is processed at once: a pass over the T in-chunk positions (vectorised over
all chunks, batch, channels and states) computes each chunk's local final state, a short
recurrence over the nc chunk boundaries carries the states across, and a second pass
over the T positions produces the outputs. The (batch, d, L, n) state tensor is never
materialised in the forward pass, so the working set stays in cache; the backward pass
recomputes the states and runs the adjoint recurrence in the same chunked way.

Packed batches (``seq_idx``) run the same chunked scan over the packed rows, no padding: the state decay is
set to zero where a new sequence starts, so each sequence's state restarts from zero there.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..step_size import prepare_dt

__all__ = ["selective_scan_ref", "chunk_length"]


def chunk_length(L: int) -> int:
    """In-chunk steps T for a sequence of length L: a power of two near sqrt(L)."""
    if L <= 8:
        return max(L, 1)
    return 1 << max(3, round(math.log2(math.sqrt(L))))


def _to_time_major(x: torch.Tensor, T: int, nc: int, fill: float = 0.0) -> torch.Tensor:
    """(..., L) -> (T, ..., nc), padding L up to nc * T with ``fill``."""
    L = x.shape[-1]
    if nc * T != L:
        x = F.pad(x, (0, nc * T - L), value=fill)
    x = x.reshape(*x.shape[:-1], nc, T)
    return x.movedim(-1, 0).contiguous()


def _from_time_major(x: torch.Tensor, L: int) -> torch.Tensor:
    """(T, ..., nc) -> (..., L)."""
    x = x.movedim(0, -1)
    return x.reshape(*x.shape[:-2], -1)[..., :L]


def _bc_layout(M: torch.Tensor, b: int, g: int, dg: int, T: int, nc: int) -> torch.Tensor:
    """B or C to a time-major tensor broadcastable to (T, b, g, dg, nc, n).

    (d, n)          time-invariant -> (1, 1, g, dg, 1, n)
    (b, n, L)       one group      -> (T, b, 1, 1, nc, n)
    (b, g, n, L)    g groups       -> (T, b, g, 1, nc, n)
    """
    if M.dim() == 2:
        return M.reshape(1, 1, g, dg, 1, M.shape[-1])
    if M.dim() == 3:
        M = M.unsqueeze(1)
    tm = _to_time_major(M, T, nc)  # (T, b, gM, n, nc)
    return tm.transpose(-1, -2).unsqueeze(3).contiguous()  # (T, b, gM, 1, nc, n)


def _reduce_to(x: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Sum x over the dimensions where ``shape`` broadcasts (has size 1)."""
    dims = [i for i, (s, t) in enumerate(zip(shape, x.shape)) if s == 1 and t != 1]
    return x.sum(dims, keepdim=True) if dims else x


class _ChunkedScan(torch.autograd.Function):
    """y_t = sum_n C_tn h_tn with h_t = k_t exp(delta_t A) h_{t-1} + du_t B_t, h_{-1} = h0; k_t = keep_T
    (0 where a packed sequence starts: its state restarts from zero) or 1 everywhere when keep_T is None."""

    @staticmethod
    def forward(ctx, delta_T, du_T, A5, B_T, C_T, h0, keep_T=None):
        # delta_T, du_T: (T, b, g, dg, nc); A5: (1, g, dg, 1, n); h0: (b, g, dg, n); keep_T: (T, b, 1, 1, nc)
        T, b, g, dg, nc = delta_T.shape
        n = A5.shape[-1]
        vb, vc = B_T.shape[0] > 1, C_T.shape[0] > 1
        decay = _decay(delta_T, A5, keep_T)
        # pass 1: each chunk's final state as if it started from zero
        S = delta_T.new_zeros(b, g, dg, nc, n)
        for t in range(T):
            S.mul_(decay(t))
            S.addcmul_(du_T[t].unsqueeze(-1), B_T[t if vb else 0])
        # carries: the state entering each chunk (and, last, the final state)
        dec = _chunk_decay(delta_T, A5, keep_T)  # (b, g, dg, nc, n)
        carry = delta_T.new_empty(b, g, dg, nc + 1, n)
        carry[..., 0, :] = h0
        for c in range(nc):
            carry[..., c + 1, :] = torch.addcmul(S[..., c, :], dec[..., c, :], carry[..., c, :])
        # pass 2: outputs, every chunk starting from its carry
        h = carry[..., :nc, :].clone()
        y_T = delta_T.new_empty(T, b, g, dg, nc)
        for t in range(T):
            h.mul_(decay(t))
            h.addcmul_(du_T[t].unsqueeze(-1), B_T[t if vb else 0])
            torch.sum(h * C_T[t if vc else 0], dim=-1, out=y_T[t])
        ctx.save_for_backward(delta_T, du_T, A5, B_T, C_T, carry, keep_T)
        return y_T, carry[..., nc, :].clone()

    @staticmethod
    def backward(ctx, gy_T, g_last):
        delta_T, du_T, A5, B_T, C_T, carry, keep_T = ctx.saved_tensors
        T, b, g, dg, nc = delta_T.shape
        vb, vc = B_T.shape[0] > 1, C_T.shape[0] > 1
        decay = _decay(delta_T, A5, keep_T)
        if gy_T is None:
            gy_T = torch.zeros_like(delta_T)
        # recompute the states of every position (transient, freed on return)
        hs = delta_T.new_empty(T, b, g, dg, nc, A5.shape[-1])
        h = carry[..., :nc, :].clone()
        for t in range(T):
            h.mul_(decay(t))
            h.addcmul_(du_T[t].unsqueeze(-1), B_T[t if vb else 0])
            hs[t] = h
        # chunk-local adjoints, then the adjoint recurrence over chunk boundaries
        W = torch.zeros_like(h)
        for t in range(T - 1, -1, -1):
            W.addcmul_(C_T[t if vc else 0], gy_T[t].unsqueeze(-1))
            W.mul_(decay(t))
        dec = _chunk_decay(delta_T, A5, keep_T)
        E = torch.zeros_like(carry)
        if g_last is not None:
            E[..., nc, :] = g_last
        for c in range(nc - 1, -1, -1):
            E[..., c, :] = torch.addcmul(W[..., c, :], dec[..., c, :], E[..., c + 1, :])
        # pass 2 in reverse: total adjoint G of each h_t, and the input gradients
        G = E[..., 1:, :].clone()
        g_delta = torch.empty_like(delta_T)
        g_du = torch.empty_like(du_T)
        gA = torch.zeros_like(A5)
        gB = torch.zeros_like(B_T)
        gC = torch.zeros_like(C_T)
        for t in range(T - 1, -1, -1):
            gy = gy_T[t].unsqueeze(-1)
            G.addcmul_(C_T[t if vc else 0], gy)
            Bt = B_T[t if vb else 0]
            torch.sum(G * Bt, dim=-1, out=g_du[t])
            gB[t if vb else 0] += _reduce_to(G * du_T[t].unsqueeze(-1), Bt.shape)
            gC[t if vc else 0] += _reduce_to(hs[t] * gy, C_T.shape[1:])
            a = decay(t)
            h_prev = hs[t - 1] if t > 0 else carry[..., :nc, :]
            glog = G * h_prev * a  # gradient w.r.t. delta_t * A (zero where the state restarts)
            torch.sum(glog * A5, dim=-1, out=g_delta[t])
            gA += _reduce_to(glog * delta_T[t].unsqueeze(-1), A5.shape)
            G.mul_(a)
        return g_delta, g_du, gA, gB, gC, E[..., 0, :], None


def _decay(delta_T, A5, keep_T):
    """t -> the step's state decay k_t exp(delta_t A): (b, g, dg, nc, n)."""
    def decay(t: int) -> torch.Tensor:
        a = torch.exp(delta_T[t].unsqueeze(-1) * A5)
        return a if keep_T is None else a * keep_T[t].unsqueeze(-1)
    return decay


def _chunk_decay(delta_T, A5, keep_T):
    """Each chunk's whole decay, the product of its steps' decays: (b, g, dg, nc, n)."""
    dec = torch.exp(delta_T.sum(0).unsqueeze(-1) * A5)
    return dec if keep_T is None else dec * keep_T.prod(0).unsqueeze(-1)


def selective_scan_ref(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    return_last_state: bool = False,
    initial_state: torch.Tensor | None = None,
    seq_idx: torch.Tensor | None = None,
):
    """Selective scan, argument layout of mamba_ssm's ``selective_scan_fn``.

    u, delta: (batch, d, L); A: (d, n) real; B, C: (d, n) time-invariant, (batch, n, L)
    or (batch, groups, n, L); D: (d,); z: (batch, d, L); delta_bias: (d,);
    initial_state: (batch, d, n); seq_idx: (batch, L) int, packed sequences (see
    ``ssmkit.kernels.packing``). Returns y (batch, d, L) in u's dtype and, with
    ``return_last_state``, the final state (batch, d, n) in float32 (float64 for float64 u).
    """
    if A.is_complex():
        raise NotImplementedError("selective_scan: complex A is not supported; use a real (d, n) A")
    bsz, d, L = u.shape
    n = A.shape[-1]
    groups = B.shape[1] if B.dim() == 4 else 1
    if d % groups:
        raise ValueError(f"selective_scan: d={d} is not divisible by the {groups} groups of B/C")
    work = torch.float64 if u.dtype == torch.float64 else torch.float32
    bias = delta_bias[:, None] if delta_bias is not None else None  # (d, 1): over L
    u_, delta_ = u.to(work), prepare_dt(delta, bias, delta_softplus, dtype=work)
    T = chunk_length(L)
    nc = -(-L // T)
    dg = d // groups
    delta_T = _to_time_major(delta_.reshape(bsz, groups, dg, L), T, nc)
    du_T = _to_time_major((delta_ * u_).reshape(bsz, groups, dg, L), T, nc)
    A5 = A.to(work).reshape(1, groups, dg, 1, n)
    B_T = _bc_layout(B.to(work), bsz, groups, dg, T, nc)
    C_T = _bc_layout(C.to(work), bsz, groups, dg, T, nc)
    if initial_state is None:
        h0 = u_.new_zeros(bsz, groups, dg, n)
    else:
        h0 = initial_state.to(work).reshape(bsz, groups, dg, n)
    keep_T = None
    if seq_idx is not None:  # packed: the state restarts where seq_idx changes (a row's first sequence gets h0)
        if seq_idx.dim() != 2 or seq_idx.shape[1] != L or seq_idx.shape[0] not in (1, bsz):
            raise ValueError(f"selective_scan: seq_idx must be (batch, L) = {(bsz, L)}, got {tuple(seq_idx.shape)}")
        keep = torch.ones(bsz, L, dtype=work, device=u.device)
        keep[:, 1:] = (seq_idx[:, 1:] == seq_idx[:, :-1]).to(work)
        keep_T = _to_time_major(keep.reshape(bsz, 1, 1, L), T, nc, fill=1.0)
    y_T, last = _ChunkedScan.apply(delta_T, du_T, A5, B_T, C_T, h0, keep_T)
    y = _from_time_major(y_T, L).reshape(bsz, d, L)
    if D is not None:
        y = y + u_ * D.to(work)[:, None]
    if z is not None:
        y = y * F.silu(z.to(work))
    y = y.to(u.dtype)
    return (y, last.reshape(bsz, d, n)) if return_last_state else y

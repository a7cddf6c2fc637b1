"""Fused selective scan (Mamba-1) in Triton: forward and backward, packed sequences.

Forward: one program per (batch row, block of BLOCK_D channels) walks the sequence in chunks
of LC steps on (channel, state, step) tiles. Each chunk reads u, delta, B, C once, runs the
recurrence h_t = exp(delta_t A) h_{t-1} + delta_t u_t B_t for every (channel, state) as an
associative scan over the LC steps, carries the state to the next chunk in registers, and
writes y = sum_n C h + D u, gated by silu(z), once. Nothing but the inputs is kept for the
backward: no (b, d, L, n) states, no per-chunk checkpoints.

Backward: a forward pass recomputes the state entering every chunk (a transient
(b, chunks, n, d) float32 buffer, freed on return); then the chunks are walked in reverse,
each recomputing its states from its entering state and running the adjoint recurrence
G_t = C_t gy_t + exp(delta_{t+1} A) G_{t+1} as a reverse scan. dB and dC are reduced over the
block's channels and added atomically to a few float32 partial buffers (together no larger
than u); dA, dD and d delta_bias are per-row partials; the launcher sums them.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from ..step_size_triton import softplus

__all__ = ["selective_scan_triton"]

_LOG2E = 1.4426950408889634
_INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


@triton.jit
def _combine(a1, b1, a2, b2):
    return a1 * a2, b1 * a2 + b2


@triton.jit
def _block(A_ptr, bias_ptr, d, L, n, dg, G, HAS_BIAS: tl.constexpr, BLOCK_D: tl.constexpr, NP: tl.constexpr):
    """This program's block of BLOCK_D channels of one batch row: its index tiles, offsets into (b, d, L) rows
    and (b, G, n, L) B/C rows, A (BLOCK_D, NP, 1) and delta_bias (BLOCK_D, 1, 1) in float32, and the offsets of
    its (BLOCK_D, NP) states in a (b, d, n) tensor."""
    pid_d = tl.program_id(0)
    b = tl.program_id(1).to(tl.int64)
    offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = offs_d < d
    group = (pid_d * BLOCK_D) // dg
    ar_n = tl.arange(0, NP)
    mask_n = ar_n < n
    d3 = offs_d[:, None, None]
    n3 = ar_n[None, :, None]
    md3 = mask_d[:, None, None]
    mn3 = mask_n[None, :, None]
    row3 = (b * d + d3) * L
    bc3 = (b * G + group) * n * L + n3 * L
    A3 = tl.load(A_ptr + d3 * n + n3, mask=md3 & mn3, other=0.0).to(tl.float32)
    bias3 = tl.zeros((BLOCK_D, 1, 1), tl.float32)
    if HAS_BIAS:
        bias3 = tl.load(bias_ptr + d3, mask=md3, other=0.0).to(tl.float32)
    state_off = (b * d + offs_d[:, None]) * n + ar_n[None, :]
    mask_dn = mask_d[:, None] & mask_n[None, :]
    return pid_d, b, offs_d, mask_d, group, ar_n, mask_n, d3, n3, md3, mn3, row3, bc3, A3, bias3, state_off, mask_dn


@triton.jit
def _state_in(ptr, state_off, mask_dn, PRESENT: tl.constexpr, BLOCK_D: tl.constexpr, NP: tl.constexpr):
    """A (BLOCK_D, NP) float32 state tile from ``ptr`` (zeros when the tensor is absent)."""
    if PRESENT:
        return tl.load(ptr + state_off, mask=mask_dn, other=0.0).to(tl.float32)
    return tl.zeros((BLOCK_D, NP), tl.float32)


@triton.jit
def _fwd_kernel(
    u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, h0_ptr, seq_ptr,
    y_ptr, last_ptr, ckpt_ptr,
    d, L, n, dg, n_chunks, G,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    HAS_H0: tl.constexpr, HAS_SEQ: tl.constexpr, WRITE_Y: tl.constexpr, STORE_CKPT: tl.constexpr,
    BLOCK_D: tl.constexpr, LC: tl.constexpr, NP: tl.constexpr,
):
    """Tiles are (BLOCK_D channels, NP states, LC steps): every thread runs its (channel, state)
    recurrences over LC steps in registers; y sums over the state axis."""
    (pid_d, b, offs_d, mask_d, group, ar_n, mask_n, d3, n3, md3, mn3, row3, bc3, A3, bias3, state_off,
     mask_dn) = _block(A_ptr, bias_ptr, d, L, n, dg, G, HAS_BIAS, BLOCK_D, NP)
    A3 = A3 * 1.4426950408889634  # exp(x) = exp2(x log2 e)
    ar_t = tl.arange(0, LC)
    carry = _state_in(h0_ptr, state_off, mask_dn, HAS_H0, BLOCK_D, NP)
    # 2-D (channel, step) tiles for the output epilogue
    row2 = (b * d + offs_d[:, None]) * L
    Dv = tl.zeros((BLOCK_D, 1), tl.float32)
    if HAS_D:
        Dv = tl.load(D_ptr + offs_d[:, None], mask=mask_d[:, None], other=0.0).to(tl.float32)
    for c in range(n_chunks):
        t3 = c * LC + ar_t[None, None, :]
        mt3 = t3 < L
        m3 = md3 & mt3
        if STORE_CKPT:
            tl.store(ckpt_ptr + ((b * n_chunks + c) * n + ar_n[None, :]) * d + offs_d[:, None], carry, mask=mask_dn)
        u = tl.load(u_ptr + row3 + t3, mask=m3, other=0.0).to(tl.float32)
        dl = tl.load(dl_ptr + row3 + t3, mask=m3, other=0.0).to(tl.float32)
        dl, _ = _step_size3(dl, bias3, SOFTPLUS, HAS_BIAS)
        dl = tl.where(m3, dl, 0.0)  # padding: decay 1, no input: the state passes through
        a = tl.exp2(dl * A3)
        if HAS_SEQ:
            s_cur = tl.load(seq_ptr + b * L + t3, mask=mt3, other=0)
            s_prev = tl.load(seq_ptr + b * L + t3 - 1, mask=mt3 & (t3 > 0), other=0)
            a = tl.where((s_cur != s_prev) & (t3 > 0), 0.0, a)
        Bt = tl.load(B_ptr + bc3 + t3, mask=mn3 & mt3, other=0.0).to(tl.float32)
        pa, h = tl.associative_scan((a, dl * u * Bt), 2, _combine)
        h = h + pa * carry[:, :, None]
        carry = tl.sum(tl.where(ar_t[None, None, :] == LC - 1, h, 0.0), axis=2)
        if WRITE_Y:
            Ct = tl.load(C_ptr + bc3 + t3, mask=mn3 & mt3, other=0.0).to(tl.float32)
            y = tl.sum(h * Ct, axis=1)  # (BLOCK_D, LC)
            t2 = c * LC + ar_t[None, :]
            m2 = mask_d[:, None] & (t2 < L)
            if HAS_D:
                u2 = tl.load(u_ptr + row2 + t2, mask=m2, other=0.0).to(tl.float32)
                y += u2 * Dv
            if HAS_Z:
                z2 = tl.load(z_ptr + row2 + t2, mask=m2, other=0.0).to(tl.float32)
                y = y * z2 * tl.sigmoid(z2)
            tl.store(y_ptr + row2 + t2, y.to(y_ptr.dtype.element_ty), mask=m2)
    tl.store(last_ptr + state_off, carry, mask=mask_dn)


@triton.jit
def _step_size3(dl, bias, SOFTPLUS: tl.constexpr, HAS_BIAS: tl.constexpr):
    """delta (+ bias) (softplus); returns (delta, d delta / d raw)."""
    if HAS_BIAS:
        dl = dl + bias
    if SOFTPLUS:
        grad = tl.sigmoid(dl)
        dl = softplus(dl)
    else:
        grad = tl.full(dl.shape, 1.0, tl.float32)
    return dl, grad


@triton.jit
def _bwd_kernel(
    u_ptr, dl_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, seq_ptr, ckpt_ptr,
    gy_ptr, glast_ptr,
    du_ptr, ddl_ptr, dz_ptr, dA_ptr, dB_ptr, dC_ptr, dD_ptr, dbias_ptr, dh0_ptr,
    d, L, n, dg, n_chunks, G,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    HAS_GLAST: tl.constexpr, HAS_SEQ: tl.constexpr,
    SLOTS: tl.constexpr,
    BLOCK_D: tl.constexpr, LC: tl.constexpr, NP: tl.constexpr,
):
    """Chunks in reverse; per chunk the states are recomputed from the checkpoint and the
    adjoint G_t = C_t gy_t + exp(delta_{t+1} A) G_{t+1} runs as a reverse scan."""
    (pid_d, b, offs_d, mask_d, group, ar_n, mask_n, d3, n3, md3, mn3, row3, bc3, A3, bias3, state_off,
     mask_dn) = _block(A_ptr, bias_ptr, d, L, n, dg, G, HAS_BIAS, BLOCK_D, NP)
    ar_t = tl.arange(0, LC)
    # dB/dC go to one of SLOTS partial buffers of the block's group (b, G, SLOTS, n, L): fewer blocks share an
    # address than with a single buffer, and the buffers stay small
    bpg = dg // BLOCK_D
    slot = (pid_d - group * bpg) % SLOTS
    part3 = (((b * G + group) * SLOTS + slot) * n + n3) * L
    A3l = A3 * 1.4426950408889634
    D3 = tl.zeros((BLOCK_D, 1, 1), tl.float32)
    if HAS_D:
        D3 = tl.load(D_ptr + d3, mask=md3, other=0.0).to(tl.float32)
    gcarry = _state_in(glast_ptr, state_off, mask_dn, HAS_GLAST, BLOCK_D, NP)
    dA_acc = tl.zeros((BLOCK_D, NP), tl.float32)
    dh0 = tl.zeros((BLOCK_D, NP), tl.float32)
    dD_acc = tl.zeros((BLOCK_D, 1, 1), tl.float32)
    dbias_acc = tl.zeros((BLOCK_D, 1, 1), tl.float32)
    first = ar_t[None, None, :] == 0
    for cc in range(n_chunks):
        c = n_chunks - 1 - cc
        t3 = c * LC + ar_t[None, None, :]
        mt3 = t3 < L
        m3 = md3 & mt3
        mn1 = (t3 + 1) < L
        hin = tl.load(ckpt_ptr + ((b * n_chunks + c) * n + ar_n[None, :]) * d + offs_d[:, None], mask=mask_dn,
                      other=0.0)
        u = tl.load(u_ptr + row3 + t3, mask=m3, other=0.0).to(tl.float32)
        raw = tl.load(dl_ptr + row3 + t3, mask=m3, other=0.0).to(tl.float32)
        dl, _ = _step_size3(raw, bias3, SOFTPLUS, HAS_BIAS)
        dl = tl.where(m3, dl, 0.0)
        dln = tl.load(dl_ptr + row3 + t3 + 1, mask=md3 & mn1, other=0.0).to(tl.float32)
        dln, _ = _step_size3(dln, bias3, SOFTPLUS, HAS_BIAS)
        dln = tl.where(md3 & mn1, dln, 0.0)  # beyond the end: G carries the final-state gradient unchanged
        a = tl.exp2(dl * A3l)
        an = tl.exp2(dln * A3l)
        if HAS_SEQ:
            s_cur = tl.load(seq_ptr + b * L + t3, mask=mt3, other=0)
            s_prev = tl.load(seq_ptr + b * L + t3 - 1, mask=mt3 & (t3 > 0), other=0)
            s_next = tl.load(seq_ptr + b * L + t3 + 1, mask=mn1, other=0)
            a = tl.where((s_cur != s_prev) & (t3 > 0), 0.0, a)
            an = tl.where((s_next != s_cur) & mn1, 0.0, an)
        gyo = tl.load(gy_ptr + row3 + t3, mask=m3, other=0.0).to(tl.float32)
        gy = gyo
        if HAS_Z:
            zz = tl.load(z_ptr + row3 + t3, mask=m3, other=0.0).to(tl.float32)
            sz = tl.sigmoid(zz)
            gy = gyo * zz * sz
        Bt = tl.load(B_ptr + bc3 + t3, mask=mn3 & mt3, other=0.0).to(tl.float32)
        Ct = tl.load(C_ptr + bc3 + t3, mask=mn3 & mt3, other=0.0).to(tl.float32)
        du = dl * u
        bb = du * Bt
        pa, h = tl.associative_scan((a, bb), 2, _combine)
        h = h + pa * hin[:, :, None]
        pg, g = tl.associative_scan((an, gy * Ct), 2, _combine, reverse=True)
        g = g + pg * gcarry[:, :, None]
        gcarry = tl.sum(tl.where(first, g, 0.0), axis=2)
        dh0 = tl.sum(tl.where(first, g * a, 0.0), axis=2)  # the value left after chunk 0 is d h0
        glog = g * (h - bb)  # gradient of (delta_t * A) through exp: G_t a_t h_{t-1}
        dA_acc += tl.sum(glog * dl, axis=2)
        # this block's share of dB, dC: (1, NP, LC), added to its slot's partial buffer
        tl.atomic_add(dB_ptr + part3 + t3, tl.sum(g * du, axis=0)[None, :, :], mask=mn3 & mt3)
        tl.atomic_add(dC_ptr + part3 + t3, tl.sum(h * gy, axis=0)[None, :, :], mask=mn3 & mt3)
        g_du = tl.sum(g * Bt, axis=1)[:, None, :]  # (BLOCK_D, 1, LC) from here on: one value per channel
        g_dl = tl.sum(glog * A3, axis=1)[:, None, :]
        pre = tl.sum(h * Ct, axis=1)[:, None, :]
        m1 = md3 & mt3
        u1 = tl.load(u_ptr + row3 + t3, mask=m1, other=0.0).to(tl.float32)
        raw1 = tl.load(dl_ptr + row3 + t3, mask=m1, other=0.0).to(tl.float32)
        dl1, dl_grad1 = _step_size3(raw1, bias3, SOFTPLUS, HAS_BIAS)
        dl1 = tl.where(m1, dl1, 0.0)
        gyo1 = tl.load(gy_ptr + row3 + t3, mask=m1, other=0.0).to(tl.float32)
        gy1 = gyo1
        if HAS_Z:
            z1 = tl.load(z_ptr + row3 + t3, mask=m1, other=0.0).to(tl.float32)
            sz1 = tl.sigmoid(z1)
            gy1 = gyo1 * z1 * sz1
        g_dl += g_du * u1
        g_u = g_du * dl1
        if HAS_D:
            g_u += gy1 * D3
            dD_acc += tl.sum(gy1 * u1, axis=2)[:, :, None]
        if HAS_Z:
            if HAS_D:
                pre += u1 * D3
            dz = gyo1 * pre * sz1 * (1.0 + z1 * (1.0 - sz1))
            tl.store(dz_ptr + row3 + t3, dz.to(dz_ptr.dtype.element_ty), mask=m1)
        g_raw = tl.where(m1, g_dl * dl_grad1, 0.0)
        dbias_acc += tl.sum(g_raw, axis=2)[:, :, None]
        tl.store(du_ptr + row3 + t3, g_u.to(du_ptr.dtype.element_ty), mask=m1)
        tl.store(ddl_ptr + row3 + t3, g_raw.to(ddl_ptr.dtype.element_ty), mask=m1)
    tl.store(dA_ptr + state_off, dA_acc, mask=mask_dn)
    tl.store(dh0_ptr + state_off, dh0, mask=mask_dn)
    if HAS_D:
        tl.store(dD_ptr + b * d + d3, dD_acc, mask=md3)
    if HAS_BIAS:
        tl.store(dbias_ptr + b * d + d3, dbias_acc, mask=md3)


def _config(d: int, L: int, dg: int, backward: bool) -> tuple[int, int, int]:
    """(BLOCK_D, LC, num_warps); the channel block must not straddle a group of B/C."""
    if _INTERPRET:
        block_d, lc, warps = 4, 8, 1
    elif backward:  # fastest of a sweep on an H100 (benchmarks/kernels.py --sweep scan)
        block_d, lc, warps = 4, 16, 2
    else:
        block_d, lc, warps = 64, 8, 8
    env = os.environ.get("SSMKIT_SCAN_CONFIG_BWD" if backward else "SSMKIT_SCAN_CONFIG")
    if env:  # for tuning sweeps: "BLOCK_D,LC,num_warps"
        block_d, lc, warps = (int(v) for v in env.split(","))
    while dg % block_d:
        block_d //= 2
    lc = min(lc, max(4, triton.next_power_of_2(L)))
    return block_d, lc, warps


def _flags(D, z, delta_bias, seq_idx):
    return dict(HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=delta_bias is not None,
                HAS_SEQ=seq_idx is not None)


def _launch_fwd(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx, delta_softplus, *, backward):
    """Forward scan. backward=False: (y, last state). backward=True: the state entering every chunk of the
    backward's chunking, (b, n_chunks, n, d) float32, and no y."""
    b, d, L = u.shape
    G, n = B.shape[1], A.shape[1]
    block_d, lc, warps = _config(d, L, d // G, backward=backward)
    n_chunks = triton.cdiv(L, lc)
    y = u.new_empty(0) if backward else torch.empty_like(u)
    last = u.new_empty(b, d, n, dtype=torch.float32)
    ckpt = u.new_empty(b, n_chunks, n, d, dtype=torch.float32) if backward else u.new_empty(0)
    grid = (triton.cdiv(d, block_d), b)
    _fwd_kernel[grid](
        u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx, y, last, ckpt,
        d, L, n, d // G, n_chunks, G,
        SOFTPLUS=delta_softplus, HAS_H0=initial_state is not None, **_flags(D, z, delta_bias, seq_idx),
        WRITE_Y=not backward, STORE_CKPT=backward,
        BLOCK_D=block_d, LC=lc, NP=triton.next_power_of_2(n), num_warps=warps,
    )
    return ckpt if backward else (y, last)


def _empty(ref: torch.Tensor) -> torch.Tensor:
    return ref.new_empty(0)


@torch.library.custom_op("ssmkit::selective_scan_fwd", mutates_args=())
def _fwd_op(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
            D: torch.Tensor | None, z: torch.Tensor | None, delta_bias: torch.Tensor | None,
            initial_state: torch.Tensor | None, seq_idx: torch.Tensor | None,
            delta_softplus: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """u, delta, z: (b, d, L); B, C: (b, G, n, L). Returns y (b, d, L) and the last state (b, d, n) float32."""
    return _launch_fwd(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx, delta_softplus, backward=False)


@_fwd_op.register_fake
def _(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx, delta_softplus):
    b, d, L = u.shape
    return torch.empty_like(u), u.new_empty(b, d, A.shape[1], dtype=torch.float32)


@torch.library.custom_op("ssmkit::selective_scan_bwd", mutates_args=())
def _bwd_op(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
            D: torch.Tensor | None, z: torch.Tensor | None, delta_bias: torch.Tensor | None,
            initial_state: torch.Tensor | None, seq_idx: torch.Tensor | None, gy: torch.Tensor,
            glast: torch.Tensor | None, delta_softplus: bool
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                       torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (du, ddelta, dA, dB, dC, dD, dz, ddelta_bias, dh0); empty where the input was absent.

    The states are recomputed: a forward pass stores the state entering each chunk (transient), then
    the chunks are walked in reverse."""
    b, d, L = u.shape
    G, n = B.shape[1], A.shape[1]
    ckpt = _launch_fwd(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx, delta_softplus, backward=True)
    block_d, lc, warps = _config(d, L, d // G, backward=True)
    n_chunks = ckpt.shape[1]
    du, ddl = torch.empty_like(u), torch.empty_like(delta)
    dz = torch.empty_like(z) if z is not None else _empty(u)
    dA = u.new_empty(b, d, n, dtype=torch.float32)
    dh0 = u.new_empty(b, d, n, dtype=torch.float32)
    blocks = triton.cdiv(d, block_d)
    # partial buffers for dB, dC: as many as fit in the bytes of u (at most one per block of a group)
    per_slot = 2 * b * G * n * L * 4
    slots = max(1, min(blocks // G, u.numel() * u.element_size() // per_slot))
    dB = torch.zeros(b, G, slots, n, L, dtype=torch.float32, device=u.device)
    dC = torch.zeros(b, G, slots, n, L, dtype=torch.float32, device=u.device)
    dD = u.new_empty(b, d, dtype=torch.float32)
    dbias = u.new_empty(b, d, dtype=torch.float32)
    grid = (blocks, b)
    _bwd_kernel[grid](
        u, delta, A, B, C, D, z, delta_bias, seq_idx, ckpt, gy, glast,
        du, ddl, dz, dA, dB, dC, dD, dbias, dh0,
        d, L, n, d // G, n_chunks, G,
        SOFTPLUS=delta_softplus, HAS_GLAST=glast is not None, **_flags(D, z, delta_bias, seq_idx),
        SLOTS=slots, BLOCK_D=block_d, LC=lc, NP=triton.next_power_of_2(n), num_warps=warps,
    )
    # blocks never straddle a group: the partials of group g are blocks [g * blocks/G, (g + 1) * blocks/G)
    dB = dB.sum(2).to(B.dtype)
    dC = dC.sum(2).to(C.dtype)
    return (du, ddl, dA.sum(0), dB, dC,
            dD.sum(0) if D is not None else _empty(u), dz,
            dbias.sum(0) if delta_bias is not None else _empty(u), dh0)


@_bwd_op.register_fake
def _(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx, gy, glast, delta_softplus):
    b, d, L = u.shape
    n = A.shape[1]
    f32 = dict(dtype=torch.float32)
    return (torch.empty_like(u), torch.empty_like(delta), A.new_empty(d, n, **f32), torch.empty_like(B),
            torch.empty_like(C), u.new_empty(d, **f32) if D is not None else u.new_empty(0),
            torch.empty_like(z) if z is not None else u.new_empty(0),
            u.new_empty(d, **f32) if delta_bias is not None else u.new_empty(0), u.new_empty(b, d, n, **f32))


def _setup_context(ctx, inputs, output):
    u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx, delta_softplus = inputs
    ctx.save_for_backward(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx)
    ctx.delta_softplus = delta_softplus


def _backward(ctx, gy, glast):
    u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx = ctx.saved_tensors
    gy = torch.zeros_like(u) if gy is None else gy.contiguous()
    glast = glast.contiguous() if glast is not None else None
    du, ddl, dA, dB, dC, dD, dz, dbias, dh0 = _bwd_op(u, delta, A, B, C, D, z, delta_bias, initial_state, seq_idx,
                                                      gy, glast, ctx.delta_softplus)
    return (du, ddl, dA.to(A.dtype), dB, dC, dD.to(D.dtype) if D is not None else None,
            dz if z is not None else None, dbias.to(delta_bias.dtype) if delta_bias is not None else None,
            dh0 if initial_state is not None else None, None, None)


_fwd_op.register_autograd(_backward, setup_context=_setup_context)


def selective_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          return_last_state=False, initial_state=None, seq_idx=None):
    """Same contract as ``selective_scan_ref``; B/C time-varying (b, n, L) or (b, g, n, L).

    Time-invariant B/C (d, n) run through the reference.
    """
    if B.dim() == 2 or C.dim() == 2 or u.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        from .reference import selective_scan_ref  # time-invariant B/C, float64: the reference

        return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state,
                                  initial_state, seq_idx)
    if A.is_complex():
        raise NotImplementedError("selective_scan: complex A is not supported; use a real (d, n) A")
    b, d, L = u.shape
    n = A.shape[-1]
    B4 = B.unsqueeze(1) if B.dim() == 3 else B
    C4 = C.unsqueeze(1) if C.dim() == 3 else C
    G = B4.shape[1]
    expect = {"delta": (delta, (b, d, L)), "A": (A, (d, n)), "B": (B4, (b, G, n, L)), "C": (C4, (b, G, n, L)),
              "z": (z, (b, d, L)), "D": (D, (d,)), "delta_bias": (delta_bias, (d,)),
              "initial_state": (initial_state, (b, d, n))}
    for name, (t, shape) in expect.items():
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"selective_scan: {name} must have shape {shape} for u {tuple(u.shape)}, "
                             f"got {tuple(t.shape)}")
    if d % G:
        raise ValueError(f"selective_scan: d={d} is not divisible by the {G} groups of B/C")
    if seq_idx is not None:
        if seq_idx.dim() != 2 or seq_idx.shape[1] != L or seq_idx.shape[0] not in (1, b):
            raise ValueError(f"selective_scan: seq_idx must be (batch, L) = {(b, L)}, got {tuple(seq_idx.shape)}")
        seq_idx = seq_idx.to(u.device).expand(b, L)
    contig = lambda t: t.contiguous() if t is not None else None  # noqa: E731
    y, last = _fwd_op(u.contiguous(), delta.contiguous(), A.float().contiguous(), B4.contiguous(),
                         C4.contiguous(), contig(D), contig(z), contig(delta_bias),
                         contig(initial_state), contig(seq_idx.to(torch.int32) if seq_idx is not None else None),
                         bool(delta_softplus))
    return (y, last) if return_last_state else y

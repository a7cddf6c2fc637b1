"""Backward Triton kernels of the chunked SSD scan and their launcher.

With g = dL/d(y before D and the z gate) ("dout"), per chunk and head (see ``triton_fwd`` for the forward):

    dH_c (from the outputs) = sum_l exp(cum_l) g_l^T C_l                                   chunk_state(to_end=False)
    reverse scan over chunks: G_nc = d final, dstates_c = G_{c+1}, G_c = dH_c + exp(cum_end_c) G_{c+1}
                              (G_0 = d initial state)                                     state_passing_bwd
    dx_s, d dt'_s: from the chunk state (x_s^T w_s B_s) and the causal in-chunk term      chunk_bwd_dx
    dB_s (per head; summed over the heads of a group afterwards), likewise                chunk_bwd_db
    dC_l and the in-chunk part of d(dt' A), from the output side                           chunk_bwd_dc
    d(dt' A)_k (k in chunk) = sum_{l>=k} dcum_l, formed without cancelling terms; then through A, clamp,
    softplus and bias to d dt, dA, d dt_bias                                                ddt

The in-chunk part uses E[l, s] = (g_l . x_s) (C_l . B_s) exp(cum_l - cum_s) dt'_s (s <= l):
d(dt' A)_k gets sum over l >= k > s of E[l, s], accumulated as a prefix sum along s.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..step_size_triton import softplus
from .triton_fwd import (
    _mm,
    autotune,
    chunk_scan,
    chunk_states,
    dot_flags,
    finite,
    has_limit,
    pow2,
    seq_block,
)


@triton.jit
def _state_passing_bwd_kernel(st_ptr, dst_ptr, dfinal_ptr, dinit_ptr, cum_ptr, seg_ptr, ada_ptr, L, H, NC, PN,
                              Q: tl.constexpr, BLOCK: tl.constexpr, HAS_DFINAL: tl.constexpr,
                              HAS_SEQ: tl.constexpr):
    """grid (batch*heads, cdiv(p*n, BLOCK)): reverse scan over chunks.

    In place dst: dH_c from the outputs -> d(chunk state c); dinit (b, h, p, n);
    ada (b, c, h, blocks): exp(cum_end) * sum(G_{c+1} * H_c), this block's share of d cum_end.
    """
    pid = tl.program_id(0)
    b = pid // H
    h = pid % H
    blk = tl.program_id(1)
    nblk = tl.num_programs(1)
    offs = blk * BLOCK + tl.arange(0, BLOCK)
    m = offs < PN
    if HAS_DFINAL:
        g = tl.load(dfinal_ptr + pid.to(tl.int64) * PN + offs, mask=m, other=0.0).to(tl.float32)
    else:
        g = tl.zeros((BLOCK,), dtype=tl.float32)
    for i in range(0, NC):
        c = NC - 1 - i
        a = tl.exp(tl.load(cum_ptr + ((b * H + h).to(tl.int64) * NC + c) * Q + Q - 1))
        if HAS_SEQ:
            start = c * Q
            seg_end = tl.load(seg_ptr + b.to(tl.int64) * L + tl.minimum(start + Q, L) - 1)
            seg_prev = tl.load(seg_ptr + b.to(tl.int64) * L + tl.maximum(start - 1, 0))
            a = tl.where(seg_end == seg_prev, a, 0.0)
        bch = (b * NC + c) * H + h
        ptr = bch.to(tl.int64) * PN + offs
        hc = tl.load(st_ptr + ptr, mask=m, other=0.0)
        dho = tl.load(dst_ptr + ptr, mask=m, other=0.0)
        tl.store(dst_ptr + ptr, g, mask=m)
        tl.store(ada_ptr + bch * nblk + blk, a * tl.sum(g * hc, axis=0))
        g = dho + a * g
    tl.store(dinit_ptr + pid.to(tl.int64) * PN + offs, g, mask=m)


@autotune(key=["P", "N", "Q"])
@triton.jit
def _chunk_bwd_dx_kernel(x_ptr, B_ptr, C_ptr, do_ptr, dS_ptr, dtp_ptr, cum_ptr, seg_ptr, D_ptr,
                         dx_ptr, ddtp_ptr, dww_ptr, dD_ptr, L, H, NC, P, N, HPG, s_xb, s_xl, s_xh, s_bb, s_bl, s_bg,
                         Q: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr,
                         HAS_D: tl.constexpr, D_PER_P: tl.constexpr, HAS_SEQ: tl.constexpr,
                         PREC: tl.constexpr, UPCAST: tl.constexpr):
    """grid (batch*chunks*heads, Q // BLOCK_T): for BLOCK_T source positions s (p and n whole):

    dx_s = dt'_s sum_{l>=s} M[l,s] g_l + w_s B_s dS^T + D g_s,   M[l,s] = (C_l . B_s) exp(cum_l - cum_s),
    w_s = exp(cum_end - cum_s) dt'_s; ddtp (b, h, c, Q): d dt'_s at fixed cumsums; dww: w_s (x_s dS . B_s),
    the chunk state's pull on cum_s; dD (b*c*h, Q // BLOCK_T, P): partial sums of g * x.
    """
    pid = tl.program_id(0)
    h = pid % H
    c = (pid // H) % NC
    b = pid // (H * NC)
    jb = tl.program_id(1)
    offs_j = jb * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_p = tl.arange(0, BLOCK_P)
    offs_n = tl.arange(0, BLOCK_N)
    start = c * Q
    clen = tl.minimum(Q, L - start)
    mj = offs_j < clen
    mp = offs_p < P
    mn = offs_n < N
    x_off = b.to(tl.int64) * s_xb + start.to(tl.int64) * s_xl + h * s_xh
    bc_off = b.to(tl.int64) * s_bb + start.to(tl.int64) * s_bl + (h // HPG) * s_bg
    dc = ((b * H + h).to(tl.int64) * NC + c) * Q
    bj = tl.load(B_ptr + bc_off + offs_j[:, None] * s_bl + offs_n[None, :], mask=mj[:, None] & mn[None, :], other=0.0)
    cum_j = tl.load(cum_ptr + dc + offs_j)
    if HAS_SEQ:
        seg_j = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_j, mask=mj, other=-1)
    # in-chunk causal term, over target blocks l >= s
    dxr = tl.zeros((BLOCK_T, BLOCK_P), dtype=tl.float32)
    for i0 in range(jb * BLOCK_T, clen, BLOCK_T):
        offs_i = i0 + tl.arange(0, BLOCK_T)
        mi = offs_i < clen
        ci = tl.load(C_ptr + bc_off + offs_i[:, None] * s_bl + offs_n[None, :], mask=mi[:, None] & mn[None, :],
                     other=0.0)
        doi = tl.load(do_ptr + x_off + offs_i[:, None] * s_xl + offs_p[None, :], mask=mi[:, None] & mp[None, :],
                      other=0.0)
        cum_i = tl.load(cum_ptr + dc + offs_i)
        cbt = _mm(bj, tl.trans(ci), PREC, UPCAST)  # (s, l)
        keep = offs_i[None, :] >= offs_j[:, None]
        if HAS_SEQ:
            seg_i = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_i, mask=mi, other=-2)
            keep &= seg_i[None, :] == seg_j[:, None]
        decay = tl.exp(tl.where(keep, cum_i[None, :] - cum_j[:, None], float("-inf")))
        dxr += _mm((cbt * decay).to(doi.dtype), doi, PREC, UPCAST)
    # the chunk's own state, states_c = sum_s x_s^T w_s B_s, with gradient dS (p, n)
    dtp_j = tl.load(dtp_ptr + dc + offs_j)
    e_j = tl.exp(tl.load(cum_ptr + dc + Q - 1) - cum_j)
    if HAS_SEQ:
        seg_end = tl.load(seg_ptr + b.to(tl.int64) * L + start + clen - 1)
        e_j = tl.where(seg_j == seg_end, e_j, 0.0)
    w_j = e_j * dtp_j
    dst = tl.load(dS_ptr + ((b * NC + c) * H + h).to(tl.int64) * P * N + offs_p[None, :] * N + offs_n[:, None],
                  mask=mn[:, None] & mp[None, :], other=0.0)  # (N, P)
    bds = _mm(bj, dst.to(bj.dtype), PREC, UPCAST)  # (T, P)
    xp = offs_j[:, None] * s_xl + offs_p[None, :]
    mxp = mj[:, None] & mp[None, :]
    xj = tl.load(x_ptr + x_off + xp, mask=mxp, other=0.0).to(tl.float32)
    dx = dxr * dtp_j[:, None] + bds * w_j[:, None]
    dw = tl.sum(xj * bds, axis=1)
    tl.store(ddtp_ptr + dc + offs_j, dw * e_j + tl.sum(xj * dxr, axis=1))
    tl.store(dww_ptr + dc + offs_j, dw * w_j)
    if HAS_D:
        gj = tl.load(do_ptr + x_off + xp, mask=mxp, other=0.0).to(tl.float32)
        if D_PER_P:
            dd = tl.load(D_ptr + h * P + offs_p, mask=mp, other=0.0).to(tl.float32)
        else:
            dd = tl.load(D_ptr + h + offs_p * 0).to(tl.float32)
        dx += gj * dd[None, :]
        tl.store(dD_ptr + (pid.to(tl.int64) * tl.num_programs(1) + jb) * P + offs_p, tl.sum(gj * xj, axis=0), mask=mp)
    tl.store(dx_ptr + x_off + xp, dx, mask=mxp)


@autotune(key=["P", "N", "Q"])
@triton.jit
def _chunk_bwd_db_kernel(x_ptr, C_ptr, do_ptr, dS_ptr, dtp_ptr, cum_ptr, seg_ptr, dB_ptr,
                         L, H, NC, P, N, HPG, s_xb, s_xl, s_xh, s_bb, s_bl, s_bg, s_db, s_dl, s_dh,
                         Q: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr,
                         HAS_SEQ: tl.constexpr, PREC: tl.constexpr, UPCAST: tl.constexpr):
    """grid (batch*chunks*heads, Q // BLOCK_T): this head's share of dB for BLOCK_T source positions s:

    dB_s = sum_{l>=s} (g_l . x_s) exp(cum_l - cum_s) dt'_s C_l + w_s x_s dS   (dB_ptr strides s_d*).
    """
    pid = tl.program_id(0)
    h = pid % H
    c = (pid // H) % NC
    b = pid // (H * NC)
    jb = tl.program_id(1)
    offs_j = jb * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_p = tl.arange(0, BLOCK_P)
    offs_n = tl.arange(0, BLOCK_N)
    start = c * Q
    clen = tl.minimum(Q, L - start)
    mj = offs_j < clen
    mp = offs_p < P
    mn = offs_n < N
    x_off = b.to(tl.int64) * s_xb + start.to(tl.int64) * s_xl + h * s_xh
    bc_off = b.to(tl.int64) * s_bb + start.to(tl.int64) * s_bl + (h // HPG) * s_bg
    dc = ((b * H + h).to(tl.int64) * NC + c) * Q
    xj = tl.load(x_ptr + x_off + offs_j[:, None] * s_xl + offs_p[None, :], mask=mj[:, None] & mp[None, :], other=0.0)
    cum_j = tl.load(cum_ptr + dc + offs_j)
    dtp_j = tl.load(dtp_ptr + dc + offs_j)
    e_j = tl.exp(tl.load(cum_ptr + dc + Q - 1) - cum_j)
    if HAS_SEQ:
        seg_j = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_j, mask=mj, other=-1)
        seg_end = tl.load(seg_ptr + b.to(tl.int64) * L + start + clen - 1)
        e_j = tl.where(seg_j == seg_end, e_j, 0.0)
    dS = tl.load(dS_ptr + ((b * NC + c) * H + h).to(tl.int64) * P * N + offs_p[:, None] * N + offs_n[None, :],
                 mask=mp[:, None] & mn[None, :], other=0.0)
    db = _mm(xj, dS.to(xj.dtype), PREC, UPCAST) * (e_j * dtp_j)[:, None]  # (T, N)
    for i0 in range(jb * BLOCK_T, clen, BLOCK_T):
        offs_i = i0 + tl.arange(0, BLOCK_T)
        mi = offs_i < clen
        ci = tl.load(C_ptr + bc_off + offs_i[:, None] * s_bl + offs_n[None, :], mask=mi[:, None] & mn[None, :],
                     other=0.0)
        doi = tl.load(do_ptr + x_off + offs_i[:, None] * s_xl + offs_p[None, :], mask=mi[:, None] & mp[None, :],
                      other=0.0)
        cum_i = tl.load(cum_ptr + dc + offs_i)
        doxt = _mm(xj, tl.trans(doi), PREC, UPCAST)  # (s, l)
        keep = offs_i[None, :] >= offs_j[:, None]
        if HAS_SEQ:
            seg_i = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_i, mask=mi, other=-2)
            keep &= seg_i[None, :] == seg_j[:, None]
        decay = tl.exp(tl.where(keep, cum_i[None, :] - cum_j[:, None], float("-inf")))
        db += _mm((doxt * decay * dtp_j[:, None]).to(ci.dtype), ci, PREC, UPCAST)
    db_off = b.to(tl.int64) * s_db + start.to(tl.int64) * s_dl + h * s_dh
    tl.store(dB_ptr + db_off + offs_j[:, None] * s_dl + offs_n[None, :], db, mask=mj[:, None] & mn[None, :])


@autotune(key=["P", "N", "Q"])
@triton.jit
def _chunk_bwd_dc_kernel(x_ptr, B_ptr, C_ptr, do_ptr, st_ptr, dtp_ptr, cum_ptr, seg_ptr, dC_ptr, inter_ptr, intra_ptr,
                         L, H, NC, P, N, HPG, s_xb, s_xl, s_xh, s_bb, s_bl, s_bg, s_db, s_dl, s_dh,
                         Q: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr,
                         HAS_SEQ: tl.constexpr, PREC: tl.constexpr, UPCAST: tl.constexpr):
    """grid (batch*chunks*heads, Q // BLOCK_T): for BLOCK_T target positions l (p and n whole):

    dC_l (this head's share) = exp(cum_l) g_l H_c + sum_{s<=l} (g_l . x_s) exp(cum_l - cum_s) dt'_s B_s;
    inter (b, h, c, Q): d cum_l through exp(cum_l) C_l H_c^T;
    intra (b, h, c, Q // BLOCK_T, Q): [l-block, k] sum_{l in block, l >= k} sum_{s<k} E[l, s].
    """
    pid = tl.program_id(0)
    h = pid % H
    c = (pid // H) % NC
    b = pid // (H * NC)
    ib = tl.program_id(1)
    offs_i = ib * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_p = tl.arange(0, BLOCK_P)
    offs_n = tl.arange(0, BLOCK_N)
    start = c * Q
    clen = tl.minimum(Q, L - start)
    mi = offs_i < clen
    mp = offs_p < P
    mn = offs_n < N
    x_off = b.to(tl.int64) * s_xb + start.to(tl.int64) * s_xl + h * s_xh
    bc_off = b.to(tl.int64) * s_bb + start.to(tl.int64) * s_bl + (h // HPG) * s_bg
    dc = ((b * H + h).to(tl.int64) * NC + c) * Q
    ci = tl.load(C_ptr + bc_off + offs_i[:, None] * s_bl + offs_n[None, :], mask=mi[:, None] & mn[None, :], other=0.0)
    doi = tl.load(do_ptr + x_off + offs_i[:, None] * s_xl + offs_p[None, :], mask=mi[:, None] & mp[None, :], other=0.0)
    cum_i = tl.load(cum_ptr + dc + offs_i)
    st = tl.load(st_ptr + ((b * NC + c) * H + h).to(tl.int64) * P * N + offs_p[:, None] * N + offs_n[None, :],
                 mask=mp[:, None] & mn[None, :], other=0.0)
    scale = tl.exp(cum_i)
    if HAS_SEQ:
        seg_i = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_i, mask=mi, other=-1)
        seg_prev = tl.load(seg_ptr + b.to(tl.int64) * L + tl.maximum(start - 1, 0))
        scale = tl.where(seg_i == seg_prev, scale, 0.0)
    dc_acc = _mm(doi, st.to(doi.dtype), PREC, UPCAST) * scale[:, None]
    tl.store(inter_ptr + dc + offs_i, tl.sum(ci.to(tl.float32) * dc_acc, axis=1))
    run = tl.zeros((BLOCK_T,), dtype=tl.float32)  # sum of E[l, s] over the source blocks done so far
    intra = intra_ptr + (dc // Q * (Q // BLOCK_T) + ib) * Q
    for j0 in range(0, (ib + 1) * BLOCK_T, BLOCK_T):
        offs_j = j0 + tl.arange(0, BLOCK_T)
        mj = offs_j < clen
        bj = tl.load(B_ptr + bc_off + offs_j[:, None] * s_bl + offs_n[None, :], mask=mj[:, None] & mn[None, :],
                     other=0.0)
        xj = tl.load(x_ptr + x_off + offs_j[:, None] * s_xl + offs_p[None, :], mask=mj[:, None] & mp[None, :],
                     other=0.0)
        cum_j = tl.load(cum_ptr + dc + offs_j)
        dtp_j = tl.load(dtp_ptr + dc + offs_j)
        cb = _mm(ci, tl.trans(bj), PREC, UPCAST)
        dox = _mm(doi, tl.trans(xj), PREC, UPCAST)
        causal = offs_i[:, None] >= offs_j[None, :]
        keep = causal
        if HAS_SEQ:
            seg_j = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_j, mask=mj, other=-2)
            keep &= seg_i[:, None] == seg_j[None, :]
        decay = tl.exp(tl.where(keep, cum_i[:, None] - cum_j[None, :], float("-inf")))
        dcb = dox * decay * dtp_j[None, :]
        dc_acc += _mm(dcb.to(bj.dtype), bj, PREC, UPCAST)
        e = dcb * cb
        before = run[:, None] + tl.cumsum(e, axis=1) - e  # sum_{s < k} E[l, s]
        tl.store(intra + offs_j, tl.sum(tl.where(causal, before, 0.0), axis=0))
        run += tl.sum(e, axis=1)
    dc_off = b.to(tl.int64) * s_db + start.to(tl.int64) * s_dl + h * s_dh
    tl.store(dC_ptr + dc_off + offs_i[:, None] * s_dl + offs_n[None, :], dc_acc, mask=mi[:, None] & mn[None, :])


@triton.jit
def _ddt_kernel(dt_ptr, bias_ptr, A_ptr, dtp_ptr, ddtp_ptr, dww_ptr, inter_ptr, intra_ptr, ada_ptr,
                ddt_ptr, dA_ptr, dbias_ptr, L, H, NC, NADA, s_db, s_dl, s_dh, dt_min, dt_max,
                Q: tl.constexpr, BLOCK_T: tl.constexpr, NB: tl.constexpr, NADA_P2: tl.constexpr, HAS_BIAS: tl.constexpr,
                SOFTPLUS: tl.constexpr, HAS_LIMIT: tl.constexpr):
    """grid (batch*heads, chunks): d(dt' A) per position, then d dt (b, L, h); dA, d dt_bias partials (b, c, h)."""
    pid = tl.program_id(0)
    b = pid // H
    h = pid % H
    c = tl.program_id(1)
    offs = tl.arange(0, Q)
    dc = (pid.to(tl.int64) * NC + c) * Q
    pos = c * Q + offs
    valid = pos < L
    # d(dt' A)_k = sum_{l>=k} inter_l + sum_{s<k} dww_s + sum_{l>=k>s} E[l,s] + d cum_end
    ddA = tl.cumsum(tl.load(inter_ptr + dc + offs), axis=0, reverse=True)
    dww = tl.load(dww_ptr + dc + offs)
    ddA += tl.cumsum(dww, axis=0) - dww
    for ib in range(0, NB):  # the l-blocks of _chunk_bwd_dc_kernel, each covering k <= its end
        ddA += tl.load(intra_ptr + (dc // Q * NB + ib) * Q + offs, mask=offs // BLOCK_T <= ib, other=0.0)
    bch = (b * NC + c) * H + h
    ada = tl.load(ada_ptr + bch.to(tl.int64) * NADA + tl.arange(0, NADA_P2), mask=tl.arange(0, NADA_P2) < NADA,
                  other=0.0)
    ddA += tl.sum(ada, axis=0)
    a = tl.load(A_ptr + h).to(tl.float32)
    dtp = tl.load(dtp_ptr + dc + offs)
    tl.store(dA_ptr + bch, tl.sum(tl.where(valid, ddA * dtp, 0.0), axis=0))
    g = tl.load(ddtp_ptr + dc + offs) + ddA * a
    # back through clamp, softplus and the bias
    dptr = b.to(tl.int64) * s_db + pos * s_dl + h * s_dh
    v = tl.load(dt_ptr + dptr, mask=valid, other=0.0).to(tl.float32)
    if HAS_BIAS:
        v += tl.load(bias_ptr + h).to(tl.float32)
    if HAS_LIMIT:
        pre = v
        if SOFTPLUS:
            pre = softplus(v)
        g = tl.where((pre >= dt_min) & (pre <= dt_max), g, 0.0)
    if SOFTPLUS:
        g = tl.where(v > 20.0, g, g * tl.sigmoid(v))
    g = tl.where(valid, g, 0.0)
    tl.store(ddt_ptr + dptr, g, mask=valid)
    tl.store(dbias_ptr + bch, tl.sum(g, axis=0))


def ssd_bwd(dy, dfinal, x, dt, A, B, C, chunk_size, D, z, dt_bias, initial_states, seg, dt_softplus, dt_limit,
            states, cum, dtp):
    """Contiguous tensors (``states`` etc. from ``ssd_fwd``) -> dx, ddt, dA, dB, dC, dD, dz, d dt_bias, d initial
    states (None where there is no such input)."""
    bsz, L, H, P = x.shape
    G, N = B.shape[-2:]
    Q = chunk_size
    NC = triton.cdiv(L, Q)
    HPG = H // G
    dev = x.device
    f32 = dict(device=dev, dtype=torch.float32)
    flags = dot_flags(x.dtype)
    seg_arg = seg if seg is not None else cum
    if z is not None:  # recompute y before the gate (not kept by the forward) straight into d(it) and dz
        dout, dz = torch.empty_like(x), torch.empty_like(z)
        chunk_scan(x, B, C, states, dtp, cum, seg, D, z, dout, dy=dy, dz=dz)
    else:
        dout, dz = dy, None
    # d states from the outputs, then the reverse scan over chunks (in place: -> d chunk states)
    dst = torch.empty(bsz, NC, H, P, N, **f32)
    chunk_states(dout, C, dtp, cum, seg, dst, to_end=False)
    PN = P * N
    block = min(1024, triton.next_power_of_2(PN))
    nada = triton.cdiv(PN, block)
    ada = torch.empty(bsz, NC, H, nada, **f32)
    dinit = torch.empty(bsz, H, P, N, **f32)
    _state_passing_bwd_kernel[(bsz * H, nada)](
        states, dst, dfinal if dfinal is not None else dst, dinit, cum, seg_arg, ada, L, H, NC, PN,
        Q=Q, BLOCK=block, HAS_DFINAL=dfinal is not None, HAS_SEQ=seg is not None)
    # per chunk: dx, dB, dC and the pieces of d dt
    bt = seq_block(Q)
    nb = Q // bt
    dx = torch.empty_like(x)
    dB = torch.empty_like(B) if HPG == 1 else torch.empty(bsz, L, H, N, **f32)
    dC = torch.empty_like(C) if HPG == 1 else torch.empty(bsz, L, H, N, **f32)
    ddtp, dww, inter = (torch.empty(bsz, H, NC, Q, **f32) for _ in range(3))
    intra = torch.empty(bsz, H, NC, nb, Q, **f32)
    dD_part = torch.empty(bsz * NC * H, nb, P, **f32) if D is not None else None
    common = (L, H, NC, P, N, HPG, x.stride(0), x.stride(1), x.stride(2), B.stride(0), B.stride(1), B.stride(2),
              dB.stride(0), dB.stride(1), dB.stride(2))
    blocks = dict(Q=Q, BLOCK_T=bt, BLOCK_P=pow2(P), BLOCK_N=pow2(N), HAS_SEQ=seg is not None, **flags)
    grid = (bsz * NC * H, nb)
    _chunk_bwd_dx_kernel[grid](
        x, B, C, dout, dst, dtp, cum, seg_arg, D if D is not None else x, dx, ddtp, dww,
        dD_part if D is not None else ddtp, *common[:12], HAS_D=D is not None, D_PER_P=D is not None and D.dim() == 2,
        **blocks)
    _chunk_bwd_db_kernel[grid](x, C, dout, dst, dtp, cum, seg_arg, dB, *common, **blocks)
    _chunk_bwd_dc_kernel[grid](
        x, B, C, dout, states, dtp, cum, seg_arg, dC, inter, intra, *common, **blocks)
    ddt = torch.empty_like(dt)
    dA_part = torch.empty(bsz, NC, H, **f32)
    dbias_part = torch.empty(bsz, NC, H, **f32)
    _ddt_kernel[(bsz * H, NC)](
        dt, dt_bias if dt_bias is not None else dt, A, dtp, ddtp, dww, inter, intra, ada, ddt, dA_part, dbias_part,
        L, H, NC, nada, *dt.stride(), *finite(dt_limit), Q=Q, BLOCK_T=bt, NB=nb,
        NADA_P2=triton.next_power_of_2(nada), HAS_BIAS=dt_bias is not None, SOFTPLUS=dt_softplus,
        HAS_LIMIT=has_limit(dt_limit))
    if HPG > 1:
        dB = dB.view(bsz, L, G, HPG, N).sum(3).to(B.dtype)
        dC = dC.view(bsz, L, G, HPG, N).sum(3).to(C.dtype)
    dA = dA_part.sum((0, 1)).to(A.dtype)
    dbias = dbias_part.sum((0, 1)).to(dt_bias.dtype) if dt_bias is not None else None
    dD = None
    if D is not None:
        dD = dD_part.view(bsz * NC, H, nb, P).sum((0, 2))
        dD = (dD if D.dim() == 2 else dD.sum(-1)).to(D.dtype)
    dinit = dinit.to(initial_states.dtype) if initial_states is not None else None
    return dx, ddt, dA, dB, dC, dD, dz, dbias, dinit

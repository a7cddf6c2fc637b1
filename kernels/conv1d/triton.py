"""Triton causal depthwise conv1d (forward, backward) and its single-step update.

Layout: x (batch, d, L) with L contiguous. Every program owns a (BLOCK_D channels, BLOCK_L
positions) tile of one batch row and reads the W shifted copies of its input tile (the
shift reaches into ``initial_states`` before t=0), so tiles need no communication.
Packed batches (``seq_idx``): the tap reading position t-s for output t is kept only when
seq_idx is constant over [t-s, t]; positions before t=0 count as the first sequence.

The backward recomputes the pre-activation (for SiLU) instead of storing it, and is indexed
by source position s: dx_s = sum_j w[W-1-j] * g_{s+j}, dw[W-1-j] = sum_s x_s * g_{s+j}, with
g = dout * act'(pre). It reads x and dout once, as 16-byte chunks split into lanes in registers
(see ``_lanes``), and loops each program over several tiles of L, so that dweight/dbias are
accumulated elementwise and reduced once per program into float32 partials summed by the launcher.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

__all__ = ["causal_conv1d_triton", "causal_conv1d_update_triton"]

Tensor = torch.Tensor

# Tiles of about TILE elements, 8 per thread (one 16-byte vector of bf16 along L, the contiguous axis);
# BLOCK_L is the upper bound along L (clipped to the problem), the channel block fills up the tile.
TILE, BLOCK_L_FWD, BLOCK_L_BWD, WARPS = 1024, 256, 256, 4
BWD_PROGRAMS = 4096  # the backward splits L over more programs (each looping over tiles) up to about this many
BLOCK_D_UPD, WARPS_UPD = 64, 2  # decode: latency-bound, many small programs
MAX_WIDTH = 4  # state columns are padded to this many lanes

_POISON = False  # tests set this: fresh outputs start as NaN so an unwritten element shows


def _empty(shape, dtype, device) -> Tensor:
    if _POISON and dtype.is_floating_point:
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def _pow2(n: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, triton.next_power_of_2(max(n, 1))))


# ----------------------------------------------------------------------------------------- device helpers
# Pointers named *_blk point at the first channel of the program's block (64-bit offset taken once);
# offsets inside the block (rows * L + pos) are 32-bit.


@triton.jit
def _x_at(x_blk, init_blk, rows, mask_d, pos, L, W: tl.constexpr, HAS_INIT: tl.constexpr):
    """x at positions pos (n,) for the block's rows (BD,): (BD, n) float32; the initial state
    for -(W-1) <= pos < 0, zero elsewhere outside [0, L)."""
    in_x = (pos >= 0) & (pos < L)
    v = tl.load(x_blk + rows[:, None] * L + pos[None, :], mask=mask_d[:, None] & in_x[None, :], other=0.0)
    v = v.to(tl.float32)
    if HAS_INIT:
        in_s = (pos < 0) & (pos >= 1 - W)
        s = tl.load(init_blk + rows[:, None] * (W - 1) + (pos + W - 1)[None, :],
                    mask=mask_d[:, None] & in_s[None, :], other=0.0)
        v += s.to(tl.float32)
    return v


@triton.jit
def _seq_at(seq_row, pos, L):
    """seq_idx at positions pos (n,), clamped into [0, L): positions before 0 read seq_idx[0]."""
    p = tl.minimum(tl.maximum(pos, 0), L - 1)
    return tl.load(seq_row + p, mask=(p >= 0) & (p < L), other=0)


@triton.jit
def _w_col(w_blk, rows, mask_d, k, W: tl.constexpr):
    """weight[:, k] for the block's rows: (BD,) float32."""
    return tl.load(w_blk + rows * W + k, mask=mask_d, other=0.0).to(tl.float32)


@triton.jit
def _preact(x_blk, init_blk, seq_row, w_blk, b_blk, rows, mask_d, pos, L,
            W: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_INIT: tl.constexpr, HAS_SEQ: tl.constexpr):
    """bias + sum_s w[W-1-s] x_{pos-s} at output positions pos (n,): (BD, n) float32."""
    acc = tl.zeros((rows.shape[0], pos.shape[0]), dtype=tl.float32)
    if HAS_BIAS:
        acc += tl.load(b_blk + rows, mask=mask_d, other=0.0).to(tl.float32)[:, None]
    if HAS_SEQ:
        s_prev = _seq_at(seq_row, pos, L)
        keep = pos == pos
    for s in tl.static_range(W):
        xv = _x_at(x_blk, init_blk, rows, mask_d, pos - s, L, W, HAS_INIT)
        if HAS_SEQ:
            if s > 0:  # keep the tap only if seq_idx is constant over [pos - s, pos]
                s_cur = _seq_at(seq_row, pos - s, L)
                keep = keep & (s_cur == s_prev)
                s_prev = s_cur
                xv = tl.where(keep[None, :], xv, 0.0)
        acc += _w_col(w_blk, rows, mask_d, W - 1 - s, W)[:, None] * xv
    return acc


@triton.jit
def _final_keep(seq_row, pos, L, W: tl.constexpr, HAS_SEQ: tl.constexpr):
    """(n,) bool: pos is one of the last W-1 positions and lies in the row's last sequence."""
    keep = (pos >= L - (W - 1)) & (pos < L)
    if HAS_SEQ:
        for i in tl.static_range(1, W - 1):  # a change at r = L-i (r >= 1) cuts off the positions < r
            r = pos * 0 + (L - i)
            same = _seq_at(seq_row, r, L) == _seq_at(seq_row, r - 1, L)  # true for r <= 0 (both read seq_idx[0])
            keep = keep & (same | (pos >= r))
    return keep


# Backward helpers. The backward works on chunks of CH consecutive positions (16 bytes: 8 for 16-bit
# dtypes, 4 for float32), one vector load per thread and chunk: a (BD, BC, CH) tile is loaded once and
# split into its CH lanes, (BD, BC) tensors holding the lane's position of every chunk. A shift by s
# positions is then a choice of lane (from the neighbouring chunk for the first / last s lanes), in
# registers: no shifted (unaligned, scalar) loads and no data exchange between threads.


@triton.jit
def _lanes(v, CH: tl.constexpr):
    """(R, C, CH) -> the tuple of its CH lanes (R, C), lane k = v[:, :, k] (CH = 4 or 8; one thread's values)."""
    if CH == 8:
        a = tl.reshape(v, (v.shape[0], v.shape[1], 2, 2, 2))  # lane k = 4*b2 + 2*b1 + b0
        e, o = tl.split(a)  # b0
        e0, e1 = tl.split(e)  # b1
        o0, o1 = tl.split(o)
        l0, l4 = tl.split(e0)  # b2
        l2, l6 = tl.split(e1)
        l1, l5 = tl.split(o0)
        l3, l7 = tl.split(o1)
        t = (l0, l1, l2, l3, l4, l5, l6, l7)
    else:
        a = tl.reshape(v, (v.shape[0], v.shape[1], 2, 2))  # lane k = 2*b1 + b0
        e, o = tl.split(a)
        l0, l2 = tl.split(e)
        l1, l3 = tl.split(o)
        t = (l0, l1, l2, l3)
    return t


@triton.jit
def _join(t, CH: tl.constexpr):
    """The inverse of ``_lanes``: a tuple of CH lanes (R, C) -> (R, C, CH)."""
    if CH == 8:
        r0 = tl.join(tl.join(t[0], t[4]), tl.join(t[2], t[6]))  # b0 = 0: (R, C, 2 [b2], 2 [b1])
        r1 = tl.join(tl.join(t[1], t[5]), tl.join(t[3], t[7]))
    else:
        r0 = tl.join(t[0], t[2])
        r1 = tl.join(t[1], t[3])
    return tl.reshape(tl.join(r0, r1), (t[0].shape[0], t[0].shape[1], CH))


@triton.jit
def _ext(prev, cur, nxt, e: tl.constexpr, CH: tl.constexpr):
    """Lane e (-CH <= e < 2 CH) of the chunk extended by its neighbours: prev[e + CH], cur[e] or nxt[e - CH]."""
    if e < 0:
        v = prev[e + CH]
    elif e < CH:
        v = cur[e]
    else:
        v = nxt[e - CH]
    return v


@triton.jit
def _x3(x_blk, init_blk, rows3, md3, pos, L, W: tl.constexpr, HAS_INIT: tl.constexpr, near0):
    """x at positions pos (1, BC, CH) as float32 (BD, BC, CH); the initial state for -(W-1) <= pos < 0,
    read only when near0 (a tile at the start of the row)."""
    v = tl.load(x_blk + rows3 * L + pos, mask=md3 & (pos >= 0) & (pos < L), other=0.0).to(tl.float32)
    if HAS_INIT:
        if near0:
            s = tl.load(init_blk + rows3 * (W - 1) + (pos + W - 1), mask=md3 & (pos < 0) & (pos >= 1 - W), other=0.0)
            v += s.to(tl.float32)
    return v


@triton.jit
def _same(sp, sc, sn, p0, e: tl.constexpr, CH: tl.constexpr):
    """No sequence starts at lane e of the extended chunk: seq_idx there equals seq_idx one position
    before, or the position is <= 0 (positions before 0 belong to the first sequence). p0: lane 0's position."""
    return (_ext(sp, sc, sn, e, CH) == _ext(sp, sc, sn, e - 1, CH)) | (p0 + e < 1)


# ----------------------------------------------------------------------------------------- kernels


@triton.jit
def _conv1d_fwd_kernel(x_ptr, w_ptr, b_ptr, init_ptr, seq_ptr, out_ptr, final_ptr, d, L,
                       W: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_INIT: tl.constexpr, HAS_SEQ: tl.constexpr,
                       SILU: tl.constexpr, RETURN_FINAL: tl.constexpr, WP: tl.constexpr,
                       BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """Grid (cdiv(L, BLOCK_L), cdiv(d, BLOCK_D), batch). x, out (batch, d, L); weight (d, W);
    init, final (batch, d, W-1); seq (batch, L) int32; all contiguous."""
    pid_l = tl.program_id(0)
    pid_d = tl.program_id(1)
    pid_b = tl.program_id(2)
    d0 = pid_d * BLOCK_D
    rows = tl.arange(0, BLOCK_D)
    mask_d = d0 + rows < d
    blk = pid_b.to(tl.int64) * d + d0  # first (batch, channel) row of the block
    x_blk = x_ptr + blk * L
    init_blk = init_ptr + blk * (W - 1)
    seq_row = seq_ptr + pid_b.to(tl.int64) * L
    pos = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)

    acc = _preact(x_blk, init_blk, seq_row, w_ptr + d0 * W, b_ptr + d0, rows, mask_d, pos, L,
                  W, HAS_BIAS, HAS_INIT, HAS_SEQ)
    if SILU:
        acc = acc * tl.sigmoid(acc)
    tl.store(out_ptr + blk * L + rows[:, None] * L + pos[None, :], acc.to(out_ptr.dtype.element_ty),
             mask=mask_d[:, None] & (pos < L)[None, :])

    if RETURN_FINAL:
        if pid_l == 0:
            j = tl.arange(0, WP)
            fpos = L - (W - 1) + j
            keep = _final_keep(seq_row, fpos, L, W, HAS_SEQ) & (j < W - 1)
            v = _x_at(x_blk, init_blk, rows, mask_d, fpos, L, W, HAS_INIT)
            v = tl.where(keep[None, :], v, 0.0)
            tl.store(final_ptr + blk * (W - 1) + rows[:, None] * (W - 1) + j[None, :],
                     v.to(final_ptr.dtype.element_ty), mask=mask_d[:, None] & (j < W - 1)[None, :])


@triton.jit
def _conv1d_bwd_kernel(x_ptr, w_ptr, b_ptr, init_ptr, seq_ptr, dout_ptr, dfinal_ptr,
                       dx_ptr, dinit_ptr, dw_part_ptr, db_part_ptr, d, L, n_tiles, tiles_per_prog,
                       W: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_INIT: tl.constexpr, HAS_SEQ: tl.constexpr,
                       HAS_DFINAL: tl.constexpr, SILU: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_C: tl.constexpr,
                       CH: tl.constexpr):
    """Grid (cdiv(d, BLOCK_D), batch, n_split). A program owns BLOCK_D channels of one batch row and the
    tiles [pid_s * tiles_per_prog, ...) of BLOCK_C chunks of CH positions, plus tile -1 (the initial
    state's positions as sources) for pid_s = 0. For a source position s: g_t = dout_t act'(pre_t) at
    the W outputs t = s + j that read it, dx_s = sum_j w[W-1-j] g_{s+j}, dw[W-1-j] += x_s g_{s+j}; g at
    the W-1 positions after the chunk is recomputed from the next chunk. dweight/dbias accumulate
    elementwise in float32 across the tiles and are reduced once at the end, to one row per program of
    the partials (batch * n_split, d, W) and (batch * n_split, d)."""
    pid_d = tl.program_id(0)
    pid_b = tl.program_id(1)
    pid_s = tl.program_id(2)
    d0 = pid_d * BLOCK_D
    rows = tl.arange(0, BLOCK_D)
    mask_d = d0 + rows < d
    rows3 = rows[:, None, None]
    md3 = mask_d[:, None, None]
    chunk3 = tl.arange(0, BLOCK_C)[None, :, None]
    lane3 = tl.arange(0, CH)[None, None, :]
    blk = pid_b.to(tl.int64) * d + d0
    x_blk = x_ptr + blk * L
    dout_blk = dout_ptr + blk * L
    dx_blk = dx_ptr + blk * L
    init_blk = init_ptr + blk * (W - 1)
    dfinal_blk = dfinal_ptr + blk * (W - 1)
    seq_row = seq_ptr + pid_b.to(tl.int64) * L

    # weight columns and bias as (BD, 1) in the lanes' layout (read once)
    wz = tl.zeros((BLOCK_D, 1, CH), dtype=tl.float32)
    w_at = w_ptr + (d0 + rows3) * W + lane3 * 0
    w0 = _lanes(wz + tl.load(w_at, mask=md3, other=0.0).to(tl.float32), CH)[0]
    w1 = _lanes(wz + tl.load(w_at + 1, mask=md3, other=0.0).to(tl.float32), CH)[0]
    w2 = w1
    w3 = w1
    if W > 2:
        w2 = _lanes(wz + tl.load(w_at + 2, mask=md3, other=0.0).to(tl.float32), CH)[0]
    if W > 3:
        w3 = _lanes(wz + tl.load(w_at + 3, mask=md3, other=0.0).to(tl.float32), CH)[0]
    wt = (w0, w1, w2, w3)
    bias = tl.zeros_like(w0)
    if HAS_BIAS:
        bias = _lanes(wz + tl.load(b_ptr + d0 + rows3 + lane3 * 0, mask=md3, other=0.0).to(tl.float32), CH)[0]

    zero = tl.zeros((BLOCK_D, BLOCK_C), dtype=tl.float32)
    dw0 = zero  # dw_j = sum_s x_s g_{s+j}: weight column W-1-j
    dw1 = zero
    dw2 = zero
    dw3 = zero
    db = zero
    t_lo = pid_s * tiles_per_prog
    t_hi = tl.minimum(t_lo + tiles_per_prog, n_tiles)
    if HAS_INIT:
        t_lo -= (pid_s == 0).to(tl.int32)
    for t in range(t_lo, t_hi):
        pos = (t * BLOCK_C + chunk3) * CH + lane3  # (1, BC, CH), CH-aligned
        near0 = t <= 0
        xp = _lanes(_x3(x_blk, init_blk, rows3, md3, pos - CH, L, W, HAS_INIT, near0), CH)
        xc = _lanes(_x3(x_blk, init_blk, rows3, md3, pos, L, W, HAS_INIT, near0), CH)
        xn = _lanes(_x3(x_blk, init_blk, rows3, md3, pos + CH, L, W, HAS_INIT, near0), CH)
        in_c = md3 & (pos >= 0) & (pos < L)
        dc = _lanes(tl.load(dout_blk + rows3 * L + pos, mask=in_c, other=0.0).to(tl.float32), CH)
        dn = _lanes(tl.load(dout_blk + rows3 * L + pos + CH, mask=md3 & (pos + CH >= 0) & (pos + CH < L),
                            other=0.0).to(tl.float32), CH)
        if HAS_SEQ:  # read per channel: the same shape as x, hence the same layout; past L it is never needed
            p0 = _lanes(pos, CH)[0]
            s_at = seq_row + pos + rows3 * 0
            sp = _lanes(tl.load(s_at - CH, mask=(pos - CH >= 0) & (pos - CH < L), other=0), CH)
            sc = _lanes(tl.load(s_at, mask=(pos >= 0) & (pos < L), other=0), CH)
            sn = _lanes(tl.load(s_at + CH, mask=(pos + CH >= 0) & (pos + CH < L), other=0), CH)

        # g at the lanes 0 .. CH+W-2 of the extended chunk (the last W-1 in the next chunk)
        g = ()
        for e in tl.static_range(CH + W - 1):
            gv = _ext(dc, dc, dn, e, CH)
            if SILU:  # pre_e = bias + sum_i w[W-1-i] x_{e-i}, a tap kept while no sequence starts in (e-i, e]
                pre = bias
                for i in tl.static_range(W):
                    xv = _ext(xp, xc, xn, e - i, CH)
                    if HAS_SEQ:
                        if i == 1:
                            keep = _same(sp, sc, sn, p0, e, CH)
                        elif i > 1:
                            keep = keep & _same(sp, sc, sn, p0, e - i + 1, CH)
                        if i > 0:
                            xv = tl.where(keep, xv, 0.0)
                    pre = pre + wt[W - 1 - i] * xv
                sig = tl.sigmoid(pre)
                gv = gv * sig * (1.0 + pre * (1.0 - sig))
            g = g + (gv,)
        if HAS_BIAS:
            for k in tl.static_range(CH):
                db += g[k]

        # dx_k = sum_j w[W-1-j] g_{k+j}, dw_j += x_k g_{k+j}: taps kept while no sequence starts in (k, k+j]
        dx = ()
        for k in tl.static_range(CH):
            acc = wt[W - 1] * g[k]
            dw0 += xc[k] * g[k]
            for j in tl.static_range(1, W):
                gv = g[k + j]
                if HAS_SEQ:
                    if j == 1:
                        m = _same(sp, sc, sn, p0, k + 1, CH)
                    else:
                        m = m & _same(sp, sc, sn, p0, k + j, CH)
                    gv = tl.where(m, gv, 0.0)
                acc += wt[W - 1 - j] * gv
                if j == 1:
                    dw1 += xc[k] * gv
                elif j == 2:
                    dw2 += xc[k] * gv
                else:
                    dw3 += xc[k] * gv
            dx = dx + (acc,)
        dx3 = _join(dx, CH)
        if HAS_DFINAL:
            if (t + 1) * BLOCK_C * CH > L - (W - 1):  # the tile holds some of the last W-1 positions
                fkeep = _final_keep(seq_row, pos, L, W, HAS_SEQ)
                v = tl.load(dfinal_blk + rows3 * (W - 1) + (pos - (L - (W - 1))), mask=md3 & fkeep, other=0.0)
                dx3 += v.to(tl.float32)
        tl.store(dx_blk + rows3 * L + pos, dx3.to(dx_ptr.dtype.element_ty), mask=in_c)
        if HAS_INIT:
            if t < 0:
                tl.store(dinit_ptr + blk * (W - 1) + rows3 * (W - 1) + (pos + W - 1),
                         dx3.to(dinit_ptr.dtype.element_ty), mask=md3 & (pos < 0) & (pos >= 1 - W))

    part = (pid_b * tl.num_programs(2) + pid_s).to(tl.int64) * d + d0 + rows
    tl.store(dw_part_ptr + part * W + (W - 1), tl.sum(dw0, axis=1), mask=mask_d)
    tl.store(dw_part_ptr + part * W + (W - 2), tl.sum(dw1, axis=1), mask=mask_d)
    if W > 2:
        tl.store(dw_part_ptr + part * W + (W - 3), tl.sum(dw2, axis=1), mask=mask_d)
    if W > 3:
        tl.store(dw_part_ptr + part * W, tl.sum(dw3, axis=1), mask=mask_d)
    if HAS_BIAS:
        tl.store(db_part_ptr + part, tl.sum(db, axis=1), mask=mask_d)


@triton.jit
def _conv1d_update_kernel(x_ptr, state_ptr, w_ptr, b_ptr, out_ptr, d, sx_b, sx_d, ss_b, ss_d, ss_w,
                          W: tl.constexpr, HAS_BIAS: tl.constexpr, SILU: tl.constexpr, WP: tl.constexpr,
                          BLOCK_D: tl.constexpr):
    """Grid (cdiv(d, BLOCK_D), batch). x (batch, d) and state (batch, d, W) strided; weight (d, W),
    out (batch, d) contiguous. The state is shifted left by one, x appended, in place."""
    pid_d = tl.program_id(0)
    pid_b = tl.program_id(1).to(tl.int64)
    chan = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
    mask_d = chan < d
    chan64 = chan.to(tl.int64)
    cols = tl.arange(0, WP)
    st = state_ptr + pid_b * ss_b + chan64[:, None] * ss_d + cols[None, :] * ss_w
    shifted = tl.load(st + ss_w, mask=mask_d[:, None] & (cols < W - 1)[None, :], other=0.0)
    xv = tl.load(x_ptr + pid_b * sx_b + chan64 * sx_d, mask=mask_d, other=0.0).to(state_ptr.dtype.element_ty)
    new = tl.where((cols == W - 1)[None, :], xv[:, None], shifted)
    w = tl.load(w_ptr + chan64[:, None] * W + cols[None, :], mask=mask_d[:, None] & (cols < W)[None, :], other=0.0)
    acc = tl.sum(new.to(tl.float32) * w.to(tl.float32), axis=1)
    if HAS_BIAS:
        acc += tl.load(b_ptr + chan64, mask=mask_d, other=0.0).to(tl.float32)
    if SILU:
        acc = acc * tl.sigmoid(acc)
    tl.debug_barrier()  # every lane has read the old state before any lane overwrites it
    tl.store(st, new, mask=mask_d[:, None] & (cols < W)[None, :])
    tl.store(out_ptr + pid_b * d + chan64, acc.to(out_ptr.dtype.element_ty), mask=mask_d)


# ----------------------------------------------------------------------------------------- launchers, custom ops


def _silu(activation: str | None) -> bool:
    if activation in (None, "identity"):
        return False
    if activation in ("silu", "swish"):
        return True
    raise ValueError(f"causal_conv1d: unknown activation {activation!r} (use None or 'silu')")


def _check(x: Tensor, weight: Tensor, bias: Tensor | None, initial_states: Tensor | None, seq_idx: Tensor | None):
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(f"causal_conv1d: x (batch, d, L) and weight (d, W) expected, got {tuple(x.shape)} and "
                         f"{tuple(weight.shape)}")
    b, d, L = x.shape
    W = weight.shape[1]
    if not 2 <= W <= MAX_WIDTH:
        raise ValueError(f"causal_conv1d (Triton): kernel width W={W} is not supported (2 <= W <= {MAX_WIDTH})")
    if bias is not None and tuple(bias.shape) != (d,):
        raise ValueError(f"causal_conv1d: bias must be ({d},), got {tuple(bias.shape)}")
    if initial_states is not None and tuple(initial_states.shape) != (b, d, W - 1):
        raise ValueError(f"causal_conv1d: initial_states must be {(b, d, W - 1)}, got {tuple(initial_states.shape)}")
    if seq_idx is not None and tuple(seq_idx.shape) != (b, L):
        raise ValueError(f"causal_conv1d: seq_idx must be {(b, L)}, got {tuple(seq_idx.shape)}")


def _blocks(d: int, L: int, block_l: int) -> tuple[int, int]:
    """(BLOCK_D, BLOCK_L) for a (d, L) problem."""
    BL = _pow2(L, 16, block_l)
    return _pow2(d, 2, max(2, TILE // BL)), BL


def _bwd_blocks(d: int, L: int, itemsize: int) -> tuple[int, int, int]:
    """(BLOCK_D, BLOCK_C, CH) of the backward: chunks of CH positions (16 bytes, at least 4 positions),
    tiles of about TILE elements and at most BLOCK_L_BWD positions."""
    CH = max(4, min(8, 16 // itemsize))
    BC = _pow2(triton.cdiv(L, CH), 1, max(BLOCK_L_BWD // CH, 1))
    return _pow2(d, 1, max(TILE // (CH * BC), 1)), BC, CH


def _contig(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.contiguous()


@torch.library.custom_op("ssmkit::causal_conv1d_fwd", mutates_args=())
def _conv1d_fwd(x: Tensor, weight: Tensor, bias: Tensor | None, initial_states: Tensor | None,
                seq_idx: Tensor | None, silu: bool, return_final_states: bool) -> tuple[Tensor, Tensor]:
    """out (batch, d, L) and the final state (batch, d, W-1), or an empty tensor when not asked."""
    x, weight, bias, initial_states = x.contiguous(), weight.contiguous(), _contig(bias), _contig(initial_states)
    seq = None if seq_idx is None else seq_idx.to(torch.int32).contiguous()
    b, d, L = x.shape
    W = weight.shape[1]
    out = _empty((b, d, L), x.dtype, x.device)
    final = _empty((b, d, W - 1), x.dtype, x.device) if return_final_states else x.new_empty((0,))
    if b * d == 0:
        return out, final
    BD, BL = _blocks(d, L, BLOCK_L_FWD)
    grid = (max(triton.cdiv(L, BL), 1), triton.cdiv(d, BD), b)
    _conv1d_fwd_kernel[grid](
        x, weight, x if bias is None else bias, x if initial_states is None else initial_states,
        x if seq is None else seq, out, final if return_final_states else out, d, L,
        W=W, HAS_BIAS=bias is not None, HAS_INIT=initial_states is not None, HAS_SEQ=seq is not None,
        SILU=silu, RETURN_FINAL=return_final_states, WP=MAX_WIDTH, BLOCK_D=BD, BLOCK_L=BL, num_warps=WARPS)
    return out, final


@_conv1d_fwd.register_fake
def _(x, weight, bias, initial_states, seq_idx, silu, return_final_states):
    b, d, L = x.shape
    final = x.new_empty((b, d, weight.shape[1] - 1)) if return_final_states else x.new_empty((0,))
    return x.new_empty((b, d, L)), final


@torch.library.custom_op("ssmkit::causal_conv1d_bwd", mutates_args=())
def _conv1d_bwd(x: Tensor, weight: Tensor, bias: Tensor | None, initial_states: Tensor | None,
                seq_idx: Tensor | None, dout: Tensor, dfinal: Tensor | None,
                silu: bool) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """dx (batch, d, L), dweight (d, W), dbias (d,), dinitial_states (batch, d, W-1); the last
    two are empty tensors when bias / initial_states are None. dfinal: grad of the final state."""
    x, weight, bias, initial_states = x.contiguous(), weight.contiguous(), _contig(bias), _contig(initial_states)
    dout, dfinal = dout.contiguous(), _contig(dfinal)
    seq = None if seq_idx is None else seq_idx.to(torch.int32).contiguous()
    b, d, L = x.shape
    W = weight.shape[1]
    BD, BC, CH = _bwd_blocks(d, L, x.element_size())
    n_tiles = max(triton.cdiv(L, CH * BC), 1)
    n_split = min(n_tiles, max(1, triton.cdiv(BWD_PROGRAMS, triton.cdiv(d, BD) * b)))
    per_prog = triton.cdiv(n_tiles, n_split)
    n_split = triton.cdiv(n_tiles, per_prog)
    dx = _empty((b, d, L), x.dtype, x.device)
    dinit = _empty((b, d, W - 1), initial_states.dtype, x.device) if initial_states is not None else x.new_empty((0,))
    dw_part = torch.empty((b * n_split, d, W), dtype=torch.float32, device=x.device)
    db_part = torch.empty((b * n_split, d), dtype=torch.float32, device=x.device) if bias is not None else None
    if b * d > 0:
        _conv1d_bwd_kernel[(triton.cdiv(d, BD), b, n_split)](
            x, weight, x if bias is None else bias, x if initial_states is None else initial_states,
            x if seq is None else seq, dout, x if dfinal is None else dfinal, dx,
            dx if initial_states is None else dinit, dw_part, dw_part if db_part is None else db_part,
            d, L, n_tiles, per_prog,
            W=W, HAS_BIAS=bias is not None, HAS_INIT=initial_states is not None, HAS_SEQ=seq is not None,
            HAS_DFINAL=dfinal is not None, SILU=silu, BLOCK_D=BD, BLOCK_C=BC, CH=CH,
            num_warps=max(1, min(WARPS, BD * BC // 32)))  # a whole chunk per thread
    dweight = dw_part.sum(0).to(weight.dtype)
    dbias = db_part.sum(0).to(bias.dtype) if bias is not None else x.new_empty((0,))
    return dx, dweight, dbias, dinit


@_conv1d_bwd.register_fake
def _(x, weight, bias, initial_states, seq_idx, dout, dfinal, silu):
    dinit = initial_states.new_empty(initial_states.shape) if initial_states is not None else x.new_empty((0,))
    dbias = bias.new_empty(bias.shape) if bias is not None else x.new_empty((0,))
    return x.new_empty(x.shape), weight.new_empty(weight.shape), dbias, dinit


def _fwd_setup(ctx, inputs, output):
    x, weight, bias, initial_states, seq_idx, silu, return_final_states = inputs
    ctx.save_for_backward(x, weight, bias, initial_states, seq_idx)
    ctx.silu, ctx.return_final_states = silu, return_final_states


def _fwd_backward(ctx, dout, dfinal):
    x, weight, bias, initial_states, seq_idx = ctx.saved_tensors
    if dout is None:
        dout = torch.zeros_like(x)
    if not ctx.return_final_states:
        dfinal = None
    dx, dweight, dbias, dinit = _conv1d_bwd(x, weight, bias, initial_states, seq_idx, dout, dfinal, ctx.silu)
    return (dx, dweight, dbias if bias is not None else None, dinit if initial_states is not None else None,
            None, None, None)


_conv1d_fwd.register_autograd(_fwd_backward, setup_context=_fwd_setup)


@torch.library.custom_op("ssmkit::causal_conv1d_update", mutates_args=("conv_state",))
def _conv1d_update(x: Tensor, conv_state: Tensor, weight: Tensor, bias: Tensor | None, silu: bool) -> Tensor:
    """out (batch, d); conv_state (batch, d, W) shifted left and x appended, in place."""
    weight, bias = weight.contiguous(), _contig(bias)
    b, d = x.shape
    W = weight.shape[1]
    out = _empty((b, d), x.dtype, x.device)
    if b * d == 0:
        return out
    BD = _pow2(d, 4, BLOCK_D_UPD)
    _conv1d_update_kernel[(triton.cdiv(d, BD), b)](
        x, conv_state, weight, x if bias is None else bias, out, d, x.stride(0), x.stride(1),
        conv_state.stride(0), conv_state.stride(1), conv_state.stride(2),
        W=W, HAS_BIAS=bias is not None, SILU=silu, WP=MAX_WIDTH, BLOCK_D=BD, num_warps=WARPS_UPD)
    return out


@_conv1d_update.register_fake
def _(x, conv_state, weight, bias, silu):
    return x.new_empty(x.shape)


# ----------------------------------------------------------------------------------------- public API


def causal_conv1d_triton(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    activation: str | None = None,
    initial_states: Tensor | None = None,
    return_final_states: bool = False,
    seq_idx: Tensor | None = None,
):
    """Triton ``causal_conv1d_ref``. x (batch, d, L); weight (d, W), 2 <= W <= 4; bias (d,);
    initial_states (batch, d, W-1); seq_idx (batch, L) int32. Returns out (batch, d, L) and,
    when asked, the final state (batch, d, W-1) in x's dtype."""
    silu = _silu(activation)
    _check(x, weight, bias, initial_states, seq_idx)
    out, final = _conv1d_fwd(x, weight, bias, initial_states, seq_idx, silu, bool(return_final_states))
    return (out, final) if return_final_states else out


def causal_conv1d_update_triton(
    x: Tensor,
    conv_state: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    activation: str | None = None,
) -> Tensor:
    """Triton ``causal_conv1d_update_ref``. x (batch, d); conv_state (batch, d, W), updated in
    place; weight (d, W); bias (d,). Returns out (batch, d) in x's dtype."""
    silu = _silu(activation)
    if x.dim() != 2 or conv_state.dim() != 3 or tuple(conv_state.shape) != (*x.shape, weight.shape[-1]):
        raise ValueError(f"causal_conv1d_update: x (batch, d), conv_state (batch, d, W), weight (d, W) expected, got "
                         f"{tuple(x.shape)}, {tuple(conv_state.shape)}, {tuple(weight.shape)}")
    if not 2 <= weight.shape[1] <= MAX_WIDTH:
        raise ValueError(f"causal_conv1d_update (Triton): kernel width W={weight.shape[1]} is not supported")
    return _conv1d_update(x, conv_state, weight, bias, silu)

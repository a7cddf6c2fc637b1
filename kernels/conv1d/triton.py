"""Triton causal depthwise conv1d (forward, backward) and its single-step update.

Layout: x (batch, d, L) with L contiguous. Every program owns a (BLOCK_D channels, BLOCK_L
positions) tile of one batch row and reads the W shifted copies of its input tile (the
shift reaches into ``initial_states`` before t=0), so tiles need no communication.
Packed batches (``seq_idx``): the tap reading position t-s for output t is kept only when
seq_idx is constant over [t-s, t]; positions before t=0 count as the first sequence.

The backward recomputes the pre-activation (for SiLU) instead of storing it, and is indexed
by source position s: dx_s = sum_j w[W-1-j] * g_{s+j}, dw[W-1-j] = sum_s x_s * g_{s+j}, with
g = dout * act'(pre). dweight/dbias are per-program float32 partials summed by the launcher.
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


@triton.jit
def _grad_tile(x_blk, init_blk, seq_row, dout_blk, w_blk, b_blk, rows, mask_d, src, L,
               W: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_INIT: tl.constexpr, HAS_SEQ: tl.constexpr,
               SILU: tl.constexpr, WP: tl.constexpr):
    """Gradients through the outputs t = src + j (j < W) that read the source positions src (n,).

    Returns d(source) (BD, n), the dweight partial (BD, WP) (column W-1-j: sum_src x_src g_{src+j})
    and the dbias partial (BD,) (sum of g over the outputs at src), all float32. Each shifted x
    tile is loaded once: offsets -(W-1)..W-1 feed the W recomputed pre-activations p_j at src + j."""
    p0 = tl.zeros((rows.shape[0], src.shape[0]), dtype=tl.float32)
    if HAS_BIAS:
        p0 += tl.load(b_blk + rows, mask=mask_d, other=0.0).to(tl.float32)[:, None]
    p1 = p0
    p2 = p0
    p3 = p0
    k0 = src == src  # k_j: seq_idx constant from the current offset up to src + j
    k1 = k0
    k2 = k0
    k3 = k0
    m0 = k0  # m_j: seq_idx constant over [src, src + j] (the k_j of offset 0)
    m1 = k0
    m2 = k0
    m3 = k0
    xs = tl.zeros((rows.shape[0], src.shape[0]), dtype=tl.float32)
    s_prev = src  # seq_idx one position to the right; its first value (offset W) restricts no tap
    for i in tl.static_range(2 * W - 1):
        off = W - 1 - i  # W-1 down to -(W-1)
        if HAS_SEQ:
            s_cur = _seq_at(seq_row, src + off, L)
            same = s_cur == s_prev  # no restart at src + off + 1: needed by the taps (j, off) with j > off
            if off < 0:
                k0 = k0 & same
            if off < 1:
                k1 = k1 & same
            if off < 2:
                k2 = k2 & same
            if off < 3:
                k3 = k3 & same
            s_prev = s_cur
        if off == 0:
            xv = _x_at(x_blk, init_blk, rows, mask_d, src, L, W, HAS_INIT)
            xs = xv
            m0, m1, m2, m3 = k0, k1, k2, k3
        elif SILU:
            xv = _x_at(x_blk, init_blk, rows, mask_d, src + off, L, W, HAS_INIT)
        if SILU:
            for j in tl.static_range(W):
                if j - off >= 0:
                    if j - off < W:  # p_j += w[W-1-s] x_{src+j-s} with s = j - off
                        tap = _w_col(w_blk, rows, mask_d, W - 1 - (j - off), W)[:, None] * xv
                        if j == 0:
                            if HAS_SEQ:
                                tap = tl.where(k0[None, :], tap, 0.0)
                            p0 += tap
                        elif j == 1:
                            if HAS_SEQ:
                                tap = tl.where(k1[None, :], tap, 0.0)
                            p1 += tap
                        elif j == 2:
                            if HAS_SEQ:
                                tap = tl.where(k2[None, :], tap, 0.0)
                            p2 += tap
                        else:
                            if HAS_SEQ:
                                tap = tl.where(k3[None, :], tap, 0.0)
                            p3 += tap
    cols = tl.arange(0, WP)
    dsrc = tl.zeros((rows.shape[0], src.shape[0]), dtype=tl.float32)
    dw = tl.zeros((rows.shape[0], WP), dtype=tl.float32)
    db = tl.zeros((rows.shape[0],), dtype=tl.float32)
    for j in tl.static_range(W):
        t = src + j
        g = tl.load(dout_blk + rows[:, None] * L + t[None, :],
                    mask=mask_d[:, None] & ((t >= 0) & (t < L))[None, :], other=0.0).to(tl.float32)
        if j == 0:
            pre, keep = p0, m0
        elif j == 1:
            pre, keep = p1, m1
        elif j == 2:
            pre, keep = p2, m2
        else:
            pre, keep = p3, m3
        if SILU:
            sig = tl.sigmoid(pre)
            g = g * sig * (1.0 + pre * (1.0 - sig))
        if j == 0:
            db = tl.sum(g, axis=1)
        if HAS_SEQ:
            g = tl.where(keep[None, :], g, 0.0)
        dsrc += _w_col(w_blk, rows, mask_d, W - 1 - j, W)[:, None] * g
        dw += tl.sum(xs * g, axis=1)[:, None] * (cols == W - 1 - j).to(tl.float32)[None, :]
    return dsrc, dw, db


@triton.jit
def _dfinal_at(dfinal_blk, seq_row, rows, mask_d, pos, L, W: tl.constexpr, HAS_SEQ: tl.constexpr):
    """Gradient reaching positions pos (n,) through the returned final state: (BD, n) float32."""
    keep = _final_keep(seq_row, pos, L, W, HAS_SEQ)
    idx = pos - (L - (W - 1))
    v = tl.load(dfinal_blk + rows[:, None] * (W - 1) + idx[None, :], mask=mask_d[:, None] & keep[None, :], other=0.0)
    return v.to(tl.float32)


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
                       dx_ptr, dinit_ptr, dw_part_ptr, db_part_ptr, d, L, n_l,
                       W: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_INIT: tl.constexpr, HAS_SEQ: tl.constexpr,
                       HAS_DFINAL: tl.constexpr, SILU: tl.constexpr, WP: tl.constexpr,
                       BLOCK_D: tl.constexpr, BLOCK_L: tl.constexpr):
    """Grid (n_l = cdiv(L, BLOCK_L), cdiv(d, BLOCK_D), batch). dx (batch, d, L) for the tile's
    positions; dinit (batch, d, W-1) from the programs with pid_l = 0; dweight/dbias partials
    (batch * n_l, d, W) and (batch * n_l, d) in float32, one row per program."""
    pid_l = tl.program_id(0)
    pid_d = tl.program_id(1)
    pid_b = tl.program_id(2)
    d0 = pid_d * BLOCK_D
    rows = tl.arange(0, BLOCK_D)
    mask_d = d0 + rows < d
    blk = pid_b.to(tl.int64) * d + d0
    x_blk = x_ptr + blk * L
    dout_blk = dout_ptr + blk * L
    init_blk = init_ptr + blk * (W - 1)
    dfinal_blk = dfinal_ptr + blk * (W - 1)
    seq_row = seq_ptr + pid_b.to(tl.int64) * L
    w_blk = w_ptr + d0 * W
    b_blk = b_ptr + d0

    src = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    dsrc, dw, db = _grad_tile(x_blk, init_blk, seq_row, dout_blk, w_blk, b_blk, rows, mask_d, src, L,
                              W, HAS_BIAS, HAS_INIT, HAS_SEQ, SILU, WP)
    if HAS_DFINAL:
        dsrc += _dfinal_at(dfinal_blk, seq_row, rows, mask_d, src, L, W, HAS_SEQ)
    tl.store(dx_ptr + blk * L + rows[:, None] * L + src[None, :], dsrc.to(dx_ptr.dtype.element_ty),
             mask=mask_d[:, None] & (src < L)[None, :])

    if HAS_INIT:
        if pid_l == 0:  # the initial-state positions -(W-1)..-1, as sources like any other
            sp = tl.arange(0, WP) - WP
            dsp, dwi, _ = _grad_tile(x_blk, init_blk, seq_row, dout_blk, w_blk, b_blk, rows, mask_d, sp, L,
                                     W, HAS_BIAS, HAS_INIT, HAS_SEQ, SILU, WP)
            if HAS_DFINAL:
                dsp += _dfinal_at(dfinal_blk, seq_row, rows, mask_d, sp, L, W, HAS_SEQ)
            tl.store(dinit_ptr + blk * (W - 1) + rows[:, None] * (W - 1) + (sp + W - 1)[None, :],
                     dsp.to(dinit_ptr.dtype.element_ty), mask=mask_d[:, None] & (sp >= 1 - W)[None, :])
            dw += dwi

    part = (pid_b * n_l + pid_l).to(tl.int64) * d + d0
    cols = tl.arange(0, WP)
    tl.store(dw_part_ptr + part * W + rows[:, None] * W + cols[None, :], dw,
             mask=mask_d[:, None] & (cols < W)[None, :])
    tl.store(db_part_ptr + part + rows, db, mask=mask_d)


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
    BD, BL = _blocks(d, L, BLOCK_L_BWD)
    n_l = max(triton.cdiv(L, BL), 1)
    dx = _empty((b, d, L), x.dtype, x.device)
    dinit = _empty((b, d, W - 1), initial_states.dtype, x.device) if initial_states is not None else x.new_empty((0,))
    dw_part = torch.empty((b * n_l, d, W), dtype=torch.float32, device=x.device)
    db_part = torch.empty((b * n_l, d), dtype=torch.float32, device=x.device)
    if b * d > 0:
        grid = (n_l, triton.cdiv(d, BD), b)
        _conv1d_bwd_kernel[grid](
            x, weight, x if bias is None else bias, x if initial_states is None else initial_states,
            x if seq is None else seq, dout, x if dfinal is None else dfinal, dx,
            dx if initial_states is None else dinit, dw_part, db_part, d, L, n_l,
            W=W, HAS_BIAS=bias is not None, HAS_INIT=initial_states is not None, HAS_SEQ=seq is not None,
            HAS_DFINAL=dfinal is not None, SILU=silu, WP=MAX_WIDTH, BLOCK_D=BD, BLOCK_L=BL, num_warps=WARPS)
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

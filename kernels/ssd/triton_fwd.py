"""Forward Triton kernels of the chunked SSD scan (Mamba-2) and their launcher.

Per chunk c of length Q, head h (group g = h // heads_per_group), with dt' = clamp(softplus(dt + bias)) and
cum_l = sum_{k<=l in chunk} dt'_k A_h:

    states_c  = sum_s x_s^T (exp(cum_end - cum_s) dt'_s) B_s                       (p, n)   chunk_state
    H_{c+1}   = exp(cum_end) H_c + states_c,  H_0 = initial state                (p, n)   state_passing
    y_l       = sum_{s<=l} (C_l . B_s) exp(cum_l - cum_s) dt'_s x_s + exp(cum_l) C_l H_c^T   chunk_scan

With ``seq_idx`` every decay across a sequence boundary is zero. Buffers: dt', cum (batch, heads, chunks, Q)
float32; entering states (batch, chunks, heads, p, n) float32.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

from ..step_size_triton import softplus

# form C . B^T once per group and chunk (not per head) where it would be formed this many times or more
SHARE_CB = 2
INTERPRET = os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")
F32_MAX = torch.finfo(torch.float32).max


def has_limit(dt_limit) -> bool:
    """Whether dt is clamped: any limit but (0, inf) (as ``prepare_dt``); float32's max counts as inf."""
    lo, hi = dt_limit
    return not (lo == 0.0 and hi >= F32_MAX)


def finite(dt_limit) -> tuple[float, float]:
    """(lo, hi) with infinities as float32's extremes: the same clamp, and no inf in a kernel or a traced graph."""
    return tuple(max(-F32_MAX, min(F32_MAX, float(v))) for v in dt_limit)


def autotune(key: list[str]):
    """num_warps/num_stages tuned on a GPU, one fixed config under the interpreter; the launcher sets block sizes."""
    configs = [triton.Config({}, num_warps=4, num_stages=2)]
    if not INTERPRET:  # at 64-row tiles and n = 128, 4 warps spill registers on sm_90: 8 warps first
        configs = [triton.Config({}, num_warps=8, num_stages=2), triton.Config({}, num_warps=8, num_stages=3),
                   *configs]
    return triton.autotune(configs=configs, key=key)


def dot_flags(dtype: torch.dtype) -> dict:
    """fp32 inputs: tf32 dots (fp32 accumulators), as mamba_ssm; exact fp32 dots spill registers at these tiles.

    The interpreter cannot multiply bf16 (it stores them as uint16): upcast there.
    """
    return dict(PREC="tf32", UPCAST=INTERPRET and dtype == torch.bfloat16)


def pow2(v: int, lo: int = 16) -> int:
    return max(lo, triton.next_power_of_2(v))


def seq_block(Q: int) -> int:
    """Rows per program along the chunk: 64 on a GPU, 16 under the interpreter (several blocks per test chunk)."""
    return min(Q, 16 if INTERPRET else 64)


@triton.jit
def _mm(a, b, PREC: tl.constexpr, UPCAST: tl.constexpr):
    """(M, K) @ (K, N) -> float32."""
    if UPCAST:
        return tl.dot(a.to(tl.float32), b.to(tl.float32), input_precision="ieee")
    return tl.dot(a, b, input_precision=PREC)


@triton.jit
def _dt_cumsum_kernel(dt_ptr, bias_ptr, A_ptr, dtp_ptr, cum_ptr, L, H, NC, s_db, s_dl, s_dh, dt_min, dt_max,
                      Q: tl.constexpr, BLOCK_H: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
                      HAS_LIMIT: tl.constexpr):
    """grid (batch, chunks, cdiv(H, BLOCK_H)): dt' and its in-chunk cumsum times A (zero past L)."""
    pid_b = tl.program_id(0)
    pid_c = tl.program_id(1)
    offs_h = tl.program_id(2) * BLOCK_H + tl.arange(0, BLOCK_H)
    offs_q = tl.arange(0, Q)
    pos = pid_c * Q + offs_q
    mh = offs_h < H
    mask = (pos[:, None] < L) & mh[None, :]
    d = tl.load(dt_ptr + pid_b.to(tl.int64) * s_db + pos[:, None] * s_dl + offs_h[None, :] * s_dh, mask=mask,
                other=0.0).to(tl.float32)
    if HAS_BIAS:
        d += tl.load(bias_ptr + offs_h, mask=mh, other=0.0).to(tl.float32)[None, :]
    if SOFTPLUS:
        d = softplus(d)
    if HAS_LIMIT:
        d = tl.minimum(tl.maximum(d, dt_min), dt_max)
    d = tl.where(mask, d, 0.0)
    a = tl.load(A_ptr + offs_h, mask=mh, other=0.0).to(tl.float32)
    cum = tl.cumsum(d * a[None, :], axis=0)
    out = ((pid_b * H + offs_h[None, :]).to(tl.int64) * NC + pid_c) * Q + offs_q[:, None]
    tl.store(dtp_ptr + out, d, mask=mh[None, :])
    tl.store(cum_ptr + out, cum, mask=mh[None, :])


@autotune(key=["P", "N", "Q"])
@triton.jit
def _chunk_state_kernel(x_ptr, B_ptr, dtp_ptr, cum_ptr, seg_ptr, out_ptr, L, H, NC, P, N, HPG,
                        s_xb, s_xl, s_xh, s_bb, s_bl, s_bg,
                        Q: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
                        TO_END: tl.constexpr, HAS_SEQ: tl.constexpr, PREC: tl.constexpr, UPCAST: tl.constexpr):
    """grid (batch*chunks*heads, p-blocks*n-blocks): out[b,c,h] = sum_s x_s^T w_s B_s, (p, n) float32.

    TO_END (forward chunk state): w_s = exp(cum_end - cum_s) dt'_s, s in the chunk's last sequence.
    else (backward, x = dy, B = C): w_s = exp(cum_s), s in the sequence that entered the chunk.
    """
    pid = tl.program_id(0)
    h = pid % H
    c = (pid // H) % NC
    b = pid // (H * NC)
    nbn = tl.cdiv(N, BLOCK_N)
    offs_p = (tl.program_id(1) // nbn) * BLOCK_P + tl.arange(0, BLOCK_P)
    offs_n = (tl.program_id(1) % nbn) * BLOCK_N + tl.arange(0, BLOCK_N)
    start = c * Q
    clen = tl.minimum(Q, L - start)
    x_base = x_ptr + b.to(tl.int64) * s_xb + start.to(tl.int64) * s_xl + h * s_xh
    B_base = B_ptr + b.to(tl.int64) * s_bb + start.to(tl.int64) * s_bl + (h // HPG) * s_bg
    dc = ((b * H + h).to(tl.int64) * NC + c) * Q
    cum_end = tl.load(cum_ptr + dc + Q - 1)
    if HAS_SEQ:
        if TO_END:
            seg_ref = tl.load(seg_ptr + b.to(tl.int64) * L + start + clen - 1)
        else:
            seg_ref = tl.load(seg_ptr + b.to(tl.int64) * L + tl.maximum(start - 1, 0))
    acc = tl.zeros((BLOCK_P, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, clen, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        mk = offs_k < clen
        xt = tl.load(x_base + offs_k[None, :] * s_xl + offs_p[:, None], mask=mk[None, :] & (offs_p[:, None] < P),
                     other=0.0)
        bk = tl.load(B_base + offs_k[:, None] * s_bl + offs_n[None, :], mask=mk[:, None] & (offs_n[None, :] < N),
                     other=0.0)
        cum_k = tl.load(cum_ptr + dc + offs_k, mask=mk, other=0.0)
        if TO_END:
            w = tl.exp(cum_end - cum_k) * tl.load(dtp_ptr + dc + offs_k, mask=mk, other=0.0)
        else:
            w = tl.exp(cum_k)
        if HAS_SEQ:
            seg_k = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_k, mask=mk, other=-1)
            w = tl.where(seg_k == seg_ref, w, 0.0)
        w = tl.where(mk, w, 0.0)
        acc += _mm((xt * w[None, :]).to(bk.dtype), bk, PREC, UPCAST)
    out = out_ptr + ((b * NC + c) * H + h).to(tl.int64) * P * N
    tl.store(out + offs_p[:, None] * N + offs_n[None, :], acc, mask=(offs_p[:, None] < P) & (offs_n[None, :] < N))


@triton.jit
def _state_passing_fwd_kernel(st_ptr, init_ptr, final_ptr, cum_ptr, seg_ptr, L, H, NC, PN,
                              Q: tl.constexpr, BLOCK: tl.constexpr, HAS_INIT: tl.constexpr, HAS_SEQ: tl.constexpr):
    """grid (batch*heads, cdiv(p*n, BLOCK)): in place, chunk states -> the states entering each chunk; final state."""
    pid = tl.program_id(0)
    b = pid // H
    h = pid % H
    offs = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    m = offs < PN
    if HAS_INIT:
        s = tl.load(init_ptr + pid.to(tl.int64) * PN + offs, mask=m, other=0.0).to(tl.float32)
    else:
        s = tl.zeros((BLOCK,), dtype=tl.float32)
    for c in range(0, NC):
        a = tl.exp(tl.load(cum_ptr + ((b * H + h).to(tl.int64) * NC + c) * Q + Q - 1))
        if HAS_SEQ:
            start = c * Q
            seg_end = tl.load(seg_ptr + b.to(tl.int64) * L + tl.minimum(start + Q, L) - 1)
            seg_prev = tl.load(seg_ptr + b.to(tl.int64) * L + tl.maximum(start - 1, 0))
            a = tl.where(seg_end == seg_prev, a, 0.0)
        ptr = st_ptr + ((b * NC + c) * H + h).to(tl.int64) * PN + offs
        local = tl.load(ptr, mask=m, other=0.0)
        tl.store(ptr, s, mask=m)
        s = a * s + local
    tl.store(final_ptr + pid.to(tl.int64) * PN + offs, s, mask=m)


@triton.jit
def _bmm_chunk_kernel(B_ptr, C_ptr, cb_ptr, L, G, NC, N, s_bb, s_bl, s_bg,
                      Q: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, PREC: tl.constexpr,
                      UPCAST: tl.constexpr):
    """grid (batch*chunks*groups, (Q // BLOCK_M)**2): cb (b, c, g, Q, Q) float32 = C_l . B_s, the blocks s <= l only
    (rows and columns past L zero); shared by the heads of a group in ``_chunk_scan_fwd_kernel``."""
    pid = tl.program_id(0)
    g = pid % G
    c = (pid // G) % NC
    b = pid // (G * NC)
    nbm = Q // BLOCK_M
    mb = tl.program_id(1) // nbm
    kb = tl.program_id(1) % nbm
    if kb <= mb:
        offs_m = mb * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_k = kb * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_n = tl.arange(0, BLOCK_N)
        start = c * Q
        clen = tl.minimum(Q, L - start)
        mn = offs_n < N
        bc_off = b.to(tl.int64) * s_bb + start.to(tl.int64) * s_bl + g * s_bg
        cm = tl.load(C_ptr + bc_off + offs_m[:, None] * s_bl + offs_n[None, :],
                     mask=(offs_m[:, None] < clen) & mn[None, :], other=0.0)
        bt = tl.load(B_ptr + bc_off + offs_k[None, :] * s_bl + offs_n[:, None],
                     mask=mn[:, None] & (offs_k[None, :] < clen), other=0.0)
        cb = _mm(cm, bt, PREC, UPCAST)
        tl.store(cb_ptr + pid.to(tl.int64) * Q * Q + offs_m[:, None] * Q + offs_k[None, :], cb)


@autotune(key=["P", "N", "Q", "HAS_CB", "GATE_BWD"])
@triton.jit
def _chunk_scan_fwd_kernel(x_ptr, B_ptr, C_ptr, cb_ptr, st_ptr, dtp_ptr, cum_ptr, seg_ptr, D_ptr, z_ptr, y_ptr, dy_ptr,
                           dz_ptr, L, H, NC, P, N, HPG, s_xb, s_xl, s_xh, s_bb, s_bl, s_bg,
                           Q: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_K: tl.constexpr, BLOCK_P: tl.constexpr,
                           BLOCK_N: tl.constexpr, HAS_D: tl.constexpr, D_PER_P: tl.constexpr, HAS_Z: tl.constexpr,
                           GATE_BWD: tl.constexpr, HAS_SEQ: tl.constexpr, HAS_CB: tl.constexpr, PREC: tl.constexpr,
                           UPCAST: tl.constexpr):
    """grid (batch*chunks*heads, m-blocks*p-blocks): y for BLOCK_M positions x BLOCK_P channels (n whole).

    HAS_CB: C_l . B_s read from cb_ptr (``_bmm_chunk_kernel``, once per group) instead of formed per head.
    GATE_BWD (the backward's recompute, with z): y_ptr <- dy silu(z), dz_ptr <- dy u silu'(z), u = y before the gate.
    Later m-blocks (more causal work) are scheduled first.
    """
    pid = tl.program_id(0)
    h = pid % H
    c = (pid // H) % NC
    b = pid // (H * NC)
    nbp = tl.cdiv(P, BLOCK_P)
    nbm = Q // BLOCK_M
    mb = nbm - 1 - tl.program_id(1) // nbp
    offs_m = mb * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_p = (tl.program_id(1) % nbp) * BLOCK_P + tl.arange(0, BLOCK_P)
    offs_n = tl.arange(0, BLOCK_N)
    start = c * Q
    clen = tl.minimum(Q, L - start)
    mm = offs_m < clen
    mp = offs_p < P
    mn = offs_n < N
    x_base = x_ptr + b.to(tl.int64) * s_xb + start.to(tl.int64) * s_xl + h * s_xh
    bc_off = b.to(tl.int64) * s_bb + start.to(tl.int64) * s_bl + (h // HPG) * s_bg
    dc = ((b * H + h).to(tl.int64) * NC + c) * Q
    cum_m = tl.load(cum_ptr + dc + offs_m)
    cm = tl.load(C_ptr + bc_off + offs_m[:, None] * s_bl + offs_n[None, :], mask=mm[:, None] & mn[None, :], other=0.0)
    # the state that entered the chunk, read by every position: exp(cum_l) C_l H^T
    st = tl.load(st_ptr + ((b * NC + c) * H + h).to(tl.int64) * P * N + offs_p[None, :] * N + offs_n[:, None],
                 mask=mn[:, None] & mp[None, :], other=0.0)
    scale = tl.exp(cum_m)
    if HAS_SEQ:
        seg_m = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_m, mask=mm, other=-1)
        seg_prev = tl.load(seg_ptr + b.to(tl.int64) * L + tl.maximum(start - 1, 0))
        scale = tl.where(seg_m == seg_prev, scale, 0.0)
    acc = _mm(cm, st.to(cm.dtype), PREC, UPCAST) * scale[:, None]
    # within the chunk, causal: blocks of source positions up to this m-block
    hi = tl.minimum((mb + 1) * BLOCK_M, clen)
    for k0 in range(0, hi, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        mk = offs_k < clen
        if HAS_CB:
            cb = tl.load(cb_ptr + ((b * NC + c) * (H // HPG) + h // HPG).to(tl.int64) * Q * Q + offs_m[:, None] * Q
                         + offs_k[None, :])
        else:
            bt = tl.load(B_ptr + bc_off + offs_k[None, :] * s_bl + offs_n[:, None], mask=mn[:, None] & mk[None, :],
                         other=0.0)
            cb = _mm(cm, bt, PREC, UPCAST)
        cum_k = tl.load(cum_ptr + dc + offs_k)
        dtp_k = tl.load(dtp_ptr + dc + offs_k)
        keep = offs_m[:, None] >= offs_k[None, :]
        if HAS_SEQ:
            seg_k = tl.load(seg_ptr + b.to(tl.int64) * L + start + offs_k, mask=mk, other=-2)
            keep &= seg_m[:, None] == seg_k[None, :]
        decay = tl.exp(tl.where(keep, cum_m[:, None] - cum_k[None, :], float("-inf")))
        xk = tl.load(x_base + offs_k[:, None] * s_xl + offs_p[None, :], mask=mk[:, None] & mp[None, :], other=0.0)
        acc += _mm((cb * decay * dtp_k[None, :]).to(xk.dtype), xk, PREC, UPCAST)
    io = offs_m[:, None] * s_xl + offs_p[None, :]
    mio = mm[:, None] & mp[None, :]
    if HAS_D:
        xm = tl.load(x_base + io, mask=mio, other=0.0).to(tl.float32)
        if D_PER_P:
            dd = tl.load(D_ptr + h * P + offs_p, mask=mp, other=0.0).to(tl.float32)
        else:
            dd = tl.load(D_ptr + h + offs_p * 0).to(tl.float32)
        acc += xm * dd[None, :]
    out_off = b.to(tl.int64) * s_xb + start.to(tl.int64) * s_xl + h * s_xh + io
    if HAS_Z:
        zz = tl.load(z_ptr + out_off, mask=mio, other=0.0).to(tl.float32)
        sg = tl.sigmoid(zz)
        if GATE_BWD:
            g = tl.load(dy_ptr + out_off, mask=mio, other=0.0).to(tl.float32)
            tl.store(dz_ptr + out_off, g * acc * sg * (1.0 + zz * (1.0 - sg)), mask=mio)
            acc = g * zz * sg
        else:
            acc = acc * zz * sg
    tl.store(y_ptr + out_off, acc, mask=mio)


def segment_ids(seq_idx: torch.Tensor | None) -> torch.Tensor | None:
    """seq_idx (batch, L) -> int32 ids that grow by one at every change (so any labelling works)."""
    if seq_idx is None:
        return None
    change = (seq_idx[:, 1:] != seq_idx[:, :-1]).to(torch.int32)
    first = seq_idx.new_zeros((seq_idx.shape[0], 1), dtype=torch.int32)
    return torch.cat([first, change.cumsum(1, dtype=torch.int32)], 1).contiguous()


def ssd_fwd(x, dt, A, B, C, chunk_size, D, z, dt_bias, initial_states, seg, dt_softplus, dt_limit):
    """Contiguous inputs, seg from ``segment_ids`` -> y, final (b, h, p, n), entering states (b, c, h, p, n),
    cum and dt' (b, h, c, Q) float32."""
    bsz, L, H, P = x.shape
    G, N = B.shape[-2:]
    Q = chunk_size
    NC = triton.cdiv(L, Q)
    f32 = dict(device=x.device, dtype=torch.float32)
    dtp = torch.empty(bsz, H, NC, Q, **f32)
    cum = torch.empty(bsz, H, NC, Q, **f32)
    block_h = min(triton.next_power_of_2(H), max(1, 2048 // Q))
    _dt_cumsum_kernel[(bsz, NC, triton.cdiv(H, block_h))](
        dt, dt_bias if dt_bias is not None else dt, A, dtp, cum, L, H, NC, *dt.stride(),
        *finite(dt_limit), Q=Q, BLOCK_H=block_h, HAS_BIAS=dt_bias is not None,
        SOFTPLUS=dt_softplus, HAS_LIMIT=has_limit(dt_limit))
    seg_arg = seg if seg is not None else dtp
    states = torch.empty(bsz, NC, H, P, N, **f32)
    chunk_states(x, B, dtp, cum, seg, states, to_end=True)
    final = torch.empty(bsz, H, P, N, **f32)
    block = min(1024, triton.next_power_of_2(P * N))
    _state_passing_fwd_kernel[(bsz * H, triton.cdiv(P * N, block))](
        states, initial_states if initial_states is not None else states, final, cum, seg_arg, L, H, NC, P * N,
        Q=Q, BLOCK=block, HAS_INIT=initial_states is not None, HAS_SEQ=seg is not None)
    y = torch.empty_like(x)
    chunk_scan(x, B, C, states, dtp, cum, seg, D, z, y)
    return y, final, states, cum, dtp


def chunk_cb(B, C, Q: int, bm: int) -> torch.Tensor:
    """(b, c, g, Q, Q) float32: C_l . B_s within each chunk, blocks with s <= l (``_bmm_chunk_kernel``)."""
    bsz, L, G, N = B.shape
    NC = triton.cdiv(L, Q)
    cb = torch.empty(bsz, NC, G, Q, Q, device=B.device, dtype=torch.float32)
    _bmm_chunk_kernel[(bsz * NC * G, (Q // bm) ** 2)](
        B, C, cb, L, G, NC, N, B.stride(0), B.stride(1), B.stride(2), Q=Q, BLOCK_M=bm, BLOCK_N=pow2(N),
        num_warps=4, **dot_flags(B.dtype))
    return cb


def chunk_scan(x, B, C, states, dtp, cum, seg, D, z, y, dy=None, dz=None):
    """y (like x) from the entering states; with dy (and z): y <- d(y before the gate), dz <- dz.

    Where a group's C . B^T would be formed SHARE_CB or more times (heads per group x p-blocks), it is formed once.
    """
    bsz, L, H, P = x.shape
    G, N = B.shape[-2:]
    NC, Q = cum.shape[-2:]
    bm, bp = seq_block(Q), min(64, pow2(P))
    share = (H // G) * triton.cdiv(P, bp) >= SHARE_CB
    cb = chunk_cb(B, C, Q, bm) if share else None
    _chunk_scan_fwd_kernel[(bsz * NC * H, (Q // bm) * triton.cdiv(P, bp))](
        x, B, C, cb if share else x, states, dtp, cum, seg if seg is not None else dtp, D if D is not None else x,
        z if z is not None else x, y, dy if dy is not None else x, dz if dz is not None else x,
        L, H, NC, P, N, H // G, x.stride(0), x.stride(1), x.stride(2), B.stride(0), B.stride(1), B.stride(2),
        Q=Q, BLOCK_M=bm, BLOCK_K=bm, BLOCK_P=bp, BLOCK_N=pow2(N), HAS_D=D is not None,
        D_PER_P=D is not None and D.dim() == 2, HAS_Z=z is not None, GATE_BWD=dy is not None,
        HAS_SEQ=seg is not None, HAS_CB=share, **dot_flags(x.dtype))


def chunk_states(x, B, dtp, cum, seg, out, to_end: bool):
    """out (b, c, h, p, n) float32 = sum over each chunk of x^T w B (see ``_chunk_state_kernel``)."""
    bsz, L, H, P = x.shape
    G, N = B.shape[-2:]
    NC, Q = cum.shape[-2:]
    bp, bn = min(64, pow2(P)), min(128, pow2(N))
    _chunk_state_kernel[(bsz * NC * H, triton.cdiv(P, bp) * triton.cdiv(N, bn))](
        x, B, dtp, cum, seg if seg is not None else dtp, out, L, H, NC, P, N, H // G,
        x.stride(0), x.stride(1), x.stride(2), B.stride(0), B.stride(1), B.stride(2),
        Q=Q, BLOCK_P=bp, BLOCK_N=bn, BLOCK_K=seq_block(Q), TO_END=to_end, HAS_SEQ=seg is not None,
        **dot_flags(x.dtype))

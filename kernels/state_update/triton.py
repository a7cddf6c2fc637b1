"""Triton single-token state updates (Mamba-1 and Mamba-2 generation / streaming steps).

Each program owns one tile of the recurrent state: it loads the tile once, applies
h <- exp(dt A) h + dt x B, writes it back in place and reduces y = sum_n C h over the
state dimension, with the D skip and the SiLU(z) gate fused. Every tensor is addressed
through its strides, so the state may be a slice of a larger inference cache (it is never
copied) and x, B, C may be views (e.g. the parts of a fused in-projection).
"""

import math

import torch
import triton
import triton.language as tl

from ..step_size_triton import softplus

__all__ = ["selective_state_update_triton", "ssd_state_update_triton"]

_NO_LIMIT = (0.0, math.inf)


@triton.jit
def _dt_prepare(dt, bias, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, HAS_LIMIT: tl.constexpr, lo, hi):
    """dt (+ bias), softplus (threshold 20, like F.softplus), clamp to [lo, hi]; all in float32."""
    if HAS_BIAS:
        dt = dt + bias
    if SOFTPLUS:
        dt = softplus(dt)
    if HAS_LIMIT:
        dt = tl.minimum(tl.maximum(dt, lo), hi)
    return dt


@triton.jit
def _selective_update_kernel(
    state_ptr, x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, y_ptr,
    d, n, dg,
    s_sb, s_sd, s_sn,
    s_xb, s_xd,
    s_dtb, s_dtd,
    s_Ad, s_An,
    s_Bb, s_Bg, s_Bn,
    s_Cb, s_Cg, s_Cn,
    s_D, s_zb, s_zd, s_bias,
    s_yb, s_yd,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """Grid (batch, cdiv(d, BLOCK_D)): one (BLOCK_D, BLOCK_N) tile of state (batch, d, n)."""
    b = tl.program_id(0).to(tl.int64)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < d
    mask = mask_d[:, None] & (offs_n[None, :] < n)
    grp = offs_d // dg  # the B/C group of each channel (stride 0 when B/C have no group axis)

    x = tl.load(x_ptr + b * s_xb + offs_d * s_xd, mask=mask_d, other=0.0).to(tl.float32)
    dt = tl.load(dt_ptr + b * s_dtb + offs_d * s_dtd, mask=mask_d, other=0.0).to(tl.float32)
    bias = 0.0
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d * s_bias, mask=mask_d, other=0.0).to(tl.float32)
    dt = _dt_prepare(dt, bias, HAS_BIAS, SOFTPLUS, False, 0.0, 0.0)

    A = tl.load(A_ptr + offs_d[:, None] * s_Ad + offs_n[None, :] * s_An, mask=mask, other=0.0).to(tl.float32)
    Bm = tl.load(B_ptr + b * s_Bb + grp[:, None] * s_Bg + offs_n[None, :] * s_Bn, mask=mask, other=0.0)
    Cm = tl.load(C_ptr + b * s_Cb + grp[:, None] * s_Cg + offs_n[None, :] * s_Cn, mask=mask, other=0.0)

    s_ptrs = state_ptr + b * s_sb + offs_d[:, None] * s_sd + offs_n[None, :] * s_sn
    h = tl.load(s_ptrs, mask=mask, other=0.0).to(tl.float32)
    h = h * tl.exp(dt[:, None] * A) + (dt * x)[:, None] * Bm.to(tl.float32)
    tl.store(s_ptrs, h.to(state_ptr.dtype.element_ty), mask=mask)

    y = tl.sum(h * Cm.to(tl.float32), axis=1)
    if HAS_D:
        y += x * tl.load(D_ptr + offs_d * s_D, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_Z:
        zv = tl.load(z_ptr + b * s_zb + offs_d * s_zd, mask=mask_d, other=0.0).to(tl.float32)
        y *= zv * tl.sigmoid(zv)
    tl.store(y_ptr + b * s_yb + offs_d * s_yd, y.to(y_ptr.dtype.element_ty), mask=mask_d)


@triton.jit
def _ssd_update_kernel(
    state_ptr, x_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, bias_ptr, y_ptr,
    P, n, heads_per_group, dt_lo, dt_hi,
    s_sb, s_sh, s_sp, s_sn,
    s_xb, s_xh, s_xp,
    s_dtb, s_dth, s_A,
    s_Bb, s_Bg, s_Bn,
    s_Cb, s_Cg, s_Cn,
    s_Dh, s_Dp,
    s_zb, s_zh, s_zp,
    s_bias,
    s_yb, s_yh, s_yp,
    HAS_D: tl.constexpr, HAS_Z: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    HAS_LIMIT: tl.constexpr, BLOCK_P: tl.constexpr, BLOCK_N: tl.constexpr,
):
    """Grid (batch, heads, cdiv(P, BLOCK_P)): one (BLOCK_P, BLOCK_N) tile of state (batch, heads, P, n)."""
    b = tl.program_id(0).to(tl.int64)
    hd = tl.program_id(1).to(tl.int64)
    offs_p = tl.program_id(2) * BLOCK_P + tl.arange(0, BLOCK_P)
    offs_n = tl.arange(0, BLOCK_N)
    mask_p = offs_p < P
    mask_n = offs_n < n
    mask = mask_p[:, None] & mask_n[None, :]
    g = hd // heads_per_group

    # per-(batch, head) scalars: step size and decay
    dt = tl.load(dt_ptr + b * s_dtb + hd * s_dth).to(tl.float32)
    bias = 0.0
    if HAS_BIAS:
        bias = tl.load(bias_ptr + hd * s_bias).to(tl.float32)
    dt = _dt_prepare(dt, bias, HAS_BIAS, SOFTPLUS, HAS_LIMIT, dt_lo, dt_hi)
    decay = tl.exp(dt * tl.load(A_ptr + hd * s_A).to(tl.float32))

    x = tl.load(x_ptr + b * s_xb + hd * s_xh + offs_p * s_xp, mask=mask_p, other=0.0).to(tl.float32)
    Bv = tl.load(B_ptr + b * s_Bb + g * s_Bg + offs_n * s_Bn, mask=mask_n, other=0.0).to(tl.float32)
    Cv = tl.load(C_ptr + b * s_Cb + g * s_Cg + offs_n * s_Cn, mask=mask_n, other=0.0).to(tl.float32)

    s_ptrs = state_ptr + b * s_sb + hd * s_sh + offs_p[:, None] * s_sp + offs_n[None, :] * s_sn
    h = tl.load(s_ptrs, mask=mask, other=0.0).to(tl.float32)
    h = h * decay + (dt * x)[:, None] * Bv[None, :]
    tl.store(s_ptrs, h.to(state_ptr.dtype.element_ty), mask=mask)

    y = tl.sum(h * Cv[None, :], axis=1)
    if HAS_D:  # D per head (s_Dp = 0) or per (head, dim)
        y += x * tl.load(D_ptr + hd * s_Dh + offs_p * s_Dp, mask=mask_p, other=0.0).to(tl.float32)
    if HAS_Z:
        zv = tl.load(z_ptr + b * s_zb + hd * s_zh + offs_p * s_zp, mask=mask_p, other=0.0).to(tl.float32)
        y *= zv * tl.sigmoid(zv)
    tl.store(y_ptr + b * s_yb + hd * s_yh + offs_p * s_yp, y.to(y_ptr.dtype.element_ty), mask=mask_p)


def _tile(rows: int, n: int) -> tuple[int, int, int]:
    """(BLOCK_ROWS, BLOCK_N, num_warps) for a state tile of ``rows`` x ``n``.

    The update is memory bound (each state element is read and written once), so tiles are
    sized for enough programs to fill an H100 at batch 1 rather than for reuse: n=16 gives
    32 x 16 tiles (Mamba-1, d=5120: 160 programs per sequence), n=128 gives 16 x 128 tiles
    (Mamba-2, headdim 64: 4 programs per head), about 4-16 elements per thread.
    """
    block_n = triton.next_power_of_2(n)
    budget = 512 if block_n <= 16 else 2048
    block_rows = min(max(budget // block_n, 4), 64, triton.next_power_of_2(rows))
    num_warps = 4 if block_rows * block_n >= 512 else 2
    return block_rows, block_n, num_warps


def _check_selective(state, x, dt, A, B, C, D, z, dt_bias) -> None:
    bsz, d = x.shape
    n = A.shape[-1]
    torch._check(state.shape == (bsz, d, n), lambda: f"state {tuple(state.shape)} != (batch, d, n) = {(bsz, d, n)}")
    torch._check(dt.shape == x.shape and A.shape == (d, n), lambda: "dt must be (batch, d) and A (d, n)")
    for name, M in (("B", B), ("C", C)):
        torch._check(M.dim() in (2, 3) and M.shape[0] == bsz and M.shape[-1] == n,
                     lambda name=name: f"{name} must be (batch, n) or (batch, groups, n)")
        if M.dim() == 3:
            torch._check(d % M.shape[1] == 0, lambda: f"d={d} is not divisible by the groups of B/C")
    torch._check(B.shape == C.shape, lambda: "B and C must have the same shape")
    for name, v in (("D", D), ("dt_bias", dt_bias)):
        torch._check(v is None or v.shape == (d,), lambda name=name: f"{name} must be (d,)")
    torch._check(z is None or z.shape == x.shape, lambda: "z must be like x")


def _check_ssd(state, x, dt, A, B, C, D, z, dt_bias) -> None:
    bsz, H, P = x.shape
    n = B.shape[-1]
    torch._check(state.shape == (bsz, H, P, n), lambda: f"state {tuple(state.shape)} != {(bsz, H, P, n)}")
    torch._check(dt.shape == (bsz, H) and A.shape == (H,), lambda: "dt must be (batch, heads) and A (heads,)")
    torch._check(B.dim() == 3 and B.shape[0] == bsz and B.shape == C.shape, lambda: "B, C must be (batch, groups, n)")
    torch._check(H % B.shape[1] == 0, lambda: f"{H} heads are not divisible by the {B.shape[1]} groups of B/C")
    torch._check(D is None or D.shape in ((H,), (H, P)), lambda: "D must be (heads,) or (heads, headdim)")
    torch._check(dt_bias is None or dt_bias.shape == (H,), lambda: "dt_bias must be (heads,)")
    torch._check(z is None or z.shape == x.shape, lambda: "z must be like x")


@torch.library.custom_op("ssmkit::selective_state_update", mutates_args=("state",))
def _selective_state_update_op(
    state: torch.Tensor, x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
    D: torch.Tensor | None, z: torch.Tensor | None, dt_bias: torch.Tensor | None, dt_softplus: bool,
) -> torch.Tensor:
    _check_selective(state, x, dt, A, B, C, D, z, dt_bias)
    bsz, d = x.shape
    n = A.shape[-1]
    y = torch.empty((bsz, d), dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y
    if B.dim() == 3:
        dg, sBg, sCg = d // B.shape[1], B.stride(1), C.stride(1)
        sBb, sBn, sCb, sCn = B.stride(0), B.stride(2), C.stride(0), C.stride(2)
    else:
        dg, sBg, sCg = d, 0, 0
        sBb, sBn, sCb, sCn = B.stride(0), B.stride(1), C.stride(0), C.stride(1)
    block_d, block_n, warps = _tile(d, n)
    grid = (bsz, triton.cdiv(d, block_d))
    _selective_update_kernel[grid](
        state, x, dt, A, B, C,
        D if D is not None else x, z if z is not None else x, dt_bias if dt_bias is not None else x, y,
        d, n, dg,
        *state.stride(), *x.stride(), *dt.stride(), *A.stride(),
        sBb, sBg, sBn, sCb, sCg, sCn,
        D.stride(0) if D is not None else 0,
        *(z.stride() if z is not None else (0, 0)),
        dt_bias.stride(0) if dt_bias is not None else 0,
        *y.stride(),
        HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=dt_bias is not None, SOFTPLUS=bool(dt_softplus),
        BLOCK_D=block_d, BLOCK_N=block_n, num_warps=warps,
    )
    return y


@_selective_state_update_op.register_fake
def _(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus):
    _check_selective(state, x, dt, A, B, C, D, z, dt_bias)
    return x.new_empty(x.shape)


@torch.library.custom_op("ssmkit::ssd_state_update", mutates_args=("state",))
def _ssd_state_update_op(
    state: torch.Tensor, x: torch.Tensor, dt: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
    D: torch.Tensor | None, z: torch.Tensor | None, dt_bias: torch.Tensor | None, dt_softplus: bool,
    dt_min: float, dt_max: float,
) -> torch.Tensor:
    _check_ssd(state, x, dt, A, B, C, D, z, dt_bias)
    bsz, H, P = x.shape
    n = B.shape[-1]
    y = torch.empty((bsz, H, P), dtype=x.dtype, device=x.device)
    if y.numel() == 0:
        return y
    if D is None:
        sDh = sDp = 0
    else:
        sDh, sDp = (D.stride(0), 0) if D.dim() == 1 else D.stride()
    block_p, block_n, warps = _tile(P, n)
    grid = (bsz, H, triton.cdiv(P, block_p))
    has_limit = (float(dt_min), float(dt_max)) != _NO_LIMIT
    _ssd_update_kernel[grid](
        state, x, dt, A, B, C,
        D if D is not None else x, z if z is not None else x, dt_bias if dt_bias is not None else x, y,
        P, n, H // B.shape[1], float(dt_min), float(dt_max),
        *state.stride(), *x.stride(), *dt.stride(), A.stride(0),
        *B.stride(), *C.stride(),
        sDh, sDp,
        *(z.stride() if z is not None else (0, 0, 0)),
        dt_bias.stride(0) if dt_bias is not None else 0,
        *y.stride(),
        HAS_D=D is not None, HAS_Z=z is not None, HAS_BIAS=dt_bias is not None, SOFTPLUS=bool(dt_softplus),
        HAS_LIMIT=has_limit, BLOCK_P=block_p, BLOCK_N=block_n, num_warps=warps,
    )
    return y


@_ssd_state_update_op.register_fake
def _(state, x, dt, A, B, C, D, z, dt_bias, dt_softplus, dt_min, dt_max):
    _check_ssd(state, x, dt, A, B, C, D, z, dt_bias)
    return x.new_empty(x.shape)


def selective_state_update_triton(
    state: torch.Tensor,
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    dt_bias: torch.Tensor | None = None,
    dt_softplus: bool = False,
) -> torch.Tensor:
    """One Mamba-1 step; ``state`` (batch, d, n) is updated in place (any strides, kept dtype).

    x, dt, z: (batch, d); A: (d, n); B, C: (batch, n) or (batch, groups, n); D, dt_bias: (d,).
    Returns y (batch, d) in x's dtype. Op ``torch.ops.ssmkit.selective_state_update``.
    """
    return _selective_state_update_op(state, x, dt, A, B, C, D, z, dt_bias, bool(dt_softplus))


def ssd_state_update_triton(
    state: torch.Tensor,
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    dt_bias: torch.Tensor | None = None,
    dt_softplus: bool = False,
    dt_limit: tuple[float, float] = _NO_LIMIT,
) -> torch.Tensor:
    """One Mamba-2 step; ``state`` (batch, heads, headdim, n) is updated in place (any strides).

    x, z: (batch, heads, headdim); dt: (batch, heads); A: (heads,); B, C: (batch, groups, n);
    D: (heads,) or (heads, headdim); dt_bias: (heads,). Returns y like x.
    Op ``torch.ops.ssmkit.ssd_state_update`` (dt_limit passed as two floats).
    """
    lo, hi = dt_limit
    return _ssd_state_update_op(state, x, dt, A, B, C, D, z, dt_bias, bool(dt_softplus), float(lo), float(hi))

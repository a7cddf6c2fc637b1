"""Chunked SSD scan (Mamba-2) in Triton: forward and backward as torch custom ops.

``ssd_scan_triton`` has ``ssd_scan_ref``'s signature. The ops ``ssmkit::ssd_scan_fwd`` / ``ssmkit::ssd_scan_bwd``
carry fake (meta) implementations and are linked by ``register_autograd``, so they trace under torch.compile.
Kernels: ``triton_fwd`` (dt cumsum, chunk states, state passing, chunk output) and ``triton_bwd``.
"""

# torch.library infers the op schemas from these annotations: Optional[Tensor], evaluated (no future import)
# ruff: noqa: UP045

from typing import Optional

import torch
from torch import Tensor

from .triton_bwd import ssd_bwd
from .triton_fwd import finite, segment_ids, ssd_fwd

__all__ = ["ssd_scan_triton"]


def _empty(like: Tensor) -> Tensor:
    return like.new_empty(0)


def _contig(t: Optional[Tensor]) -> Optional[Tensor]:
    return None if t is None else t.contiguous()


@torch.library.custom_op("ssmkit::ssd_scan_fwd", mutates_args=())
def ssd_scan_fwd(x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Optional[Tensor], z: Optional[Tensor],
                 dt_bias: Optional[Tensor], initial_states: Optional[Tensor], seq_idx: Optional[Tensor],
                 chunk_size: int, dt_softplus: bool, dt_min: float, dt_max: float
                 ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """-> y (like x), final states (b, h, p, n) f32, for the backward: entering states (b, c, h, p, n) f32,
    cumsum of dt'A and dt' (b, h, c, Q) f32."""
    x, dt, A, B, C, D, z, dt_bias, h0 = map(_contig, (x, dt, A, B, C, D, z, dt_bias, initial_states))
    return ssd_fwd(x, dt, A, B, C, chunk_size, D, z, dt_bias, h0, segment_ids(seq_idx), dt_softplus, (dt_min, dt_max))


@ssd_scan_fwd.register_fake
def _(x, dt, A, B, C, D, z, dt_bias, initial_states, seq_idx, chunk_size, dt_softplus, dt_min, dt_max):
    b, L, H, P = x.shape
    N = B.shape[-1]
    nc = -(-L // chunk_size)
    f32 = dict(dtype=torch.float32)
    return (torch.empty_like(x), x.new_empty(b, H, P, N, **f32), x.new_empty(b, nc, H, P, N, **f32),
            x.new_empty(b, H, nc, chunk_size, **f32), x.new_empty(b, H, nc, chunk_size, **f32))


@torch.library.custom_op("ssmkit::ssd_scan_bwd", mutates_args=())
def ssd_scan_bwd(dy: Tensor, dfinal: Optional[Tensor], x: Tensor, dt: Tensor, A: Tensor, B: Tensor, C: Tensor,
                 D: Optional[Tensor], z: Optional[Tensor], dt_bias: Optional[Tensor],
                 initial_states: Optional[Tensor], seq_idx: Optional[Tensor], states: Tensor, cum: Tensor,
                 dtp: Tensor, chunk_size: int, dt_softplus: bool, dt_min: float, dt_max: float
                 ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """-> dx, ddt, dA, dB, dC, dD, dz, d dt_bias, d initial_states (empty where that input is None)."""
    x, dt, A, B, C, D, z, dt_bias, h0 = map(_contig, (x, dt, A, B, C, D, z, dt_bias, initial_states))
    dfinal = None if dfinal is None else dfinal.float().contiguous()
    dy = dy.to(x.dtype).contiguous()  # the kernels read it with x's strides, as a dot operand beside x
    grads = ssd_bwd(dy, dfinal, x, dt, A, B, C, chunk_size, D, z, dt_bias, h0, segment_ids(seq_idx),
                    dt_softplus, (dt_min, dt_max), states, cum, dtp)
    return tuple(_empty(x) if g is None else g for g in grads)


@ssd_scan_bwd.register_fake
def _(dy, dfinal, x, dt, A, B, C, D, z, dt_bias, initial_states, seq_idx, states, cum, dtp, chunk_size,
      dt_softplus, dt_min, dt_max):
    like = lambda t: torch.empty_like(t) if t is not None else _empty(x)  # noqa: E731
    return (like(x), like(dt), like(A), like(B), like(C), like(D), like(z), like(dt_bias), like(initial_states))


def _setup_context(ctx, inputs, output):
    x, dt, A, B, C, D, z, dt_bias, initial_states, seq_idx, chunk_size, dt_softplus, dt_min, dt_max = inputs
    _, _, states, cum, dtp = output
    ctx.save_for_backward(x, dt, A, B, C, D, z, dt_bias, initial_states, seq_idx, states, cum, dtp)
    ctx.args = (chunk_size, dt_softplus, dt_min, dt_max)


def _backward(ctx, dy, dfinal, *_unused):
    """Gradients of y and the final states; the side outputs kept for the backward (states, cumsums) get none."""
    x, dt, A, B, C, D, z, dt_bias, h0, seq_idx, states, cum, dtp = ctx.saved_tensors
    if dy is None:
        dy = torch.zeros_like(x)
    grads = ssd_scan_bwd(dy, dfinal, x, dt, A, B, C, D, z, dt_bias, h0, seq_idx, states, cum, dtp, *ctx.args)
    dx, ddt, dA, dB, dC, dD, dz, dbias, dh0 = grads
    keep = lambda g, t: g if t is not None else None  # noqa: E731
    return (dx, ddt, dA, dB, dC, keep(dD, D), keep(dz, z), keep(dbias, dt_bias), keep(dh0, h0),
            None, None, None, None, None)


ssd_scan_fwd.register_autograd(_backward, setup_context=_setup_context)


def ssd_scan_triton(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    chunk_size: int = 64,
    D: Tensor | None = None,
    z: Tensor | None = None,
    dt_bias: Tensor | None = None,
    initial_states: Tensor | None = None,
    dt_softplus: bool = False,
    dt_limit: tuple[float, float] = (0.0, float("inf")),
    return_final_states: bool = False,
    seq_idx: Tensor | None = None,
):
    """Chunked SSD scan in Triton; shapes and conventions as ``ssd_scan_ref``.

    x: (batch, L, heads, headdim); dt: (batch, L, heads); A: (heads,) negative, float32; B, C: (batch, L, groups, n);
    D: (heads,) or (heads, headdim); z: like x; dt_bias: (heads,); initial_states: (batch, heads, headdim, n);
    seq_idx: (batch, L) int32. chunk_size: a power of two >= 16 (other sizes, and float64, run the reference).
    Returns y like x (and final states float32).
    """
    tiled = chunk_size >= 16 and not chunk_size & (chunk_size - 1)
    if x.dtype not in (torch.float32, torch.bfloat16, torch.float16) or not tiled:
        from .reference import ssd_scan_ref  # float64, or a chunk size the kernels do not tile: same math

        return ssd_scan_ref(x, dt, A, B, C, chunk_size, D, z, dt_bias, initial_states, dt_softplus, dt_limit,
                            return_final_states, seq_idx)
    bsz, L, H, P = x.shape
    G, N = B.shape[-2:]
    expect = {"dt": (dt, (bsz, L, H)), "A": (A, (H,)), "B": (B, (bsz, L, G, N)), "C": (C, (bsz, L, G, N)),
              "z": (z, (bsz, L, H, P)), "dt_bias": (dt_bias, (H,)), "initial_states": (initial_states, (bsz, H, P, N))}
    for name, (t, shape) in expect.items():
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"ssd_scan: {name} must have shape {shape} for x {tuple(x.shape)}, got {tuple(t.shape)}")
    if D is not None and tuple(D.shape) not in ((H,), (H, P)):
        raise ValueError(f"ssd_scan: D must have shape ({H},) or ({H}, {P}), got {tuple(D.shape)}")
    if H % G:
        raise ValueError(f"ssd_scan: {H} heads are not divisible by {G} groups of B/C")
    if seq_idx is not None:
        if seq_idx.dim() != 2 or seq_idx.shape[1] != L or seq_idx.shape[0] not in (1, bsz):
            raise ValueError(f"ssd_scan: seq_idx must be (batch, L) = {(bsz, L)}, got {tuple(seq_idx.shape)}")
        seq_idx = seq_idx.to(device=x.device, dtype=torch.int32).expand(bsz, L).contiguous()
    # the op works on contiguous tensors (its fake outputs are contiguous too)
    x, dt, A, B, C = (t.contiguous() for t in (x, dt, A, B, C))
    D, z, dt_bias, initial_states = (None if t is None else t.contiguous() for t in (D, z, dt_bias, initial_states))
    # the kernels multiply B, C, x in one dtype
    B, C = B.to(x.dtype), C.to(x.dtype)
    lo, hi = finite(dt_limit)
    y, final, *_ = ssd_scan_fwd(x, dt, A, B, C, D, z, dt_bias, initial_states, seq_idx, int(chunk_size),
                                bool(dt_softplus), lo, hi)
    return (y, final) if return_final_states else y

"""Pure-PyTorch chunked SSD scan (Mamba-2, state-space duality).

Scalar decay per head makes the in-chunk part a masked "attention" matmul; the chunk
states are carried across chunk boundaries by a small (chunks x chunks) decay matrix.
Everything is matmuls and cumulative sums: parallel over the whole sequence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange, repeat

from ..packing import segments
from ..step_size import prepare_dt

__all__ = ["ssd_scan_ref"]


def _segsum(x: torch.Tensor) -> torch.Tensor:
    """(..., T) -> (..., T, T): out[i, j] = sum_{j < k <= i} x[k] for i >= j, else -inf.

    Built from a masked cumulative sum (not a difference of cumsums) so that long
    stretches of large decay lose no precision.
    """
    T = x.shape[-1]
    x = repeat(x, "... t -> ... t s", s=T)
    strict = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device), diagonal=-1)
    x = x.masked_fill(~strict, 0)
    out = torch.cumsum(x, dim=-2)
    keep = torch.tril(torch.ones(T, T, dtype=torch.bool, device=x.device))
    return out.masked_fill(~keep, float("-inf"))


def ssd_scan_ref(
    x: torch.Tensor,
    dt: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    chunk_size: int = 64,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    dt_bias: torch.Tensor | None = None,
    initial_states: torch.Tensor | None = None,
    dt_softplus: bool = False,
    dt_limit: tuple[float, float] = (0.0, float("inf")),
    return_final_states: bool = False,
    seq_idx: torch.Tensor | None = None,
):
    """Chunked SSD scan, argument layout of mamba_ssm's ``mamba_chunk_scan_combined``.

    x: (batch, L, heads, headdim); dt: (batch, L, heads); A: (heads,) negative;
    B, C: (batch, L, groups, n); D: (heads,) or (heads, headdim); z: like x (y * silu(z));
    dt_bias: (heads,); initial_states: (batch, heads, headdim, n); seq_idx: (batch, L) int32, packed
    sequences (see ``packing``): initial_states apply to each row's first sequence, the final state is
    its last sequence's.
    Returns y like x (and the final states (batch, heads, headdim, n) in float32).
    """
    if seq_idx is not None:
        return _packed(x, dt, A, B, C, chunk_size, D, z, dt_bias, initial_states, dt_softplus, dt_limit,
                       return_final_states, seq_idx)
    bsz, L, H, P = x.shape
    G = B.shape[-2]
    if H % G:
        raise ValueError(f"ssd_scan: {H} heads are not divisible by {G} groups of B/C")
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    x_, dt_ = x.to(work), prepare_dt(dt, dt_bias, dt_softplus, dt_limit, work)
    B_ = repeat(B.to(work), "b l g n -> b l (g r) n", r=H // G)
    C_ = repeat(C.to(work), "b l g n -> b l (g r) n", r=H // G)
    pad = (-L) % chunk_size
    if pad:  # dt = 0 on padding: decay 1 and no input, so states pass through unchanged
        x_ = F.pad(x_, (0, 0, 0, 0, 0, pad))
        dt_ = F.pad(dt_, (0, 0, 0, pad))
        B_ = F.pad(B_, (0, 0, 0, 0, 0, pad))
        C_ = F.pad(C_, (0, 0, 0, 0, 0, pad))
    xs, Bs, Cs = (rearrange(t, "b (c l) h k -> b c l h k", l=chunk_size) for t in (x_, B_, C_))
    dA = rearrange(dt_ * A.to(work), "b (c l) h -> b h c l", l=chunk_size)
    dts = rearrange(dt_, "b (c l) h -> b c l h", l=chunk_size)
    xdt = xs * dts.unsqueeze(-1)
    cumA = torch.cumsum(dA, dim=-1)  # (b, h, c, l)

    # 1. within each chunk: y_i = sum_{j<=i} C_i.B_j exp(cumA_i - cumA_j) dt_j x_j
    decay = torch.exp(_segsum(dA))  # (b, h, c, l, l)
    scores = torch.einsum("bclhn,bcshn->bhcls", Cs, Bs) * decay
    y = torch.einsum("bhcls,bcshp->bclhp", scores, xdt)

    # 2. the state each chunk leaves behind, starting from zero
    to_end = torch.exp(cumA[..., -1:] - cumA)  # (b, h, c, l)
    states = torch.einsum("bclhn,bhcl,bclhp->bchpn", Bs, to_end, xdt)

    # 3. carry states over chunk boundaries: (c+1) x (c+1) decay matrix between chunks
    if initial_states is None:
        init = torch.zeros_like(states[:, :1])
    else:
        init = initial_states.to(work).unsqueeze(1)
    states = torch.cat([init, states], dim=1)  # (b, c+1, h, p, n)
    chunk_decay = torch.exp(_segsum(F.pad(cumA[..., -1], (1, 0))))  # (b, h, c+1, c+1)
    carried = torch.einsum("bhzc,bchpn->bzhpn", chunk_decay, states)
    entering, final = carried[:, :-1], carried[:, -1]

    # 4. each position reads the state that entered its chunk, decayed to it
    y = y + torch.einsum("bclhn,bchpn,bhcl->bclhp", Cs, entering, torch.exp(cumA))
    y = rearrange(y, "b c l h p -> b (c l) h p")[:, :L]
    if D is not None:
        Dw = D.to(work)
        y = y + x.to(work) * (Dw[:, None] if Dw.dim() == 1 else Dw)
    if z is not None:
        y = y * F.silu(z.to(work))
    y = y.to(x.dtype)
    return (y, final) if return_final_states else y


def _packed(x, dt, A, B, C, chunk_size, D, z, dt_bias, initial_states, dt_softplus, dt_limit, return_final_states,
            seq_idx):
    """Every sequence of every row run on its own, the results laid back end to end."""
    rows: dict[int, list[torch.Tensor]] = {}
    finals: dict[int, torch.Tensor] = {}
    for row, start, end in segments(seq_idx):
        r, t = slice(row, row + 1), slice(start, end)
        h0 = initial_states[r] if initial_states is not None and start == 0 else None
        y, final = ssd_scan_ref(x[r, t], dt[r, t], A, B[r, t], C[r, t], chunk_size, D,
                                None if z is None else z[r, t], dt_bias, h0, dt_softplus, dt_limit, True)
        rows.setdefault(row, []).append(y)
        finals[row] = final
    y = torch.cat([torch.cat(rows[row], 1) for row in range(x.shape[0])], 0)
    if return_final_states:
        return y, torch.cat([finals[row] for row in range(x.shape[0])], 0)
    return y

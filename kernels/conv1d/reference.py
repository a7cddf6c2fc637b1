"""Pure-PyTorch causal depthwise conv1d and its single-step update."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["causal_conv1d_ref", "causal_conv1d_update_ref"]


def _activate(x: torch.Tensor, activation: str | None) -> torch.Tensor:
    if activation in (None, "identity"):
        return x
    if activation in ("silu", "swish"):
        return F.silu(x)
    raise ValueError(f"causal_conv1d: unknown activation {activation!r} (use None or 'silu')")


def causal_conv1d_ref(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
    initial_states: torch.Tensor | None = None,
    return_final_states: bool = False,
    seq_idx: torch.Tensor | None = None,
):
    """Depthwise causal convolution: out_t = act(bias + sum_k w_k x_{t - (W-1) + k}).

    x: (batch, d, L); weight: (d, W); bias: (d,); initial_states: (batch, d, W-1), the
    inputs preceding x. Returns out (batch, d, L) and, when asked, the last W-1 inputs
    (batch, d, W-1), the state that ``causal_conv1d_update`` carries on from.

    seq_idx: (batch, L) int, packed sequences (see ``packing``): the window restarts from zeros
    wherever seq_idx[b, t] != seq_idx[b, t-1]; initial_states feeds each row's first sequence
    and the final state is that of the last one (zeros before its start).
    """
    d, W = weight.shape
    if initial_states is None:
        xp = F.pad(x, (W - 1, 0))
    else:
        xp = torch.cat([initial_states.to(x.dtype), x], dim=-1)
    if seq_idx is not None and x.shape[-1] > 0:
        return _packed_conv_ref(xp, weight, bias, activation, seq_idx, return_final_states)
    out = F.conv1d(xp, weight.unsqueeze(1).to(x.dtype), bias.to(x.dtype) if bias is not None else None, groups=d)
    out = _activate(out, activation)
    if return_final_states:
        return out, xp[..., xp.shape[-1] - (W - 1):]
    return out


def _packed_conv_ref(xp, weight, bias, activation, seq_idx, return_final_states):
    """causal_conv1d_ref with seq_idx: xp (batch, d, W-1+L) is x behind its initial state."""
    W = weight.shape[1]
    L = xp.shape[-1] - (W - 1)
    # segment number of every position: +1 at each change; the W-1 state positions join the first segment
    change = (seq_idx[:, 1:] != seq_idx[:, :-1]).long()
    seg = F.pad(change.cumsum(-1), (W - 1 + 1, 0))  # (batch, W-1+L)
    acc_dtype = torch.promote_types(xp.dtype, torch.float32)
    w = weight.to(xp.dtype).to(acc_dtype)
    out = torch.zeros(xp.shape[0], xp.shape[1], L, dtype=acc_dtype, device=xp.device)
    for k in range(W):  # tap k reads position t - (W-1) + k: kept only inside t's own segment
        same = (seg[:, k:k + L] == seg[:, W - 1:])[:, None]
        out = out + w[:, k, None] * torch.where(same, xp[..., k:k + L].to(acc_dtype), 0.0)
    if bias is not None:
        out = out + bias.to(xp.dtype).to(acc_dtype)[:, None]
    out = _activate(out, activation).to(xp.dtype)
    if return_final_states:
        last = (seg[:, L:] == seg[:, -1:])[:, None]  # the last W-1 positions that belong to the last segment
        return out, torch.where(last, xp[..., L:], 0.0)
    return out


def causal_conv1d_update_ref(
    x: torch.Tensor,
    conv_state: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    activation: str | None = None,
) -> torch.Tensor:
    """One step. x: (batch, d); conv_state: (batch, d, W), the last W inputs, updated in
    place (shifted left, x appended). Returns out (batch, d)."""
    conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
    conv_state[..., -1] = x.to(conv_state.dtype)
    out = (conv_state * weight.to(conv_state.dtype)).sum(-1)
    if bias is not None:
        out = out + bias.to(out.dtype)
    return _activate(out, activation).to(x.dtype)

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
):
    """Depthwise causal convolution: out_t = act(bias + sum_k w_k x_{t - (W-1) + k}).

    x: (batch, d, L); weight: (d, W); bias: (d,); initial_states: (batch, d, W-1), the
    inputs preceding x. Returns out (batch, d, L) and, when asked, the last W-1 inputs
    (batch, d, W-1), the state that ``causal_conv1d_update`` carries on from.
    """
    d, W = weight.shape
    if initial_states is None:
        xp = F.pad(x, (W - 1, 0))
    else:
        xp = torch.cat([initial_states.to(x.dtype), x], dim=-1)
    out = F.conv1d(xp, weight.unsqueeze(1).to(x.dtype), bias.to(x.dtype) if bias is not None else None, groups=d)
    out = _activate(out, activation)
    if return_final_states:
        return out, xp[..., xp.shape[-1] - (W - 1):]
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

"""Channel-flipped bidirectional mixer (the bidirectional variant of Mamba3D, Han et al., 2024).

Point tokens have no natural reading direction, so instead of reading the sequence backwards the second
pass reads the same sequence with its feature channels in reverse order. Registered as the mixer
"vision/channel_flip", so ``ssmkit.Backbone`` builds it like any other mixer.
"""

from __future__ import annotations

import torch
from torch import nn

from ssmkit.backbone import make_mixer

MERGES = ("sum", "mean")


class ChannelFlip(nn.Module):
    """(batch, L, d_model) -> (batch, L, d_model): y = f(x) + flip_c(g(flip_c(x))), flip_c reversing the
    d_model channels; g has its own weights unless ``share`` (then g = f). ``merge`` "mean" halves the sum."""

    causal = False

    def __init__(self, d_model: int, inner: str = "mamba", share: bool = False, merge: str = "sum",
                 **inner_options):
        super().__init__()
        if merge not in MERGES:
            raise ValueError(f"unknown merge {merge!r}: use one of {', '.join(MERGES)}")
        self.fwd = make_mixer(inner, d_model, **inner_options)
        self.bwd = None if share else make_mixer(inner, d_model, **inner_options)
        self.merge = merge

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        backward = self.fwd if self.bwd is None else self.bwd
        y = self.fwd(x, **kwargs) + backward(x.flip(-1), **kwargs).flip(-1)
        return 0.5 * y if self.merge == "mean" else y


__all__ = ["ChannelFlip"]

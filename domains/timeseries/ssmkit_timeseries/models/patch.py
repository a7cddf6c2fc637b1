"""Channel-independent patch Mamba forecaster (PatchTST's design with an SSM in place of attention)."""

from __future__ import annotations

import torch
from torch import nn

from ssmkit.backbone import Backbone, BackboneConfig

from .base import WindowForecaster
from .inverted import mixer_options


class PatchMamba(WindowForecaster):
    """Every variable forecast on its own from patches of its look-back window.

    x (b, seq_len, n_vars) -> (b, pred_len, n_vars, n_quantiles); marks are ignored. The window is
    padded at the end with ``stride`` copies of its last value and cut into
    n_patches = (seq_len - patch_len) // stride + 2 patches, each embedded as one token of a causal backbone;
    the flattened tokens are projected to the forecast. ``linear_skip`` adds a linear map of the
    normalised window (see WindowForecaster; the Forecaster task can start it at the ridge fit).
    """

    trainable = True

    def __init__(self, n_vars: int, seq_len: int, pred_len: int, n_quantiles: int = 1, n_marks: int = 0, *,
                 patch_len: int = 16, stride: int = 8, d_model: int = 128, n_layers: int = 2, d_state: int = 16,
                 d_ff: int = 256, dropout: float = 0.2, head_dropout: float = 0.0, revin: bool = True,
                 mixer: str = "mamba", expand: int = 2, norm: str = "rmsnorm", mixer_extra: dict | None = None,
                 linear_skip: bool = True):
        super().__init__(n_vars, seq_len, pred_len, revin, linear_skip)
        if patch_len < 1 or stride < 1:
            raise ValueError(f"patch_len and stride must be positive, got {patch_len} and {stride}")
        if seq_len < patch_len:
            raise ValueError(f"PatchMamba needs seq_len >= patch_len, got seq_len={seq_len} < patch_len={patch_len}")
        self.n_quantiles, self.n_marks = n_quantiles, n_marks
        self.patch_len, self.stride = patch_len, stride
        self.n_patches = (seq_len - patch_len) // stride + 2
        self.embed = nn.Linear(patch_len, d_model)
        self.pos = nn.Parameter(torch.empty(1, self.n_patches, d_model).uniform_(-0.02, 0.02))
        self.dropout = nn.Dropout(dropout)
        self.backbone = Backbone(BackboneConfig(
            d_model=d_model, n_layers=n_layers, mixer=mixer,
            mixer_options=mixer_options(mixer, d_state, expand, mixer_extra), norm=norm,
            d_intermediate=d_ff, dropout=dropout,
        ))
        self.head_dropout = nn.Dropout(head_dropout)
        self.head = nn.Linear(self.n_patches * d_model, pred_len * n_quantiles)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        """x: (n, seq_len) -> patches (n, n_patches, patch_len)."""
        padded = torch.cat([x, x[:, -1:].expand(-1, self.stride)], dim=1)
        return padded.unfold(1, self.patch_len, self.stride)

    def forward(self, x: torch.Tensor, marks: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, seq_len, n_vars), marks ignored -> (b, pred_len, n_vars, n_quantiles)."""
        b, L, c = x.shape
        x = self.normalize(x)
        series = x.transpose(1, 2).reshape(b * c, L)  # variables folded into the batch
        h = self.dropout(self.embed(self.patchify(series)) + self.pos)  # (b*c, n_patches, d_model)
        h = self.backbone(h)
        y = self.head(self.head_dropout(h.flatten(1)))  # (b*c, pred_len * q)
        y = y.reshape(b, c, self.pred_len, self.n_quantiles).permute(0, 2, 1, 3)  # (b, pred_len, c, q)
        y = self.denormalize(y, x)
        return y

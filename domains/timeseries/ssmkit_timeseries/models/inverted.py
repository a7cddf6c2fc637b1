"""Inverted (variate-as-token) Mamba forecaster in the style of S-Mamba / iTransformer."""

from __future__ import annotations

import torch
from torch import nn

from ssmkit.backbone import Backbone, BackboneConfig

from .base import WindowForecaster


def mixer_options(mixer: str, d_state: int, expand: int, extra: dict | None = None) -> dict:
    """Keyword arguments for a built-in mixer from the shared model options (``extra`` wins)."""
    if mixer in ("mamba", "mamba2"):
        options = {"d_state": d_state, "expand": expand}
    elif mixer == "s4d":
        options = {"d_state": d_state}
    else:  # a plug-in mixer: only what the caller spells out
        options = {}
    return {**options, **(extra or {})}


class InvertedMamba(WindowForecaster):
    """Each variable's look-back window is one token; a bidirectional Mamba mixes the tokens.

    x (b, seq_len, n_vars), marks (b, seq_len, n_marks) | None -> (b, pred_len, n_vars, n_quantiles).
    Calendar features become extra tokens (when ``use_marks`` and marks are given); only the
    variable tokens are projected to the forecast. ``linear_skip`` adds a linear map of each
    normalised window (see WindowForecaster; the Forecaster task can start it at the ridge fit).
    """

    trainable = True

    def __init__(self, n_vars: int, seq_len: int, pred_len: int, n_quantiles: int = 1, n_marks: int = 0, *,
                 d_model: int = 256, n_layers: int = 2, d_state: int = 16, d_ff: int = 256, dropout: float = 0.1,
                 expand: int = 2, revin: bool = True, mixer: str = "mamba", use_marks: bool = True,
                 norm: str = "layernorm", mixer_extra: dict | None = None,
                 linear_skip: bool = True):
        super().__init__(n_vars, seq_len, pred_len, revin, linear_skip)
        self.n_quantiles, self.n_marks = n_quantiles, n_marks
        self.use_marks = use_marks and n_marks > 0
        self.embed = nn.Linear(seq_len, d_model)
        self.dropout = nn.Dropout(dropout)
        self.backbone = Backbone(BackboneConfig(
            d_model=d_model, n_layers=n_layers, mixer=mixer,
            mixer_options=mixer_options(mixer, d_state, expand, mixer_extra), norm=norm,
            d_intermediate=d_ff, dropout=dropout, bidirectional=True, merge="sum",
        ))
        self.head = nn.Linear(d_model, pred_len * n_quantiles)

    def forward(self, x: torch.Tensor, marks: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, seq_len, n_vars), marks: (b, seq_len, n_marks) | None -> (b, pred_len, n_vars, n_quantiles)."""
        b, L, c = x.shape
        x = self.normalize(x)
        tokens = x.transpose(1, 2)  # (b, c, L): one token per variable
        if self.use_marks and marks is not None:
            if marks.shape != (b, L, self.n_marks):
                raise ValueError(f"expected marks of shape ({b}, {L}, {self.n_marks}), got {tuple(marks.shape)}")
            tokens = torch.cat([tokens, marks.transpose(1, 2).to(tokens.dtype)], dim=1)  # (b, c + n_marks, L)
        h = self.backbone(self.dropout(self.embed(tokens)))  # (b, tokens, d_model)
        y = self.head(h[:, :c])  # (b, c, pred_len * q)
        y = y.reshape(b, c, self.pred_len, self.n_quantiles).permute(0, 2, 1, 3)  # (b, pred_len, c, q)
        y = self.denormalize(y, x)
        return y

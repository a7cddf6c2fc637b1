"""Forecasting models, all built as ``cls(n_vars, seq_len, pred_len, n_quantiles=1, n_marks=0, **options)``.

``forward(x (b, seq_len, n_vars), marks (b, seq_len, n_marks) | None) -> (b, pred_len, n_vars, n_quantiles)``.
"""

from __future__ import annotations

import inspect

from torch import nn

from .inverted import InvertedMamba
from .linear import DLinear, Ridge, decompose, fit_ridge, moving_average
from .naive import LastValue, SeasonalNaive
from .patch import PatchMamba

MODELS: dict[str, type[nn.Module]] = {
    "inverted_mamba": InvertedMamba,
    "patch_mamba": PatchMamba,
    "dlinear": DLinear,
    "ridge": Ridge,
    "last_value": LastValue,
    "seasonal_naive": SeasonalNaive,
}

_POSITIONAL = ("self", "n_vars", "seq_len", "pred_len", "n_quantiles", "n_marks")


def model_options(name: str) -> dict[str, object]:
    """The options a model takes beyond the uniform arguments, with their defaults."""
    params = inspect.signature(MODELS[name].__init__).parameters
    return {k: p.default for k, p in params.items()
            if k not in _POSITIONAL and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def build_model(name: str, n_vars: int, seq_len: int, pred_len: int, n_quantiles: int = 1, n_marks: int = 0,
                **options) -> nn.Module:
    """Instantiate ``MODELS[name]``; ValueError on an unknown name, TypeError on an unknown option."""
    if name not in MODELS:
        raise ValueError(f"unknown forecasting model {name!r}: use one of {', '.join(sorted(MODELS))}")
    known = model_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        valid = ", ".join(known) or "none"
        raise TypeError(f"model {name!r} got unknown option(s) {', '.join(map(repr, unknown))}; valid options: {valid}")
    return MODELS[name](n_vars, seq_len, pred_len, n_quantiles=n_quantiles, n_marks=n_marks, **options)


__all__ = [
    "MODELS", "build_model", "model_options", "InvertedMamba", "PatchMamba", "DLinear", "Ridge", "fit_ridge",
    "decompose", "moving_average", "LastValue", "SeasonalNaive",
]

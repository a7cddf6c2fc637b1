"""Next-item models, all built as ``cls(n_items, max_len, **options)``.

``forward(x (b, L) item ids, right-padded with 0) -> (b, L, d)``; ``scores(h (..., d), start, stop)`` against the
tied item embeddings. Recurrent ones (mamba4rec, gru4rec) also ``step`` one item at a time in O(1).
"""

from __future__ import annotations

import inspect

from .base import NextItemModel
from .gru4rec import GRU4Rec
from .mamba4rec import Mamba4Rec
from .popularity import Popularity
from .sasrec import SASRec

MODELS: dict[str, type[NextItemModel]] = {
    "mamba4rec": Mamba4Rec,
    "sasrec": SASRec,
    "gru4rec": GRU4Rec,
    "popularity": Popularity,
}


def model_options(name: str) -> dict[str, object]:
    """The keyword options of a model beyond (n_items, max_len), with their defaults."""
    params = inspect.signature(MODELS[name].__init__).parameters
    return {k: p.default for k, p in params.items()
            if k not in ("self", "n_items", "max_len") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def build_model(name: str, n_items: int, max_len: int, **options) -> NextItemModel:
    """Instantiate ``MODELS[name]``; ValueError on an unknown name, TypeError on an unknown option."""
    if name not in MODELS:
        raise ValueError(f"unknown next-item model {name!r}: use one of {', '.join(MODELS)}")
    known = model_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(f"model {name!r} got unknown option(s) {', '.join(map(repr, unknown))}; "
                        f"valid options: {', '.join(known) or 'none'}")
    return MODELS[name](n_items, max_len, **options)


__all__ = ["MODELS", "build_model", "model_options", "NextItemModel", "Mamba4Rec", "SASRec", "GRU4Rec",
           "Popularity"]

"""Tasks: LightningModules and pipeline descriptions.

``Pipeline`` is light; the LightningModules (and with them Lightning and torchmetrics, seconds of imports) load on
first use, so listing plug-ins, datasets or ``--help`` does not pay for them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .pipeline import Pipeline

if TYPE_CHECKING:
    from .sequence import SequenceClassifier, SequenceNet
    from .task import Task, warmup_cosine

_LAZY = {"SequenceClassifier": ".sequence", "SequenceNet": ".sequence", "Task": ".task", "warmup_cosine": ".task"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Pipeline", "SequenceClassifier", "SequenceNet", "Task", "warmup_cosine"]

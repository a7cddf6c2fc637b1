"""A pipeline: a named job = data module + model + defaults, run by `ssmkit <plugin> <name>`."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


def _resolve(target: Any) -> Any:
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return target


@dataclass
class Pipeline:
    """model/data: classes or "module:Class" strings (imported only when the pipeline runs).

    trainer: Trainer defaults (e.g. {"max_epochs": 20}); monitor/mode: the checkpointed metric;
    demo: what ``ssmkit demo`` runs — {"model": {...}, "data": {...}, "trainer": {...},
    "metrics": ["test/acc", ...]} — small enough for a CPU in a minute or two.
    links: data attributes that set model arguments once the data module exists, e.g.
    {"num_classes": "num_classes"} (data.num_classes -> model.num_classes).
    patience: stop when ``monitor`` has not improved for this many validation rounds
    (``--early_stopping.patience`` overrides); None trains for all of ``max_epochs``.
    needs_checkpoint: ``validate``/``test``/``predict`` without ``--ckpt_path`` would use an untrained
    model, so the CLI warns; False for pipelines whose model loads its own weights (e.g. embeddings).
    """

    model: Any
    data: Any
    description: str = ""
    trainer: dict = field(default_factory=dict)
    monitor: str = "val/loss"
    mode: str = "min"
    demo: dict | None = None
    links: dict = field(default_factory=dict)
    patience: int | None = None
    needs_checkpoint: bool = True

    @property
    def model_class(self) -> type:
        return _resolve(self.model)

    @property
    def data_class(self) -> type:
        return _resolve(self.data)

    def instantiate(self, model: dict | None = None, data: dict | None = None) -> tuple[Any, Any]:
        """(data module, model) from keyword arguments, ``links`` applied as the CLI applies them."""
        dm = self.data_class(**(data or {}))
        model_kwargs = {**(model or {}), **{dst: getattr(dm, src) for src, dst in self.links.items()}}
        return dm, self.model_class(**model_kwargs)

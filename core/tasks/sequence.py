"""Generic sequence classifier: embedding -> SSM backbone -> pooled head."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from ..backbone import Backbone, BackboneConfig
from ..errors import DataError
from ..heads import ClassificationHead
from .task import Task


class SequenceNet(nn.Module):
    """(batch, L, in_features) floats or (batch, L) token ids -> (batch, num_outputs)."""

    def __init__(self, backbone: BackboneConfig, num_outputs: int, in_features: int = 1,
                 vocab_size: int = 0, pool: str = "mean", dropout: float = 0.0):
        super().__init__()
        d = backbone.d_model
        self.embed = nn.Embedding(vocab_size, d) if vocab_size else nn.Linear(in_features, d)
        self.backbone = Backbone(backbone)
        self.head = ClassificationHead(d, num_outputs, pool, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if isinstance(self.embed, nn.Linear) and x.dim() == 2:
            x = x.unsqueeze(-1)
        return self.head(self.backbone(self.embed(x)), mask)


class SequenceClassifier(Task):
    """Classify whole sequences. Batches: {"x": (b, L[, c]), "y": (b,), "index": (b,)}."""

    def __init__(self, num_classes: int = 2, in_features: int = 1, vocab_size: int = 0,
                 d_model: int = 64, n_layers: int = 2, mixer: str = "mamba", d_state: int = 16,
                 mixer_options: dict | None = None, bidirectional: bool = False, merge: str = "sum",
                 norm: str = "rmsnorm", pool: str = "mean", dropout: float = 0.0, lr: float = 2e-3,
                 weight_decay: float = 0.05, warmup: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        self.save_hyperparameters()
        config = BackboneConfig(d_model=d_model, n_layers=n_layers, mixer=mixer,
                                mixer_options={"d_state": d_state, **(mixer_options or {})}, norm=norm,
                                dropout=dropout, bidirectional=bidirectional, merge=merge)
        self.net = SequenceNet(config, num_classes, in_features, vocab_size, pool, dropout)
        self.set_metrics(MetricCollection({
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
        }))

    def setup(self, stage: str) -> None:
        """Refuse data with more classes than outputs (once, before any step)."""
        wanted = getattr(getattr(self.trainer, "datamodule", None), "num_classes", None)
        if wanted is not None and wanted > self.hparams.num_classes:
            raise DataError(f"the data has {wanted} classes but the model has "
                            f"num_classes={self.hparams.num_classes}; set --model.num_classes")

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out, batch["y"])

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        prob = out.float().softmax(-1)
        p, label = prob.max(-1)
        return [{"index": int(i), "label": int(c), "probability": round(float(q), 6)}
                for i, c, q in zip(batch["index"], label, p)]

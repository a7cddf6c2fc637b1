"""Sequence classification of DNA: the network, the loss and the field's metrics."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryMatthewsCorrCoef,
    BinaryRecall,
    BinarySpecificity,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassMatthewsCorrCoef,
)

from ssmkit.errors import DataError
from ssmkit.tasks import Task

from .model import DNAClassifierNet


class DNAClassifier(Task):
    """Classify DNA sequences. Batches: {"x": (b, L) token ids, "mask": (b, L), "y": (b,), "index": (b,)}.

    Binary tasks report accuracy, MCC, AUROC, sensitivity (recall of class 1, e.g. "promoter") and
    specificity; more classes report accuracy, MCC and macro AUROC.

    Args:
        rc: "equivariant" shares the weights between a strand and its reverse complement (the
            logits of both are identical); "none" reads the given strand only.
    """

    def __init__(self, num_classes: int = 2, d_model: int = 128, n_layers: int = 4, d_state: int = 16,
                 bidirectional: bool = True, rc: str = "equivariant", mixer: str = "mamba", pool: str = "mean",
                 dropout: float = 0.1, head_dropout: float = 0.1, lr: float = 1e-3, weight_decay: float = 0.05,
                 warmup: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        self.save_hyperparameters()
        self.net = DNAClassifierNet(num_classes, pool=pool, head_dropout=head_dropout, d_model=d_model,
                                    n_layers=n_layers, d_state=d_state, bidirectional=bidirectional, rc=rc,
                                    mixer=mixer, dropout=dropout)
        if num_classes == 2:
            metrics = {"acc": BinaryAccuracy(), "mcc": BinaryMatthewsCorrCoef(), "auroc": BinaryAUROC(),
                       "sensitivity": BinaryRecall(), "specificity": BinarySpecificity()}
        else:
            metrics = {"acc": MulticlassAccuracy(num_classes, average="micro"),
                       "mcc": MulticlassMatthewsCorrCoef(num_classes), "auroc": MulticlassAUROC(num_classes)}
        self.set_metrics(MetricCollection(metrics))

    def setup(self, stage: str) -> None:
        wanted = getattr(getattr(self.trainer, "datamodule", None), "num_classes", None)
        if wanted is not None and wanted != self.hparams.num_classes:
            raise DataError(f"the data has {wanted} classes but the model has "
                            f"num_classes={self.hparams.num_classes}")

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out.float(), batch["y"])

    def metric_inputs(self, out: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        prob = out.float().softmax(-1)
        return (prob[:, 1] if self.hparams.num_classes == 2 else prob), batch["y"]

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        prob = out.float().softmax(-1)
        p, label = prob.max(-1)
        return [{"index": int(i), "label": int(c), "probability": round(float(q), 6)}
                for i, c, q in zip(batch["index"], label, p)]

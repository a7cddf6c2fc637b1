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
        stem: width of a convolution over the embeddings before the SSM (a motif detector); 0: none.
        pool: "mean", "max", "first", "last", or "flatten" (position-aware, for aligned fixed-length
            windows; ``length`` is linked from the data).
        init_from: a `genomics pretrain` checkpoint to start from (fine-tuning): its embedding and
            causal backbone (d_model, n_layers, d_state, mixer taken from it) are loaded; with
            rc="equivariant" the causal network reads both strands, so every position sees both sides.
        balance: weight the loss by inverse class frequency (``class_counts``, linked from the data).
        softmask: add a learned vector at soft-masked (lowercase) positions; linked from the data
            (``--data.lowercase mask``).
    """

    def __init__(self, num_classes: int = 2, d_model: int = 128, n_layers: int = 4, d_state: int = 16,
                 bidirectional: bool = True, rc: str = "equivariant", mixer: str = "mamba", pool: str = "flatten",
                 dropout: float = 0.1, head_dropout: float = 0.1, stem: int = 15, d_intermediate: int = 0,
                 balance: bool = False, class_counts: list[int] | None = None, length: int | None = None,
                 init_from: str | None = None, lr: float = 1e-3, weight_decay: float = 0.05, warmup: float = 0.05,
                 softmask: bool = False):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        pretrained = None
        if init_from:  # fine-tune a `genomics pretrain` network: its architecture wins, read causally
            from .embed import load_dna_net

            pretrained, info = load_dna_net(init_from)
            if info["kind"] != "pretrain":
                raise DataError("init_from wants a `genomics pretrain` checkpoint (to resume a classifier, "
                                "use --ckpt_path)", path=init_from)
            o = info["options"]
            d_model, n_layers, d_state, mixer, d_intermediate = (
                o["d_model"], o["n_layers"], o["d_state"], o["mixer"], o["d_intermediate"])
            bidirectional = False
        self.save_hyperparameters()
        if pretrained is not None:  # the checkpoint records the network it holds (under the CLI,
            # save_hyperparameters keeps the arguments as given, not the overrides above)
            self.hparams.update(d_model=d_model, n_layers=n_layers, d_state=d_state, mixer=mixer,
                                d_intermediate=d_intermediate, bidirectional=bidirectional)
        self.net = DNAClassifierNet(num_classes, pool=pool, head_dropout=head_dropout, length=length,
                                    d_model=d_model, n_layers=n_layers, d_state=d_state, bidirectional=bidirectional,
                                    rc=rc, mixer=mixer, dropout=dropout, stem=stem, d_intermediate=d_intermediate,
                                    softmask=softmask)
        if pretrained is not None:
            missing, unexpected = self.net.net.load_state_dict(pretrained.state_dict(), strict=False)
            if unexpected or any(not k.startswith(("stem.", "softmask_embed")) for k in missing):
                raise DataError(f"pretrained weights do not fit (missing {missing}, unexpected {unexpected})",
                                path=init_from)
        weights = None
        if balance and class_counts:  # each class weighs as much in the loss, whatever its frequency
            counts = torch.tensor(class_counts, dtype=torch.float32).clamp_min(1)
            weights = counts.sum() / (len(counts) * counts)
        self.register_buffer("class_weights", weights, persistent=False)
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

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint trained with (or without) soft-mask positions needs the same --data.lowercase."""
        trained = "net.net.softmask_embed" in checkpoint.get("state_dict", {})
        if trained != bool(self.hparams.softmask):
            path = getattr(getattr(self, "_trainer", None), "ckpt_path", None)
            raise DataError("the checkpoint was trained " + ("with soft-mask positions: give --data.lowercase mask"
                            if trained else "without soft-mask positions: --data.lowercase mask does not apply"),
                            path=path)

    def model_inputs(self, batch: dict) -> dict:
        inputs = super().model_inputs(batch)
        if self.hparams.softmask:
            if "softmask" not in batch:
                raise DataError("the model was trained with soft-mask positions: give --data.lowercase mask")
            inputs["softmask"] = batch["softmask"]
        return inputs

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out.float(), batch["y"], weight=self.class_weights)

    def metric_inputs(self, out: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        prob = out.float().softmax(-1)
        return (prob[:, 1] if self.hparams.num_classes == 2 else prob), batch["y"]

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        prob = out.float().softmax(-1)
        p, label = prob.max(-1)
        return [{"index": int(i), "label": int(c), "probability": round(float(q), 6)}
                for i, c, q in zip(batch["index"], label, p)]

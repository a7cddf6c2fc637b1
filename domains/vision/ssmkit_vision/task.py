"""Image and point-cloud classification: a timm-registered model, cross-entropy (soft targets under mixup),
accuracy, top-5, mean-class accuracy and a confusion-matrix PNG written after ``test``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix

from ssmkit.errors import ConfigError, DataError
from ssmkit.tasks import Task


def create_model(model: str, num_classes: int, in_chans: int, img_size: int, options: dict | None = None):
    """``timm.create_model`` for any timm name (ours: "ssmkit_vim_mnist", "ssmkit_smnist", ...)."""
    import timm

    from . import models  # noqa: F401  (registers the ssmkit_* names in timm)

    if not timm.is_model(model):
        known = ", ".join(timm.list_models("ssmkit_*"))
        raise ConfigError(f"unknown timm model {model!r} (ssmkit's: {known}; or any name of timm.list_models())")
    kwargs = {"num_classes": num_classes, "in_chans": in_chans, **(options or {})}
    if model.startswith("ssmkit_") or "img_size" in (options or {}):
        kwargs.setdefault("img_size", img_size)
    try:
        return timm.create_model(model, **kwargs)
    except TypeError as exc:
        raise ConfigError(f"model {model!r}: {exc}") from None


def create_point_model(model: str, num_classes: int, options: dict | None = None):
    """A point-cloud model by timm name ("ssmkit_pointmamba", "ssmkit_pointmamba_tiny", "ssmkit_mamba3d")."""
    import timm

    from .models import point_ssm

    if not timm.is_model(model):
        raise ConfigError(f"unknown point-cloud model {model!r} (ssmkit's: {', '.join(point_ssm.MODEL_NAMES)})")
    try:
        return timm.create_model(model, num_classes=num_classes, **(options or {}))
    except TypeError as exc:
        raise ConfigError(f"model {model!r}: {exc}") from None


class ClassifierTask(Task):
    """What the image and point-cloud classifiers share: cross-entropy (soft targets allowed), accuracy,
    top-5 and mean-class accuracy, a confusion matrix after ``test`` (``last_confusion``, and
    confusion_matrix.png in the run folder when ``hparams.confusion_png``), and predict rows of
    (index, label, probability). Subclasses build ``self.net`` and call ``_classification_metrics``."""

    def _classification_metrics(self, num_classes: int) -> None:
        self.set_metrics(MetricCollection({
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "top5": MulticlassAccuracy(num_classes, top_k=min(5, num_classes), average="micro"),
            "mean_class_acc": MulticlassAccuracy(num_classes, average="macro"),
        }))
        self.confusion = MulticlassConfusionMatrix(num_classes)
        self.written: list[Path] = []

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        wanted = getattr(dm, "num_classes", None)
        if wanted is not None and wanted != self.hparams.num_classes:
            raise DataError(f"the data has {wanted} classes but the model has "
                            f"num_classes={self.hparams.num_classes}")

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out.float(), batch["y"], label_smoothing=self.hparams.label_smoothing)

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self(batch["x"])
        self.confusion.update(out.float().argmax(-1), batch["y"])
        loss = self.compute_loss(out, batch)
        self.log("test/loss", loss, on_epoch=True, batch_size=len(batch["x"]), sync_dist=True)
        self.test_metrics.update(out, batch["y"])
        self.log_dict(self.test_metrics, on_epoch=True, batch_size=len(batch["x"]))
        return loss

    def on_test_epoch_end(self) -> None:
        matrix = self.confusion.compute().cpu()
        self.confusion.reset()
        self.last_confusion = matrix
        folder = self.trainer.log_dir if self.trainer.logger is not None else None
        if self.hparams.confusion_png and folder and self.trainer.is_global_zero:
            from .plot import plot_confusion

            classes = getattr(getattr(self.trainer, "datamodule", None), "classes", None)
            path = plot_confusion(matrix.numpy(), classes, Path(folder) / "confusion_matrix.png")
            self.written.append(path)
            from ssmkit.cli.report import console

            console.print(f"wrote {path}")

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        prob = out.float().softmax(-1)
        p, label = prob.max(-1)
        return [{"index": int(i), "label": int(c), "probability": round(float(q), 6)}
                for i, c, q in zip(batch["index"], label, p)]


class ImageClassifier(ClassifierTask):
    """Classify images. Batches: {"x": (b, C, H, W), "y": (b,) class ids or (b, num_classes) soft targets,
    "index": (b,)}.

    Args:
        model: a timm model name; ``options`` its keyword arguments (e.g. {"embed_dim": 64, "depth": 4}).
        scan: override the model's scan order by name ("row", "hilbert", "cross", "vision/pmnist", ...).
        label_smoothing: for the cross-entropy (also applied to mixup's soft targets).
        confusion_png: after ``test``, write confusion_matrix.png (rows: true class) in the run folder.
    """

    def __init__(self, num_classes: int = 10, in_chans: int = 1, img_size: int = 28, model: str = "ssmkit_vim_mnist",
                 options: dict | None = None, scan: str | None = None, label_smoothing: float = 0.0,
                 confusion_png: bool = True, lr: float = 2e-3, weight_decay: float = 0.05, warmup: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        self.save_hyperparameters()
        options = dict(options or {})
        if scan is not None:
            options["scan"] = scan
        self.net = create_model(model, num_classes, in_chans, img_size, options)
        self._classification_metrics(num_classes)


class PointCloudClassifier(ClassifierTask):
    """Classify point clouds. Batches: {"x": (b, N, 3) points, "y": (b,) class ids, "index": (b,)}.

    Args:
        model: a timm point-cloud model name; ``options`` its keyword arguments (e.g. {"embed_dim": 96,
            "depth": 4, "lnp": true, "bidirectional": "channel"}).
        serial: override the model's serialisations ("hilbert,hilbert_swap", "zorder,zorder_swap", ...).
        label_smoothing: for the cross-entropy.
        confusion_png: after ``test``, write confusion_matrix.png (rows: true class) in the run folder.
    """

    def __init__(self, num_classes: int = 10, model: str = "ssmkit_pointmamba", options: dict | None = None,
                 serial: str | None = None, label_smoothing: float = 0.0, confusion_png: bool = True,
                 lr: float = 1e-3, weight_decay: float = 0.05, warmup: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        self.save_hyperparameters()
        options = dict(options or {})
        if serial is not None:
            options["serial"] = serial
        self.net = create_point_model(model, num_classes, options)
        self._classification_metrics(num_classes)

    def test_table(self, metrics: dict) -> tuple[str, list[str], list[list]] | None:
        """Overall and mean-class accuracy, then each class's accuracy (recall) and count."""
        if "test/acc" not in metrics:
            return None
        rows = [["overall accuracy", f"{float(metrics['test/acc']):.4f}", ""],
                ["mean-class accuracy", f"{float(metrics['test/mean_class_acc']):.4f}", ""]]
        if "test/loss" in metrics:
            rows.append(["loss", f"{float(metrics['test/loss']):.4f}", ""])
        matrix = getattr(self, "last_confusion", None)
        if matrix is not None:
            classes = getattr(getattr(self.trainer, "datamodule", None), "classes", None) or \
                [str(i) for i in range(len(matrix))]
            totals = matrix.sum(1)
            for c, name in enumerate(classes):
                if totals[c] > 0:
                    rows.append([f"  {name}", f"{float(matrix[c, c] / totals[c]):.4f}", int(totals[c])])
        return "point-cloud classification (test)", ["metric", "value", "clouds"], rows


__all__ = ["ClassifierTask", "ImageClassifier", "PointCloudClassifier", "create_model", "create_point_model"]

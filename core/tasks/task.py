"""The generic LightningModule: network + loss + torchmetrics, AdamW (or Adam) with warm-up and cosine."""

from __future__ import annotations

import math
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics import MetricCollection

from ..errors import ConfigError


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up over ``warmup`` steps, then cosine down to ``min_ratio``."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Task(pl.LightningModule):
    """Base of every pipeline's model. Batches are dicts with at least "x" and "y".

    Subclasses build ``self.net`` (or override ``forward``), and may override ``compute_loss``,
    ``metric_inputs`` and ``predict_rows``; ``set_metrics`` attaches torchmetrics that are
    updated on validation and test batches and logged per epoch as "val/<name>", "test/<name>".
    """

    OPTIMIZERS = ("adamw", "adam")

    def __init__(self, lr: float = 1e-3, weight_decay: float = 0.05, warmup: float = 0.05,
                 min_lr_ratio: float = 0.05, optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999)):
        """optimizer: "adamw" (decoupled weight decay) or "adam" (weight decay as an L2 term in the gradient,
        as the GCN and SASRec releases train); both skip biases, norms and embeddings."""
        super().__init__()
        if optimizer not in self.OPTIMIZERS:
            raise ConfigError(f"--model.optimizer {optimizer!r}: use one of {', '.join(self.OPTIMIZERS)}")
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ConfigError(f"--model.betas {list(betas)}: two numbers in [0, 1)")
        self.lr, self.weight_decay, self.warmup, self.min_lr_ratio = lr, weight_decay, warmup, min_lr_ratio
        self.optimizer_name, self.betas = optimizer, (float(betas[0]), float(betas[1]))
        self.val_metrics: MetricCollection | None = None
        self.test_metrics: MetricCollection | None = None

    def set_metrics(self, metrics: MetricCollection) -> None:
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")

    # to override ------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.net(x, **kwargs)

    def model_inputs(self, batch: dict) -> dict:
        """Keyword arguments for forward besides x (e.g. a padding mask)."""
        return {k: batch[k] for k in ("mask",) if k in batch}

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        raise NotImplementedError

    def metric_inputs(self, out: torch.Tensor, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        return out, batch["y"]

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        raise NotImplementedError

    def test_table(self, metrics: dict) -> tuple[str, list[str], list[list]] | None:
        """(title, columns, rows) to print after ``test`` instead of the plain metric list, or None."""
        return None

    # Lightning hooks --------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self(batch["x"], **self.model_inputs(batch))
        loss = self.compute_loss(out, batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["x"]))
        return loss

    def _eval_step(self, batch: dict, metrics: MetricCollection | None, stage: str) -> torch.Tensor:
        out = self(batch["x"], **self.model_inputs(batch))
        loss = self.compute_loss(out, batch)
        self.log(f"{stage}/loss", loss, prog_bar=True, on_epoch=True, batch_size=len(batch["x"]), sync_dist=True)
        if metrics is not None:
            metrics.update(*self.metric_inputs(out, batch))
            self.log_dict(metrics, on_epoch=True, batch_size=len(batch["x"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._eval_step(batch, self.test_metrics, "test")

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, Any]]:
        return self.predict_rows(self(batch["x"], **self.model_inputs(batch)), batch)

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        """Clipping by norm under FSDP goes through the sharded module's own ``clip_grad_norm_`` (the norm over
        every shard; Lightning's FSDP precision refuses norm clipping, and every pipeline clips at 1.0); by value
        and under other strategies, as usual."""
        from pytorch_lightning.strategies import FSDPStrategy

        by_norm = gradient_clip_algorithm in (None, "norm")  # clipping by value is element-wise: shards are fine
        if gradient_clip_val and by_norm and isinstance(getattr(self._trainer, "strategy", None), FSDPStrategy):
            self.trainer.model.clip_grad_norm_(gradient_clip_val)
            return
        super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def configure_optimizers(self):
        decay, no_decay = [], []
        for module in self.modules():
            for p in module.parameters(recurse=False):
                if not p.requires_grad:
                    continue
                skip = getattr(p, "_no_weight_decay", False) or p.ndim < 2 or isinstance(
                    module, (nn.LayerNorm, nn.Embedding)) or "Norm" in type(module).__name__
                (no_decay if skip else decay).append(p)
        optimizer = (torch.optim.AdamW if self.optimizer_name == "adamw" else torch.optim.Adam)(
            [{"params": decay, "weight_decay": self.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=self.lr, betas=self.betas,
        )
        total = max(1, int(self.trainer.estimated_stepping_batches)) if self._trainer is not None else 1000
        warmup = int(self.warmup * total) if self.warmup < 1 else int(self.warmup)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, total, warmup, self.min_lr_ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}

"""Graph and node tasks: the network, the loss and the metrics of each pipeline.

Batches are dicts: graph tasks {"x": torch_geometric Batch, "y": (graphs,), "index": (graphs,)}; node tasks
{"x": Data (one graph or a sampled subgraph), "y": (m,), "node_mask": (N,) bool (the m nodes scored),
"index": (m,) node ids}.

Random node orders: training draws a fresh order every step (Graph-Mamba's permutation); validation, test and
predict average the outputs of ``eval_orders`` orders drawn from seeds 0..eval_orders-1, so predictions do not
depend on how the nodes happen to be numbered, up to the averaging error (see ``GraphTask.forward``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryAUROC, MulticlassAccuracy

from ssmkit.errors import DataError
from ssmkit.tasks import Task

from .model import GraphNet


class GraphTask(Task):
    """Shared plumbing: builds ``GraphNet`` and averages random node orders outside training.

    Args:
        model: graph_mamba, gps, gin, gcn or gat (see ``ssmkit_graphs.model``).
        order: node order of the SSM layers (degree, bfs, dfs, spectral, random_walk, random).
        eval_orders: orders averaged at test time when the order is random (Graph-Mamba uses several).
        in_features, node_categories, edge_features, edge_categories, pe_dim: linked from the data.
        propagate, teleport: node classification on raw features: personalised-PageRank steps applied to the
            class scores and their teleport probability (default: 10 for graph_mamba, none for the baselines;
            ``ssmkit_graphs.model``).
    """

    level = "graph"

    def __init__(self, out: int, model: str = "graph_mamba", d_model: int = 64, n_layers: int = 3,
                 order: str = "degree", eval_orders: int = 8, mixer: str = "mamba", d_state: int = 16,
                 bidirectional: bool = True, heads: int = 4, dropout: float = 0.1, pool: str = "mean",
                 in_features: int = 0, node_categories: list[int] | None = None, edge_features: int = 0,
                 edge_categories: list[int] | None = None, pe_dim: int = 0, lr: float = 1e-3,
                 weight_decay: float = 0.01, warmup: float = 0.05, residual: bool = True, optimizer: str = "adamw",
                 propagate: int | None = None, teleport: float = 0.1):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup, optimizer=optimizer)
        self.net = GraphNet(out, model=model, level=self.level, d_model=d_model, n_layers=n_layers, residual=residual,
                            in_features=in_features, node_categories=node_categories, edge_features=edge_features,
                            edge_categories=edge_categories, pe_dim=pe_dim, order=order, mixer=mixer,
                            d_state=d_state, bidirectional=bidirectional, heads=heads, dropout=dropout, pool=pool,
                            propagate=propagate, teleport=teleport)
        self.eval_orders = max(1, int(eval_orders))

    @property
    def averages_orders(self) -> bool:
        return self.net.model == "graph_mamba" and self.net.order.randomised

    def forward(self, data, **_) -> torch.Tensor:
        """Outputs for a Data/Batch. Outside training with a random order: the mean of ``eval_orders`` outputs
        (logits / values), each from the order drawn with seed k; the spread of single orders shrinks as
        1/sqrt(eval_orders)."""
        if self.training or not self.averages_orders:
            return self.net(data)
        outs = [self.net(data, torch.Generator().manual_seed(k)) for k in range(self.eval_orders)]
        return torch.stack(outs).mean(0)

    def model_inputs(self, batch: dict) -> dict:
        return {}

    def _check_features(self) -> None:
        dm = getattr(getattr(self, "_trainer", None), "datamodule", None)
        if dm is None:
            return
        wanted = getattr(dm, "in_features", None)
        if wanted is not None and wanted != self.hparams.in_features:
            raise DataError(f"the data has {wanted} node features but the model was built for "
                            f"in_features={self.hparams.in_features}")


class GraphClassifier(GraphTask):
    """Classify whole graphs: cross-entropy; accuracy (and AUROC for two classes). ``pool`` "mean" by default:
    with "add" the pooled vectors of residual, layer-normalised nodes grow with the graph and GIN did not train
    on ENZYMES (10-fold, CPU: 0.273 with add, training loss stuck at ln 6; see benchmarks/RESULTS.md)."""

    def __init__(self, num_classes: int = 2, model: str = "graph_mamba", d_model: int = 64, n_layers: int = 3,
                 order: str = "degree", eval_orders: int = 8, mixer: str = "mamba", d_state: int = 16,
                 bidirectional: bool = True, heads: int = 4, dropout: float = 0.1, pool: str = "mean",
                 in_features: int = 0, node_categories: list[int] | None = None, edge_features: int = 0,
                 edge_categories: list[int] | None = None, pe_dim: int = 0, lr: float = 1e-3,
                 weight_decay: float = 0.01, warmup: float = 0.05):
        super().__init__(num_classes, model, d_model, n_layers, order, eval_orders, mixer, d_state, bidirectional,
                         heads, dropout, pool, in_features, node_categories, edge_features, edge_categories, pe_dim,
                         lr, weight_decay, warmup)
        self.save_hyperparameters()
        if num_classes == 2:
            metrics = {"acc": BinaryAccuracy(), "auroc": BinaryAUROC()}
        else:
            metrics = {"acc": MulticlassAccuracy(num_classes, average="micro")}
        self.set_metrics(MetricCollection(metrics))

    def setup(self, stage: str) -> None:
        self._check_features()
        wanted = getattr(getattr(self.trainer, "datamodule", None), "num_classes", None)
        if wanted is not None and wanted != self.hparams.num_classes:
            raise DataError(f"the data has {wanted} classes but the model has num_classes={self.hparams.num_classes}")

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out.float(), batch["y"])

    def metric_inputs(self, out: torch.Tensor, batch: dict):
        prob = out.float().softmax(-1)
        return (prob[:, 1] if self.hparams.num_classes == 2 else prob), batch["y"]

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        p, label = out.float().softmax(-1).max(-1)
        return [{"index": int(i), "label": int(c), "probability": round(float(q), 6)}
                for i, c, q in zip(batch["index"], label, p)]


class GraphRegressor(GraphTask):
    """Regress one value per graph: MSE on standardised targets (``target_mean``/``target_std`` linked from the
    data); RMSE and MAE reported in the target's units."""

    def __init__(self, model: str = "graph_mamba", d_model: int = 64, n_layers: int = 3, order: str = "degree",
                 eval_orders: int = 8, mixer: str = "mamba", d_state: int = 16, bidirectional: bool = True,
                 heads: int = 4, dropout: float = 0.1, pool: str = "add", in_features: int = 0,
                 node_categories: list[int] | None = None, edge_features: int = 0,
                 edge_categories: list[int] | None = None, pe_dim: int = 0, target_mean: float = 0.0,
                 target_std: float = 1.0, lr: float = 1e-3, weight_decay: float = 0.01, warmup: float = 0.05):
        super().__init__(1, model, d_model, n_layers, order, eval_orders, mixer, d_state, bidirectional, heads,
                         dropout, pool, in_features, node_categories, edge_features, edge_categories, pe_dim, lr,
                         weight_decay, warmup)
        self.save_hyperparameters()
        self.set_metrics(MetricCollection({"rmse": MeanSquaredError(squared=False), "mae": MeanAbsoluteError()}))

    def setup(self, stage: str) -> None:
        self._check_features()

    def value(self, out: torch.Tensor) -> torch.Tensor:
        """(graphs, 1) standardised outputs -> (graphs,) values in the target's units."""
        return out.float().squeeze(-1) * self.hparams.target_std + self.hparams.target_mean

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        target = (batch["y"].float() - self.hparams.target_mean) / self.hparams.target_std
        return F.mse_loss(out.float().squeeze(-1), target)

    def metric_inputs(self, out: torch.Tensor, batch: dict):
        return self.value(out), batch["y"].float()

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        return [{"index": int(i), "value": round(float(v), 6)} for i, v in zip(batch["index"], self.value(out))]


class NodeClassifier(GraphTask):
    """Classify the nodes of one graph (or sampled subgraphs): cross-entropy and accuracy on the nodes of
    ``node_mask`` (the split's nodes). ``residual=False``: textbook GCN/GAT/GIN layers for the baselines.
    ``optimizer="adam"`` puts the weight decay in the gradient as the Planetoid releases do (on Cora, CPU,
    GCN: test accuracy 0.748 against 0.783 with the default AdamW)."""

    level = "node"

    def __init__(self, num_classes: int = 2, model: str = "graph_mamba", d_model: int = 64, n_layers: int = 2,
                 order: str = "degree", eval_orders: int = 4, mixer: str = "mamba", d_state: int = 16,
                 bidirectional: bool = True, heads: int = 4, dropout: float = 0.5, in_features: int = 0,
                 node_categories: list[int] | None = None, edge_features: int = 0,
                 edge_categories: list[int] | None = None, pe_dim: int = 0, lr: float = 5e-3,
                 weight_decay: float = 5e-4, warmup: float = 0.0, residual: bool = False, optimizer: str = "adamw",
                 propagate: int | None = None, teleport: float = 0.1):
        super().__init__(num_classes, model, d_model, n_layers, order, eval_orders, mixer, d_state, bidirectional,
                         heads, dropout, "mean", in_features, node_categories, edge_features, edge_categories, pe_dim,
                         lr, weight_decay, warmup, residual, optimizer=optimizer, propagate=propagate,
                         teleport=teleport)
        self.save_hyperparameters()
        self.set_metrics(MetricCollection({"acc": MulticlassAccuracy(num_classes, average="micro")}))

    def setup(self, stage: str) -> None:
        self._check_features()
        wanted = getattr(getattr(self.trainer, "datamodule", None), "num_classes", None)
        if wanted is not None and wanted != self.hparams.num_classes:
            raise DataError(f"the data has {wanted} classes but the model has num_classes={self.hparams.num_classes}")

    # the core hooks log len(batch["x"]) as the batch size; here it is the number of scored nodes
    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.compute_loss(self(batch["x"]), batch)
        self.log("train/loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(batch["y"]))
        return loss

    def _eval_step(self, batch, metrics, stage):
        out = self(batch["x"])
        loss = self.compute_loss(out, batch)
        n = len(batch["y"])
        self.log(f"{stage}/loss", loss, prog_bar=True, on_epoch=True, batch_size=n, sync_dist=True)
        metrics.update(*self.metric_inputs(out, batch))
        self.log_dict(metrics, on_epoch=True, batch_size=n)
        return loss

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out[batch["node_mask"]].float(), batch["y"])

    def metric_inputs(self, out: torch.Tensor, batch: dict):
        return out[batch["node_mask"]].float().softmax(-1), batch["y"]

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        p, label = out[batch["node_mask"]].float().softmax(-1).max(-1)
        return [{"index": int(i), "label": int(c), "probability": round(float(q), 6)}
                for i, c, q in zip(batch["index"], label, p)]


__all__ = ["GraphTask", "GraphClassifier", "GraphRegressor", "NodeClassifier"]

"""ssmkit-graphs: Graph-Mamba-style models on torch_geometric — node orders as scan orders, graph and node tasks.

Importing this module stays cheap (no torch_geometric): pipelines name their classes by "module:Class" strings,
and the node orders are imported only when the registry first needs them.
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS
from .orders import SCAN_ORDERS

__version__ = "0.1.0"

_FEATURE_LINKS = {"in_features": "in_features", "node_categories": "node_categories",
                  "edge_features": "edge_features", "edge_categories": "edge_categories", "pe_dim": "pe_dim"}

plugin = Plugin(
    name="graphs",
    version=__version__,
    api_version=API_VERSION,
    description="graph and node tasks on torch_geometric (TU sets, Planetoid, MoleculeNet, CSV/NetworkX/Data "
                "lists): Graph-Mamba with node orders, GIN/GCN/GAT/GPS baselines",
    datasets=dict(DATASETS),
    scan_orders=dict(SCAN_ORDERS),
    pipelines={
        "graph-classify": Pipeline(
            model="ssmkit_graphs.task:GraphClassifier",
            data="ssmkit_graphs.data:GraphDataModule",
            description="classify whole graphs (MUTAG, ENZYMES, your CSV/GraphML/Data lists): accuracy; "
                        "--data.folds 10 --data.fold i for cross-validation; predict writes id,label,probability",
            trainer={"max_epochs": 100},
            # validation loss, not accuracy: a validation split of a small set (MUTAG: 17 graphs) gives accuracy
            # few distinct values, and the first epoch to reach the top one is kept (10-fold GIN on MUTAG, H100:
            # 0.851 picked by val/acc, 0.899 by val/loss; benchmarks/RESULTS.md)
            monitor="val/loss",
            mode="min",
            links={"num_classes": "num_classes", **_FEATURE_LINKS},
            # ~20 s on 2 CPU cores: real MUTAG (188 graphs, fold 0 of 5 as the test set), 2 small layers, 20 epochs
            demo={"model": {"d_model": 32, "n_layers": 2, "eval_orders": 2, "lr": 1e-2},
                  "data": {"dataset": "graphs/MUTAG", "batch_size": 16, "folds": 5, "fold": 0},
                  "trainer": {"max_epochs": 20}, "metrics": ["test/acc", "test/auroc"]},
        ),
        "graph-regress": Pipeline(
            model="ssmkit_graphs.task:GraphRegressor",
            data="ssmkit_graphs.data:GraphRegressDataModule",
            description="regress one value per graph (ESOL solubility, your SMILES/CSV/Data lists): RMSE, MAE; "
                        "predict writes id,value",
            trainer={"max_epochs": 100},
            monitor="val/rmse",
            mode="min",
            links={"target_mean": "target_mean", "target_std": "target_std", **_FEATURE_LINKS},
        ),
        "node-classify": Pipeline(
            model="ssmkit_graphs.task:NodeClassifier",
            data="ssmkit_graphs.data:NodeDataModule",
            description="classify the nodes of one graph (Cora public split, your graph): accuracy; "
                        "predict writes id,label,probability for every node",
            trainer={"max_epochs": 200, "log_every_n_steps": 1},
            monitor="val/acc",
            mode="max",
            patience=50,
            links={"num_classes": "num_classes", **_FEATURE_LINKS},
        ),
    },
)

__all__ = ["plugin", "__version__"]

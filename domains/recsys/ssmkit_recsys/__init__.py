"""ssmkit-recsys: sequential recommendation (next item) from interaction logs with Mamba recommenders,
SASRec/GRU4Rec/popularity baselines, full-catalogue ranking and O(1) per-interaction serving.

Importing this module stays cheap: the pipeline names its classes by "module:Class" strings.
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS

__version__ = "0.1.0"

plugin = Plugin(
    name="recsys",
    version=__version__,
    api_version=API_VERSION,
    description="next-item recommendation: interaction logs (4 formats), leave-one-out, full ranking, Mamba4Rec",
    datasets=dict(DATASETS),
    pipelines={
        "next-item": Pipeline(
            model="ssmkit_recsys.task:NextItemRecommender",
            data="ssmkit_recsys.data:NextItemDataModule",
            description="predict each user's next item (leave-one-out; HR/NDCG/MRR over all items; top-k CSV)",
            trainer={"max_epochs": 200},
            patience=20,
            monitor="val/ndcg@10",
            mode="max",
            links={"n_items": "n_items", "max_len": "max_len"},
            demo={
                # a CPU slice: Beauty's first 6,000 users, 5-core again (3,546 users, 3,235 items), ~20 s
                "model": {"model": "mamba4rec", "options": {"d_model": 32, "d_state": 16, "dropout": 0.1},
                          "lr": 5e-3},
                "data": {"dataset": "recsys/Beauty", "max_users": 6000, "k_core": 5, "max_len": 20,
                         "batch_size": 64},
                "trainer": {"max_epochs": 3},
                "metrics": ["test/hr@10", "test/ndcg@10", "test/popularity/hr@10", "test/popularity/ndcg@10"],
            },
        ),
    },
)

__all__ = ["plugin", "__version__"]

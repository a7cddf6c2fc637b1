"""The template plug-in: what a third party writes to add a domain to ssmkit.

Importing this module must stay cheap: heavy classes are named by "module:Class" strings
and imported only when a pipeline runs.
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.data import DatasetEntry, RemoteFile
from ssmkit.tasks import Pipeline

from .waves import write_waves

plugin = Plugin(
    name="template",
    version="0.1.0",
    api_version=API_VERSION,
    description="minimal example: classify short waveforms stored as CSV rows",
    datasets={
        "waves": DatasetEntry(
            files=(RemoteFile("template/waves.csv"),),
            description="generated sine / square / sawtooth waves, 64 steps, 3 classes",
            licence="CC0 (generated)",
            generate=write_waves,
        ),
    },
    pipelines={
        "classify": Pipeline(
            model="ssmkit.tasks:SequenceClassifier",
            data="ssmkit_template.data:CsvSequenceDataModule",
            description="classify sequences stored one per CSV row (a 'label' column + values)",
            trainer={"max_epochs": 5},
            monitor="val/acc",
            mode="max",
            links={"num_classes": "num_classes"},
            demo={"model": {"d_model": 32, "n_layers": 2}, "data": {"batch_size": 32},
                  "trainer": {"max_epochs": 6}, "metrics": ["test/acc", "test/f1"]},
        ),
    },
)

__all__ = ["plugin", "RemoteFile"]

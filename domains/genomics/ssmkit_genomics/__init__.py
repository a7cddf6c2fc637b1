"""ssmkit-genomics: DNA sequence classification with reverse-complement-aware bidirectional SSMs.

Importing this module stays cheap: the pipeline names its classes by "module:Class" strings.
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS

__version__ = "0.1.0"

plugin = Plugin(
    name="genomics",
    version=__version__,
    api_version=API_VERSION,
    description="DNA classification from FASTA/FASTQ/GenBank (Biopython), reverse-complement equivariant SSMs",
    datasets=dict(DATASETS),
    pipelines={
        "classify": Pipeline(
            model="ssmkit_genomics.task:DNAClassifier",
            data="ssmkit_genomics.data:DNAClassDataModule",
            description="classify DNA sequences (promoters, Genomic Benchmarks, your FASTA + labels)",
            trainer={"max_epochs": 10},
            monitor="val/mcc",
            mode="max",
            links={"num_classes": "num_classes"},
            demo={"model": {"d_model": 32, "n_layers": 2}, "data": {"dataset": "genomics/promoters_ecoli"},
                  "trainer": {"max_epochs": 2}, "metrics": ["test/acc", "test/mcc", "test/sensitivity",
                                                             "test/specificity"]},
        ),
    },
)

__all__ = ["plugin", "__version__"]

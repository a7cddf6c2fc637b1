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
            trainer={"max_epochs": 25},
            monitor="val/mcc",
            mode="max",
            links={"num_classes": "num_classes", "class_counts": "class_counts",
                   "max_length": "length", "softmask": "softmask"},
            demo={"model": {"d_model": 32, "n_layers": 2}, "data": {"dataset": "genomics/promoters_ecoli"},
                  "trainer": {"max_epochs": 2}, "metrics": ["test/acc", "test/mcc", "test/sensitivity",
                                                             "test/specificity"]},
        ),
        "pretrain": Pipeline(
            model="ssmkit_genomics.pretrain:DNALanguageModel",
            data="ssmkit_genomics.pretrain:FastaLMDataModule",
            description="next-nucleotide pretraining on any FASTA (bits per base; long contexts in chunks)",
            trainer={"max_epochs": 5, "gradient_clip_val": None},
            monitor="val/bits_per_base",
            mode="min",
        ),
        "embed": Pipeline(
            model="ssmkit_genomics.embed:DNAEmbedder",
            data="ssmkit_genomics.embed:SequenceDataModule",
            description="embed sequences with a classify or pretrain checkpoint (predict -> .npy)",
            needs_checkpoint=False,
        ),
    },
)

__all__ = ["plugin", "__version__"]

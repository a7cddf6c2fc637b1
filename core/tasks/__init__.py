"""Tasks: LightningModules and pipeline descriptions."""

from .pipeline import Pipeline
from .sequence import SequenceClassifier, SequenceNet
from .task import Task, warmup_cosine

__all__ = ["Pipeline", "SequenceClassifier", "SequenceNet", "Task", "warmup_cosine"]

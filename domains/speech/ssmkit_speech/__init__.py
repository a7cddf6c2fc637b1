"""ssmkit-speech: spoken-word classification from raw waveforms and log-mel spectrograms with SSM backbones,
streaming inference with the state carried between chunks.

Importing this module stays cheap (no soundfile, no matplotlib): the pipeline names its classes by
"module:Class" strings.
"""

from ssmkit import API_VERSION, Plugin
from ssmkit.tasks import Pipeline

from .datasets import DATASETS

__version__ = "0.1.0"

plugin = Plugin(
    name="speech",
    version=__version__,
    api_version=API_VERSION,
    description="spoken-word classification (WAV/FLAC via soundfile): raw-waveform and log-mel SSMs, "
                "speaker splits, streaming with carried state",
    datasets=dict(DATASETS),
    pipelines={
        "classify": Pipeline(
            model="ssmkit_speech.task:SpeechClassifier",
            data="ssmkit_speech.data:SpeechDataModule",
            description="classify spoken words (FSDD, Speech Commands, class folders, CSV manifests): accuracy, "
                        "macro F1, confusion matrix; predict writes path,label,probability "
                        "(--model.streaming true --model.chunk_ms 20 feeds clips chunk by chunk; "
                        "--data.window_hop S writes a timeline of windows over long recordings)",
            trainer={"max_epochs": 30},
            monitor="val/acc",
            mode="max",
            links={"num_classes": "num_classes", "sample_rate": "sample_rate", "run_rate": "run_rate"},
            # ~20 s on 2 CPU cores: 50 log-mel tokens per 0.8 s clip, 2 S4D layers, FSDD's usual split, 3 epochs
            demo={"model": {"model": "spectrogram", "d_model": 48, "n_layers": 2, "win_ms": 32, "hop_ms": 16,
                            "lr": 1e-2},
                  "data": {"dataset": "speech/fsdd", "split": "fsdd", "clip_seconds": 0.8, "batch_size": 32},
                  "trainer": {"max_epochs": 3}, "metrics": ["test/acc", "test/f1"]},
        ),
    },
)

__all__ = ["plugin", "__version__"]

"""Spoken-word classification: the network, cross-entropy, accuracy / macro F1, a confusion-matrix PNG after
``test``, and streaming prediction (chunk by chunk, the backbone's state carried)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score

from ssmkit.errors import ConfigError, DataError
from ssmkit.tasks import Task

from .model import FrequencyConv, RawWaveNet, SpectrogramNet, SpeechNet

MODELS = ("spectrogram", "raw")
DEFAULT_FRAMES_MS = {"spectrogram": (25.0, 10.0), "raw": (4.0, 2.0)}  # (window, hop) in milliseconds
DEFAULT_POOLS = {"spectrogram": [1], "raw": [1, 4]}


def build_net(model: str, num_classes: int, sample_rate: int, win_ms: float | None = None,
              hop_ms: float | None = None, pools: list[int] | None = None, **options) -> SpeechNet:
    """A ``SpectrogramNet`` or ``RawWaveNet`` with frame sizes given in milliseconds at ``sample_rate``."""
    if model not in MODELS:
        raise ConfigError(f"model={model!r}: use one of {', '.join(MODELS)}")
    win_default, hop_default = DEFAULT_FRAMES_MS[model]
    win = int(round((win_ms or win_default) * sample_rate / 1000))
    hop = int(round((hop_ms or hop_default) * sample_rate / 1000))
    pools = list(pools or DEFAULT_POOLS[model])
    if model == "spectrogram":
        return SpectrogramNet(num_classes, rate=sample_rate, win=win, hop=hop, pools=pools, **options)
    for option in ("cmn", "freq_conv"):
        if options.get(option):
            raise ConfigError(f"{option} (an option of the log-mel front end) needs model='spectrogram'")
    options = {k: v for k, v in options.items() if k not in ("n_mels", "n_mfcc", "specaugment", "freq_conv")}
    return RawWaveNet(num_classes, win=win, hop=hop, pools=pools, **options)


class SpeechClassifier(Task):
    """Classify clips. Batches: {"x": (b, samples) waveform, "mask": (b, samples) bool, "y": (b,), "index": (b,)}.

    Args:
        model: "spectrogram" (log-mel frames as tokens; MFCCs with ``n_mfcc`` > 0) or "raw" (raw samples,
            a strided front end, SSM stages with ``pools`` between them).
        win_ms, hop_ms: frame window and hop (defaults 25/10 ms for spectrograms, 4/2 ms for raw samples).
        bidirectional: read each clip both ways (more accurate offline; cannot stream).
        streaming: ``predict`` feeds each clip in chunks of ``chunk_ms`` with the state carried, and reports
            the latency per chunk and the real-time factor (needs bidirectional=False).
        confusion_png: after ``test``, write confusion_matrix.png in the run folder.
        run_rate: test / predict a raw-waveform model on audio at this rate (linked from ``--data.run_rate``)
            without resampling it to the trained rate: the front's filters are resampled to keep each frame's
            duration and, with ``rescale_step`` (default), every SSM step size is scaled to the new token spacing
            (the continuous-time view; ``RawWaveNet.at_rate``). ``rescale_step`` False leaves the SSMs as trained.
        cmn: spectrogram model: causal mean normalisation of the log-mel frames with a prior of ``cmn`` frames
            (0: off), for speakers and microphones unlike the training ones; default (None) 10 for the spectrogram
            model (leave-one-speaker-out on FSDD: mean 0.757 against 0.718 without, benchmarks/RESULTS.md).
        d_model: token width; default (None) 64 for the spectrogram model (it streams within the real-time budget)
            and 128 for the raw-waveform model (FSDD's usual split: 0.960 at 64, 0.988 at 128; benchmarks/RESULTS.md).
        freq_conv: spectrogram model: channels of the per-frame convolutions along the mel bands that replace the
            linear map from log-mel frames to tokens (a formant shifted by a band or two, as in another voice,
            gives nearly the same token); default (None) 16, 0 for the linear map (leave-one-speaker-out on FSDD,
            four training speakers: benchmarks/RESULTS.md).
    """

    def __init__(self, num_classes: int = 10, sample_rate: int = 8000, model: str = "spectrogram",
                 d_model: int | None = None, n_layers: int = 2, pools: list[int] | None = None, mixer: str = "s4d",
                 d_state: int = 32, bidirectional: bool = False, dropout: float = 0.1, n_mels: int = 40,
                 n_mfcc: int = 0, win_ms: float | None = None, hop_ms: float | None = None, specaugment: bool = True,
                 label_smoothing: float = 0.05, streaming: bool = False, chunk_ms: float = 20.0,
                 confusion_png: bool = True, lr: float = 3e-3, weight_decay: float = 0.05, warmup: float = 0.05,
                 cmn: float | None = None, run_rate: int | None = None, rescale_step: bool = True,
                 freq_conv: int | None = None):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        # run-time options stay out of the checkpoint, so `predict --ckpt_path ... --model.streaming true` holds
        # (Lightning's CLI lays a checkpoint's hyper-parameters over the command line's)
        self.save_hyperparameters(ignore=["streaming", "chunk_ms", "run_rate", "rescale_step"])
        self.streaming, self.chunk_ms = streaming, chunk_ms
        if run_rate is not None and run_rate <= 0:
            raise ConfigError(f"--data.run_rate {run_rate}: give a sample rate in Hz")
        if run_rate not in (None, sample_rate) and model != "raw":
            raise ConfigError(f"--data.run_rate {run_rate}: only the raw-waveform model runs at another rate than "
                              f"the {sample_rate} Hz it was trained at (the {model} model's features are fixed to it: "
                              "resample the audio instead, the default)")
        self.run_rate, self.rescale_step, self._running_at = run_rate, rescale_step, sample_rate
        if streaming and bidirectional:
            raise ConfigError("streaming=True needs bidirectional=False (a bidirectional model reads the future)")
        if chunk_ms <= 0:
            raise ConfigError(f"chunk_ms={chunk_ms} must be positive")
        if model == "spectrogram" and freq_conv is None:
            freq_conv = 16
            self.hparams.freq_conv = 16  # the resolved value goes into checkpoints
        width = {} if d_model is None else {"d_model": d_model}  # None: the network's own default for its kind
        self.net = build_net(model, num_classes, sample_rate, win_ms, hop_ms, pools, n_layers=n_layers, mixer=mixer,
                             d_state=d_state, bidirectional=bidirectional, dropout=dropout, n_mels=n_mels,
                             n_mfcc=n_mfcc, specaugment=specaugment, freq_conv=freq_conv or 0, **width,
                             **({"cmn": 10.0 if cmn is None else cmn} if model == "spectrogram" or cmn else {}))
        self.hparams.d_model = self.net.head.in_features  # the resolved width goes into checkpoints
        self.set_metrics(MetricCollection({
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
        }))
        self.confusion = MulticlassConfusionMatrix(num_classes)
        self.latencies: list[float] = []
        self.stream_seconds = 0.0
        self.written: list[Path] = []

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A spectrogram checkpoint from before ``cmn`` existed was trained without it: refuse to run it with it.
        One with the linear front end (from before ``freq_conv``) gets it back before the weights load."""
        saved = checkpoint.get("hyper_parameters", {})
        if saved.get("d_model") not in (None, self.hparams.d_model):  # e.g. a config written before a default moved
            raise ConfigError(f"this checkpoint was trained at d_model {saved['d_model']}, the model was built at "
                              f"{self.hparams.d_model}: pass --model.d_model {saved['d_model']}")
        if "net.front.weight" in checkpoint.get("state_dict", {}) and isinstance(self.net.front, FrequencyConv):
            # the weights of a linear front end (decided by the weights: a resumed run's config may say otherwise)
            self.net.front = torch.nn.Linear(self.net.logmel.out_features, self.net.front.out.out_features)
            self.hparams.freq_conv = 0
        if saved.get("model", "spectrogram") == "spectrogram" and "cmn" not in saved and getattr(self.net, "cmn", 0):
            raise ConfigError("this checkpoint predates the log-mel mean normalisation (cmn) and was trained "
                              "without it: pass --model.cmn 0")

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        wanted = getattr(dm, "num_classes", None)
        if wanted is not None and wanted != self.hparams.num_classes:
            raise DataError(f"the data has {wanted} classes but the model has num_classes={self.hparams.num_classes}")
        rate = getattr(dm, "rate", getattr(dm, "sample_rate", None))
        if self.run_rate not in (None, self.hparams.sample_rate) and stage not in ("test", "predict"):
            raise ConfigError("--data.run_rate runs a trained model at another rate: use it with test or predict")
        if rate is not None and rate != (self.run_rate or self.hparams.sample_rate):
            raise DataError(f"the data is at {rate} Hz but the model was built for {self.hparams.sample_rate} Hz"
                            + (f" and runs at {self.run_rate} Hz" if self.run_rate else ""))
        if getattr(dm, "variable_length", False) and not self.net.causal:
            raise ConfigError("--data.variable_length pads each batch to its longest clip, which a bidirectional model "
                              "would read backwards into: use it with causal models (bidirectional false)")

    @property
    def rate(self) -> int:
        """The sample rate the network reads now (``run_rate`` once applied, else the trained one)."""
        return self._running_at

    def _apply_run_rate(self) -> None:
        """Convert the (restored) network to ``run_rate`` (the trained rate when None), from the rate it runs at;
        called after the checkpoint's weights are loaded."""
        target = self.run_rate or self.hparams.sample_rate
        if target != self._running_at:
            factor = self.net.at_rate(self._running_at, target, self.rescale_step)
            self._running_at = target
            from ssmkit.cli.report import console

            console.print(f"running at {target} Hz (trained at {self.hparams.sample_rate} Hz): tokens "
                          f"{factor:g}x as far apart, SSM step sizes "
                          + (f"x{factor:g}" if self.rescale_step else "unchanged"))

    def on_test_start(self) -> None:
        self._apply_run_rate()

    def on_predict_start(self) -> None:
        self._apply_run_rate()

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        return F.cross_entropy(out.float(), batch["y"], label_smoothing=self.hparams.label_smoothing)

    def test_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self(batch["x"], **self.model_inputs(batch))
        self.confusion.update(out.float().argmax(-1), batch["y"])
        loss = self.compute_loss(out, batch)
        self.log("test/loss", loss, on_epoch=True, batch_size=len(batch["x"]), sync_dist=True)
        self.test_metrics.update(out, batch["y"])
        self.log_dict(self.test_metrics, on_epoch=True, batch_size=len(batch["x"]))
        return loss

    def on_test_epoch_end(self) -> None:
        counts = self.confusion.compute().cpu().numpy()
        self.confusion.reset()
        self.last_confusion = counts
        folder = self.trainer.log_dir if self.trainer.logger is not None else None
        if self.hparams.confusion_png and folder and self.trainer.is_global_zero:
            from ssmkit.cli.report import console

            from .plot import confusion_png

            classes = getattr(self.trainer.datamodule, "classes", None) or [str(i) for i in range(len(counts))]
            path = confusion_png(counts, classes, Path(folder) / "confusion_matrix.png")
            self.written.append(path)
            console.print(f"wrote {path}")

    # prediction ----------------------------------------------------------------------------
    def stream(self, wave: torch.Tensor, chunk: int) -> tuple[torch.Tensor, list[float]]:
        """One clip (samples,) fed ``chunk`` samples at a time -> logits (num_classes,), seconds per chunk."""
        state = self.net.stream_start(1, wave.device)
        seconds = []
        for start in range(0, wave.shape[-1], chunk):
            t0 = time.perf_counter()
            self.net.stream_push(wave[None, start:start + chunk], state)
            if wave.is_cuda:
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - t0)
        return self.net.stream_logits(state)[0], seconds

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, Any]]:
        if not self.streaming:
            return self.predict_rows(self(batch["x"], **self.model_inputs(batch)), batch)
        chunk = max(1, int(round(self.chunk_ms * self.rate / 1000)))
        logits = []
        for wave, mask in zip(batch["x"], batch["mask"]):
            out, seconds = self.stream(wave[mask], chunk)
            logits.append(out)
            self.latencies += seconds
            self.stream_seconds += float(mask.sum()) / self.rate
        return self.predict_rows(torch.stack(logits), batch)

    def on_predict_epoch_end(self) -> None:
        if self.streaming and self.latencies and self.trainer.is_global_zero:
            from ssmkit.cli.report import console

            lat = np.asarray(self.latencies) * 1000
            console.print(f"streaming: {len(lat)} chunks of {self.chunk_ms:g} ms; latency per chunk "
                          f"mean {lat.mean():.2f} ms, p95 {np.percentile(lat, 95):.2f} ms; real-time factor "
                          f"{lat.sum() / 1000 / max(self.stream_seconds, 1e-9):.4f}")

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        prob = out.float().softmax(-1)
        p, label = prob.max(-1)
        rows = [{"index": int(i), "label": int(c), "probability": round(float(q), 6)}
                for i, c, q in zip(batch["index"], label, p)]
        if "silent" in batch:  # timeline windows (WindowSet)
            for row, silent in zip(rows, batch["silent"]):
                row["silent"] = bool(silent)
        return rows


__all__ = ["SpeechClassifier", "build_net", "MODELS"]

"""The spoken-word data module: clips in any layout -> fixed-length mono waveforms, splits, CSV predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ssmkit.data import DataModule, dataset_root, split_indices
from ssmkit.errors import ConfigError, DataError

from .audio import crop_or_pad, normalize, read_audio
from .features import augment_wave, speed_perturb
from .layouts import Clip, list_audio, read_folders, read_manifest, read_pattern, read_speech_commands

LAYOUTS = ("auto", "folders", "speech_commands", "manifest", "pattern")
SPLIT_MODES = ("auto", "lists", "random", "speaker", "fsdd")
CACHE_MAX_BYTES = 256 << 20  # cache=None: clips are decoded up front when their files total at most this


class ClipSet(Dataset):
    """Items {"x": (length,) float32 waveform, "mask": (length,) bool real samples, "y", "index"}; ``variable``:
    clips keep their own length up to ``length`` (batches padded by ``pad_batch``).

    ``waves`` holds decoded clips (cache) or None, then each item is read from its file. Training sets
    shift clips at random (up to ``shift`` samples of leading silence, or a random crop of longer clips)
    and apply gain and noise (``augment``); evaluation crops longer clips at the centre.
    """

    def __init__(self, clips: list[Clip], y: np.ndarray | None, index: np.ndarray, length: int, rate: int,
                 waves: list[torch.Tensor] | None, on_rate_mismatch: str, norm: str, train: bool = False,
                 augment: bool = False, shift: int = 0, seed: int = 0, speed: float = 0.0, variable: bool = False):
        self.clips, self.y, self.index, self.length, self.rate = clips, y, np.asarray(index), length, rate
        self.variable = variable
        self.waves, self.on_rate_mismatch, self.norm = waves, on_rate_mismatch, norm
        self.train, self.augment, self.shift, self.speed = train, augment, shift, speed
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.index)

    def wave(self, j: int) -> torch.Tensor:
        if self.waves is not None:
            return self.waves[j]
        return normalize(read_audio(self.clips[j].path, self.rate, self.on_rate_mismatch), self.norm)

    def __getitem__(self, i: int) -> dict:
        j = int(self.index[i])
        wave = self.wave(j)
        offset = None
        if self.train:
            if self.augment and self.speed:
                wave = speed_perturb(wave, self.rate, self.rng, self.speed)
            if wave.shape[-1] > self.length:
                offset = int(self.rng.integers(0, wave.shape[-1] - self.length + 1))
            elif self.shift:
                offset = int(self.rng.integers(0, min(self.shift, self.length - wave.shape[-1]) + 1))
            if self.augment:
                wave = augment_wave(wave, self.rng)
        x, end = crop_or_pad(wave, self.length, offset)
        if self.variable:  # the clip's own length (at most ``length``): ``pad_batch`` pads the batch
            x = x[:end]
        mask = torch.arange(x.shape[-1]) < end  # the real samples
        item = {"x": x, "mask": mask, "index": j}
        if self.y is not None:
            item["y"] = int(self.y[j])
        return item


def pad_batch(items: list[dict]) -> dict:
    """Collate items of any length: "x" and "mask" zero-padded to the longest in the batch (b, n); the other
    keys stacked as tensors."""
    n = max(item["x"].shape[-1] for item in items)
    batch = {"x": torch.zeros(len(items), n), "mask": torch.zeros(len(items), n, dtype=torch.bool)}
    for i, item in enumerate(items):
        k = item["x"].shape[-1]
        batch["x"][i, :k] = item["x"]
        batch["mask"][i, :k] = item["mask"]
    for key in items[0]:
        if key not in ("x", "mask"):
            batch[key] = torch.tensor([item[key] for item in items])
    return batch


class WindowSet(Dataset):
    """Windows of ``length`` samples every ``hop`` samples over each clip, for a timeline of long recordings.

    Items as ``ClipSet``'s, ``index`` numbering the windows (``windows[k]`` = (clip, first sample)); a clip
    shorter than one window gives one padded window, and the last window ends at the clip's end. Each window is
    normalised on its own, as training clips were; ``silent`` marks windows whose peak is below ``QUIET`` of the
    recording's (left unscaled: normalising them would amplify hiss to speech level).
    """

    QUIET = 0.01  # -40 dB under the recording's peak

    def __init__(self, clips: list[Clip], length: int, hop: int, rate: int, on_rate_mismatch: str, norm: str,
                 keep: bool):
        self.clips, self.length, self.rate, self.norm = clips, length, rate, norm
        self.on_rate_mismatch = on_rate_mismatch
        self.windows: list[tuple[int, int]] = []
        self.waves: dict[int, torch.Tensor] = {}
        self.peaks: list[float] = []
        self.samples: list[int] = []  # each clip's length at ``rate``
        for j, clip in enumerate(clips):
            wave = read_audio(clip.path, rate, on_rate_mismatch)
            n = wave.shape[-1]
            starts = list(range(0, max(n - length, 0) + 1, hop))
            if n > length and starts[-1] != n - length:
                starts.append(n - length)
            self.windows += [(j, s) for s in starts]
            self.peaks.append(float(wave.abs().max()))
            self.samples.append(n)
            if keep:
                self.waves[j] = wave

    def __len__(self) -> int:
        return len(self.windows)

    def _wave(self, j: int) -> torch.Tensor:
        if j not in self.waves:  # not kept: hold the last file read (windows come in file order)
            self.waves = {j: read_audio(self.clips[j].path, self.rate, self.on_rate_mismatch)}
        return self.waves[j]

    def __getitem__(self, k: int) -> dict:
        j, start = self.windows[k]
        seg = self._wave(j)[start:start + self.length]
        silent = float(seg.abs().max()) < self.QUIET * self.peaks[j]
        x, end = crop_or_pad(seg if silent else normalize(seg, self.norm), self.length, 0)
        mask = torch.arange(self.length) < end
        return {"x": x, "mask": mask, "index": k, "silent": silent}


def speaker_split(speakers: list[str | None], test: list[str] | None, val: list[str] | None, test_fraction: float,
                  val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, val, test) with no speaker in two splits. Named speakers win; otherwise a seeded
    ``test_fraction`` / ``val_fraction`` of the speakers (at least one each when the fraction is above 0)."""
    if any(s is None for s in speakers):
        raise ConfigError("split='speaker' needs a speaker for every clip (file-name pattern with {speaker}, "
                          "Speech Commands names, or a manifest 'speaker' column)")
    names = sorted(set(speakers))
    rng = np.random.default_rng(seed)
    for given in (test or []) + (val or []):
        if given not in names:
            raise ConfigError(f"unknown speaker {given!r}; the data has {', '.join(names[:20])}")
    if set(test or []) & set(val or []):
        raise ConfigError(f"speakers {sorted(set(test) & set(val))} are both test and validation speakers")
    free = [s for s in rng.permutation(names) if s not in (test or []) and s not in (val or [])]

    def take(given, fraction):
        if given is not None:
            return set(given)
        k = int(round(fraction * len(names)))
        k = max(k, 1) if fraction > 0 else 0
        chosen, free[:] = free[:k], free[k:]
        return set(chosen)

    test_set = take(test, test_fraction)
    val_set = take(val, val_fraction)
    if not free:
        raise ConfigError(f"no speaker left for training ({len(names)} speakers in all)")
    spk = np.asarray(speakers)
    in_test, in_val = np.isin(spk, list(test_set)), np.isin(spk, list(val_set))
    return np.flatnonzero(~in_test & ~in_val), np.flatnonzero(in_val), np.flatnonzero(in_test)


class SpeechDataModule(DataModule):
    """Labelled clips for spoken-word classification.

    Clips come from ``root`` read with ``layout`` ("folders", "speech_commands", "manifest" (``root`` is the
    CSV), "pattern" (file names like ``pattern``), or "auto": a CSV is a manifest, a folder with
    validation_list.txt is Speech Commands, class sub-folders are "folders", else "pattern"); without
    ``root``, the registered ``dataset`` in ``data_dir``.

    Every clip is mixed down to mono, resampled to ``sample_rate`` (or refused when ``on_rate_mismatch`` is
    "error"), scaled (``normalize``: "peak", "rms", "none") and cropped or zero-padded to
    ``clip_seconds`` (``mask`` marks the real samples).

    Splits (``split``): "lists" (Speech Commands list files, or a manifest's split column), "random"
    (stratified by label), "speaker" (no test speaker in another split: ``test_speakers`` / ``val_speakers`` or
    seeded fractions of the speakers; ``val_speakers=[]`` trains on every other speaker and validates on a
    stratified ``val_fraction`` of their clips), "fsdd" (FSDD's usual split: recordings 0-4 of each speaker and digit
    are the test set, validation a stratified ``val_fraction`` of the rest), or "auto" (lists when the layout
    fixes them, "fsdd" for the FSDD dataset, else "random").

    Args:
        augment: random gain and additive noise on training clips; ``shift_ms``: random leading silence;
            ``speed``: with augment, play each training clip at a random speed in 1 +- speed (tempo and pitch
            move together, as with another speaker's voice; 0 turns it off).
        cache: True decodes every clip once at setup (errors found before training); False decodes each item
            when it is drawn (memory holds a batch, not the data set); None (default) caches when the audio files
            total at most 256 MiB on disk, else reads lazily.
        predict_path: a file, folder or manifest to classify (default: the test split).
        window_hop: predict a timeline instead: each file cut into windows of ``clip_seconds`` every
            ``window_hop`` seconds, one row per window (path, start, end, label, probability; windows 40 dB under
            the recording's peak are labelled "(silence)").
        variable_length: keep each clip's own length (longer ones still cropped to ``clip_seconds``) and pad
            every batch only to its longest clip, instead of every clip to ``clip_seconds``; the mask keeps the
            padding out, so a causal model's outputs equal those of each clip alone (less padding to compute on
            short clips; a bidirectional model is refused: it would read the padding backwards).
        run_rate: read the audio at this rate instead of ``sample_rate`` (the model's, linked to it), so test /
            predict run a raw-waveform model natively at another rate (``SpeechClassifier.run_rate``, linked).
    """

    def __init__(self, dataset: str = "speech/fsdd", data_dir: str | None = None, root: str | None = None,
                 layout: str = "auto", pattern: str = "{label}_{speaker}_{index}", split: str = "auto",
                 test_speakers: list[str] | None = None, val_speakers: list[str] | None = None,
                 val_fraction: float = 0.1, test_fraction: float = 0.2, sample_rate: int = 8000,
                 clip_seconds: float = 1.0, on_rate_mismatch: str = "resample", normalize: str = "peak",
                 augment: bool = True, shift_ms: float = 100.0, speed: float = 0.1, cache: bool | None = None,
                 predict_path: str | None = None, window_hop: float | None = None, run_rate: int | None = None,
                 variable_length: bool = False, batch_size: int = 32, num_workers: int = 0, seed: int = 0):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if layout not in LAYOUTS:
            raise ConfigError(f"layout={layout!r}: use one of {', '.join(LAYOUTS)}")
        if split not in SPLIT_MODES:
            raise ConfigError(f"split={split!r}: use one of {', '.join(SPLIT_MODES)}")
        if sample_rate <= 0 or clip_seconds <= 0 or (run_rate is not None and run_rate <= 0):
            raise ConfigError(f"sample_rate={sample_rate}, run_rate={run_rate} and clip_seconds={clip_seconds} must "
                              "be positive")
        self.dataset, self.data_dir, self.root, self.layout, self.pattern = dataset, data_dir, root, layout, pattern
        self.split, self.test_speakers, self.val_speakers = split, test_speakers, val_speakers
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.sample_rate, self.clip_seconds, self.run_rate = sample_rate, clip_seconds, run_rate
        self.rate = run_rate or sample_rate  # the rate clips are read at
        self.variable_length = variable_length
        self.on_rate_mismatch, self.normalize, self.augment = on_rate_mismatch, normalize, augment
        self.shift_ms, self.cache, self.predict_path = shift_ms, cache, predict_path
        if window_hop is not None and not 0 < window_hop:
            raise ConfigError(f"--data.window_hop {window_hop}: give the step between windows in seconds (> 0)")
        self.window_hop = window_hop
        if not 0 <= speed < 1:
            raise ConfigError(f"--data.speed {speed}: give a fraction in [0, 1) (0.1: speeds 0.9-1.1)")
        self.speed = speed
        self.length = int(round(self.rate * clip_seconds))
        self._clips: list[Clip] | None = None

    # reading ---------------------------------------------------------------------------------
    def _read(self) -> list[Clip]:
        if self.root is None:
            name = self.dataset.split("/", 1)[-1]
            if name != "fsdd":
                raise DataError(f"dataset {self.dataset!r} is not read directly: extract it and give root= "
                                "(e.g. root=DATA_DIR/speech/speech_commands)")
            self.source = "real: FSDD"
            return read_pattern(dataset_root(self.dataset, self.data_dir), "{label}_{speaker}_{index}")
        root = Path(self.root)
        layout = self.layout
        if layout == "auto":
            if root.suffix.lower() == ".csv":
                layout = "manifest"
            elif (root / "validation_list.txt").exists():
                layout = "speech_commands"
            elif root.is_dir() and any(p.is_dir() and not p.name.startswith(("_", ".")) for p in root.iterdir()):
                layout = "folders"
            else:
                layout = "pattern"
        self.source = f"real: {root.name} ({layout})"
        if layout == "folders":
            return read_folders(root)
        if layout == "speech_commands":
            return read_speech_commands(root)
        if layout == "manifest":
            clips = read_manifest(root)
            missing = next((c for c in clips if c.label is None), None)
            if missing is not None:
                raise DataError("training needs a 'label' column", path=root)
            return clips
        return read_pattern(root, self.pattern)

    @property
    def clips(self) -> list[Clip]:
        if self._clips is None:
            self._clips = self._read()
        return self._clips

    @property
    def classes(self) -> list[str]:
        if self.fitted is not None:  # predict: the checkpoint's classes
            return list(self.fitted["classes"])
        labels = {c.label for c in self.clips}
        return sorted(labels, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _caching(self, clips: list[Clip]) -> bool:
        if self.cache is not None:
            return self.cache
        total = 0
        for clip in clips:
            try:
                total += clip.path.stat().st_size
            except OSError:  # read_audio names the file
                continue
            if total > CACHE_MAX_BYTES:
                return False
        return True

    def _decode(self, clips: list[Clip]) -> list[torch.Tensor] | None:
        if not self._caching(clips):
            return None
        return [normalize(read_audio(c.path, self.rate, self.on_rate_mismatch), self.normalize)
                for c in clips]

    # splits ----------------------------------------------------------------------------------
    def split_mode(self) -> str:
        if self.split != "auto":
            return self.split
        if any(c.split for c in self.clips):
            return "lists"
        return "fsdd" if self.root is None and self.dataset.endswith("fsdd") else "random"

    def _split(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        clips, mode = self.clips, self.split_mode()
        if mode == "lists":
            if not any(c.split for c in clips):
                raise ConfigError("split='lists' needs Speech Commands list files or a manifest 'split' column")
            parts = [np.flatnonzero([(c.split or "train") == s for c in clips]) for s in ("train", "val", "test")]
            return parts[0], parts[1], parts[2]
        if mode == "speaker":
            if self.val_speakers is not None and not self.val_speakers:  # [] : validate on the training speakers
                rest, _, test = speaker_split([c.speaker for c in clips], self.test_speakers, [], self.test_fraction,
                                              0.0, self.seed)
                tr, va, _ = split_indices(len(rest), self.val_fraction, 0.0, self.seed, labels=y[rest])
                return rest[tr], rest[va], test
            return speaker_split([c.speaker for c in clips], self.test_speakers, self.val_speakers,
                                 self.test_fraction, self.val_fraction, self.seed)
        if mode == "fsdd":
            if any(c.index is None for c in clips):
                raise ConfigError("split='fsdd' needs a recording index in every file name ({index})")
            test = np.flatnonzero([c.index < 5 for c in clips])
            rest = np.flatnonzero([c.index >= 5 for c in clips])
            tr, va, _ = split_indices(len(rest), self.val_fraction, 0.0, self.seed, labels=y[rest])
            return rest[tr], rest[va], test
        return split_indices(len(clips), self.val_fraction, self.test_fraction, self.seed, labels=y)

    def fitted_state(self) -> dict[str, Any] | None:
        """The class names (clips are normalised one by one)."""
        return {"classes": self.classes} if self._clips is not None else None

    def _predict_clipset(self) -> None:
        pclips = list_audio(self.predict_path)
        self._predict_clips = pclips
        if self.window_hop is not None:
            hop = max(1, int(round(self.window_hop * self.rate)))
            self.predict_set = WindowSet(pclips, self.length, hop, self.rate, self.on_rate_mismatch,
                                         self.normalize, keep=self._caching(pclips))
            return
        self.predict_set = ClipSet(pclips, None, np.arange(len(pclips)), length=self.length,
                                   rate=self.rate, waves=self._decode(pclips),
                                   on_rate_mismatch=self.on_rate_mismatch, norm=self.normalize,
                                   variable=self.variable_length)

    def setup(self, stage: str | None = None) -> None:
        if self.window_hop is not None and not self.predict_path:
            raise ConfigError("--data.window_hop cuts the files of --data.predict_path into windows: give that too")
        if stage == "predict" and self.predict_path and self.fitted is not None:  # no training data needed
            self._predict_clipset()
            self.source = f"real: {self.predict_path} (classes from the checkpoint)"
            return
        clips, classes = self.clips, self.classes
        y = np.array([classes.index(c.label) for c in clips], dtype=np.int64)
        train, val, test = self._split(y)
        if len(train) == 0:
            raise DataError(f"the training split is empty ({len(clips)} clips, split={self.split_mode()!r})")
        waves = self._decode(clips)
        common = {"length": self.length, "rate": self.rate, "waves": waves,
                  "on_rate_mismatch": self.on_rate_mismatch, "norm": self.normalize, "variable": self.variable_length}
        self.train_set = ClipSet(clips, y, train, train=True, augment=self.augment,
                                 shift=int(self.shift_ms * self.rate / 1000), seed=self.seed, speed=self.speed,
                                 **common)
        self.val_set = ClipSet(clips, y, val, **common) if len(val) else None
        self.test_set = ClipSet(clips, y, test, **common) if len(test) else None
        self.split_speakers = {name: sorted({clips[i].speaker for i in part if clips[i].speaker})
                               for name, part in (("train", train), ("val", val), ("test", test))}
        self._predict_clips = clips
        self.predict_set = self.test_set
        if self.predict_path:
            self._predict_clipset()

    def _loader(self, dataset, shuffle: bool, **kwargs):
        return super()._loader(dataset, shuffle, collate_fn=pad_batch, **kwargs)

    # predictions -----------------------------------------------------------------------------
    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """path, label, probability (plus the model's extra columns, e.g. streaming latency); with
        ``window_hop``: path, start, end (seconds), label, probability per window."""
        out = []
        windows = getattr(self.predict_set, "windows", None)
        for r in rows:
            extra = {k: v for k, v in r.items() if k not in ("index", "label", "probability", "silent")}
            if windows is None:
                out.append({"path": str(self._predict_clips[r["index"]].path), "label": self.classes[r["label"]],
                            "probability": r["probability"], **extra})
                continue
            j, start = windows[r["index"]]
            silent = r.get("silent", False)
            out.append({"path": str(self._predict_clips[j].path), "start": round(start / self.rate, 4),
                        "end": round(min(start + self.length, self.predict_set.samples[j]) / self.rate, 4),
                        "label": "(silence)" if silent else self.classes[r["label"]],
                        "probability": 0.0 if silent else r["probability"], **extra})
        return out


__all__ = ["SpeechDataModule", "ClipSet", "WindowSet", "pad_batch", "speaker_split", "LAYOUTS", "SPLIT_MODES"]

"""Small audio files written with soundfile for the speech tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def tone(freq: float, rate: int, seconds: float, amp: float = 0.5, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A sine with a little noise, (samples,) or (samples, channels) float32."""
    t = np.arange(int(rate * seconds)) / rate
    wave = amp * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).standard_normal(t.shape)
    wave = wave.astype(np.float32)
    return np.stack([wave] * channels, axis=1) if channels > 1 else wave


WORDS = {"low": 300.0, "mid": 900.0, "high": 2000.0}


@pytest.fixture
def write_audio():
    import soundfile as sf

    def write(path: Path, data: np.ndarray, rate: int, fmt: str | None = None) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), data, rate, format=fmt)
        return path

    return write


@pytest.fixture
def tone_folders(tmp_path, write_audio) -> Path:
    """root/<word>/<speaker>_nohash_<n>.wav|flac: three 'words' (tones), four speakers, mixed rates and channels."""
    root = tmp_path / "words"
    rates = [8000, 16000, 22050]
    for w, (word, freq) in enumerate(WORDS.items()):
        for s in range(4):
            for n in range(3):
                rate = rates[(s + n) % 3]
                seed = w * 100 + s * 10 + n
                data = tone(freq * (1 + 0.03 * s), rate, 0.3 + 0.1 * n, channels=1 + (n == 2), seed=seed)
                suffix = "flac" if n == 1 else "wav"
                write_audio(root / word / f"spk{s}_nohash_{n}.{suffix}", data, rate)
    return root

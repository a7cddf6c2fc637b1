"""Fuzzing the audio reader (WAV and FLAC through soundfile, with resampling) and CSV manifests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'ssmkit[dev]')")
pytest.importorskip("ssmkit_speech", reason="the ssmkit-speech plug-in is not installed")
sf = pytest.importorskip("soundfile", reason="reading audio needs soundfile")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from ssmkit_speech.audio import read_audio  # noqa: E402
from ssmkit_speech.layouts import read_manifest  # noqa: E402

from .conftest import attempt, fuzz_settings, mutated, write_input  # noqa: E402

FSDD = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech" / "fsdd"


def _audio(fmt: str, subtype: str, channels: int = 1, rate: int = 8000, seconds: float = 0.05) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    data = np.stack([wave, 0.5 * wave], axis=1) if channels == 2 else wave
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


WAVS = [_audio("WAV", "PCM_16"), _audio("WAV", "FLOAT", channels=2, rate=16000), _audio("WAV", "PCM_U8")]
FLAC = [_audio("FLAC", "PCM_16"), _audio("FLAC", "PCM_24", channels=2, rate=11025)]
MANIFEST = b"path,label,speaker,split\na.wav,yes,s1,train\nb.wav,no,s2,val\nsub/c.wav,yes,s1,test\n"


def _wave_ok(wave) -> None:
    assert wave.ndim == 1 and len(wave) > 0 and bool(wave.isfinite().all())


def _read_twice(path: Path):
    """At the file's own rate, then resampled to 16 kHz (the path a pipeline takes)."""
    _wave_ok(read_audio(path))
    return read_audio(path, rate=16000)


def test_seeds_load(tmp_path):
    for i, data in enumerate(WAVS):
        _wave_ok(_read_twice(write_input(tmp_path, f"{i}.wav", data)))
    for i, data in enumerate(FLAC):
        _wave_ok(_read_twice(write_input(tmp_path, f"{i}.flac", data)))


@fuzz_settings(80)
@given(data=mutated(WAVS))
def test_wav(fuzz_dir, data):
    path = write_input(fuzz_dir, "clip.wav", data)
    attempt("speech wav", lambda: _read_twice(path), path, _wave_ok)


@fuzz_settings(60)
@given(data=mutated(FLAC))
def test_flac(fuzz_dir, data):
    path = write_input(fuzz_dir, "clip.flac", data)
    attempt("speech flac", lambda: _read_twice(path), path, _wave_ok)


@fuzz_settings(40)
@given(data=mutated(MANIFEST))
def test_manifest(fuzz_dir, data):
    for name in ("a.wav", "b.wav", "sub/c.wav"):
        write_input(fuzz_dir, name, WAVS[0])
    path = write_input(fuzz_dir, "manifest.csv", data)
    attempt("speech manifest csv", lambda: read_manifest(path), path, lambda clips: len(clips) > 0)


@pytest.fixture(scope="module")
def fsdd_clips() -> list[bytes]:
    """Three real Free Spoken Digit recordings."""
    files = sorted(FSDD.glob("*_theo_1*.wav"))[:3] if FSDD.exists() else []
    if not files:
        pytest.skip(f"real data not found at {FSDD}")
    return [f.read_bytes() for f in files]


@fuzz_settings(40)
@given(draw=st.data())
def test_real_fsdd(fuzz_dir, fsdd_clips, draw):
    path = write_input(fuzz_dir, "0_theo_10.wav", draw.draw(mutated(fsdd_clips)))
    attempt("speech wav (FSDD)", lambda: _read_twice(path), path, _wave_ok)


def test_found_by_fuzzing(tmp_path):
    """A manifest or a Speech Commands list that is not UTF-8 leaked UnicodeDecodeError."""
    from ssmkit_speech.layouts import read_speech_commands

    from ssmkit.errors import DataError

    path = write_input(tmp_path, "manifest.csv", b"\x80" + MANIFEST)
    with pytest.raises(DataError, match=r"manifest\.csv: not UTF-8 text"):
        read_manifest(path)
    write_input(tmp_path / "sc" / "yes", "a_nohash_0.wav", WAVS[0])
    write_input(tmp_path / "sc", "validation_list.txt", b"yes/a_nohash_0.wav\n")
    write_input(tmp_path / "sc", "testing_list.txt", b"\xff\xfe")
    with pytest.raises(DataError, match=r"testing_list\.txt: not UTF-8 text"):
        read_speech_commands(tmp_path / "sc")


def _with_rate(wav: bytes, rate: int) -> bytes:
    """A WAV whose fmt chunk says ``rate`` Hz (byte rate to match), samples unchanged."""
    channels, bits = int.from_bytes(wav[22:24], "little"), int.from_bytes(wav[34:36], "little")
    return (wav[:24] + rate.to_bytes(4, "little") + (rate * channels * bits // 8).to_bytes(4, "little")
            + wav[32:])


def test_found_by_fuzzing_rates_and_peaks(tmp_path):
    """A rate field flipped to an odd value (40769 Hz) made resampling to 16 kHz build a polyphase table of
    gigabytes (out of memory at 2**31 - 1 Hz); float samples of 1e33 passed and overflowed to inf when resampled."""
    from ssmkit.errors import DataError

    odd = write_input(tmp_path, "odd.wav", _with_rate(WAVS[0], 40769))
    _wave_ok(read_audio(odd, rate=16000))
    huge = write_input(tmp_path, "huge.wav", _with_rate(WAVS[0], 2**31 - 1))
    with pytest.raises(DataError, match=r"huge\.wav: sample rate 2147483647 Hz in the header"):
        read_audio(huge, rate=16000)
    loud = np.full(400, 1e33, dtype=np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, loud, 8000, format="WAV", subtype="FLOAT")
    with pytest.raises(DataError, match=r"loud\.wav: samples reach 1e\+33, far beyond full scale"):
        read_audio(write_input(tmp_path, "loud.wav", buffer.getvalue()), rate=16000)

"""Audio I/O and waveform helpers: soundfile reading with checks, mono mixdown, resampling, crop/pad.

``soundfile`` (libsndfile, bundled in its wheel) reads WAV and FLAC; every problem with a file becomes a
one-line :class:`~ssmkit.errors.DataError` naming it. Waveforms are float32 tensors in [-1, 1].
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ssmkit.errors import ConfigError, DataError

AUDIO_SUFFIXES = (".wav", ".flac")
RATE_POLICIES = ("resample", "error")
NORMALIZE = ("peak", "rms", "none")
SILENCE = 1e-4  # peak amplitude below which a whole file counts as silent (about -80 dBFS)
MAX_RATE = 768_000  # Hz, above any recording: a corrupt header's rate would make resampling allocate gigabytes
MAX_PEAK = 1e3  # float samples beyond 1000x full scale are corrupt data (they overflow float32 when resampled)
POLYPHASE_LIMIT = 1 << 22  # filter taps held at once by resample (32 MB in float64)


def is_audio(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


def read_audio(path: str | Path, rate: int | None = None, on_rate_mismatch: str = "resample") -> torch.Tensor:
    """A file -> mono waveform (samples,) float32 at ``rate`` Hz (the file's own rate when None).

    Multi-channel files are mixed down by averaging. ``on_rate_mismatch``: "resample" converts to
    ``rate``; "error" refuses a file at another rate. Unreadable, truncated, empty and silent-only
    files raise a DataError naming the file.
    """
    import soundfile as sf

    if on_rate_mismatch not in RATE_POLICIES:
        raise ConfigError(f"on_rate_mismatch={on_rate_mismatch!r}: use one of {', '.join(RATE_POLICIES)}")
    path = Path(path)
    if not path.exists():
        raise DataError("no such audio file", path=path)
    if path.stat().st_size == 0:
        raise DataError("empty file (0 bytes)", path=path)
    try:
        info = sf.info(str(path))
        data, file_rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, TypeError, ValueError) as exc:
        reason = str(exc).split(":", 1)[-1].strip() if str(exc) else type(exc).__name__
        raise DataError(f"cannot read audio ({reason})", path=path) from None
    if data.shape[0] == 0:
        raise DataError("no samples (zero-length audio)", path=path)
    missing = _wav_missing_bytes(path) if path.suffix.lower() == ".wav" else 0
    if missing > 0:
        raise DataError(f"truncated: the header announces {missing} more bytes of samples than the file holds",
                        path=path)
    if info.frames > 0 and data.shape[0] < info.frames:
        raise DataError(f"truncated: the header announces {info.frames} samples, the file holds {data.shape[0]}",
                        path=path)
    if not 1 <= file_rate <= MAX_RATE:
        raise DataError(f"sample rate {file_rate} Hz in the header (expected 1 to {MAX_RATE} Hz; corrupt header?)",
                        path=path)
    if not np.isfinite(data).all():
        raise DataError("samples are not finite (NaN or infinity)", path=path)
    peak = float(np.abs(data).max())
    if peak > MAX_PEAK:
        raise DataError(f"samples reach {peak:.3g}, far beyond full scale [-1, 1] (corrupt float data?)", path=path)
    wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=1)))
    if float(wave.abs().max()) < SILENCE:
        raise DataError(f"silent: no sample above {SILENCE:g} full scale", path=path)
    if rate is not None and file_rate != rate:
        if on_rate_mismatch == "error":
            raise DataError(f"sample rate {file_rate} Hz, expected {rate} Hz "
                            "(set on_rate_mismatch='resample' to convert)", path=path)
        wave = resample(wave, file_rate, rate)
    return wave


def _wav_missing_bytes(path: Path) -> int:
    """Bytes the RIFF header's data chunk announces beyond the end of the file (0 when complete)."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return 0
        order = "little" if head[:4] == b"RIFF" else "big"
        pos = 12
        while pos + 8 <= size:
            handle.seek(pos)
            chunk = handle.read(8)
            length = int.from_bytes(chunk[4:8], order)
            if chunk[:4] == b"data":
                if length in (0, 0xFFFFFFFF):  # streamed WAVs leave the size open
                    return 0
                return max(0, pos + 8 + length - size)
            pos += 8 + length + (length & 1)
    return 0


@lru_cache(maxsize=32)
def _sinc_kernels(orig: int, new: int, width: int, rolloff: float) -> torch.Tensor:
    """Polyphase windowed-sinc filters (new, 1, 2 * width + orig) for the reduced rates orig -> new."""
    base = min(orig, new) * rolloff  # cut-off (as a sampling rate) below both Nyquist frequencies
    k = torch.arange(-width, width + orig, dtype=torch.float64)
    phase = torch.arange(new, dtype=torch.float64).unsqueeze(1)
    t = k.unsqueeze(0) / orig - phase / new  # time of input sample k relative to output p (reduced seconds)
    span = width / orig
    window = torch.where(t.abs() <= span, torch.cos(math.pi * t / (2 * span)) ** 2, torch.zeros_like(t))
    h = (base / orig) * torch.sinc(base * t) * window  # unit DC gain for the ideal low-pass
    return h.unsqueeze(1).float()


def resample(wave: torch.Tensor, orig_rate: int, new_rate: int, zeros: int = 16,
             rolloff: float = 0.945) -> torch.Tensor:
    """Band-limited resampling of (..., samples) from ``orig_rate`` to ``new_rate`` Hz.

    A Hann-windowed sinc low-pass (``zeros`` zero crossings each side, cut-off ``rolloff`` times the lower
    Nyquist frequency) evaluated in polyphase form: output length ceil(samples * new / orig).
    """
    if orig_rate == new_rate:
        return wave
    if orig_rate <= 0 or new_rate <= 0:
        raise ConfigError(f"sample rates must be positive (got {orig_rate} -> {new_rate})")
    g = math.gcd(int(orig_rate), int(new_rate))
    orig, new = int(orig_rate) // g, int(new_rate) // g
    width = math.ceil(zeros * orig / (min(orig, new) * rolloff))
    if new * (2 * width + orig) > POLYPHASE_LIMIT:  # near-coprime rates (44101 -> 16000 Hz): a table of gigabytes
        return _resample_direct(wave, orig, new, width, rolloff)
    kernels = _sinc_kernels(orig, new, width, rolloff).to(wave.device)
    shape, n = wave.shape[:-1], wave.shape[-1]
    x = wave.reshape(-1, 1, n).to(kernels.dtype)
    x = F.pad(x, (width, width + orig))
    y = F.conv1d(x, kernels, stride=orig)  # (batch, new phases, blocks)
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    out_len = math.ceil(n * new / orig)
    return y[:, :out_len].reshape(*shape, out_len).to(wave.dtype)


def _resample_direct(wave: torch.Tensor, orig: int, new: int, width: int, rolloff: float) -> torch.Tensor:
    """``resample`` for reduced rates whose polyphase table would not fit: the same filter evaluated at each
    output sample m over the inputs i within ``width`` of m * orig / new, in chunks of bounded size."""
    shape, n = wave.shape[:-1], wave.shape[-1]
    x = wave.reshape(-1, n).to(torch.float64)
    out_len = math.ceil(n * new / orig)
    base, span = min(orig, new) * rolloff, width / orig
    taps = torch.arange(-width, width + 2, device=wave.device)  # around floor(m * orig / new)
    chunk = max(1, POLYPHASE_LIMIT // len(taps))
    out = []
    for start in range(0, out_len, chunk):
        m = torch.arange(start, min(start + chunk, out_len), device=wave.device).unsqueeze(1)
        i = (m * orig) // new + taps  # (outputs, taps) input indices
        t = (i * new - m * orig).to(torch.float64) / (orig * new)  # as in _sinc_kernels, exact in integers
        window = torch.where(t.abs() <= span, torch.cos(math.pi * t / (2 * span)) ** 2, torch.zeros_like(t))
        h = (base / orig) * torch.sinc(base * t) * window
        inside = (i >= 0) & (i < n)  # zeros beyond both ends, as the polyphase form's padding
        out.append((x[:, i.clamp(0, n - 1)] * (h * inside)).sum(-1))
    return torch.cat(out, dim=-1).reshape(*shape, out_len).to(wave.dtype)


def normalize(wave: torch.Tensor, how: str = "peak", target: float = 0.9) -> torch.Tensor:
    """Scale (samples,): "peak" -> max |x| = target; "rms" -> RMS = target / 8; "none" leaves it."""
    if how not in NORMALIZE:
        raise ConfigError(f"normalize={how!r}: use one of {', '.join(NORMALIZE)}")
    if how == "none":
        return wave
    level = wave.abs().max() if how == "peak" else wave.square().mean().sqrt() * 8
    return wave * (target / level.clamp_min(1e-8))


def crop_or_pad(wave: torch.Tensor, length: int, offset: int | None = None) -> tuple[torch.Tensor, int]:
    """(samples,) -> ((length,), real samples). Longer clips are cut at ``offset`` (default: centred);
    shorter ones start at ``offset`` (default 0) and are padded with zeros."""
    n = wave.shape[-1]
    if n >= length:
        start = (n - length) // 2 if offset is None else min(max(0, offset), n - length)
        return wave[start:start + length], length
    start = 0 if offset is None else min(max(0, offset), length - n)
    out = wave.new_zeros(length)
    out[start:start + n] = wave
    return out, start + n


__all__ = ["AUDIO_SUFFIXES", "read_audio", "resample", "normalize", "crop_or_pad", "is_audio"]

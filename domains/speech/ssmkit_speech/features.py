"""Causal framing, log-mel / MFCC features and on-the-fly augmentation, in plain PyTorch.

Frames are causal: frame i covers samples [i * hop - (win - hop), (i + 1) * hop), the signal being
left-padded with zeros, so a clip of T samples gives T // hop frames and a stream fed chunk by chunk
gives the same frames as the whole clip (``Framer`` keeps the samples a frame still needs).
The mel filterbank (HTK mel scale, triangular filters) and the DCT-II follow the usual definitions
(those of torchaudio's MelSpectrogram / MFCC with ``center=False``, ``norm=None``, ``mel_scale="htk"``).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ssmkit.errors import ConfigError

from .audio import resample


class Framer:
    """Cut (batch, samples) into causal frames (batch, n, win) every ``hop`` samples."""

    def __init__(self, win: int, hop: int):
        if hop <= 0 or win < hop:
            raise ConfigError(f"frame window {win} and hop {hop}: need 0 < hop <= window")
        self.win, self.hop = win, hop

    def frames(self, wave: torch.Tensor) -> torch.Tensor:
        """Whole clips: (batch, T) -> (batch, T // hop, win)."""
        padded = torch.nn.functional.pad(wave, (self.win - self.hop, 0))
        n = wave.shape[-1] // self.hop
        if n == 0:
            return wave.new_zeros(wave.shape[0], 0, self.win)
        return padded[:, :self.win - self.hop + n * self.hop].unfold(-1, self.win, self.hop)

    def start(self, batch: int, device=None, dtype=torch.float32) -> torch.Tensor:
        """Initial carried samples (batch, win - hop): the causal zero padding."""
        return torch.zeros(batch, self.win - self.hop, device=device, dtype=dtype)

    def push(self, carried: torch.Tensor, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Streams: (carried, chunk (batch, n)) -> (frames (batch, k, win), new carried samples)."""
        buf = torch.cat([carried, chunk.to(carried.dtype)], dim=-1)
        k = (buf.shape[-1] - (self.win - self.hop)) // self.hop
        if k == 0:
            return buf.new_zeros(buf.shape[0], 0, self.win), buf
        frames = buf[:, :self.win - self.hop + k * self.hop].unfold(-1, self.win, self.hop)
        return frames, buf[:, k * self.hop:]


def hz_to_mel(f: torch.Tensor | float) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(f, dtype=torch.float64) / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10 ** (m / 2595.0) - 1.0)


def mel_filterbank(n_fft: int, n_mels: int, rate: int, f_min: float = 0.0, f_max: float | None = None) -> torch.Tensor:
    """Triangular filters (n_fft // 2 + 1, n_mels) on the HTK mel scale."""
    f_max = rate / 2 if f_max is None else f_max
    freqs = torch.linspace(0, rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2,
                                     dtype=torch.float64))
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    up = (freqs.unsqueeze(1) - lower) / (centre - lower)
    down = (upper - freqs.unsqueeze(1)) / (upper - centre)
    return torch.clamp(torch.minimum(up, down), min=0.0).float()


def dct_matrix(n_mfcc: int, n_mels: int) -> torch.Tensor:
    """Orthonormal DCT-II basis (n_mels, n_mfcc)."""
    n = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(n_mfcc, dtype=torch.float64).unsqueeze(1)
    basis = torch.cos(math.pi / n_mels * (n + 0.5) * k) * math.sqrt(2.0 / n_mels)
    basis[0] /= math.sqrt(2.0)
    return basis.t().float()


class LogMel(nn.Module):
    """Frames (batch, n, win) -> log-mel (batch, n, n_mels), or MFCCs (batch, n, n_mfcc) when n_mfcc > 0.

    Power spectrum of each Hann-windowed frame (zero-padded to n_fft), mel filters, log(x + 1e-6). The
    windowed DFT is one matmul (frames by [cos | -sin] columns with the window folded in) and the power and
    filterbank another, so a streamed chunk of a few frames costs a handful of operations.
    """

    def __init__(self, rate: int, win: int, n_mels: int = 40, n_mfcc: int = 0, f_min: float = 20.0,
                 f_max: float | None = None):
        super().__init__()
        self.n_fft = 1 << max(0, (win - 1).bit_length())
        bins = self.n_fft // 2 + 1
        angle = 2 * math.pi / self.n_fft * torch.outer(torch.arange(win, dtype=torch.float64),
                                                      torch.arange(bins, dtype=torch.float64))
        window = torch.hann_window(win, periodic=True, dtype=torch.float64).unsqueeze(1)
        self.register_buffer("dft", torch.cat([window * torch.cos(angle), -window * torch.sin(angle)], 1).float(),
                             persistent=False)  # (win, 2 bins): real and imaginary parts of the windowed DFT
        fbank = mel_filterbank(self.n_fft, n_mels, rate, f_min, f_max)
        self.register_buffer("fbank", torch.cat([fbank, fbank], 0), persistent=False)  # re^2 and im^2 rows alike
        self.register_buffer("dct", dct_matrix(n_mfcc, n_mels) if n_mfcc else None, persistent=False)
        self.out_features = n_mfcc or n_mels

    @torch.no_grad()  # no parameters: nothing to learn through the features
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        with torch.autocast(frames.device.type, enabled=False):  # float32 under bf16-mixed: same features as on CPU
            out = torch.log((frames.float() @ self.dft).square() @ self.fbank + 1e-6)
            return out @ self.dct if self.dct is not None else out


def spec_augment(x: torch.Tensor, freq_masks: int = 2, freq_width: int = 6, time_masks: int = 2,
                 time_width: int = 10, generator: torch.Generator | None = None) -> torch.Tensor:
    """SpecAugment on features (batch, n, features): zero random bands of features and runs of frames."""
    b, n, f = x.shape
    keep = torch.ones(b, n, f, dtype=torch.bool, device=x.device)
    pos_f = torch.arange(f, device=x.device)
    pos_t = torch.arange(n, device=x.device)
    for _ in range(freq_masks):
        w = torch.randint(0, freq_width + 1, (b, 1), generator=generator).to(x.device)
        s = (torch.rand(b, 1, generator=generator).to(x.device) * (f - w).clamp_min(1)).long()
        keep &= ~((pos_f >= s) & (pos_f < s + w)).unsqueeze(1)
    for _ in range(time_masks):
        w = torch.randint(0, time_width + 1, (b, 1), generator=generator).to(x.device)
        s = (torch.rand(b, 1, generator=generator).to(x.device) * (n - w).clamp_min(1)).long()
        keep &= ~((pos_t >= s) & (pos_t < s + w)).unsqueeze(2)
    return x * keep.to(x.dtype)


def augment_wave(wave: torch.Tensor, rng, gain_db: float = 6.0, noise_snr_db: float | None = 20.0,
                 noise_prob: float = 0.5) -> torch.Tensor:
    """Random gain in [-gain_db, +gain_db] dB and, with probability ``noise_prob``, white noise at an SNR drawn
    in [noise_snr_db, noise_snr_db + 20] dB. wave (samples,); ``rng`` a numpy Generator."""
    if gain_db:
        wave = wave * 10 ** (rng.uniform(-gain_db, gain_db) / 20)
    if noise_snr_db is not None and rng.random() < noise_prob:
        snr = rng.uniform(noise_snr_db, noise_snr_db + 20)
        power = wave.square().mean().clamp_min(1e-10)
        noise = torch.from_numpy(rng.standard_normal(wave.shape[-1]).astype("float32"))
        wave = wave + noise * torch.sqrt(power / 10 ** (snr / 10))
    return wave


def speed_perturb(wave: torch.Tensor, rate: int, rng, max_change: float = 0.1, step: int = 100) -> torch.Tensor:
    """Play ``wave`` (samples,) at a random speed in [1 - max_change, 1 + max_change]: resampled as if recorded
    at ``rate * factor``, so tempo and pitch (formants) both move, the way Kaldi's speed perturbation imitates
    other speakers. The assumed rate is rounded to a multiple of ``step`` Hz (a short polyphase filter)."""
    if not max_change:
        return wave
    source = int(round(rate * rng.uniform(1 - max_change, 1 + max_change) / step)) * step
    if source == rate or source <= 0:
        return wave
    return resample(wave, source, rate)


__all__ = ["Framer", "LogMel", "mel_filterbank", "dct_matrix", "spec_augment", "augment_wave", "speed_perturb"]

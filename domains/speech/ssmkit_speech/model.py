"""Speech networks on ssmkit's Backbone: a raw-waveform and a log-mel classifier, both streamable.

Both read waveforms (batch, samples) and share one shape:
causal front end (frames every ``hop`` samples -> tokens (batch, n, d)) -> stages, each
[optional pooling of ``pool`` consecutive tokens -> Backbone] -> mean over the real tokens -> linear head.

* ``RawWaveNet``: frames of raw samples through a learned projection (a strided convolution written as
  a linear map of each frame), SSM stages with pooling between them (SaShiMi-like, at 8-16 k samples).
* ``SpectrogramNet``: log-mel (or MFCC) frames as tokens, SpecAugment while training.

With a causal backbone (``bidirectional=False``) ``stream_start`` / ``stream_push`` / ``stream_logits``
run a clip chunk by chunk with the backbone state carried (``Backbone.forward(x, state)``); the logits
equal those of ``forward`` on the whole clip.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmkit.backbone import Backbone, BackboneConfig
from ssmkit.errors import ConfigError

from .features import Framer, LogMel, spec_augment


class Stage(nn.Module):
    """Tokens (batch, n, d_in) -> (batch, n // pool, d): stack ``pool`` consecutive tokens, project, SSM."""

    def __init__(self, d_in: int, d: int, pool: int, backbone: BackboneConfig):
        super().__init__()
        self.pool = pool
        self.down = nn.Linear(d_in * pool, d) if pool > 1 or d_in != d else nn.Identity()
        self.backbone = Backbone(backbone, d_model=d)

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        k = n // self.pool
        return self.down(x[:, :k * self.pool].reshape(b, k, d * self.pool))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self._down(x)
        if mask is not None:  # a pooled token is real when its last input token is (as for frames)
            mask = mask[:, self.pool - 1:x.shape[1] * self.pool:self.pool]
        return self.backbone(x), mask

    def start(self, batch: int, d_in: int, device=None) -> dict:
        return {"pending": torch.zeros(batch, 0, d_in, device=device),
                "ssm": self.backbone.allocate_state(batch, device)}

    def push(self, x: torch.Tensor, state: dict) -> torch.Tensor:
        """Streams: tokens (batch, k, d_in) -> the (batch, k', d) completed so far."""
        if self.pool > 1:  # tokens wait until a whole group of ``pool`` is there
            x = torch.cat([state["pending"], x], dim=1)
        k = x.shape[1] // self.pool
        if self.pool > 1:
            state["pending"] = x[:, k * self.pool:]
        if k == 0:
            return x.new_zeros(x.shape[0], 0, self.backbone.config.d_model)
        return self.backbone(self._down(x[:, :k * self.pool]), state["ssm"])


class SpeechNet(nn.Module):
    """Waveform (batch, samples) [+ sample mask (batch, samples)] -> logits (batch, num_classes)."""

    def __init__(self, num_classes: int, framer: Framer, d_front: int, d_model: int, n_layers: int | list[int],
                 pools: list[int], mixer: str, d_state: int, bidirectional: bool, dropout: float,
                 mixer_options: dict | None = None):
        super().__init__()
        self.framer, self.d_front = framer, d_front
        layers = [n_layers] * (len(pools) or 1) if isinstance(n_layers, int) else list(n_layers)
        pools = list(pools) or [1]
        if len(layers) != len(pools):
            raise ConfigError(f"n_layers {layers} and pools {pools}: give one layer count per stage")
        config = BackboneConfig(d_model=d_model, mixer=mixer, dropout=dropout, bidirectional=bidirectional,
                                mixer_options={"d_state": d_state, **(mixer_options or {})})
        stages, d_in = [], d_front
        for n, p in zip(layers, pools):
            stages.append(Stage(d_in, d_model, p, BackboneConfig(**{**config.to_dict(), "n_layers": n})))
            d_in = d_model
        self.stages = nn.ModuleList(stages)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, num_classes)

    @property
    def causal(self) -> bool:
        return all(s.backbone.causal for s in self.stages)

    @property
    def hop(self) -> int:
        """Samples per output token of the last stage."""
        hop = self.framer.hop
        for s in self.stages:
            hop *= s.pool
        return hop

    def embed(self, frames: torch.Tensor, mask: torch.Tensor | None = None, state: dict | None = None) -> torch.Tensor:
        """Frames (batch, n, win) [+ real-frame mask (batch, n); a stream's state dict] -> tokens (batch, n,
        d_front)."""
        raise NotImplementedError

    def features(self, wave: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(batch, samples) -> last-stage tokens (batch, n, d_model) and their mask (batch, n)."""
        frames = self.framer.frames(wave)
        hop = self.framer.hop
        # a frame is real when its last sample is: a padded clip then has the frames of the unpadded one
        tok_mask = None if mask is None else mask[:, hop - 1:frames.shape[1] * hop:hop]
        x = self.embed(frames, tok_mask)
        for stage in self.stages:
            x, tok_mask = stage(x, tok_mask)
        if tok_mask is None:
            tok_mask = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
        return x, tok_mask

    def forward(self, wave: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x, m = self.features(wave, mask)
        if x.shape[1] == 0:
            raise ValueError(f"a clip of {wave.shape[-1]} samples is shorter than one token ({self.hop} samples)")
        w = m.unsqueeze(-1).to(x.dtype)
        pooled = (x * w).sum(1) / w.sum(1).clamp_min(1)
        return self.head(self.dropout(pooled))

    def at_rate(self, trained: int, rate: int, rescale: bool = True) -> float:
        """Run on audio at ``rate`` Hz a network trained at ``trained`` Hz, in place; returns the factor by which
        tokens moved apart in time. Only the raw-waveform network can (``RawWaveNet.at_rate``)."""
        raise ConfigError(f"{type(self).__name__} cannot change its sample rate by rescaling (its features are "
                          "fixed to the trained rate): resample the audio instead (the default)")

    # streaming ----------------------------------------------------------------------------
    def stream_start(self, batch: int = 1, device=None) -> dict:
        """A fresh stream state for ``batch`` clips; needs a causal network."""
        if not self.causal:
            raise ConfigError("streaming needs a causal model (bidirectional=False): a bidirectional "
                              "backbone reads the future")
        d_ins = [self.d_front] + [s.backbone.config.d_model for s in self.stages[:-1]]
        return {"samples": self.framer.start(batch, device),
                "stages": [s.start(batch, d, device) for s, d in zip(self.stages, d_ins)],
                "sum": torch.zeros(batch, self.head.in_features, device=device), "count": 0}

    @torch.inference_mode()  # cheaper per op than no_grad: streaming is launch-bound
    def stream_push(self, chunk: torch.Tensor, state: dict) -> None:
        """Feed the next samples (batch, n) of the clips; any n, tokens complete when their hop is. Runs in
        inference mode, so the state holds inference tensors: use it only through stream_push / stream_logits."""
        frames, state["samples"] = self.framer.push(state["samples"], chunk)
        x = self.embed(frames, state=state.setdefault("embed", {}))
        for stage, s in zip(self.stages, state["stages"]):
            x = stage.push(x, s)
        state["sum"] += x.sum(1)
        state["count"] += x.shape[1]

    @torch.no_grad()  # outside inference mode: the logits are a normal tensor even though the state is not
    def stream_logits(self, state: dict) -> torch.Tensor:
        """Logits (batch, num_classes) of everything fed so far."""
        if state["count"] == 0:
            raise ValueError(f"fewer samples fed than one token ({self.hop} samples)")
        return self.head(state["sum"] / state["count"])


class RawWaveNet(SpeechNet):
    """Raw samples: causal frames of ``win`` samples every ``hop`` -> linear -> GELU -> linear (a strided
    convolution), then SSM stages with token pooling (``pools``) between them."""

    def __init__(self, num_classes: int, win: int = 32, hop: int = 16, d_model: int = 128,  # 64 underfit FSDD
                 n_layers: int | list[int] = 2, pools: list[int] = (1, 4), mixer: str = "s4d", d_state: int = 32,
                 bidirectional: bool = False, dropout: float = 0.1, mixer_options: dict | None = None):
        super().__init__(num_classes, Framer(win, hop), d_model, d_model, n_layers, list(pools), mixer, d_state,
                         bidirectional, dropout, mixer_options)
        self.front = nn.Sequential(nn.Linear(win, d_model), nn.GELU(), nn.Linear(d_model, d_model))

    def embed(self, frames: torch.Tensor, mask: torch.Tensor | None = None, state: dict | None = None) -> torch.Tensor:
        return self.front(frames)

    @torch.no_grad()
    def at_rate(self, trained: int, rate: int, rescale: bool = True) -> float:
        """Continuous-time rate change, in place. Each frame keeps its duration: the front's first linear map, a
        bank of FIR filters over the frame's samples, is resampled to ``win * rate / trained`` taps (summed over
        the taps a new sample spans when the rate falls, interpolated when it rises). The hop stays in samples
        (at most the new window), so tokens come ``factor = (hop' / rate) / (hop / trained)`` times as far apart
        (2 at half the rate: half as many tokens, as S4 read Speech Commands at 8 kHz); with ``rescale`` every SSM
        step size is multiplied by ``factor``, without it the SSMs run as trained. Returns ``factor``."""
        if rate <= 0 or trained <= 0:
            raise ConfigError(f"sample rates {trained} -> {rate} Hz: both must be positive")
        if rate == trained:
            return 1.0
        first = self.front[0]
        win = max(1, int(round(self.framer.win * rate / trained)))
        hop = min(self.framer.hop, win)
        factor = (hop / rate) / (self.framer.hop / trained)
        if rescale:  # first: the one step that can refuse (a mixer without a step size), before anything changes
            for stage in self.stages:
                stage.backbone.rescale_step(factor)
        weight = first.weight[:, None, :]  # (d, 1, win): one filter per output channel
        mode = {"mode": "area"} if win < self.framer.win else {"mode": "linear", "align_corners": False}
        resampled = F.interpolate(weight, size=win, **mode)[:, 0] * (self.framer.win / win)
        new = nn.Linear(win, first.out_features).to(first.weight)
        new.weight.copy_(resampled)
        new.bias.copy_(first.bias)
        self.front[0] = new
        self.framer = Framer(win, hop)
        return factor


class FrequencyConv(nn.Module):
    """Per-frame front end along the frequency axis: (b, n, f) -> (b, n, d). Two 1-D convolutions over the
    bands (kernel 5, ``channels`` each), each followed by max-pooling by 2, so a formant moved by a band or two
    (another voice) gives nearly the same output; frames stay independent of each other (it streams)."""

    def __init__(self, features: int, channels: int, d: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(1, channels, 5, padding=2), nn.GELU(), nn.MaxPool1d(2),
                                 nn.Conv1d(channels, channels, 5, padding=2), nn.GELU(), nn.MaxPool1d(2))
        self.out = nn.Linear(channels * (features // 4), d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, f = x.shape
        if torch.is_grad_enabled() or self.training:
            return self.out(self.net(x.reshape(b * n, 1, f)).reshape(b, n, self.out.in_features))
        # inference (streaming: a frame or two at a time): each convolution as one matmul with its banded matrix
        # (its responses to unit impulses), cached per parameter version; the same numbers as the convolutions
        conv1, conv2 = self.net[0], self.net[3]
        key = tuple((p._version, p.data_ptr()) for p in (conv1.weight, conv2.weight, conv1.bias, conv2.bias))
        cached = self.__dict__.get("_banded")
        if cached is None or cached[0] != key or cached[1].device != x.device:
            c = conv1.out_channels
            eye1 = torch.eye(f, device=x.device, dtype=conv1.weight.dtype)[:, None]
            m1 = F.conv1d(eye1, conv1.weight, padding=2).reshape(f, -1)  # (f, c * f)
            eye2 = torch.eye(c * (f // 2), device=x.device, dtype=conv2.weight.dtype).reshape(-1, c, f // 2)
            m2 = F.conv1d(eye2, conv2.weight, padding=2).reshape(c * (f // 2), -1)  # (c f/2, c f/2)
            cached = (key, m1, m2, conv1.bias.repeat_interleave(f), conv2.bias.repeat_interleave(f // 2))
            self.__dict__["_banded"] = cached
        _, m1, m2, b1, b2 = cached
        c = conv1.out_channels
        h = F.gelu(x.reshape(b * n, f) @ m1 + b1)  # (bn, c*f), channel-major
        h = h.reshape(b * n, c, f // 2, 2).amax(-1) if f % 2 == 0 else \
            F.max_pool1d(h.reshape(b * n, c, f), 2)
        h = F.gelu(h.reshape(b * n, m2.shape[0]) @ m2 + b2)
        h = F.max_pool1d(h.reshape(b * n, c, f // 2), 2)
        return self.out(h.reshape(b, n, self.out.in_features))


class SpectrogramNet(SpeechNet):
    """Log-mel (or MFCC) frames of ``win`` samples every ``hop`` as tokens -> SSM stages.

    Log-mel values are shifted and scaled by fixed constants (a causal, per-frame map) then projected.
    ``specaugment``: mask bands and runs of frames while training. ``cmn`` > 0: causal mean normalisation, each
    frame's features minus the running mean of the clip's frames so far (with ``cmn`` frames of zeros as the
    prior), which removes a microphone's or voice's fixed spectral tilt and still streams.
    """

    def __init__(self, num_classes: int, rate: int = 8000, win: int = 200, hop: int = 80, n_mels: int = 40,
                 n_mfcc: int = 0, d_model: int = 64, n_layers: int | list[int] = 2, pools: list[int] = (1,),
                 mixer: str = "s4d", d_state: int = 32, bidirectional: bool = False, dropout: float = 0.1,
                 specaugment: bool = True, mixer_options: dict | None = None, cmn: float = 0.0,
                 freq_conv: int = 0):
        super().__init__(num_classes, Framer(win, hop), d_model, d_model, n_layers, list(pools), mixer, d_state,
                         bidirectional, dropout, mixer_options)
        if cmn < 0:
            raise ConfigError(f"cmn={cmn}: give the prior's weight in frames (0 turns the normalisation off)")
        if freq_conv < 0:
            raise ConfigError(f"freq_conv={freq_conv}: give the channels of the frequency convolutions (0: off)")
        if freq_conv and (n_mfcc or n_mels) < 4:
            raise ConfigError(f"freq_conv needs at least 4 features per frame to pool twice (got {n_mfcc or n_mels})")
        self.logmel = LogMel(rate, win, n_mels, n_mfcc)
        self.front = FrequencyConv(self.logmel.out_features, freq_conv, d_model) if freq_conv else \
            nn.Linear(self.logmel.out_features, d_model)
        self.specaugment, self.cmn = specaugment, cmn

    def _normalise(self, feats: torch.Tensor, mask: torch.Tensor | None, state: dict | None) -> torch.Tensor:
        """feats (b, n, f) minus the causal running mean sum_(s<=t) x_s / (cmn + count_t) over real frames."""
        real = torch.ones_like(feats[..., :1]) if mask is None else mask[:, :feats.shape[1], None].to(feats.dtype)
        total, count = torch.cumsum(feats * real, 1), torch.cumsum(real, 1)
        if state is not None:  # a stream: add what earlier chunks saw, keep the new totals
            total = total + state.get("cmn_sum", 0.0)
            count = count + state.get("cmn_count", 0.0)
            if feats.shape[1]:
                state["cmn_sum"], state["cmn_count"] = total[:, -1:], count[:, -1:]
        return feats - total / (self.cmn + count)

    def embed(self, frames: torch.Tensor, mask: torch.Tensor | None = None, state: dict | None = None) -> torch.Tensor:
        feats = (self.logmel(frames) + 6.0) / 4.0
        if self.cmn:
            feats = self._normalise(feats, mask, state)
        if self.training and self.specaugment:
            feats = spec_augment(feats)
        return self.front(feats)


__all__ = ["SpeechNet", "RawWaveNet", "SpectrogramNet", "FrequencyConv", "Stage"]

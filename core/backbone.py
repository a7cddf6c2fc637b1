"""The backbone: N x [norm -> mixer -> residual], built from a config dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .bidirectional import Bidirectional
from .errors import ConfigError
from .layers import Block, make_norm


@dataclass
class BackboneConfig:
    """Everything that defines a backbone; ``Backbone(BackboneConfig(...))``.

    mixer: a registered mixer name ("mamba", "mamba2", "s4d" or "plugin/name");
    mixer_options: keyword arguments for it (e.g. {"d_state": 16, "expand": 2});
    bidirectional: run every mixer forwards and over the reversed sequence, merged by
    ``merge`` ("sum", "mean" or "concat" then projected back), weights shared if ``tie_directions``.
    """

    d_model: int = 128
    n_layers: int = 4
    mixer: str = "mamba"
    mixer_options: dict = field(default_factory=dict)
    norm: str = "rmsnorm"
    norm_eps: float = 1e-5
    d_intermediate: int = 0
    dropout: float = 0.0
    final_norm: bool = True
    bidirectional: bool = False
    merge: str = "sum"
    tie_directions: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def make_mixer(name: str, d_model: int, **options) -> nn.Module:
    """Instantiate a registered mixer by name."""
    from . import registry  # registry sits above layers; imported here to keep floors clean

    return registry.get("mixers", name)(d_model, **options)


class Backbone(nn.Module):
    """(batch, L, d_model) -> (batch, L, d_model); ``step`` runs one token for causal mixers."""

    def __init__(self, config: BackboneConfig | None = None, **overrides):
        super().__init__()
        config = config or BackboneConfig()
        if overrides:
            config = BackboneConfig(**{**config.to_dict(), **overrides})
        self.config = config
        self.layers = nn.ModuleList(self._block() for _ in range(config.n_layers))
        self.norm_f = make_norm(config.norm, config.d_model, config.norm_eps) if config.final_norm else nn.Identity()

    def _block(self) -> Block:
        c = self.config
        mixer = make_mixer(c.mixer, c.d_model, **c.mixer_options)
        if c.bidirectional:
            backward = None if c.tie_directions else make_mixer(c.mixer, c.d_model, **c.mixer_options)
            mixer = Bidirectional(mixer, backward, merge=c.merge, d_model=c.d_model)
        return Block(c.d_model, mixer, c.norm, c.norm_eps, c.d_intermediate, c.dropout)

    @property
    def causal(self) -> bool:
        return not self.config.bidirectional and all(getattr(b.mixer, "causal", False) for b in self.layers)

    def forward(self, x: torch.Tensor, state: list | None = None, seq_idx: torch.Tensor | None = None) -> torch.Tensor:
        """x (batch, L, d_model). ``state`` (from ``allocate_state``) continues a long sequence
        chunk by chunk: each layer starts from it and leaves the state at the chunk's end in it, so
        the chunks' outputs equal one forward over the whole; ``detach_state`` between chunks
        truncates backpropagation there. ``seq_idx`` (batch, L) int packs several sequences in a row
        (``ssmkit.kernels.packing.pack``): nothing crosses from one to the next, in either direction
        of a bidirectional backbone."""
        if state is None:
            for layer in self.layers:
                x = layer(x, seq_idx=seq_idx)
        else:
            self._need_causal("a carried state")
            if len(state) != len(self.layers):
                raise ValueError(f"state has {len(state)} layer states, the backbone {len(self.layers)} layers")
            for layer, s in zip(self.layers, state):
                x = layer(x, s, seq_idx=seq_idx)
        return self.norm_f(x)

    def rescale_step(self, factor: float) -> None:
        """Every layer's SSM step size times ``factor``: the continuous-time model read at another token rate
        (tokens ``factor`` times further apart, e.g. 2 for audio at half the trained sample rate, as S4 showed on
        Speech Commands). Mixers without a step size (mamba's is input-dependent) are refused."""
        for block in self.layers:
            if not hasattr(block.mixer, "rescale_step"):
                raise ConfigError(f"mixer {self.config.mixer!r} has no step size to rescale (s4d has)")
            block.mixer.rescale_step(factor)

    def _need_causal(self, what: str) -> None:
        if not self.causal:
            raise RuntimeError(f"{what} needs a causal backbone (bidirectional mixers see the future)")

    @staticmethod
    def detach_state(state: list) -> list:
        """Cut the graph behind a carried state (truncated backpropagation through time)."""
        for s in state:
            for k, v in s.items():
                s[k] = v.detach()
        return state

    def allocate_state(self, batch: int, device=None, dtype=torch.float32) -> list:
        """Per-layer zero states for ``step``."""
        self._need_causal("step()")
        return [layer.allocate_state(batch, device, dtype) for layer in self.layers]

    def step(self, x: torch.Tensor, state: list) -> torch.Tensor:
        """One token (batch, d_model) -> (batch, d_model); ``state`` is updated in place."""
        for layer, s in zip(self.layers, state):
            x = layer.step(x, s)
        return self.norm_f(x)

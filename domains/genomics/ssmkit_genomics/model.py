"""DNA networks: token embedding -> (bidirectional) SSM backbone, optionally reverse-complement equivariant."""

from __future__ import annotations

import torch
from torch import nn

from ssmkit.backbone import Backbone, BackboneConfig
from ssmkit.heads import pool as pool_positions

from .alphabet import VOCAB_SIZE, reverse_complement_padded

RC_MODES = ("none", "equivariant")


class DNANet(nn.Module):
    """Token ids (b, L) (PAD = 0 at the end of shorter rows) -> per-position features.

    rc="equivariant": the same backbone reads both strands, F(x) = [G(x), RC(G(RC(x)))] (b, L, 2d),
    so F(RC(x)) equals F(x) reversed along the sequence with its two halves swapped (the documented
    flip, ``flip_features``); weights are shared between the strands (Caduceus' parameter sharing
    realised by running the shared network twice). rc="none": F(x) = G(x) (b, L, d).

    softmask: a learned vector (zero at the start) is added to the embedding of soft-masked positions
    (``softmask`` (b, L) bool given to forward); on the other strand the mask is reversed with the bases,
    so the equivariance holds with it.
    """

    def __init__(self, d_model: int = 128, n_layers: int = 4, d_state: int = 16, bidirectional: bool = True,
                 rc: str = "equivariant", mixer: str = "mamba", dropout: float = 0.1, d_intermediate: int = 0,
                 stem: int = 0, softmask: bool = False):
        super().__init__()
        if rc not in RC_MODES:
            raise ValueError(f"unknown rc mode {rc!r}: use one of {', '.join(RC_MODES)}")
        if stem < 0 or (stem and stem % 2 == 0):
            raise ValueError(f"stem={stem}: give an odd convolution width (motif length), or 0 for none")
        self.rc, self.d_model = rc, d_model
        self.embed = nn.Embedding(VOCAB_SIZE, d_model, padding_idx=0)
        self.softmask_embed = nn.Parameter(torch.zeros(d_model)) if softmask else None
        # optional motif detector before the SSM: a "same"-padded convolution over the embeddings
        self.stem = nn.Sequential(nn.Conv1d(d_model, d_model, stem, padding=stem // 2), nn.GELU()) if stem else None
        self.backbone = Backbone(BackboneConfig(
            d_model=d_model, n_layers=n_layers, mixer=mixer, mixer_options={"d_state": d_state},
            bidirectional=bidirectional, dropout=dropout, d_intermediate=d_intermediate))

    @property
    def out_features(self) -> int:
        return 2 * self.d_model if self.rc == "equivariant" else self.d_model

    def strand(self, ids: torch.Tensor, softmask: torch.Tensor | None = None) -> torch.Tensor:
        """One strand: (b, L) (and its soft mask (b, L) bool) -> (b, L, d)."""
        h = self.embed(ids)
        if self.softmask_embed is not None and softmask is not None:
            h = h + softmask.unsqueeze(-1).to(h.dtype) * self.softmask_embed
        if self.stem is not None:
            h = h + self.stem(h.transpose(1, 2)).transpose(1, 2).masked_fill((ids == 0).unsqueeze(-1), 0.0)
        return self.backbone(h)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None,
                softmask: torch.Tensor | None = None) -> torch.Tensor:
        """ids (b, L), mask (b, L) True on real tokens, softmask (b, L) -> features (b, L, out_features)."""
        h = self.strand(ids, softmask)
        if self.rc == "none":
            return h
        lengths = (ids != 0).sum(1) if mask is None else mask.sum(1)
        rc_ids = reverse_complement_padded(ids, lengths)
        rc_soft = None if softmask is None else _reverse_padded(softmask, lengths)
        h_rc = _reverse_padded(self.strand(rc_ids, rc_soft), lengths)  # back to the forward strand's positions
        return torch.cat([h, h_rc], dim=-1)

    @staticmethod
    def flip_features(features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The map F(x) -> F(RC(x)) of the equivariant network: reverse positions, swap halves."""
        d = features.shape[-1] // 2
        flipped = _reverse_padded(features, lengths)
        return torch.cat([flipped[..., d:], flipped[..., :d]], dim=-1)


def _reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each row's first lengths[i] positions of x (b, L, ...), padding left in place."""
    L = x.shape[1]
    pos = torch.arange(L, device=x.device).unsqueeze(0)
    lengths = lengths.to(x.device).unsqueeze(1)
    src = torch.where(pos < lengths, lengths - 1 - pos, pos)
    return torch.gather(x, 1, src.view(*src.shape, *([1] * (x.dim() - 2))).expand_as(x))


class DNAClassifierNet(nn.Module):
    """ids (b, L) -> logits (b, num_classes).

    pool "mean" / "max" / "first" / "last": DNANet features pooled over real positions; with
    rc="equivariant" the head sees the mean of the two strands' halves. pool "flatten": a
    position-aware head (each position's features projected to ``flat_dim``, then one linear layer
    over all ``length`` positions), for aligned windows such as promoters around their start site;
    with rc="equivariant" it is applied to the features and to their reverse-complement flip and
    averaged. Either way the logits of a sequence and of its reverse complement are identical.
    """

    def __init__(self, num_classes: int, pool: str = "mean", head_dropout: float = 0.1, length: int | None = None,
                 flat_dim: int = 8, **net_options):
        super().__init__()
        self.net = DNANet(**net_options)
        self.pool, self.length = pool, length
        self.dropout = nn.Dropout(head_dropout)
        if pool == "flatten":
            if not length:
                raise ValueError("pool='flatten' needs the sequence length (length=...)")
            self.proj = nn.Linear(self.net.out_features, flat_dim)
            self.head = nn.Linear(length * flat_dim, num_classes)
        else:
            self.head = nn.Linear(self.net.d_model, num_classes)

    def _flat(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.proj(features).flatten(1)))

    def forward(self, ids: torch.Tensor, mask: torch.Tensor | None = None,
                softmask: torch.Tensor | None = None) -> torch.Tensor:
        mask = ids != 0 if mask is None else mask
        features = self.net(ids, mask, softmask)
        if self.pool == "flatten":
            if ids.shape[1] != self.length:
                raise ValueError(f"pool='flatten' was built for length {self.length}, got {ids.shape[1]}")
            features = features * mask.unsqueeze(-1).to(features.dtype)
            logits = self._flat(features)
            if self.net.rc == "equivariant":
                flipped = DNANet.flip_features(features, mask.sum(1))
                logits = 0.5 * (logits + self._flat(flipped))
            return logits
        pooled = pool_positions(features, self.pool, mask)
        if self.net.rc == "equivariant":
            d = self.net.d_model
            pooled = 0.5 * (pooled[:, :d] + pooled[:, d:])
        return self.head(self.dropout(pooled))

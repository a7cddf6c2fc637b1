"""Point-cloud SSM classifiers in the manner of PointMamba (Liang et al., 2024) and Mamba3D (Han et al., 2024),
registered in timm's model registry.

A cloud (batch, N, 3) becomes a short sequence of patch tokens:

1. farthest-point sampling picks ``n_groups`` centres; each takes its ``group_size`` nearest points, moved
   so the centre sits at the origin (``grouping.group``);
2. a small PointNet embeds each group: a shared per-point MLP, then a max over the group (with ``lnp``,
   Mamba3D's local norm pooling: neighbour features normalised against the centre's, max + mean pooled);
3. an MLP of the centre's coordinates is the positional embedding;
4. the tokens are serialised along space-filling curves through the centres (Hilbert and Z-order, and
   their axis-swapped twins), one copy of the sequence per curve, concatenated end to end, each copy
   marked by its own learned scale and shift so the backbone can tell them apart;
5. an ``ssmkit.Backbone`` (Mamba by default; ``bidirectional`` "sequence" reads each layer's input
   backwards too, "channel" is Mamba3D's channel-flipped second pass) -> pooling -> MLP head.

Every step after sampling depends on the points' coordinates only, and FPS starts by default from the
point farthest from the centroid, so the logits do not depend on the order in which the points are
stored (up to exact ties in distance).
"""

from __future__ import annotations

import torch
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from torch import nn

from ssmkit.backbone import Backbone, BackboneConfig
from ssmkit.errors import ConfigError
from ssmkit.heads import pool
from ssmkit.multi_order import resolve_order
from ssmkit.scan_orders import ScanOrder, apply_order

from ..grouping import farthest_point_sample, gather_points, knn

# short names for the serialisations; any registered coords order ("hilbert3d", "plugin/name") works too
SERIAL_ALIASES = {"hilbert": "hilbert3d", "hilbert_swap": "vision/hilbert3d_swap", "zorder": "zorder3d",
                  "zorder_swap": "vision/zorder3d_swap"}
FPS_STARTS = ("farthest", "first", "random")
BIDIRECTIONAL = ("none", "sequence", "channel")
POOLS = ("mean", "max", "mean+max")
EMBED_NORMS = ("batch", "layer")


def serial_orders(serial: str | list[str] | tuple[str, ...]) -> list[ScanOrder]:
    """"hilbert,hilbert_swap" or a list of names -> coords scan orders; ConfigError if unknown."""
    names = [s.strip() for s in serial.split(",")] if isinstance(serial, str) else [str(s) for s in serial]
    names = [n for n in names if n]
    if not names:
        raise ConfigError("serial names no serialisation (e.g. 'hilbert,hilbert_swap')")
    orders = []
    for name in names:
        try:
            order = resolve_order(SERIAL_ALIASES.get(name, name))
        except Exception as exc:  # PluginError or a lookup failure: one clear line
            raise ConfigError(f"unknown serialisation {name!r} (use {', '.join(SERIAL_ALIASES)} or a "
                              f"registered coords scan order): {exc}") from None
        if order.needs != "coords":
            raise ConfigError(f"scan order {name!r} does not sort points (it needs {order.needs}); use "
                              f"{', '.join(SERIAL_ALIASES)}")
        orders.append(order)
    return orders


class PatchEmbed(nn.Module):
    """Centred neighbourhoods (batch, G, k, c) -> tokens (batch, G, d_model) by a small PointNet.

    Shared MLP c -> hidden[0] -> hidden[1] per point; then either [feature, group max] (PointNet-style) or,
    with ``lnp``, [(feature - centre feature) / sigma * alpha + beta, centre feature] (Mamba3D's local
    norm), through a second shared MLP -> d_model, pooled over the k points by max (max + mean with lnp).
    """

    def __init__(self, d_model: int, hidden: tuple[int, int] = (128, 256), in_chans: int = 3, lnp: bool = False,
                 norm: str = "batch"):
        super().__init__()
        if norm not in EMBED_NORMS:
            raise ConfigError(f"embed_norm={norm!r}: use one of {', '.join(EMBED_NORMS)}")
        h1, h2 = int(hidden[0]), int(hidden[1])
        self.lnp = lnp
        make = nn.LayerNorm if norm == "layer" else nn.BatchNorm1d
        self.first = nn.Sequential(nn.Linear(in_chans, h1), make(h1), nn.ReLU(inplace=True), nn.Linear(h1, h2))
        self.second = nn.Sequential(nn.Linear(2 * h2, 2 * h2), make(2 * h2), nn.ReLU(inplace=True),
                                    nn.Linear(2 * h2, d_model))
        if lnp:
            self.alpha = nn.Parameter(torch.ones(h2))
            self.beta = nn.Parameter(torch.zeros(h2))

    def forward(self, groups: torch.Tensor) -> torch.Tensor:
        b, g, k, c = groups.shape
        f = self.first(groups.reshape(-1, c)).reshape(b * g, k, -1)
        if self.lnp:
            centre = f[:, :1]  # kNN lists the centre itself first (distance 0)
            diff = f - centre
            sigma = diff.reshape(b, -1).std(-1).clamp_min(1e-5).repeat_interleave(g).view(-1, 1, 1)
            f = torch.cat([diff / sigma * self.alpha + self.beta, centre.expand_as(f)], dim=-1)
        else:
            f = torch.cat([f, f.amax(1, keepdim=True).expand_as(f)], dim=-1)
        f = self.second(f.reshape(b * g * k, -1)).reshape(b * g, k, -1)
        out = f.amax(1) + f.mean(1) if self.lnp else f.amax(1)
        return out.reshape(b, g, -1)


class PointSSM(nn.Module):
    """Point clouds (batch, N, in_chans) -> logits (batch, num_classes); xyz are the first three channels.

    Args:
        n_groups, group_size: FPS centres and the points in each (kNN, the centre included).
        fps_start: "farthest" (from the centroid: order-independent), "first" (point 0) or "random"
            (a random point while training, "farthest" in eval).
        embed_hidden: widths of the PointNet's first MLP; embed_norm: its normalisation, "batch" (PointNet's;
            clearly better on ModelNet10 in short runs) or "layer" (no train/eval difference).
        lnp: Mamba3D's local norm pooling.
        serial: serialisations, comma-separated or a list: hilbert, hilbert_swap, zorder, zorder_swap (or
            any registered coords order); the sequence is G tokens per serialisation.
        embed_dim, depth, mixer, d_state, expand, mixer_options, d_intermediate, norm: the backbone.
        bidirectional: "none" (PointMamba), "sequence" (each layer also reads its input backwards) or
            "channel" (Mamba3D: a second pass over channel-reversed features).
        global_pool: "mean", "max" or "mean+max" over the tokens. head_hidden: 0 for a linear head.
    """

    def __init__(self, num_classes: int = 40, in_chans: int = 3, n_groups: int = 64, group_size: int = 32,
                 fps_start: str = "farthest", embed_hidden: tuple[int, int] = (128, 256), embed_norm: str = "batch",
                 lnp: bool = False,
                 serial: str | list[str] = "hilbert,hilbert_swap", embed_dim: int = 192, depth: int = 6,
                 mixer: str = "mamba", d_state: int = 16, expand: int | None = 2, mixer_options: dict | None = None,
                 d_intermediate: int = 0, norm: str = "rmsnorm", bidirectional: str = "none",
                 global_pool: str = "mean", head_hidden: int = 256, drop_rate: float = 0.0):
        super().__init__()
        if in_chans < 3:
            raise ConfigError(f"in_chans={in_chans}: points need at least x, y, z")
        if fps_start not in FPS_STARTS:
            raise ConfigError(f"fps_start={fps_start!r}: use one of {', '.join(FPS_STARTS)}")
        if bidirectional not in BIDIRECTIONAL:
            raise ConfigError(f"bidirectional={bidirectional!r}: use one of {', '.join(BIDIRECTIONAL)}")
        if global_pool not in POOLS:
            raise ConfigError(f"global_pool={global_pool!r}: use one of {', '.join(POOLS)}")
        if n_groups < 1 or group_size < 1:
            raise ConfigError(f"n_groups={n_groups}, group_size={group_size}: both must be >= 1")
        self.num_classes, self.in_chans = num_classes, in_chans
        self.n_groups, self.group_size, self.fps_start = n_groups, group_size, fps_start
        self.global_pool = global_pool
        self.orders = serial_orders(serial)
        self.num_features = self.embed_dim = embed_dim
        self.patch_embed = PatchEmbed(embed_dim, tuple(embed_hidden), in_chans, lnp, embed_norm)
        self.pos_embed = nn.Sequential(nn.Linear(3, 128), nn.GELU(), nn.Linear(128, embed_dim))
        # one (scale, shift) per serialisation: tells the backbone which copy of the sequence it reads
        self.order_scale = nn.Parameter(torch.ones(len(self.orders), embed_dim))
        self.order_shift = nn.Parameter(torch.zeros(len(self.orders), embed_dim))
        options = {"d_state": d_state, **({"expand": expand} if expand else {}), **(mixer_options or {})}
        if bidirectional == "channel":
            options = {"inner": mixer, **options}
            mixer = "vision/channel_flip"
        self.backbone = Backbone(BackboneConfig(
            d_model=embed_dim, n_layers=depth, mixer=mixer, mixer_options=options, norm=norm,
            d_intermediate=d_intermediate, bidirectional=bidirectional == "sequence"))
        self.head_hidden = head_hidden
        self.head = self._make_head(num_classes)
        self.head_drop = nn.Dropout(drop_rate)
        for p in (self.order_scale, self.order_shift):
            p._no_weight_decay = True

    @property
    def pooled_features(self) -> int:
        return 2 * self.embed_dim if self.global_pool == "mean+max" else self.embed_dim

    def _make_head(self, num_classes: int) -> nn.Module:
        d = self.pooled_features
        if num_classes <= 0:
            return nn.Identity()
        if not self.head_hidden:
            return nn.Linear(d, num_classes)
        return nn.Sequential(nn.Linear(d, self.head_hidden), nn.LayerNorm(self.head_hidden), nn.GELU(),
                             nn.Dropout(0.5), nn.Linear(self.head_hidden, num_classes))

    # timm's model interface ----------------------------------------------------------------------
    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        return {"order_scale", "order_shift"}

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            self.global_pool = global_pool
        self.num_classes = num_classes
        self.head = self._make_head(num_classes)

    # the network -------------------------------------------------------------------------------
    def _start(self, xyz: torch.Tensor) -> torch.Tensor | int:
        if self.fps_start == "first":
            return 0
        if self.fps_start == "random" and self.training:
            return torch.randint(0, xyz.shape[1], (xyz.shape[0],), device=xyz.device)
        return (xyz - xyz.mean(1, keepdim=True)).square().sum(-1).argmax(-1)

    def group(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """points (batch, N, c) -> centres (batch, G, 3), neighbourhoods (batch, G, k, c) with xyz centred."""
        if points.dim() != 3 or points.shape[-1] != self.in_chans:
            raise ConfigError(f"expected points (batch, N, {self.in_chans}), got {tuple(points.shape)}")
        n = points.shape[1]
        if n < max(self.n_groups, self.group_size):
            raise ConfigError(f"{n} points per cloud: the model groups {self.n_groups} x {self.group_size} "
                              "(raise num_points or lower n_groups / group_size)")
        xyz = points[..., :3]
        with torch.no_grad():
            centre_idx = farthest_point_sample(xyz.float(), self.n_groups, self._start(xyz))
            centres = gather_points(xyz, centre_idx)
            near = knn(centres.float(), xyz.float(), self.group_size)
        groups = gather_points(points, near)
        offset = torch.cat([centres, centres.new_zeros(*centres.shape[:2], self.in_chans - 3)], -1)
        return centres, groups - offset.unsqueeze(2)

    def forward_features(self, points: torch.Tensor) -> torch.Tensor:
        """(batch, N, c) -> tokens (batch, len(serial) * G, embed_dim), in the order the backbone read them."""
        centres, groups = self.group(points)
        tokens = self.patch_embed(groups) + self.pos_embed(centres)
        parts = []
        for i, order in enumerate(self.orders):
            perm = order.permutation(coords=centres.detach().float(), device=points.device)
            parts.append(apply_order(tokens, perm) * self.order_scale[i] + self.order_shift[i])
        return self.backbone(torch.cat(parts, dim=1))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Tokens (batch, L, d) -> logits (batch, num_classes), or the pooled features if pre_logits."""
        if self.global_pool == "mean+max":
            x = torch.cat([pool(x, "mean"), pool(x, "max")], dim=-1)
        else:
            x = pool(x, self.global_pool)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(points))


# registration ------------------------------------------------------------------------------------


def _cfg(**kwargs) -> dict:
    return {"url": "", "num_classes": 40, "pool_size": None, "first_conv": "",
            "classifier": "head", "license": "apache-2.0", **kwargs}


default_cfgs = generate_default_cfgs({
    "ssmkit_pointmamba": _cfg(),
    "ssmkit_pointmamba_tiny": _cfg(),
    "ssmkit_mamba3d": _cfg(),
})


def _create(variant: str, pretrained: bool, defaults: dict, **kwargs) -> PointSSM:
    kwargs.pop("img_size", None)  # the image pipeline's convention; meaningless for points
    return build_model_with_cfg(PointSSM, variant, pretrained, **{**defaults, **kwargs})


@register_model
def ssmkit_pointmamba(pretrained: bool = False, **kwargs) -> PointSSM:
    """PointMamba-style: 64 groups x 32 points, Hilbert + axis-swapped Hilbert, 192 wide, 6 Mamba layers."""
    return _create("ssmkit_pointmamba", pretrained, dict(embed_dim=192, depth=6), **kwargs)


@register_model
def ssmkit_pointmamba_tiny(pretrained: bool = False, **kwargs) -> PointSSM:
    """A CPU-sized PointMamba: 32 groups x 16 points, PointNet widths 32/64, 64 wide, 2 layers."""
    return _create("ssmkit_pointmamba_tiny", pretrained, dict(
        n_groups=32, group_size=16, embed_hidden=(32, 64), embed_dim=64, depth=2, head_hidden=64), **kwargs)


@register_model
def ssmkit_mamba3d(pretrained: bool = False, **kwargs) -> PointSSM:
    """Mamba3D-style: local norm pooling in the patch embedding, channel-flipped bidirectional Mamba,
    mean + max pooling; 64 groups x 32 points, 192 wide, 6 layers."""
    return _create("ssmkit_mamba3d", pretrained, dict(
        embed_dim=192, depth=6, lnp=True, bidirectional="channel", global_pool="mean+max"), **kwargs)


MODEL_NAMES = tuple(default_cfgs)

__all__ = ["MODEL_NAMES", "PatchEmbed", "PointSSM", "SERIAL_ALIASES", "default_cfgs", "serial_orders"]

"""The spatial-spectral SSM denoiser (HSIDMamba-style): residual blocks that scan a cube's patch tokens within
each band along several spatial orders and along the bands of each token, then predict the noise.

Every weight is shared over bands and positions (3-D convolutions and SSMs along whatever length they see),
so one network denoises cubes of any height, width and number of bands: trained on 31-band CAVE patches, it
runs on the 198 bands of Jasper Ridge.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ssmkit.backbone import Backbone, BackboneConfig
from ssmkit.layers import make_norm
from ssmkit.multi_order import MultiOrder

from .scan import SPATIAL_DEFAULT, SPECTRAL_DEFAULT, check_orders, order_names

__all__ = ["SpatialSpectralBlock", "HSIDenoiserNet"]


def _ssm(d_model: int, mixer: str, d_state: int, dropout: float) -> Backbone:
    """One residual SSM layer, (batch, L, d) -> (batch, L, d) (the block's own residual inside)."""
    options = {"d_state": d_state} if mixer in ("mamba", "mamba2", "s4d") else {}
    return Backbone(BackboneConfig(d_model=d_model, n_layers=1, mixer=mixer, mixer_options=options,
                                   dropout=dropout, final_norm=False))


class SpatialSpectralBlock(nn.Module):
    """tokens (b, bands, h, w, d) -> (b, bands, h, w, d).

    Spatial: each band's h*w tokens read along every order of ``spatial_orders`` (outputs put back in place
    and averaged, ``ssmkit.MultiOrder``); spectral: each token's bands read along ``spectral_orders``. Both
    steps are residual (x + mean over orders of the SSM's update).
    """

    def __init__(self, d_model: int, spatial_orders, spectral_orders, mixer: str = "mamba", d_state: int = 16,
                 share_orders: bool = True, dropout: float = 0.0):
        super().__init__()
        self.spatial = MultiOrder(_ssm(d_model, mixer, d_state, dropout), spatial_orders, merge="mean",
                                  share=share_orders)
        self.spectral = MultiOrder(_ssm(d_model, mixer, d_state, dropout), spectral_orders, merge="mean",
                                   share=share_orders)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        b, B, h, w, d = t.shape
        t = self.spatial(t.reshape(b * B, h * w, d), grid=(h, w)).reshape(b, B, h, w, d)
        s = t.permute(0, 2, 3, 1, 4).reshape(b * h * w, B, d)
        s = self.spectral(s)
        return s.reshape(b, h, w, B, d).permute(0, 3, 1, 2, 4)


class HSIDenoiserNet(nn.Module):
    """noisy (b, bands, H, W), values about [0, 1] -> denoised (b, bands, H, W).

    stem: 3x3x3 convolution (1 -> d) over (bands, H, W), full resolution; tokens: a (1, p, p) strided
    convolution (patches of p x p pixels of one band); ``n_blocks`` spatial-spectral SSM blocks; back to full
    resolution by a transposed convolution, added to the stem's features, and a 3x3x3 convolution (d -> 1)
    gives the noise, subtracted from the input (residual learning; the last convolution starts at zero, so an
    untrained network returns its input). H, W need not be multiples of p (edge-padded, then cropped).
    """

    def __init__(self, d_model: int = 32, n_blocks: int = 2, patch_size: int = 2,
                 spatial_orders=SPATIAL_DEFAULT, spectral_orders=SPECTRAL_DEFAULT, mixer: str = "mamba",
                 d_state: int = 16, share_orders: bool = True, dropout: float = 0.0):
        super().__init__()
        spatial = check_orders(order_names(spatial_orders), "spatial")
        spectral = check_orders(order_names(spectral_orders), "spectral")
        self.patch_size = p = patch_size
        self.stem = nn.Conv3d(1, d_model, 3, padding=1)
        self.down = nn.Conv3d(d_model, d_model, (1, p, p), stride=(1, p, p))
        self.blocks = nn.ModuleList(SpatialSpectralBlock(d_model, spatial, spectral, mixer, d_state, share_orders,
                                                         dropout) for _ in range(n_blocks))
        self.norm = make_norm("rmsnorm", d_model, 1e-5)
        self.up = nn.ConvTranspose3d(d_model, d_model, (1, p, p), stride=(1, p, p))
        self.head = nn.Conv3d(d_model, 1, 3, padding=1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4:
            raise ValueError(f"HSIDenoiserNet wants (batch, bands, H, W), got shape {tuple(x.shape)}")
        H, W = x.shape[-2:]
        p = self.patch_size
        pad_h, pad_w = (-H) % p, (-W) % p
        xp = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        f0 = F.gelu(self.stem(xp.unsqueeze(1)))  # (b, d, bands, H', W')
        t = self.down(f0).permute(0, 2, 3, 4, 1)  # (b, bands, h, w, d)
        for block in self.blocks:
            t = block(t)
        t = self.norm(t).permute(0, 4, 1, 2, 3)  # (b, d, bands, h, w)
        noise = self.head(F.gelu(f0 + self.up(t)))[:, 0]  # (b, bands, H', W')
        return (xp - noise)[..., :H, :W]

"""Hyperspectral denoising: the SSM network, its loss, and the field's metrics beside the baselines.

Batches: training {"x": noisy (b, bands, p, p), "y": clean}; validation/test/predict one whole cube at a time
{"x": (1, bands, H, W), "y", "sigma": (1, bands), "case": [str], "index", "name"}. Test logs, per noise case
and method (the model "ssm" and each baseline), "test/<case>/<method>/{psnr,ssim,sam}", and the model's
means over all test cubes as "test/psnr", "test/ssim", "test/sam".
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ssmkit.errors import ConfigError
from ssmkit.tasks import Task

from .baselines import BASELINES, bm4d_available, run_baseline
from .metrics import mpsnr, mssim, sam
from .model import HSIDenoiserNet
from .scan import SPATIAL_DEFAULT, SPECTRAL_DEFAULT
from .tiling import tiled

METRICS = ("psnr", "ssim", "sam")


class HSIDenoiser(Task):
    """Denoise cubes (bands, H, W) scaled to [0, 1] with ``HSIDenoiserNet``.

    Args:
        d_model, n_blocks, patch_size, spatial_orders, spectral_orders, mixer, d_state, share_orders,
            dropout: the network (see ``HSIDenoiserNet``; orders are registered scan-order names, default
            ``scan.SPATIAL_DEFAULT`` = row, column_reverse, snake, hyperspectral/hilbert_reverse and
            ``scan.SPECTRAL_DEFAULT`` = hyperspectral/spectral and spectral_reverse).
        loss: "mse" or "l1" against the clean cube.
        tile, overlap: evaluation and prediction run on overlapping tile x tile pieces blended smoothly
            (cubes larger than memory); a cube that fits in one tile runs whole.
        baselines: methods measured beside the model in ``test``: "noisy" (the input), "lowrank", "bm4d"
            (needs the optional bm4d package; skipped with a warning when absent).
    """

    def __init__(self, d_model: int = 32, n_blocks: int = 2, patch_size: int = 4,
                 spatial_orders: list[str] | str | None = None,
                 spectral_orders: list[str] | str | None = None, mixer: str = "mamba", d_state: int = 16,
                 share_orders: bool = True, dropout: float = 0.0, loss: str = "mse", tile: int = 256,
                 overlap: int = 32, baselines: list[str] | None = None, lr: float = 1e-3,
                 weight_decay: float = 1e-4, warmup: float = 0.05):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup)
        if loss not in ("mse", "l1"):
            raise ConfigError(f"loss={loss!r}: use 'mse' or 'l1'")
        baselines = list(baselines) if baselines is not None else ["noisy", "lowrank"]
        unknown = [b for b in baselines if b not in BASELINES]
        if unknown:
            raise ConfigError(f"unknown baseline {unknown[0]!r}: use {', '.join(BASELINES)}")
        if "bm4d" in baselines and not bm4d_available():
            import warnings

            warnings.warn("baseline 'bm4d' skipped: the bm4d package is not installed", stacklevel=2)
            baselines = [b for b in baselines if b != "bm4d"]
        spatial_orders = list(SPATIAL_DEFAULT) if spatial_orders is None else spatial_orders
        spectral_orders = list(SPECTRAL_DEFAULT) if spectral_orders is None else spectral_orders
        self.save_hyperparameters()
        self.baselines = baselines
        self.net = HSIDenoiserNet(d_model=d_model, n_blocks=n_blocks, patch_size=patch_size,
                                  spatial_orders=spatial_orders, spectral_orders=spectral_orders, mixer=mixer,
                                  d_state=d_state, share_orders=share_orders, dropout=dropout)
        self.seconds: dict[str, list[float]] = {}

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        """noisy (b, bands, H, W) -> denoised (b, bands, H, W)."""
        return self.net(x)

    @torch.no_grad()
    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        """Tiled inference: (b, bands, H, W) -> (b, bands, H, W), any size."""
        return tiled(self.net, x, self.hparams.tile, self.hparams.overlap)

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        fn = F.mse_loss if self.hparams.loss == "mse" else F.l1_loss
        return fn(out.float(), batch["y"].float())

    def validation_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self.denoise(batch["x"]).float()
        loss = self.compute_loss(out, batch)
        self.log("val/loss", loss, prog_bar=True, on_epoch=True, batch_size=1)
        self.log("val/psnr", mpsnr(out.clamp(0, 1), batch["y"]).mean().float(), prog_bar=True, on_epoch=True,
                 batch_size=1)
        return loss

    def _timed(self, method: str, fn):
        start = time.perf_counter()
        out = fn()
        self.seconds.setdefault(method, []).append(time.perf_counter() - start)
        return out

    def test_step(self, batch: dict, batch_idx: int) -> None:
        x, y, case = batch["x"], batch["y"], batch["case"][0]
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        out = self._timed("ssm", lambda: self._sync(self.denoise(x))).float().clamp(0, 1)
        results = {"ssm": out[0]}
        noisy = x[0].float().cpu().numpy()
        sigma = batch["sigma"][0].cpu().numpy()
        for name in self.baselines:
            den = self._timed(name, lambda n=name: run_baseline(n, noisy, sigma if sigma.any() else None))
            results[name] = torch.from_numpy(np.asarray(den)).to(y.device)
        for method, cube in results.items():
            values = {"psnr": mpsnr(cube, y[0]), "ssim": mssim(cube, y[0]), "sam": sam(cube, y[0])}
            for metric, v in values.items():
                self.log(f"test/{case}/{method}/{metric}", float(v), on_epoch=True, batch_size=1)
                if method == "ssm":
                    self.log(f"test/{metric}", float(v), on_epoch=True, batch_size=1)

    @staticmethod
    def _sync(out: torch.Tensor) -> torch.Tensor:
        if out.device.type == "cuda":
            torch.cuda.synchronize()
        return out

    def test_table(self, metrics: dict) -> tuple[str, list[str], list[list]] | None:
        """One row per noise case and method: PSNR (dB, mean over bands), SSIM, SAM (degrees), seconds/cube."""
        rows = []
        keys = sorted({k.split("/")[1] for k in metrics if k.count("/") == 3})
        for case in keys:
            for method in [*self.baselines, "ssm"]:
                vals = [metrics.get(f"test/{case}/{method}/{m}") for m in METRICS]
                if all(v is None for v in vals):
                    continue
                secs = self.seconds.get(method)
                rows.append([case, "ssm (this model)" if method == "ssm" else method,
                             *[float(v) if v is not None else None for v in vals],
                             f"{np.mean(secs):.2f}" if secs else ""])
        if not rows:
            return None
        return ("test: mean PSNR over bands (dB), SSIM, SAM (degrees)",
                ["noise", "method", "PSNR", "SSIM", "SAM", "s / cube"], rows)

    def predict_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> list[dict[str, Any]]:
        out = self.denoise(batch["x"]).float().clamp(0, 1)
        return [{"index": int(i), "denoised": o.cpu().numpy()} for i, o in zip(batch["index"], out)]

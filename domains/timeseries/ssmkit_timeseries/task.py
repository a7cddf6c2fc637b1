"""The forecasting task: any registered forecaster, its loss, and errors next to the baselines."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ssmkit.errors import ConfigError
from ssmkit.tasks import Task

from .metrics import STANDARD_HORIZONS, Coverage, HorizonError
from .models import MODELS, build_model
from .quantile import median_index, pinball_loss

BASELINES = ("last_value", "seasonal_naive", "ridge")
RIDGE_LAMBDAS = (0.0, 1.0, 10.0, 100.0, 1000.0)
RIDGE_MAX_ROWS = 100_000


POINT_LOSSES = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


class Forecaster(Task):
    """Forecast ``pred_len`` steps from ``seq_len``. Batches: {"x": (b, L, C), "y": (b, H, C),
    "marks": (b, L, k) (optional), "index": (b,)}, in the scaled units of the data module.

    Args:
        model: a registered forecaster (patch_mamba, inverted_mamba, dlinear, ridge, last_value,
            seasonal_naive); ``options``: its keyword arguments (e.g. {"d_model": 128}).
        target_index: the input column that is scored (the "MS" and "S" modes); None scores every column.
        quantiles: e.g. [0.1, 0.5, 0.9] trains with the pinball loss and reports interval coverage;
            None: point forecasts trained with MSE.
        baselines: also score last value, seasonal naive and a closed-form ridge on the test windows.
        cycle: learn one value per phase of the seasonal ``period`` and variable, subtracted from the
            window before the model and added back to its forecast (the residual cycle of CycleNet,
            Lin et al. 2024); phases come from the timestamps, so any file lines up. Trainable models only.
        ridge_init: for models with a linear skip (PatchMamba, InvertedMamba: ``linear_skip``, on by
            default), start the skip at the closed-form ridge fit of the training windows and the network's
            head at zero, so training starts from the linear forecaster and the network learns what it misses.
        loss: "mse" (default), "mae" or "huber" (delta 1, in scaled units) for point forecasts; quantile
            forecasts always train with the pinball loss.
    """

    def __init__(self, model: str = "patch_mamba", options: dict | None = None, n_vars: int = 7,
                 seq_len: int = 96, pred_len: int = 96, n_marks: int = 0, target_index: int | None = None,
                 period: int = 24, quantiles: list[float] | None = None, baselines: bool = True,
                 cycle: bool = True, ridge_init: bool = True, loss: str = "mse",
                 lr: float = 1e-4, weight_decay: float = 0.0, warmup: float = 0.0, min_lr_ratio: float = 0.01):
        super().__init__(lr=lr, weight_decay=weight_decay, warmup=warmup, min_lr_ratio=min_lr_ratio)
        self.save_hyperparameters()
        self.quantiles = sorted(float(q) for q in quantiles) if quantiles else []
        if any(not 0 < q < 1 for q in self.quantiles) or len(set(self.quantiles)) != len(self.quantiles):
            raise ConfigError(f"quantiles {quantiles} must be distinct levels between 0 and 1")
        if len(self.quantiles) > 1 and 0.5 not in self.quantiles:
            raise ConfigError(f"quantiles {quantiles} must include 0.5 (the point forecast is the median)")
        if loss not in POINT_LOSSES:
            raise ConfigError(f"--model.loss {loss!r}: use one of {', '.join(POINT_LOSSES)}")
        self.point = median_index(self.quantiles) if self.quantiles else 0
        options = dict(options or {})
        if model == "seasonal_naive":
            options.setdefault("period", period)
        try:
            self.net = build_model(model, n_vars, seq_len, pred_len, n_quantiles=max(1, len(self.quantiles)),
                                   n_marks=n_marks, **options)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"--model.model {model} / --model.options: {exc}") from None
        self.trainable = getattr(type(self.net), "trainable", True)
        use_cycle = cycle and self.trainable and period > 1
        self.cycle = torch.nn.Parameter(torch.zeros(period, n_vars)) if use_cycle else None
        has_skip = getattr(self.net, "skip", None) is not None
        self.register_buffer("ridge_initialised", torch.tensor(not (ridge_init and has_skip)))
        self.val_error = HorizonError(pred_len)
        self.test_error = HorizonError(pred_len)
        self.test_error_units = HorizonError(pred_len)
        self.coverage = Coverage(self.quantiles) if len(self.quantiles) > 1 else None
        self.baselines = torch.nn.ModuleDict()
        if baselines:
            for name in BASELINES:
                if name != model and not (name == "seasonal_naive" and period > seq_len):
                    kwargs = {"period": period} if name == "seasonal_naive" else {}
                    self.baselines[name] = build_model(name, n_vars, seq_len, pred_len, **kwargs)
        self.baseline_errors = torch.nn.ModuleDict({name: HorizonError(pred_len) for name in self.baselines})
        self._skip_baselines: set[str] = set()

    # plumbing -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, marks: torch.Tensor | None = None,
                step: torch.Tensor | None = None) -> torch.Tensor:
        """x (b, L, C), marks (b, L, k), step (b,) the absolute step of x's first row -> (b, H, C, q);
        quantiles sorted so they never cross (monotone rearrangement, Chernozhukov et al. 2010: never
        worse in pinball loss than the crossing ones)."""
        kwargs = {"marks": marks} if marks is not None else {}
        if self.cycle is None or step is None:
            out = self.net(x, **kwargs)
        else:
            L, H, period = x.shape[1], self.hparams.pred_len, self.cycle.shape[0]
            phase = (step.long().view(-1, 1) + torch.arange(L + H, device=x.device)) % period
            season = self.cycle[phase].to(x.dtype)  # (b, L + H, C)
            out = self.net(x - season[:, :L], **kwargs) + season[:, L:].unsqueeze(-1)
        return out.sort(dim=-1).values if len(self.quantiles) > 1 else out

    def model_inputs(self, batch: dict) -> dict:
        inputs = {"marks": batch["marks"]} if "marks" in batch and self.hparams.n_marks else {}
        if self.cycle is not None and "step" in batch:
            inputs["step"] = batch["step"]
        return inputs

    def _scored(self, t: torch.Tensor) -> torch.Tensor:
        """(b, H, C, ...) -> the scored columns (b, H, c, ...)."""
        i = self.hparams.target_index
        return t if i is None else t[:, :, i:i + 1]

    def point_forecast(self, out: torch.Tensor) -> torch.Tensor:
        """(b, H, C, q) -> (b, H, C): the median when forecasting quantiles."""
        return out[..., self.point]

    def compute_loss(self, out: torch.Tensor, batch: dict) -> torch.Tensor:
        target = self._scored(batch["y"]).float()
        if self.quantiles:
            return pinball_loss(self._scored(out).float(), target, self.quantiles)
        return POINT_LOSSES[self.hparams.loss](self._scored(self.point_forecast(out)).float(), target)

    # fitting the closed-form models -----------------------------------------------------------
    def _datamodule(self):
        return getattr(self._trainer, "datamodule", None) if self._trainer is not None else None

    def _fit_ridge(self, ridge) -> None:
        """Fit a Ridge on the training windows, lambda picked on the validation windows."""
        dm = self._datamodule()
        if dm is None or dm.train_set is None:
            raise RuntimeError("the ridge forecaster needs the data module's training windows")
        limit = max(1, RIDGE_MAX_ROWS // self.hparams.n_vars)  # a seeded subset keeps memory and time small
        x, y = dm.train_set.arrays(limit)
        vx, vy = dm.val_set.arrays(limit // 5) if dm.val_set is not None else (x, y)
        best = None
        for lam in RIDGE_LAMBDAS:
            ridge.fit(x, y, lam)
            err = F.mse_loss(self._scored(ridge(vx.to(ridge.W.device))[..., 0]).cpu(), self._scored(vy)).item()
            if best is None or err < best[0]:
                best = (err, lam)
        ridge.fit(x, y, best[1])

    def on_fit_start(self) -> None:
        if self.hparams.model == "ridge":
            self._fit_ridge(self.net)
        if not bool(self.ridge_initialised):
            self._ridge_init()

    @torch.no_grad()
    def _ridge_init(self) -> None:
        """Skip <- ridge fit (as a map of the RevIN-normalised window), network head <- 0."""
        n = self.hparams
        ridge = build_model("ridge", n.n_vars, n.seq_len, n.pred_len).to(self.device)
        self._fit_ridge(ridge)
        W = ridge.W.double().clone()  # (L, H) on x - x_last: as a map of x the last row takes 1 - sum
        W[-1] += 1 - W.sum(0)  # columns now sum to 1, so the map commutes with instance normalisation
        self.net.skip.weight.copy_(W.T.to(self.net.skip.weight))
        self.net.skip.bias.zero_()
        head = getattr(self.net, "head", None)
        if isinstance(head, torch.nn.Linear):
            head.weight.zero_()
            head.bias.zero_()
        self.ridge_initialised.fill_(True)

    def on_test_start(self) -> None:
        if self.hparams.model == "ridge" and not bool(self.net.W.abs().sum()):
            self._fit_ridge(self.net)
        if "ridge" in self.baselines:
            try:
                self._fit_ridge(self.baselines["ridge"])
            except RuntimeError:
                self._skip_baselines.add("ridge")

    def configure_optimizers(self):
        if not self.trainable:
            return None
        return super().configure_optimizers()

    # steps ----------------------------------------------------------------------------------
    def training_step(self, batch: dict, batch_idx: int):
        if not self.trainable:
            return None
        return super().training_step(batch, batch_idx)

    def _eval_step(self, batch: dict, metrics, stage: str) -> torch.Tensor:
        out = self(batch["x"], **self.model_inputs(batch))
        loss = self.compute_loss(out, batch)
        n = len(batch["x"])
        self.log(f"{stage}/loss", loss, prog_bar=True, on_epoch=True, batch_size=n, sync_dist=True)
        pred, target = self._scored(self.point_forecast(out)).float(), self._scored(batch["y"]).float()
        if stage == "val":
            self.val_error.update(pred, target)
            return loss
        self.test_error.update(pred, target)
        dm = self._datamodule()
        scaler = getattr(dm, "scaler", None)
        if scaler is not None:
            cols = None if self.hparams.target_index is None else [self.hparams.target_index]
            self.test_error_units.update(scaler.inverse(pred.double(), cols), scaler.inverse(target.double(), cols))
        if self.coverage is not None:
            self.coverage.update(self._scored(out).float(), target)
        with torch.autocast(self.device.type, enabled=False):  # baselines in float32, never bf16
            for name, baseline in self.baselines.items():
                if name not in self._skip_baselines:
                    base = baseline(batch["x"].float())[..., 0]
                    self.baseline_errors[name].update(self._scored(base), target)
        return loss

    def _log_errors(self, prefix: str, metric: HorizonError) -> None:
        if int(metric.count) == 0 and not torch.distributed.is_initialized():
            return
        for key, value in metric.compute().items():
            # computed values are already reduced over ranks (torchmetrics); sync_dist keeps Lightning quiet
            self.log(f"{prefix}{key}", value.float(), prog_bar=key == "mse" and prefix == "val/", sync_dist=True)
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_errors("val/", self.val_error)

    def on_test_epoch_end(self) -> None:
        self._log_errors("test/", self.test_error)
        if int(self.test_error_units.count):
            values = self.test_error_units.compute()
            self.log("test/mse_units", values["mse"].float(), sync_dist=True)
            self.log("test/mae_units", values["mae"].float(), sync_dist=True)
            self.test_error_units.reset()
        if self.coverage is not None:
            values = self.coverage.compute()
            self.log("test/coverage", values["coverage"].float(), sync_dist=True)
            self.log("test/pinball", values["pinball"].float(), sync_dist=True)
            self.coverage.reset()
        for name, metric in self.baseline_errors.items():
            self._log_errors(f"test/{name}/", metric)

    def predict_rows(self, out: torch.Tensor, batch: dict) -> list[dict[str, Any]]:
        out = out.float().cpu().numpy()
        return [{"index": int(i), "forecast": out[k]} for k, i in enumerate(batch["index"])]

    # report ---------------------------------------------------------------------------------
    def test_table(self, metrics: dict) -> tuple[str, list[str], list[list]] | None:
        """The test metrics as one row per forecaster (this model, then the baselines)."""
        def get(key):
            value = metrics.get(key)
            return None if value is None else float(value)

        horizons = [h for h in STANDARD_HORIZONS if get(f"test/mse@{h}") is not None]
        columns = ["forecaster", "mse", "mae", "mse (units)", "mae (units)"] + [f"mse@{h}" for h in horizons]
        rows = [[self.hparams.model, get("test/mse"), get("test/mae"), get("test/mse_units"),
                 get("test/mae_units")] + [get(f"test/mse@{h}") for h in horizons]]
        for name in self.baselines:
            if get(f"test/{name}/mse") is not None:
                rows.append([f"{name} (baseline)", get(f"test/{name}/mse"), get(f"test/{name}/mae"), None, None]
                            + [get(f"test/{name}/mse@{h}") for h in horizons])
        title = f"test: horizon {self.hparams.pred_len}, look-back {self.hparams.seq_len}, scaled units"
        if get("test/coverage") is not None:
            lo, hi = self.quantiles[0], self.quantiles[-1]
            title += (f"; {lo:g}-{hi:g} interval coverage {get('test/coverage'):.3f} (nominal {hi - lo:.2f}), "
                      f"pinball {get('test/pinball'):.4f}")
        return title, columns, rows


__all__ = ["Forecaster", "MODELS", "BASELINES"]

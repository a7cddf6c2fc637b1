"""Linear forecasters: DLinear (Zeng et al., AAAI 2023) and a closed-form ridge baseline."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import WindowForecaster


def moving_average(x: torch.Tensor, kernel_size: int = 25) -> torch.Tensor:
    """Centred moving average over time with edge-repeat padding: x (b, L, c) -> trend (b, L, c)."""
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
    half = (kernel_size - 1) // 2
    padded = torch.cat([x[:, :1].expand(-1, half, -1), x, x[:, -1:].expand(-1, half, -1)], dim=1)
    return F.avg_pool1d(padded.transpose(1, 2), kernel_size, stride=1).transpose(1, 2)


def decompose(x: torch.Tensor, kernel_size: int = 25) -> tuple[torch.Tensor, torch.Tensor]:
    """x (b, L, c) -> (seasonal, trend), both (b, L, c), with seasonal + trend == x."""
    trend = moving_average(x, kernel_size)
    return x - trend, trend


class _PerVariableLinear(nn.Module):
    """One Linear(in -> out) per variable: (b, c, in) -> (b, c, out)."""

    def __init__(self, n_vars: int, d_in: int, d_out: int):
        super().__init__()
        bound = 1.0 / math.sqrt(d_in)  # nn.Linear's default initialisation range
        self.weight = nn.Parameter(torch.empty(n_vars, d_out, d_in).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_vars, d_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bci,coi->bco", x, self.weight) + self.bias


class DLinear(WindowForecaster):
    """Trend/seasonal decomposition, then one linear map over time for each part, summed.

    x (b, seq_len, n_vars) -> (b, pred_len, n_vars, n_quantiles); marks are ignored. The maps are
    shared by all variables unless ``individual``.
    """

    trainable = True

    def __init__(self, n_vars: int, seq_len: int, pred_len: int, n_quantiles: int = 1, n_marks: int = 0, *,
                 kernel_size: int = 25, individual: bool = False, revin: bool = False):
        super().__init__(n_vars, seq_len, pred_len, revin)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        self.n_quantiles, self.n_marks = n_quantiles, n_marks
        self.kernel_size, self.individual = kernel_size, individual
        d_out = pred_len * n_quantiles
        if individual:
            self.seasonal = _PerVariableLinear(n_vars, seq_len, d_out)
            self.trend = _PerVariableLinear(n_vars, seq_len, d_out)
        else:
            self.seasonal = nn.Linear(seq_len, d_out)
            self.trend = nn.Linear(seq_len, d_out)

    def decompose(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (b, L, c) -> (seasonal, trend), both (b, L, c)."""
        return decompose(x, self.kernel_size)

    def forward(self, x: torch.Tensor, marks: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, seq_len, n_vars), marks ignored -> (b, pred_len, n_vars, n_quantiles)."""
        b, L, c = x.shape
        x = self.normalize(x)
        seasonal, trend = self.decompose(x)
        y = self.seasonal(seasonal.transpose(1, 2)) + self.trend(trend.transpose(1, 2))  # (b, c, pred_len * q)
        y = y.reshape(b, c, self.pred_len, self.n_quantiles).permute(0, 2, 1, 3)
        y = self.denormalize(y)
        return y


def fit_ridge(x: torch.Tensor, y: torch.Tensor, lam: float = 0.0, subtract_last: bool = True,
              chunk: int = 1 << 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Least squares (ridge when lam > 0) from windows x (N, L) to targets y (N, H), in float64.

    Minimises ||x' W + b - y'||^2 + lam ||W||^2 (the bias is not penalised), where x' = x - last and
    y' = y - last with last = x[:, -1:] when ``subtract_last``, else x' = x, y' = y. Prediction is then
    x' W + b (+ last). Returns W (L, H) and b (H,) in float64 on x's device. With subtract_last the last
    column of x' is zero, so it is left out of the fit and its row of W is 0; rank-deficient systems
    get the minimum-norm solution.
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"expected x (N, L) and y (N, H) with the same N, got {tuple(x.shape)} and {tuple(y.shape)}")
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    n, L = x.shape
    H = y.shape[1]
    if n == 0:
        raise ValueError("fit_ridge needs at least one window")
    n_feat = L - 1 if subtract_last else L

    def rows(i: int) -> tuple[torch.Tensor, torch.Tensor]:
        xi, yi = x[i:i + chunk].double(), y[i:i + chunk].double()
        if subtract_last:
            last = xi[:, -1:]
            xi, yi = xi[:, :-1] - last, yi - last
        return xi, yi

    # Centre features and targets (two passes, chunked), which removes the bias from the penalised system.
    x_sum = torch.zeros(n_feat, dtype=torch.float64, device=x.device)
    y_sum = torch.zeros(H, dtype=torch.float64, device=x.device)
    for i in range(0, n, chunk):
        xi, yi = rows(i)
        x_sum += xi.sum(0)
        y_sum += yi.sum(0)
    x_mean, y_mean = x_sum / n, y_sum / n
    gram = torch.zeros(n_feat, n_feat, dtype=torch.float64, device=x.device)
    cross = torch.zeros(n_feat, H, dtype=torch.float64, device=x.device)
    for i in range(0, n, chunk):
        xi, yi = rows(i)
        xi, yi = xi - x_mean, yi - y_mean
        gram += xi.T @ xi
        cross += xi.T @ yi
    gram += lam * torch.eye(n_feat, dtype=torch.float64, device=x.device)
    # The system is tiny: solve it on the CPU, where lstsq's "gelsd" handles a singular Gram matrix.
    w = torch.linalg.lstsq(gram.cpu(), cross.cpu(), driver="gelsd").solution.to(x.device)
    b = y_mean - x_mean @ w
    if subtract_last:
        w = torch.cat([w, torch.zeros(1, H, dtype=torch.float64, device=x.device)], dim=0)
    return w, b


class Ridge(WindowForecaster):
    """Closed-form linear forecaster shared by all variables; fit with ``fit``, not by gradient descent.

    x (b, seq_len, n_vars) -> (b, pred_len, n_vars, n_quantiles) (the point forecast repeated over quantiles);
    marks are ignored. Buffers W (seq_len, pred_len) and b (pred_len,) start at zero.
    """

    trainable = False

    def __init__(self, n_vars: int, seq_len: int, pred_len: int, n_quantiles: int = 1, n_marks: int = 0, *,
                 lam: float = 0.0, subtract_last: bool = True):
        super().__init__(n_vars, seq_len, pred_len)
        self.n_quantiles, self.n_marks = n_quantiles, n_marks
        self.lam, self.subtract_last = lam, subtract_last
        self.register_buffer("W", torch.zeros(seq_len, pred_len))
        self.register_buffer("b", torch.zeros(pred_len))

    @torch.no_grad()
    def fit(self, x_windows: torch.Tensor, y_windows: torch.Tensor, lam: float | None = None) -> Ridge:
        """Fit on x_windows (N, seq_len, c) and y_windows (N, pred_len, c), variables folded into N."""
        if x_windows.shape[1:] != (self.seq_len, self.n_vars) or y_windows.shape[1:] != (self.pred_len, self.n_vars):
            raise ValueError(f"expected x (N, {self.seq_len}, {self.n_vars}) and y (N, {self.pred_len}, {self.n_vars}),"
                             f" got {tuple(x_windows.shape)} and {tuple(y_windows.shape)}")
        x = x_windows.transpose(1, 2).reshape(-1, self.seq_len)
        y = y_windows.transpose(1, 2).reshape(-1, self.pred_len)
        W, b = fit_ridge(x, y, self.lam if lam is None else lam, self.subtract_last)
        self.W.copy_(W.to(self.W))
        self.b.copy_(b.to(self.b))
        return self

    def forward(self, x: torch.Tensor, marks: torch.Tensor | None = None) -> torch.Tensor:
        """x: (b, seq_len, n_vars), marks ignored -> (b, pred_len, n_vars, n_quantiles)."""
        series = x.transpose(1, 2)  # (b, c, L)
        last = series[..., -1:]
        if self.subtract_last:
            series = series - last
        y = series @ self.W.to(x.dtype) + self.b.to(x.dtype)  # (b, c, H)
        if self.subtract_last:
            y = y + last
        return y.transpose(1, 2).unsqueeze(-1).expand(-1, -1, -1, self.n_quantiles)

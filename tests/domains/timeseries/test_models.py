"""Forecasting models of ssmkit_timeseries against independent references."""

import numpy as np
import pytest
import torch
from ssmkit_timeseries.models import (
    MODELS,
    DLinear,
    InvertedMamba,
    LastValue,
    PatchMamba,
    Ridge,
    SeasonalNaive,
    build_model,
    fit_ridge,
)
from ssmkit_timeseries.quantile import interval_coverage, median_index, pinball_loss
from ssmkit_timeseries.revin import RevIN

SMALL = {"d_model": 16, "d_ff": 16, "n_layers": 1, "d_state": 4, "dropout": 0.0}
PATCH = {**SMALL, "patch_len": 8, "stride": 4}
OPTIONS = {"inverted_mamba": SMALL, "patch_mamba": PATCH, "seasonal_naive": {"period": 8}}


def _randomise_revin(revin, seed=0):
    """Non-trivial affine RevIN parameters, so that they are exercised too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        revin.weight.copy_(0.5 + torch.rand(revin.weight.shape, generator=g))
        revin.bias.copy_(torch.randn(revin.bias.shape, generator=g))


# shapes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("n_quantiles", [1, 3])
@pytest.mark.parametrize("n_marks", [0, 4])
def test_output_shapes(name, n_quantiles, n_marks):
    torch.manual_seed(0)
    b, L, H, c = 2, 32, 12, 3
    model = build_model(name, c, L, H, n_quantiles=n_quantiles, n_marks=n_marks, **OPTIONS.get(name, {}))
    assert isinstance(model.trainable, bool)
    assert model.trainable == (name in ("inverted_mamba", "patch_mamba", "dlinear"))
    x = torch.randn(b, L, c)
    marks = torch.randn(b, L, n_marks) if n_marks else None
    out = model(x, marks)
    assert out.shape == (b, H, c, n_quantiles)
    assert torch.isfinite(out).all()
    assert model(x).shape == (b, H, c, n_quantiles)  # marks are always optional


def test_patch_count_and_short_window():
    model = PatchMamba(2, 96, 24, **{**SMALL})
    assert model.n_patches == 12
    assert model.patchify(torch.randn(5, 96)).shape == (5, 12, 16)
    with pytest.raises(ValueError, match="patch_len"):
        PatchMamba(2, 10, 24, patch_len=16)


def test_inverted_uses_marks():
    torch.manual_seed(0)
    model = InvertedMamba(2, 16, 4, n_marks=3, **SMALL).eval()
    x, marks = torch.randn(2, 16, 2), torch.randn(2, 16, 3)
    assert not torch.allclose(model(x, marks), model(x, marks + 1.0))
    ignoring = InvertedMamba(2, 16, 4, n_marks=3, use_marks=False, **SMALL).eval()
    torch.testing.assert_close(ignoring(x, marks), ignoring(x, marks + 1.0))


# RevIN ----------------------------------------------------------------------------------------
def test_revin_round_trip():
    torch.manual_seed(0)
    revin = RevIN(4).double()
    _randomise_revin(revin)
    x = torch.randn(3, 20, 4, dtype=torch.float64) * 5 + 7
    z = revin.normalize(x)
    raw = (z - revin.bias) / revin.weight  # per (sample, variable): zero mean, unit variance up to eps
    torch.testing.assert_close(raw.mean(1), torch.zeros(3, 4, dtype=torch.float64), atol=1e-12, rtol=0)
    var = x.var(1, unbiased=False)
    torch.testing.assert_close(raw.var(1, unbiased=False), var / (var + 1e-5), atol=1e-12, rtol=0)
    back = revin.denormalize(z.unsqueeze(-1).expand(-1, -1, -1, 3))
    for k in range(3):
        torch.testing.assert_close(back[..., k], x, atol=1e-10, rtol=0)
    torch.testing.assert_close(revin.denormalize(z), x, atol=1e-10, rtol=0)


def test_revin_statistics_are_constants_of_the_window():
    # detached statistics: d/dx of sum((x - mean) / std) is 1/std (it would be 0 through the statistics)
    x = torch.randn(2, 10, 3, dtype=torch.float64, requires_grad=True)
    revin = RevIN(3, affine=False)
    revin.normalize(x).sum().backward()
    std = torch.sqrt(x.detach().var(1, keepdim=True, unbiased=False) + revin.eps)
    torch.testing.assert_close(x.grad, (1 / std).expand_as(x), atol=1e-12, rtol=0)


@pytest.mark.parametrize("cls, options", [(PatchMamba, PATCH), (InvertedMamba, SMALL)])
def test_revin_makes_forecast_equivariant(cls, options):
    torch.manual_seed(0)
    model = cls(3, 32, 8, n_quantiles=2, **options).double().eval()
    _randomise_revin(model.revin)
    model.revin.eps = 0.0  # exact equivariance (eps only guards constant series)
    x = torch.randn(4, 32, 3, dtype=torch.float64)
    scale = torch.tensor([0.5, 2.0, 7.0], dtype=torch.float64)
    shift = torch.tensor([-3.0, 10.0, 0.25], dtype=torch.float64)
    with torch.no_grad():
        base = model(x)
        moved = model(x * scale + shift)
    expected = base * scale[:, None] + shift[:, None]
    torch.testing.assert_close(moved, expected, atol=1e-9, rtol=1e-9)
    # the same model without RevIN is not equivariant: the check above has teeth
    torch.manual_seed(0)
    plain = cls(3, 32, 8, n_quantiles=2, **{**options, "revin": False}).double().eval()
    with torch.no_grad():
        assert not torch.allclose(plain(x * scale + shift), plain(x) * scale[:, None] + shift[:, None], atol=1e-3)


# channel independence / mixing -----------------------------------------------------------------
@pytest.mark.parametrize("revin", [True, False])
def test_patch_mamba_is_channel_independent(revin):
    torch.manual_seed(0)
    model = PatchMamba(3, 32, 8, n_quantiles=2, **{**PATCH, "revin": revin}).double().eval()
    if revin:
        _randomise_revin(model.revin)
    x = torch.randn(2, 32, 3, dtype=torch.float64)
    x2 = x.clone()
    x2[..., 1] = torch.randn(2, 32, dtype=torch.float64) * 3 + 1
    with torch.no_grad():
        y, y2 = model(x), model(x2)
    torch.testing.assert_close(y2[:, :, 0], y[:, :, 0], atol=1e-12, rtol=0)
    torch.testing.assert_close(y2[:, :, 2], y[:, :, 2], atol=1e-12, rtol=0)
    assert (y2[:, :, 1] - y[:, :, 1]).abs().max() > 1e-3


def test_inverted_mamba_mixes_variables():
    torch.manual_seed(0)
    model = InvertedMamba(3, 32, 8, **SMALL).double().eval()
    x = torch.randn(2, 32, 3, dtype=torch.float64)
    x2 = x.clone()
    x2[..., 1] = torch.randn(2, 32, dtype=torch.float64) * 3 + 1
    with torch.no_grad():
        y, y2 = model(x), model(x2)
    assert (y2[:, :, 0] - y[:, :, 0]).abs().max() > 1e-4
    assert (y2[:, :, 2] - y[:, :, 2]).abs().max() > 1e-4


# DLinear ----------------------------------------------------------------------------------------
def _moving_average_reference(x: np.ndarray, k: int) -> np.ndarray:
    """x (L,) -> centred mean over k steps, indices clamped to the window (edge repeat)."""
    L, half = len(x), (k - 1) // 2
    return np.array([np.mean([x[min(max(t + j, 0), L - 1)] for j in range(-half, half + 1)]) for t in range(L)])


@pytest.mark.parametrize("kernel_size", [5, 25])
def test_dlinear_decomposition(kernel_size):
    torch.manual_seed(0)
    model = DLinear(2, 30, 6, kernel_size=kernel_size).double()
    x = torch.randn(3, 30, 2, dtype=torch.float64).cumsum(1)
    seasonal, trend = model.decompose(x)
    assert seasonal.shape == trend.shape == x.shape
    torch.testing.assert_close(seasonal + trend, x, atol=1e-12, rtol=0)
    for i in range(3):
        for c in range(2):
            ref = _moving_average_reference(x[i, :, c].numpy(), kernel_size)
            np.testing.assert_allclose(trend[i, :, c].numpy(), ref, atol=1e-12)
    with pytest.raises(ValueError, match="odd"):
        DLinear(2, 30, 6, kernel_size=4)


@pytest.mark.parametrize("individual", [False, True])
def test_dlinear_forward_matches_hand_computation(individual):
    torch.manual_seed(0)
    c, L, H, q = 3, 30, 4, 2
    model = DLinear(c, L, H, n_quantiles=q, kernel_size=5, individual=individual).double()
    x = torch.randn(2, L, c, dtype=torch.float64)
    seasonal = x.numpy() - np.stack([[_moving_average_reference(x[i, :, v].numpy(), 5) for v in range(c)]
                                     for i in range(2)]).transpose(0, 2, 1)
    trend = x.numpy() - seasonal
    out = model(x).detach().numpy()
    for v in range(c):
        if individual:
            ws, bs = model.seasonal.weight[v].detach().numpy(), model.seasonal.bias[v].detach().numpy()
            wt, bt = model.trend.weight[v].detach().numpy(), model.trend.bias[v].detach().numpy()
        else:
            ws, bs = model.seasonal.weight.detach().numpy(), model.seasonal.bias.detach().numpy()
            wt, bt = model.trend.weight.detach().numpy(), model.trend.bias.detach().numpy()
        ref = seasonal[:, :, v] @ ws.T + bs + trend[:, :, v] @ wt.T + bt  # (b, H * q)
        np.testing.assert_allclose(out[:, :, v, :], ref.reshape(2, H, q), atol=1e-10)


# ridge ------------------------------------------------------------------------------------------
def test_fit_ridge_recovers_linear_map():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 8, generator=g, dtype=torch.float64)
    W = torch.randn(8, 3, generator=g, dtype=torch.float64)
    b = torch.randn(3, generator=g, dtype=torch.float64)
    W_fit, b_fit = fit_ridge(x, x @ W + b, subtract_last=False)
    torch.testing.assert_close(W_fit, W, atol=1e-8, rtol=0)
    torch.testing.assert_close(b_fit, b, atol=1e-8, rtol=0)
    # subtract_last: a map whose columns sum to 1 is exactly (x - last) W[:-1] + b + last
    W[-1] = 1 - W[:-1].sum(0)
    W_fit, b_fit = fit_ridge(x.float(), (x @ W + b).float(), subtract_last=True)  # float32 in, float64 fit
    assert W_fit.dtype == torch.float64
    torch.testing.assert_close(W_fit[:-1], W[:-1], atol=1e-5, rtol=0)  # float32 inputs limit the precision
    W_fit, b_fit = fit_ridge(x, x @ W + b, subtract_last=True)
    torch.testing.assert_close(W_fit[:-1], W[:-1], atol=1e-8, rtol=0)
    torch.testing.assert_close(W_fit[-1], torch.zeros(3, dtype=torch.float64), atol=0, rtol=0)
    torch.testing.assert_close(b_fit, b, atol=1e-8, rtol=0)


def test_fit_ridge_penalty_matches_augmented_least_squares():
    rng = np.random.default_rng(1)
    x, y, lam = rng.normal(size=(60, 5)), rng.normal(size=(60, 2)), 3.0
    # independent reference: min ||[x 1][W; b] - y||^2 + lam ||W||^2 as one stacked least-squares problem
    A = np.vstack([np.hstack([x, np.ones((60, 1))]), np.hstack([np.sqrt(lam) * np.eye(5), np.zeros((5, 1))])])
    sol = np.linalg.lstsq(A, np.vstack([y, np.zeros((5, 2))]), rcond=None)[0]
    W, b = fit_ridge(torch.from_numpy(x), torch.from_numpy(y), lam=lam, subtract_last=False)
    np.testing.assert_allclose(W.numpy(), sol[:5], atol=1e-10)
    np.testing.assert_allclose(b.numpy(), sol[5], atol=1e-10)


def _windows(series: torch.Tensor, L: int, H: int) -> tuple[torch.Tensor, torch.Tensor]:
    """series (T, c) -> x (N, L, c), y (N, H, c) for every start."""
    idx = torch.arange(series.shape[0] - L - H + 1)
    x = torch.stack([series[i:i + L] for i in idx])
    y = torch.stack([series[i + L:i + L + H] for i in idx])
    return x, y


def test_fit_ridge_recovers_recurrence():
    # s_t = sin(0.3 t) + 0.5 sin(1.1 t + 1) obeys s_t = a1 s_{t-1} + ... + a4 s_{t-4}, with
    # 1 - a1 z - ... - a4 z^4 = (1 - 2 cos(0.3) z + z^2)(1 - 2 cos(1.1) z + z^2)
    p, q = 2 * np.cos(0.3), 2 * np.cos(1.1)
    a = np.array([p + q, -(2 + p * q), p + q, -1.0])  # coefficients of s_{t-1}, ..., s_{t-4}
    t = torch.arange(120, dtype=torch.float64)
    s = torch.sin(0.3 * t) + 0.5 * torch.sin(1.1 * t + 1)
    x, y = _windows(s[:, None], 4, 2)
    x, y = x[..., 0], y[..., 0]
    # two steps ahead through the companion matrix: window (oldest first) -> next two values
    companion = np.zeros((4, 4))
    companion[0] = a
    companion[1:, :-1] = np.eye(3)
    rev = np.eye(4)[::-1]  # window order (oldest first) <-> state order (newest first)
    W_ref = np.stack([(companion @ rev)[0], (companion @ companion @ rev)[0]], axis=1)
    W, b = fit_ridge(x, y, lam=0.0, subtract_last=False)
    np.testing.assert_allclose(W.numpy(), W_ref, atol=1e-8)
    np.testing.assert_allclose(b.numpy(), 0.0, atol=1e-8)
    np.testing.assert_allclose(W.numpy()[::-1, 0], a, atol=1e-8)


def test_ridge_fit_then_forecast_is_exact():
    # level + sinusoid: y_t = (1 + k) y_{t-1} - (1 + k) y_{t-2} + y_{t-3}, k = 2 cos(w); a unit root, so
    # subtracting the last value removes each variable's level and one shared model fits every variable
    w, k = 0.4, 2 * np.cos(0.4)
    t = torch.arange(150, dtype=torch.float64)[:, None]
    level = torch.tensor([-5.0, 0.0, 12.0], dtype=torch.float64)
    amp = torch.tensor([1.0, 2.5, 0.3], dtype=torch.float64)
    phase = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    series = level + amp * torch.sin(w * t + phase)  # (T, 3)
    L, H = 3, 5
    x, y = _windows(series, L, H)
    model = Ridge(3, L, H, n_quantiles=3).double()
    assert torch.count_nonzero(model.W) == 0 and torch.count_nonzero(model.b) == 0
    model.fit(x[:100], y[:100], lam=0.0)
    # effective one-step coefficients (oldest first) are the recurrence's
    W_eff = model.W[:, 0].clone()
    W_eff[-1] += 1 - model.W[:, 0].sum()
    np.testing.assert_allclose(W_eff.numpy(), [1.0, -(1 + k), 1 + k], atol=1e-8)
    out = model(x[100:])
    assert out.shape == (len(x) - 100, H, 3, 3)
    for j in range(3):
        torch.testing.assert_close(out[..., j], y[100:], atol=1e-8, rtol=0)
    # before fitting (W = 0, b = 0) the subtract-last model is the last-value forecast
    fresh = Ridge(3, L, H).double()
    torch.testing.assert_close(fresh(x[100:]), LastValue(3, L, H)(x[100:]), atol=0, rtol=0)


# naive baselines --------------------------------------------------------------------------------
def test_last_value():
    x = torch.tensor([[[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]])
    out = LastValue(2, 3, 4, n_quantiles=2)(x)
    expected = torch.tensor([[3.0, 30.0]] * 4)[None, :, :, None].expand(1, 4, 2, 2)
    torch.testing.assert_close(out, expected)
    assert LastValue.trainable is False and SeasonalNaive.trainable is False and Ridge.trainable is False


def test_seasonal_naive():
    x = torch.tensor([10.0, 11.0, 12.0, 13.0, 14.0])[None, :, None]
    out = SeasonalNaive(1, 5, 7, n_quantiles=2, period=3)(x)
    expected = torch.tensor([12.0, 13.0, 14.0, 12.0, 13.0, 14.0, 12.0])
    for j in range(2):
        torch.testing.assert_close(out[0, :, 0, j], expected)
    torch.testing.assert_close(SeasonalNaive(1, 5, 3, period=5)(x)[0, :, 0, 0], torch.tensor([10.0, 11.0, 12.0]))
    torch.testing.assert_close(SeasonalNaive(1, 5, 3, period=1)(x)[0, :, 0, 0], torch.tensor([14.0, 14.0, 14.0]))
    with pytest.raises(ValueError, match="period"):
        SeasonalNaive(1, 5, 3, period=6)


# quantiles ----------------------------------------------------------------------------------------
def test_pinball_loss_by_hand():
    pred = torch.tensor([[0.0, 2.0], [4.0, 3.0]])
    target = torch.tensor([1.0, 3.0])
    # errors 1, -1 | -1, 0 at levels 0.1, 0.9: 0.1*1, 0.1*1 | 0.9*1, 0
    torch.testing.assert_close(pinball_loss(pred, target, [0.1, 0.9]), torch.tensor(0.275))
    # at the median the loss is half the absolute error
    torch.testing.assert_close(pinball_loss(pred[:, :1], target, [0.5]), torch.tensor(0.5 * (1 + 1) / 2))
    with pytest.raises(ValueError):
        pinball_loss(pred, target, [0.5])


def test_pinball_minimiser_is_empirical_quantile():
    rng = np.random.default_rng(0)
    target = torch.from_numpy(rng.normal(size=101))
    for tau in (0.1, 0.3, 0.5, 0.85):
        candidates = torch.cat([target, torch.linspace(-4, 4, 801, dtype=torch.float64)])
        losses = torch.stack([pinball_loss(torch.full((101, 1), float(c), dtype=torch.float64), target, [tau])
                              for c in candidates])
        best = candidates[losses.argmin()].item()
        assert best == pytest.approx(np.quantile(target.numpy(), tau, method="inverted_cdf"), abs=0)


def test_interval_coverage_and_median_index():
    lower = torch.tensor([0.0, 0.0, 0.0, 0.0])
    upper = torch.tensor([1.0, 1.0, 1.0, 1.0])
    target = torch.tensor([0.5, 1.0, 1.5, -0.1])
    assert interval_coverage(lower, upper, target).item() == pytest.approx(0.5)
    assert median_index([0.1, 0.5, 0.9]) == 1
    assert median_index([0.5]) == 0 and median_index([0.3]) == 0
    with pytest.raises(ValueError, match="0.5"):
        median_index([0.1, 0.9])


# training ------------------------------------------------------------------------------------------
def _sine_data(n=64, L=32, H=8, c=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(L + H, dtype=torch.float32)
    freq = torch.tensor([0.3, 0.7])[:c]
    phase = torch.rand(n, 1, c, generator=g) * 6.28
    series = torch.sin(freq * t[None, :, None] + phase) + 0.05 * torch.randn(n, L + H, c, generator=g)
    return series[:, :L], series[:, L:]


@pytest.mark.parametrize("cls, options", [(PatchMamba, PATCH), (InvertedMamba, SMALL)])
def test_training_reduces_loss(cls, options):
    torch.manual_seed(0)
    x, y = _sine_data()
    model = cls(2, 32, 8, **options)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss():
        return torch.nn.functional.mse_loss(model(x)[..., 0], y)

    with torch.no_grad():
        before = loss().item()
    for _ in range(25):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
    with torch.no_grad():
        after = loss().item()
    assert after < 0.7 * before, (before, after)


# build_model ---------------------------------------------------------------------------------------
def test_build_model_errors_and_options():
    with pytest.raises(ValueError, match="unknown forecasting model 'nope'.*dlinear.*patch_mamba"):
        build_model("nope", 2, 32, 8)
    with pytest.raises(TypeError, match="bogus"):
        build_model("patch_mamba", 2, 32, 8, bogus=1)
    with pytest.raises(TypeError, match="d_model"):
        build_model("last_value", 2, 32, 8, d_model=4)
    model = build_model("seasonal_naive", 2, 32, 8, period=12)
    assert model.period == 12
    model = build_model("dlinear", 2, 32, 8, n_quantiles=3, individual=True)
    assert model.individual and model(torch.randn(1, 32, 2)).shape == (1, 8, 2, 3)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_forecaster_point_losses(loss):
    from ssmkit_timeseries.task import Forecaster

    from ssmkit.errors import ConfigError

    task = Forecaster(model="last_value", n_vars=3, seq_len=8, pred_len=4, loss=loss, baselines=False)
    g = torch.Generator().manual_seed(0)
    out, y = 3 * torch.randn(5, 4, 3, 1, generator=g), torch.randn(5, 4, 3, generator=g)
    err = (out[..., 0] - y).double()
    expected = {"mse": err.pow(2).mean(), "mae": err.abs().mean(),
                "huber": torch.where(err.abs() < 1, 0.5 * err.pow(2), err.abs() - 0.5).mean()}[loss]
    torch.testing.assert_close(task.compute_loss(out, {"y": y}).double(), expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(ConfigError, match="loss"):
        Forecaster(model="last_value", n_vars=3, seq_len=8, pred_len=4, loss="l3")

"""The noise protocol against its definition, and PSNR/SSIM/SAM against hand-computed values."""

import math

import numpy as np
import pytest
import torch
from ssmkit_hyperspectral.baselines import estimate_sigma, lowrank_projection
from ssmkit_hyperspectral.metrics import gaussian_window, mpsnr, mssim, sam
from ssmkit_hyperspectral.noise import NOISE_CASES, add_noise, minmax

from ssmkit.errors import ConfigError

CLEAN = np.full((30, 64, 64), 0.5, dtype=np.float32)


@pytest.mark.parametrize("sigma", [10, 30, 50, 70])
def test_iid_gaussian_has_the_stated_sigma(sigma):
    noisy, info = add_noise(CLEAN, f"gaussian{sigma}", seed=1)
    residual = noisy - CLEAN
    assert abs(residual.mean()) < 0.002
    assert residual.std() == pytest.approx(sigma / 255, rel=0.01)
    np.testing.assert_allclose(info["sigma"], sigma / 255)


def test_blind_and_noniid_sigma_per_band():
    noisy, info = add_noise(CLEAN, "blind", seed=2)
    assert ((info["sigma"] >= 10 / 255) & (info["sigma"] <= 70 / 255)).all() and len(set(info["sigma"])) == 30
    np.testing.assert_allclose((noisy - CLEAN).std(axis=(1, 2)), info["sigma"], rtol=0.05)
    _, info = add_noise(CLEAN, "noniid", seed=2)
    assert set(np.round(info["sigma"] * 255).astype(int)) <= {10, 30, 50, 70}


def test_reproducible_by_seed_and_different_across_seeds():
    for case in NOISE_CASES:
        a, _ = add_noise(CLEAN, case, seed=5)
        b, _ = add_noise(CLEAN, case, seed=5)
        c, _ = add_noise(CLEAN, case, seed=6)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


def test_structured_noise_on_a_third_of_the_bands():
    for case, kinds in (("stripe", ["stripe"]), ("deadline", ["deadline"]), ("impulse", ["impulse"]),
                        ("mixture", ["stripe", "deadline", "impulse"])):
        noisy, info = add_noise(CLEAN, case, seed=3)
        assert sorted(info["bands"]) == sorted(kinds)
        for bands in info["bands"].values():
            assert len(bands) == 10  # round(30 / 3)
    noisy, info = add_noise(CLEAN, "deadline", seed=3)
    dead = info["bands"]["deadline"]
    zero_cols = [(noisy[b] == 0).all(axis=0).sum() for b in range(30)]
    assert all(zero_cols[b] >= math.ceil(0.05 * 64) for b in dead)
    assert all(zero_cols[b] == 0 for b in range(30) if b not in dead)
    noisy, info = add_noise(CLEAN, "impulse", seed=3)
    hit = info["bands"]["impulse"]
    extreme = [((noisy[b] == 0) | (noisy[b] == 1)).mean() for b in range(30)]
    assert all(0.05 < extreme[b] < 0.75 for b in hit) and all(extreme[b] == 0 for b in range(30) if b not in hit)
    noisy, info = add_noise(CLEAN, "stripe", seed=3)
    col_shift = np.abs((noisy - CLEAN).mean(axis=1))  # a stripe shifts a whole column
    striped = info["bands"]["stripe"]
    assert all((col_shift[b] > 0.03).sum() >= 2 for b in striped)
    with pytest.raises(ConfigError, match="unknown noise case 'speckle'"):
        add_noise(CLEAN, "speckle")


def test_minmax():
    x = minmax(np.array([[[2.0, 4.0], [6.0, 10.0]]]))
    np.testing.assert_allclose(x, [[[0, 0.25], [0.5, 1.0]]])


def test_psnr_known_values():
    x = np.zeros((2, 4, 4))
    y = x.copy()
    y[0] += 0.1  # MSE 0.01 -> 20 dB
    y[1] += 0.01  # MSE 1e-4 -> 40 dB
    assert float(mpsnr(y, x)) == pytest.approx(30.0)
    batch = mpsnr(torch.tensor(np.stack([y, y])), torch.tensor(np.stack([x, x])))
    np.testing.assert_allclose(batch.numpy(), [30.0, 30.0])


def _ssim_reference(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of one band by explicit loops over every valid 11x11 window (float64)."""
    w = gaussian_window().numpy()
    c1, c2 = 0.01**2, 0.03**2
    vals = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i:i + 11, j:j + 11], b[i:i + 11, j:j + 11]
            ma, mb = (w * pa).sum(), (w * pb).sum()
            va, vb = (w * (pa - ma) ** 2).sum(), (w * (pb - mb) ** 2).sum()
            cov = (w * (pa - ma) * (pb - mb)).sum()
            vals.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(vals))


def test_ssim_against_the_loop_reference_and_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.random((2, 16, 15))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    expected = np.mean([_ssim_reference(a[k], b[k]) for k in range(2)])
    assert float(mssim(b, a)) == pytest.approx(expected, abs=1e-10)
    assert float(mssim(a, a)) == pytest.approx(1.0)
    # constant bands c1, c2: SSIM = (2 c1 c2 + C1) / (c1^2 + c2^2 + C1)
    x, y = np.full((1, 12, 12), 0.2), np.full((1, 12, 12), 0.6)
    assert float(mssim(x, y)) == pytest.approx((2 * 0.12 + 1e-4) / (0.04 + 0.36 + 1e-4))


def test_sam_known_angles():
    x = np.zeros((3, 1, 2))
    y = np.zeros((3, 1, 2))
    x[:, 0, 0], y[:, 0, 0] = [1, 0, 0], [0, 1, 0]  # 90 degrees
    x[:, 0, 1], y[:, 0, 1] = [1, 1, 0], [2, 2, 0]  # parallel: 0 degrees
    assert float(sam(x, y)) == pytest.approx(45.0)
    x[:, 0, 1], y[:, 0, 1] = [1, 0, 0], [1, 1, 0]  # 45 degrees
    assert float(sam(x, y)) == pytest.approx(67.5)


def test_lowrank_baseline_and_sigma_estimate():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48] / 48
    maps = np.stack([np.sin(3 * xx) * 0.5 + 0.5, yy, xx * yy])  # 3 smooth abundance maps
    spectra = rng.random((31, 3))
    clean = minmax(np.einsum("bk,khw->bhw", spectra, maps))
    noisy, info = add_noise(clean, "gaussian30", seed=0)
    np.testing.assert_allclose(estimate_sigma(noisy), 30 / 255, rtol=0.15)
    den = lowrank_projection(noisy)
    assert float(mpsnr(den, clean)) > float(mpsnr(noisy, clean)) + 8


def test_bm4d_baseline_when_installed():
    """BM4D through run_baseline: bands stay bands (the package wants (H, W, bands)), and it denoises."""
    from ssmkit_hyperspectral.baselines import bm4d_available, run_baseline

    if not bm4d_available():
        pytest.skip("the optional bm4d package is not installed (pip install 'ssmkit-hyperspectral[bm4d]')")
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:32, 0:40] / 40
    maps = np.stack([np.sin(4 * xx) * 0.5 + 0.5, yy, (xx - yy) ** 2])
    clean = minmax(np.einsum("bk,khw->bhw", rng.random((8, 3)), maps)).astype(np.float32)  # (8, 32, 40)
    noisy, info = add_noise(clean, "gaussian30", seed=0)
    given = run_baseline("bm4d", noisy, np.full(8, 30 / 255))
    blind = run_baseline("bm4d", noisy)  # sigma estimated from the cube
    assert given.shape == blind.shape == clean.shape and given.dtype == np.float32
    assert float(mpsnr(given, clean)) > float(mpsnr(noisy, clean)) + 8
    assert abs(float(mpsnr(blind, clean)) - float(mpsnr(given, clean))) < 1.0
    # each output band matches its own clean band best (a transposition would mix them up)
    corr = np.corrcoef(given.reshape(8, -1), clean.reshape(8, -1))[:8, 8:]
    assert (corr.argmax(1) == np.arange(8)).all()

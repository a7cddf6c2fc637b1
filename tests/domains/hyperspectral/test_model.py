"""The spatial-spectral SSM denoiser: any band count, registered scan orders, tiling, and a short fit that beats
the noisy input by a wide margin."""

import numpy as np
import pytest
import torch
from ssmkit_hyperspectral.metrics import mpsnr
from ssmkit_hyperspectral.model import HSIDenoiserNet
from ssmkit_hyperspectral.noise import add_noise, minmax
from ssmkit_hyperspectral.tiling import blend_window, tile_starts, tiled

from ssmkit import registry
from ssmkit.errors import ConfigError

SMALL = {"d_model": 12, "n_blocks": 1, "patch_size": 4, "spatial_orders": ["row", "column"], "d_state": 8}


def smooth_cube(bands: int, size: int, seed: int) -> np.ndarray:
    """(bands, size, size) in [0, 1]: 4 smooth abundance maps mixing 4 random smooth spectra, plus edges."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    maps = [np.sin(3 * xx + 1) * 0.5 + 0.5, yy, (xx + yy > 1).astype(float), np.cos(5 * yy * xx)]
    t = np.linspace(0, 1, bands)
    spectra = np.stack([np.interp(t, np.linspace(0, 1, 5), rng.random(5)) for _ in maps], 1)
    return minmax(np.einsum("bk,khw->bhw", spectra, np.stack(maps)))


@pytest.fixture(scope="module")
def trained():
    """A small network fitted for ~6 s on 31-band 16x16 patches at sigma 50."""
    torch.manual_seed(0)
    net = HSIDenoiserNet(**SMALL)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    cube = smooth_cube(31, 48, seed=0)
    rng = np.random.default_rng(0)
    for step in range(30):
        batch = []
        for _ in range(4):
            r, c = rng.integers(0, 33, 2)
            batch.append(cube[:, r:r + 16, c:c + 16])
        clean = torch.from_numpy(np.stack(batch))
        noisy = torch.from_numpy(np.stack([add_noise(b, "gaussian50", seed=step * 10 + i)[0]
                                           for i, b in enumerate(batch)]))
        loss = torch.nn.functional.mse_loss(net(noisy), clean)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def test_untrained_network_is_the_identity_and_any_size_works():
    net = HSIDenoiserNet(**SMALL).eval()
    for shape in [(1, 31, 17, 23), (2, 5, 8, 8)]:
        x = torch.rand(shape)
        with torch.no_grad():
            assert torch.equal(net(x), x)  # residual learning starts from the input


def test_short_fit_beats_the_noisy_input_and_runs_on_198_bands(trained):
    clean = smooth_cube(31, 48, seed=1)  # another scene of the same kind
    noisy, _ = add_noise(clean, "gaussian50", seed=99)
    with torch.no_grad():
        out = trained(torch.from_numpy(noisy)[None])[0]
    gain = float(mpsnr(out.clamp(0, 1), clean)) - float(mpsnr(noisy, clean))
    assert gain > 6.0, gain
    clean198 = smooth_cube(198, 24, seed=2)  # trained on 31 bands, run on 198 (Jasper Ridge's count)
    noisy198, _ = add_noise(clean198, "gaussian50", seed=3)
    with torch.no_grad():
        out198 = trained(torch.from_numpy(noisy198)[None])[0]
    assert out198.shape == (198, 24, 24)
    assert float(mpsnr(out198.clamp(0, 1), clean198)) > float(mpsnr(noisy198, clean198)) + 3


def test_tiled_equals_whole_within_tolerance(trained):
    clean = smooth_cube(31, 48, seed=4)
    x = torch.from_numpy(add_noise(clean, "gaussian30", seed=5)[0])[None]
    with torch.no_grad():
        whole = trained(x)[0]
        pieces = tiled(trained, x, tile=32, overlap=16)[0]
    diff_db = float(mpsnr(pieces, whole))  # PSNR of the tiled output against the whole-cube output
    print(f"tiled vs whole: {diff_db:.1f} dB")
    assert diff_db > 35.0
    assert abs(float(mpsnr(pieces.clamp(0, 1), clean)) - float(mpsnr(whole.clamp(0, 1), clean))) < 0.3
    assert tile_starts(48, 32, 16) == [0, 16] and tile_starts(100, 32, 8) == [0, 24, 48, 68]
    w = blend_window(32, 8)
    assert float(w.min()) > 0 and float(w[8:24].min()) == 1.0


def test_scan_orders_are_registered_and_checked():
    orders = registry.items("scan_orders")
    for name in ("spectral", "spectral_reverse", "snake_reverse", "hilbert_reverse"):
        assert f"hyperspectral/{name}" in orders
    perm = registry.get("scan_orders", "hyperspectral/spectral_reverse").permutation(length=5)
    assert perm.tolist() == [4, 3, 2, 1, 0]
    HSIDenoiserNet(**{**SMALL, "spatial_orders": "hilbert,hyperspectral/snake_reverse"})
    with pytest.raises(ConfigError, match="unknown scan order 'diagonal'"):
        HSIDenoiserNet(**{**SMALL, "spatial_orders": ["diagonal"]})
    with pytest.raises(ConfigError, match="scan order 'row' needs grid"):
        HSIDenoiserNet(**{**SMALL, "spectral_orders": ["row"]})

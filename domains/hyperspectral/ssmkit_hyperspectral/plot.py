"""A before/after PNG (matplotlib, no display needed), written atomically: false-colour views of the noisy and
denoised cubes (and the clean one when known) and the spectrum of one pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssmkit.atomic import atomic_write

__all__ = ["false_colour_bands", "false_colour", "plot_before_after"]


def false_colour_bands(bands: int, wavelengths: np.ndarray | None = None) -> tuple[int, int, int]:
    """Band indices shown as (red, green, blue): nearest to 650/550/450 nm when the wavelengths cover the
    visible, else at 3/4, 1/2 and 1/4 of the band range."""
    if wavelengths is not None and len(wavelengths) == bands and wavelengths.min() <= 460 and wavelengths.max() >= 640:
        return tuple(int(np.argmin(np.abs(wavelengths - w))) for w in (650.0, 550.0, 450.0))  # type: ignore
    return (int(0.75 * (bands - 1)), int(0.5 * (bands - 1)), int(0.25 * (bands - 1)))


def false_colour(cube: np.ndarray, rgb: tuple[int, int, int], lo: float, hi: float) -> np.ndarray:
    """(bands, H, W) -> (H, W, 3) in [0, 1] with a shared stretch [lo, hi] (so panels compare)."""
    img = np.stack([cube[b] for b in rgb], axis=-1)
    return np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1)


def plot_before_after(before: np.ndarray, after: np.ndarray, path: str | Path, clean: np.ndarray | None = None,
                      wavelengths: np.ndarray | None = None, pixel: tuple[int, int] | None = None) -> Path:
    """before/after (and clean) (bands, H, W) -> PNG at ``path``; ``pixel`` (row, col), default the centre."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    B, H, W = after.shape
    r, c = pixel if pixel is not None else (H // 2, W // 2)
    r, c = min(max(int(r), 0), H - 1), min(max(int(c), 0), W - 1)
    rgb = false_colour_bands(B, wavelengths)
    ref = clean if clean is not None else after
    lo, hi = np.percentile(np.stack([ref[b] for b in rgb]), [1, 99])
    panels = [("noisy input", before), ("denoised", after)] + ([("clean", clean)] if clean is not None else [])
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4 * (len(panels) + 1), 4), dpi=100)
    for ax, (title, cube) in zip(axes, panels):
        ax.imshow(false_colour(cube, rgb, lo, hi))
        ax.plot([c], [r], "+", color="white", markersize=10)
        ax.set_title(f"{title} (bands {rgb[0]}/{rgb[1]}/{rgb[2]} as RGB)", fontsize=8)
        ax.axis("off")
    x = wavelengths if wavelengths is not None and len(wavelengths) == B else np.arange(B)
    ax = axes[-1]
    for title, cube in panels:
        ax.plot(x, cube[:, r, c], label=title, linewidth=1)
    ax.set_xlabel("wavelength (nm)" if x is wavelengths else "band")
    ax.set_ylabel("value (scaled to [0, 1])")
    ax.set_title(f"spectrum of pixel (row {r}, col {c})", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
    return path

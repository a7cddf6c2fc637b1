"""The confusion-matrix PNG of ``speech classify test`` (matplotlib's Agg backend), written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssmkit.atomic import atomic_write


def confusion_png(counts: np.ndarray, classes: list[str], path: str | Path, title: str = "") -> Path:
    """counts (C, C): rows the true class, columns the prediction. Colour is the share of the row, each
    non-empty cell shows its count; the title gives the accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = counts.shape[0]
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = min(12.0, 3.0 + 0.4 * n)
    fig = Figure(figsize=(size, size * 0.85), dpi=100)
    ax = fig.add_subplot()
    image = ax.imshow(rows, cmap="viridis", vmin=0.0, vmax=1.0)
    if n <= 36:
        ticks = list(range(n))
        ax.set_xticks(ticks, classes, rotation=90, fontsize=8)
        ax.set_yticks(ticks, classes, fontsize=8)
        for i, j in zip(*np.nonzero(counts)):
            ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=7,
                    color="black" if rows[i, j] > 0.6 else "white")
    accuracy = np.trace(counts) / max(1, counts.sum())
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    ax.set_title(f"{title + ': ' if title else ''}{int(counts.sum())} clips, accuracy {accuracy:.4f}", fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    return Path(path)


__all__ = ["confusion_png"]

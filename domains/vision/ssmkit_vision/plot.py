"""A confusion-matrix PNG (matplotlib, no display needed), written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssmkit.atomic import atomic_write


def plot_confusion(matrix: np.ndarray, classes: list[str] | None, path: str | Path) -> Path:
    """matrix (C, C) counts, rows = true class, columns = predicted; cells show counts, colour = row share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    n = matrix.shape[0]
    classes = list(classes) if classes is not None else [str(i) for i in range(n)]
    share = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    side = min(14.0, 2.5 + 0.45 * n)
    fig, ax = plt.subplots(figsize=(side, side * 0.9), dpi=110)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if n <= 40:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.5 else "black")
        ax.set_xticks(range(n), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(n), classes, fontsize=7)
    acc = np.trace(matrix) / max(1, matrix.sum())
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix: {int(matrix.sum())} samples, accuracy {acc:.4f}")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
    return path


__all__ = ["plot_confusion"]

"""A generated stand-in dataset: noisy sine, square and sawtooth waves."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ssmkit.atomic import atomic_write

KINDS = ("sine", "square", "sawtooth")


def make_waves(n: int = 600, length: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, length) float32 signals and (n,) labels 0..2."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    labels = rng.integers(0, len(KINDS), n)
    freq = rng.uniform(1 / 24, 1 / 6, (n, 1))
    phase = rng.uniform(0, 1, (n, 1))
    cycle = (t * freq + phase) % 1.0
    waves = np.where(labels[:, None] == 0, np.sin(2 * np.pi * cycle),
                     np.where(labels[:, None] == 1, np.sign(cycle - 0.5), 2 * cycle - 1))
    waves = waves + rng.normal(0, 0.3, waves.shape)
    return waves.astype(np.float32), labels


def write_waves(data_dir: Path) -> None:
    """Write template/waves.csv (header: label,t0,...) into the data directory."""
    x, y = make_waves()
    with atomic_write(Path(data_dir) / "template" / "waves.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label", *(f"t{i}" for i in range(x.shape[1]))])
        for label, row in zip(y, x):
            writer.writerow([KINDS[label], *(f"{v:.4f}" for v in row)])

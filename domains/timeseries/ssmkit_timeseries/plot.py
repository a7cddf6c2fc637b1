"""A PNG of the recent history and the forecast of one column (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssmkit.atomic import atomic_write


def plot_forecast(table, target: str, stamps: list, header: list[str], values: np.ndarray, path: Path,
                  history: int = 192) -> Path:
    """History of ``target`` (last ``history`` rows of ``table``) and its forecast columns; a band
    between the lowest and highest quantile when there are several. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    col = table.columns.index(target)
    past = table.values[-history:, col]
    mine = [k for k, h in enumerate(header) if h == target or h.startswith(f"{target}_q")]
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=110)
    if table.timestamps is not None:
        t_past = table.timestamps[-history:]
        t_future = np.array(stamps, dtype="datetime64[ns]")
    else:
        t_past = np.arange(len(table.values) - len(past), len(table.values))
        t_future = np.asarray(stamps)
    ax.plot(t_past, past, color="0.25", lw=1.0, label="history")
    if len(mine) == 1:
        ax.plot(t_future, values[:, mine[0]], color="tab:blue", lw=1.4, label="forecast")
    else:
        ax.fill_between(t_future, values[:, mine[0]], values[:, mine[-1]], color="tab:blue", alpha=0.2,
                        label=f"{header[mine[0]].rsplit('_', 1)[-1]}-{header[mine[-1]].rsplit('_', 1)[-1]}")
        ax.plot(t_future, values[:, mine[len(mine) // 2]], color="tab:blue", lw=1.4, label="median forecast")
    ax.axvline(t_future[0], color="0.6", ls="--", lw=0.8)
    ax.set_title(f"{target}: {len(past)} steps of history, {len(t_future)}-step forecast")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
    return path

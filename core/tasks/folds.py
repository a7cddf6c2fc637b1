"""Cross-validation summaries shared by the CLI (``fit --data.folds k``) and the plug-ins' Python helpers."""

from __future__ import annotations

import statistics


def fold_summary(per_fold: list[dict[str, float]]) -> dict[str, tuple[float, float]]:
    """{metric: (mean, population std)} over the folds of every "test/..." metric all folds report."""
    keys = sorted(set.intersection(*(set(m) for m in per_fold)))
    return {k: (float(statistics.mean(float(m[k]) for m in per_fold)),
                float(statistics.pstdev(float(m[k]) for m in per_fold))) for k in keys if k.startswith("test/")}


__all__ = ["fold_summary"]

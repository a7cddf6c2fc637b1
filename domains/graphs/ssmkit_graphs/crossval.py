"""k-fold cross-validation of a graph pipeline: one fit + test per fold, mean and std of each test metric."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence

import pytorch_lightning as pl

from ssmkit.tasks.folds import fold_summary


def cross_validate(pipeline, model: dict, data: dict, folds: int = 10, trainer: dict | None = None,
                   seed: int = 0, on_fold: Callable[[int, dict], None] | None = None,
                   only: Sequence[int] | None = None,
                   selections: Sequence[str] = ()) -> dict[str, tuple[float, float]]:
    """Fit and test ``pipeline`` on each of ``folds`` stratified folds (``data`` gets folds/fold); returns
    {metric: (mean, std)} over folds of every "test/..." metric. ``trainer``: pl.Trainer keyword arguments
    (the best validation checkpoint of each fold is tested when checkpointing is on). ``only``: run just these
    fold indices (to spread the folds of one split over several processes; each fold is seeded alike).
    ``selections``: also test, from the same fit, the epoch chosen by other rules: "min:val/loss",
    "max:val/acc" (a monitored metric) or "last" (the final weights); their metrics are keyed
    "test/acc[min:val/loss]", "test/acc[last]"."""
    chosen = range(folds) if only is None else list(only)
    bad = [f for f in chosen if not 0 <= f < folds]
    if bad:
        raise ValueError(f"fold indices {bad} out of range for {folds} folds")
    if not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"folds to run {list(chosen)}: give distinct fold indices, at least one")
    rules = [_rule(s) for s in selections]
    checkpointing = (trainer or {}).get("enable_checkpointing", True)
    if not checkpointing and any(monitor for _, monitor, _ in rules):
        raise ValueError("selections other than 'last' need checkpoints: drop enable_checkpointing=False")
    results: list[dict] = []
    for fold in chosen:
        pl.seed_everything(seed + fold, verbose=False)
        dm, net = pipeline.instantiate(model=model, data={**data, "folds": folds, "fold": fold})
        kwargs = {"logger": False, "enable_progress_bar": False, "enable_model_summary": False,
                  "gradient_clip_val": 1.0, **(trainer or {})}
        callbacks = list(kwargs.pop("callbacks", []))
        with tempfile.TemporaryDirectory(prefix="ssmkit-cv-") as tmp:  # fold checkpoints never land in the cwd
            best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor=pipeline.monitor, mode=pipeline.mode) \
                if kwargs.get("enable_checkpointing", True) else None
            same = {name for name, monitor, mode in rules if best and (monitor, mode) == (best.monitor, best.mode)}
            extra = {name: pl.callbacks.ModelCheckpoint(dirpath=f"{tmp}/{i}", monitor=monitor, mode=mode)
                     for i, (name, monitor, mode) in enumerate(rules) if monitor and name not in same}
            t = pl.Trainer(callbacks=callbacks + ([best] if best else []) + list(extra.values()),
                           default_root_dir=tmp, **kwargs)
            t.fit(net, datamodule=dm)
            # the chosen files, taken now: testing a checkpoint restores the callbacks' states saved in it, so
            # "best" asked for after another checkpoint was tested would name that epoch's (deleted) best file
            main_path = best.best_model_path if best else None
            paths = {name: cb.best_model_path for name, cb in extra.items()} | dict.fromkeys(same, main_path)
            missing = [name for name, path in paths.items() if not path]
            if missing:
                raise ValueError(f"selection {missing[0]!r}: no checkpoint was saved (is there a validation split?)")

            also = {}
            for name, monitor, _ in rules:  # the weights in memory first: "last", then the main choice
                if not monitor:
                    also |= _tested(t, net, dm, None, name)
            metrics = _tested(t, net, dm, main_path or None)  # no saved best (no validation): the final weights
            for name, monitor, _ in rules:
                if monitor:
                    also |= _tested(t, net, dm, paths[name], name)
            metrics.update(also)
        results.append(metrics)
        if on_fold is not None:
            on_fold(fold, metrics)
    return fold_summary(results)


def _tested(trainer, net, dm, path: str | None, name: str | None = None) -> dict:
    """Test metrics of the weights at ``path`` (None: those in memory), keys suffixed "[name]" when named."""
    found = trainer.test(net, datamodule=dm, ckpt_path=path, verbose=False)[0]
    return {f"{k}[{name}]": v for k, v in found.items()} if name else found


def _rule(text: str) -> tuple[str, str | None, str | None]:
    """"min:val/loss" -> (text, "val/loss", "min"); "last" -> ("last", None, None)."""
    if text == "last":
        return text, None, None
    mode, _, monitor = text.partition(":")
    if mode not in ("min", "max") or not monitor:
        raise ValueError(f"selection {text!r}: use last, min:<metric> or max:<metric>")
    return text, monitor, mode


__all__ = ["cross_validate"]

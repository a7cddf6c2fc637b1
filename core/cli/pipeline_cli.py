"""`ssmkit <plugin> <pipeline> fit|validate|test|predict`: LightningCLI around a pipeline."""

from __future__ import annotations

import argparse
import itertools
import logging
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import torch
import yaml
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.utilities.exceptions import MisconfigurationException, SIGTERMException

from .. import registry
from ..data.datamodule import FITTED_STATE, DataModule
from ..errors import ConfigError, SSMKitError
from ..tasks.checkpoints import AtomicCheckpointIO, LastCheckpoint
from ..tasks.folds import fold_summary
from ..tasks.pipeline import Pipeline
from .config_file import argument_problem, check_config, config_files
from .report import console, metrics_table, print_table


class PipelineCLI(LightningCLI):
    """LightningCLI with ssmkit's defaults: a checkpoint callback on the pipeline's metric, ``last.ckpt``
    kept for resuming (``--last_checkpoint.every_n_steps``, and on SIGTERM), checkpoints written atomically,
    ``--output`` for predictions, metrics tables, and ``weights_only`` checkpoint loading."""

    def __init__(self, pipeline: Pipeline, *args, run_config: bool = False, command: str = "ssmkit", **kwargs):
        self.pipeline = pipeline
        self.run_config = run_config
        self.command = command
        super().__init__(*args, **kwargs)

    def instantiate_classes(self) -> None:
        # predict: the data module gets what its training data taught it (class names, normalisation) from
        # the checkpoint before it is built, so new files are predicted without the training data
        ckpt = self.config[self.subcommand].get("ckpt_path") if self.subcommand == "predict" else None
        token = FITTED_STATE.set(_fitted_state(_read_checkpoint(ckpt), self.datamodule_class) if ckpt else None)
        try:
            super().instantiate_classes()
        finally:
            FITTED_STATE.reset(token)

    def instantiate_trainer(self, **kwargs: Any):
        if self.subcommand == "predict":
            # every rank predicts every input in order and rank 0 writes them: no sharding, so no gathering and
            # reordering of per-rank rows (whose number per input varies by domain); predict is cheap
            kwargs["use_distributed_sampler"] = False
            if self.config["predict"].get("output"):
                # the predictions go where --output says: no new run-version folder (logger, config) per predict
                kwargs["logger"] = False
                self.save_config_callback = None
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except SSMKitError:
            raise
        except (ValueError, MisconfigurationException) as exc:  # Lightning refuses the trainer options
            raise ConfigError(f"--trainer options: {' '.join(str(exc).split())}") from None
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:  # not one the user chose
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
        except SIGTERMException:  # Lightning stopped the run after SIGTERM; LastCheckpoint saved last.ckpt
            saved = next((cb.saved for cb in self.trainer.callbacks if isinstance(cb, LastCheckpoint)), None)
            where = (f"saved {saved} (resume: {self.command} fit --ckpt_path last)" if saved
                     else "no checkpoint saved")
            print(f"ssmkit: stopped by SIGTERM at epoch {self.trainer.current_epoch}, step "
                  f"{self.trainer.global_step}; {where}", file=sys.stderr)
            raise SystemExit(143) from None  # 128 + SIGTERM, as shells report it
        except RuntimeError as exc:
            if "loading state_dict" not in str(exc):
                raise
            ckpt = self.config[subcommand].get("ckpt_path")
            detail = " ".join(str(exc).split())[:300]
            raise SSMKitError(f"{ckpt}: the checkpoint does not fit the model built from the config and flags "
                              f"({detail})") from exc

    def _parse_ckpt_path(self) -> None:
        # Lightning lays the checkpoint's hyper-parameters over the parsed config, flags included; when
        # the run's config.yaml was loaded (run_pipeline), the model is already rebuilt from it and flags
        # given after it must win (e.g. `predict --ckpt_path X --model.streaming true`).
        if not self.run_config:
            super()._parse_ckpt_path()

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(LastCheckpoint, "last_checkpoint")
        parser.set_defaults({
            "checkpoint.monitor": self.pipeline.monitor,
            "checkpoint.mode": self.pipeline.mode,
            "checkpoint.save_last": True,
            "checkpoint.filename": "best-epoch{epoch:03d}",
            "checkpoint.auto_insert_metric_name": False,
        })
        if self.pipeline.patience is not None:
            parser.add_lightning_class_args(EarlyStopping, "early_stopping")
            parser.set_defaults({"early_stopping.monitor": self.pipeline.monitor,
                                 "early_stopping.mode": self.pipeline.mode,
                                 "early_stopping.patience": self.pipeline.patience})
        for src, dst in self.pipeline.links.items():
            parser.link_arguments(f"data.{src}", f"model.{dst}", apply_on="instantiate")
        parser.add_argument("--output", type=str | None, default=None,
                            help="predict: file to write (.tsv/.tab: tab-separated; default: the data module's "
                                 "predictions file in the run folder; given, no run folder is opened)")

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict[str, Any]:
        kwargs = super()._prepare_subcommand_kwargs(subcommand)
        if "weights_only" in kwargs and kwargs["weights_only"] is None:
            kwargs["weights_only"] = True  # checkpoints never unpickle arbitrary objects
        if "verbose" in kwargs:
            kwargs["verbose"] = False  # our own metrics table replaces Lightning's
        return kwargs

    def before_fit(self) -> None:
        # one SIGTERM message: ours, with the resume command (_run_subcommand); not Lightning's "Received SIGTERM"
        # (only that line: its SLURM requeue messages stay) nor the callback's log line as well
        log = logging.getLogger("pytorch_lightning.trainer.connectors.signal_connector")
        if not any(isinstance(f, _DropSigtermNotice) for f in log.filters):
            log.addFilter(_DropSigtermNotice())
        for cb in self.trainer.callbacks:
            if isinstance(cb, LastCheckpoint):
                cb.quiet = True

    def after_fit(self) -> None:
        log_dir = self.trainer.log_dir  # a collective under DDP: every rank asks, rank 0 reports
        if not self.trainer.is_global_zero:
            return
        self._source()
        metrics_table("validation (last epoch)", self.trainer.callback_metrics, ("val/", "train/loss"))
        cb = self.trainer.checkpoint_callback
        if cb is not None and cb.best_model_path:
            console.print(f"best checkpoint: {cb.best_model_path}  ({cb.monitor} = {float(cb.best_model_score):.4f})")
            console.print(f"run folder: {log_dir}")

    def after_validate(self) -> None:
        if not self.trainer.is_global_zero:
            return
        metrics_table("validation", self.trainer.callback_metrics, ("val/",))

    def _source(self) -> None:
        source = getattr(self.datamodule, "source", "")
        if source:
            console.print(f"data: {source}")

    def after_test(self) -> None:
        if not self.trainer.is_global_zero:
            return
        self._source()
        table = getattr(self.model, "test_table", None)
        table = table(dict(self.trainer.callback_metrics)) if table is not None else None
        if table:
            print_table(*table)
        else:
            metrics_table("test", self.trainer.callback_metrics, ("test/",))

    def _prediction_path(self) -> Path:
        dm = self.datamodule
        if not isinstance(dm, DataModule):
            raise SSMKitError(f"{type(dm).__name__} cannot write predictions (not an ssmkit DataModule)")
        out = self.config[self.subcommand].get("output") or Path(self.trainer.log_dir or ".") / dm.prediction_file
        dm.check_output(out)
        return Path(out)

    def before_predict(self) -> None:
        self._prediction_path()  # refuse a bad --output before predicting

    def after_predict(self) -> None:
        path = self._prediction_path()  # every rank (log_dir is a collective); rank 0 writes
        if not self.trainer.is_global_zero:
            return
        batches = self.trainer.predict_loop.predictions
        if batches and isinstance(batches[0], list) and batches[0] and isinstance(batches[0][0], list):
            batches = list(itertools.chain.from_iterable(batches))  # several dataloaders
        rows = list(itertools.chain.from_iterable(batches))
        dm = self.datamodule
        path = dm.write_predictions(rows, path)
        for written in getattr(dm, "written", None) or [path]:  # a data module may write more than one file
            console.print(f"wrote {written}")


class _DropSigtermNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Received SIGTERM" not in record.getMessage()


def _read_checkpoint(ckpt: str) -> dict | None:
    """The checkpoint's contents (tensors memory-mapped, so cheap), or None for Lightning's own keywords.
    A missing path, a folder or a file that is not a loadable checkpoint stop with one line here, before any
    data is read (they would otherwise surface as missing training data or a traceback)."""
    if ckpt in ("last", "best", "hpc", "registry") or ckpt.startswith("registry:"):
        return None
    try:
        if "://" in ckpt:  # http(s), s3, gs...: through fsspec, as Lightning reads them
            from lightning_fabric.utilities.cloud_io import _load

            checkpoint = _load(ckpt, map_location="cpu", weights_only=True)
        else:
            if not Path(ckpt).is_file():
                raise SSMKitError(f"{ckpt}: " + ("is a folder, not a checkpoint file" if Path(ckpt).is_dir()
                                                 else "checkpoint not found"))
            checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)
    except SSMKitError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated, corrupt, not a checkpoint, unsafe to load
        detail = " ".join(str(exc).split())[:200]
        raise SSMKitError(f"{ckpt}: not a readable checkpoint ({type(exc).__name__}: {detail})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise SSMKitError(f"{ckpt}: not a Lightning checkpoint (no state_dict)")
    return checkpoint


def _check_pipeline(ckpt: str, checkpoint: dict, pipeline: Pipeline, command: str) -> None:
    """Refuse another pipeline's checkpoint by the data module it saved (ssmkit data modules save their state)."""
    saved = [k for k, v in checkpoint.items() if isinstance(v, dict) and ("train_loader" in v or "fitted" in v)]
    wanted = pipeline.data_class.__qualname__
    if saved and wanted not in saved:
        raise SSMKitError(f"{ckpt}: this checkpoint was trained with the data module {saved[0]}, not "
                          f"`{command}`'s {wanted} (another pipeline's checkpoint?)")


def _fitted_state(checkpoint: dict | None, data_class: Any) -> dict | None:
    """The data module's ``fitted_state`` saved in a checkpoint (None when it has none)."""
    if checkpoint is None:
        return None
    if isinstance(data_class, type):
        names = [data_class.__qualname__]
    else:
        names = [k for k, v in checkpoint.items() if isinstance(v, dict) and "fitted" in v]
    for name in names:
        state = checkpoint.get(name)
        if isinstance(state, dict) and isinstance(state.get("fitted"), dict):
            return state["fitted"]
    return None


def _config_beside(ckpt: str) -> str | None:
    """The config.yaml saved in a checkpoint's run folder, if any."""
    path = Path(ckpt).resolve()
    for folder in (path.parent.parent, path.parent):
        if (folder / "config.yaml").exists():
            return str(folder / "config.yaml")
    return None


def _newest(root: Path, which: str) -> Path | None:
    """The newest ``last*.ckpt`` (``which`` "last") or ``best*.ckpt`` ("best": the monitored metric's best epoch)
    of the pipeline's runs (Lightning itself looks only in the new run's folder)."""
    pattern = r"last(-v\d+)?\.ckpt" if which == "last" else r"best.*\.ckpt"
    found = [p for p in root.glob(f"**/checkpoints/{which}*.ckpt") if re.fullmatch(pattern, p.name)]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def run_pipeline(plugin: str, name: str, args: list[str]) -> int:
    try:
        folds = _folds_to_run(args)
        if folds:
            return cross_validate(plugin, name, args, folds)
        _run(plugin, name, args)
        return 0
    finally:
        _end_process_group()


def _end_process_group() -> None:
    """Close the process group of a several-process run (DDP/FSDP) before the interpreter exits: left to the exit
    handlers, its communication threads could be torn down mid-call (one rank aborted so under load on 2 cores)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _folds_to_run(args: list[str]) -> int:
    """k when ``fit`` is given ``data.folds`` k >= 2 and no ``data.fold``: run every fold; else 0. Both are read
    from the flags and from config files (``--config``/``-c``, YAML ``data: {folds: 10}``), later ones winning as
    in the parser; a ``fold: null`` counts as none."""
    if not args or args[0] != "fit":
        return 0
    given: dict[str, object] = {}
    for i, arg in enumerate(args):
        key, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if not eq:
            value = args[i + 1] if i + 1 < len(args) else None
        if value is None:
            continue
        if key in ("--data.folds", "--data.fold"):
            given[key[len("--data."):]] = value
        elif key in ("--config", "-c"):
            given.update(_fold_keys(value))
    if given.get("fold") is not None or given.get("folds") is None:
        return 0
    try:
        k = int(given["folds"])
    except (TypeError, ValueError):
        return 0  # the parser names the bad value
    return k if k >= 2 else 0


def _fold_keys(config: str) -> dict[str, object]:
    """{"folds": .., "fold": ..} as far as a config's ``data`` section gives them; ``config`` a YAML file or
    inline YAML, as the parser takes it (unreadable: {}; ``check_config`` and the parser report it)."""
    try:
        text = Path(config).read_text(encoding="utf-8") if Path(config).is_file() else config
        data = yaml.safe_load(text)
        data = data.get("data") if isinstance(data, dict) else None
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return {}
    return {k: data[k] for k in ("folds", "fold") if isinstance(data, dict) and k in data}


def cross_validate(plugin: str, name: str, args: list[str], folds: int) -> int:
    """``fit --data.folds k`` without ``--data.fold`` (flags or configs): fit on each fold in turn (``--data.fold i``:
    fold i is the test set), test each fit's best checkpoint with that fit's config, then print the mean and
    standard deviation over the folds of every test metric and write them, with each fold's figures, to
    ``runs/<plugin>-<name>/cv-<k>fold.json`` (atomically, after every fold: a failed fold keeps the ones done)."""
    if "--ckpt_path" in args or any(a.startswith("--ckpt_path=") for a in args):
        raise ConfigError("--ckpt_path with --data.folds (all folds): a checkpoint belongs to one fold; resume it "
                          "with --data.fold i --ckpt_path ...")
    per_fold: list[dict[str, float]] = []
    root = Path("runs") / f"{plugin}-{name}"
    for fold in range(folds):
        console.print(f"[bold]fold {fold} ({fold + 1} of {folds})[/bold]")
        try:
            fit = _run(plugin, name, [*args, "--data.fold", str(fold)])
            cb = fit.trainer.checkpoint_callback
            best = cb.best_model_path if cb is not None and cb.best_model_path else None
            if best is None:
                raise SSMKitError("no best checkpoint was saved (is there a validation split?)")
            config = Path(fit.trainer.log_dir or ".") / "config.yaml"
            extra = ["--config", str(config)] if _config_beside(best) is None and config.exists() else []
            test = _run(plugin, name, ["test", *extra, "--ckpt_path", best, "--data.fold", str(fold)])
        except SSMKitError as exc:
            raise type(exc)(f"fold {fold} of {folds}: {exc}") from None
        per_fold.append({k: float(v) for k, v in test.trainer.callback_metrics.items() if k.startswith("test/")})
        if test.trainer.is_global_zero:  # several processes: one reports and writes
            summary = _write_cv(root, folds, args, per_fold)
    if not test.trainer.is_global_zero:
        return 0
    print_table(f"test, {folds}-fold cross-validation", ["metric", "mean", "std", *[f"fold {i}" for i in
                                                                                   range(folds)]],
                [[k, f"{mu:.4f}", f"{sd:.4f}", *[f"{m[k]:.4f}" for m in per_fold]] for k, (mu, sd) in
                 summary.items()])
    console.print(f"wrote {root / f'cv-{folds}fold.json'}")
    return 0


def _write_cv(root: Path, folds: int, args: list[str], per_fold: list[dict[str, float]]) -> dict:
    """Mean and std of every test metric over the folds done; written to cv-<k>fold.json atomically."""
    import json
    import os
    import tempfile

    summary = fold_summary(per_fold)
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".cv-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump({"folds": folds, "done": len(per_fold), "args": args, "mean_std": summary, "per_fold": per_fold},
                  handle, indent=1)
    os.replace(tmp, root / f"cv-{folds}fold.json")
    return summary


def _run(plugin: str, name: str, args: list[str]) -> PipelineCLI:
    pipeline: Pipeline = registry.get("pipelines", f"{plugin}/{name}")
    args = [part for a in args for part in (a.split("=", 1) if a.startswith("--ckpt_path=") else [a])]
    root = Path("runs") / f"{plugin}-{name}"
    which = args[args.index("--ckpt_path") + 1:][:1] if "--ckpt_path" in args else []
    if which in (["last"], ["best"]):
        i, which = args.index("--ckpt_path") + 1, which[0]
        found = _newest(root, which)
        if found is not None:
            args[i] = str(found)
            console.print(f"--ckpt_path {which}: {found}")
        elif args and args[0] == "fit" and which == "last":  # so that a pre-emptible job can always pass it
            console.print(f"--ckpt_path last: no last.ckpt under {root} yet, training from the start")
            del args[i - 1:i + 1]
        else:
            wanted = "last.ckpt" if which == "last" else "best-*.ckpt"
            raise SSMKitError(f"--ckpt_path {which}: no {wanted} under {root} (run `fit` first)")
    if "--ckpt_path" in args and args.index("--ckpt_path") + 1 < len(args):
        ckpt = args[args.index("--ckpt_path") + 1]
        checkpoint = _read_checkpoint(ckpt)
        if checkpoint is not None:
            _check_pipeline(ckpt, checkpoint, pipeline, f"ssmkit {plugin} {name}")
        del checkpoint
    run_config = False
    if "--ckpt_path" in args and "--config" not in args and args and args[0] in ("fit", "validate", "test",
                                                                                    "predict"):
        i = args.index("--ckpt_path")
        config = _config_beside(args[i + 1]) if i + 1 < len(args) else None
        if config:  # rebuild the model exactly as it was trained (flags given after it still override)
            args[1:1] = ["--config", config]
            run_config = True
    if (pipeline.needs_checkpoint and args and args[0] in ("validate", "test", "predict")
            and "--ckpt_path" not in args):
        console.print(f"warning: `{args[0]}` without --ckpt_path uses an untrained model "
                      f"(give --ckpt_path best, last or a .ckpt file)")
    trainer_defaults = {
        "default_root_dir": str(root),
        "max_epochs": 10,
        "gradient_clip_val": 1.0,
        "log_every_n_steps": 10,
        "precision": "bf16-mixed" if torch.cuda.is_available() else "32-true",
        "logger": {"class_path": "pytorch_lightning.loggers.CSVLogger", "init_args": {"save_dir": str(root)}},
        **pipeline.trainer,
    }
    configs = config_files(args)
    for config in configs:
        check_config(config)
    # the arguments go through args= alone; sys.argv stays the command line, which DDP's launcher runs again
    # in each further process (where rank > 0, the same command resolves to the same configuration)
    argv = sys.argv
    try:
        with warnings.catch_warnings():  # LightningCLI warns when sys.argv and args= both hold arguments
            warnings.filterwarnings("ignore", message=".*args parameter is intended to run from within Python")
            return _cli(pipeline, trainer_defaults, plugin, name, args, run_config)
    except argparse.ArgumentError as exc:  # a bad option value or key, in a config or a flag
        command = f"ssmkit {plugin} {name}" + (f" {args[0]}" if args and not args[0].startswith("-") else "")
        raise ConfigError(argument_problem(exc, configs, command)) from None
    finally:
        sys.argv = argv


def _cli(pipeline: Pipeline, trainer_defaults: dict, plugin: str, name: str, args: list[str],
         run_config: bool = False) -> PipelineCLI:
    return PipelineCLI(
        pipeline,
        run_config=run_config,
        command=f"ssmkit {plugin} {name}",
        model_class=pipeline.model_class,
        datamodule_class=pipeline.data_class,
        trainer_defaults=trainer_defaults,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": f"ssmkit {plugin} {name}", "description": pipeline.description,
                       "exit_on_error": False},  # errors come back as ArgumentError: one line (run_pipeline)
        auto_configure_optimizers=False,
        args=args,
    )

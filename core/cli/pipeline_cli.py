"""`ssmkit <plugin> <pipeline> fit|validate|test|predict`: LightningCLI around a pipeline."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.cli import LightningCLI

from .. import registry
from ..data.datamodule import DataModule
from ..errors import SSMKitError
from ..tasks.pipeline import Pipeline
from .report import console, metrics_table, print_table


class PipelineCLI(LightningCLI):
    """LightningCLI with ssmkit's defaults: a checkpoint callback on the pipeline's metric,
    ``--output`` for predictions, metrics tables, and ``weights_only`` checkpoint loading."""

    def __init__(self, pipeline: Pipeline, *args, run_config: bool = False, **kwargs):
        self.pipeline = pipeline
        self.run_config = run_config
        super().__init__(*args, **kwargs)

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            super()._run_subcommand(subcommand)
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
                            help="predict: CSV file to write (default: predictions.csv in the run folder)")

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict[str, Any]:
        kwargs = super()._prepare_subcommand_kwargs(subcommand)
        if "weights_only" in kwargs and kwargs["weights_only"] is None:
            kwargs["weights_only"] = True  # checkpoints never unpickle arbitrary objects
        if "verbose" in kwargs:
            kwargs["verbose"] = False  # our own metrics table replaces Lightning's
        return kwargs

    def after_fit(self) -> None:
        if not self.trainer.is_global_zero:
            return
        self._source()
        metrics_table("validation (last epoch)", self.trainer.callback_metrics, ("val/", "train/loss"))
        cb = self.trainer.checkpoint_callback
        if cb is not None and cb.best_model_path:
            console.print(f"best checkpoint: {cb.best_model_path}  ({cb.monitor} = {float(cb.best_model_score):.4f})")
            console.print(f"run folder: {self.trainer.log_dir}")

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

    def after_predict(self) -> None:
        if not self.trainer.is_global_zero:
            return
        batches = self.trainer.predict_loop.predictions
        if batches and isinstance(batches[0], list) and batches[0] and isinstance(batches[0][0], list):
            batches = list(itertools.chain.from_iterable(batches))  # several dataloaders
        rows = list(itertools.chain.from_iterable(batches))
        dm = self.datamodule
        default_name = getattr(dm, "prediction_file", "predictions.csv")
        out = self.config[self.subcommand].get("output") or Path(self.trainer.log_dir or ".") / default_name
        if not isinstance(dm, DataModule):
            raise SSMKitError(f"{type(dm).__name__} cannot write predictions (not an ssmkit DataModule)")
        path = dm.write_predictions(rows, out)
        for written in getattr(dm, "written", None) or [path]:  # a data module may write more than one file
            console.print(f"wrote {written}")


def _config_beside(ckpt: str) -> str | None:
    """The config.yaml saved in a checkpoint's run folder, if any."""
    path = Path(ckpt).resolve()
    for folder in (path.parent.parent, path.parent):
        if (folder / "config.yaml").exists():
            return str(folder / "config.yaml")
    return None


def run_pipeline(plugin: str, name: str, args: list[str]) -> int:
    pipeline: Pipeline = registry.get("pipelines", f"{plugin}/{name}")
    args = list(args)
    run_config = False
    if "--ckpt_path" in args and "--config" not in args and args and args[0] in ("fit", "validate", "test",
                                                                                    "predict"):
        i = args.index("--ckpt_path")
        config = _config_beside(args[i + 1]) if i + 1 < len(args) else None
        if config:  # rebuild the model exactly as it was trained (flags given after it still override)
            args[1:1] = ["--config", config]
            run_config = True
    if (pipeline.needs_checkpoint and args and args[0] in ("validate", "test", "predict")
            and "--ckpt_path" not in args and not any(a.startswith("--ckpt_path=") for a in args)):
        console.print(f"warning: `{args[0]}` without --ckpt_path uses an untrained model "
                      f"(give --ckpt_path runs/{plugin}-{name}/.../checkpoints/last.ckpt)")
    root = Path("runs") / f"{plugin}-{name}"
    trainer_defaults = {
        "default_root_dir": str(root),
        "max_epochs": 10,
        "gradient_clip_val": 1.0,
        "log_every_n_steps": 10,
        "precision": "bf16-mixed" if torch.cuda.is_available() else "32-true",
        "logger": {"class_path": "pytorch_lightning.loggers.CSVLogger", "init_args": {"save_dir": str(root)}},
        **pipeline.trainer,
    }
    argv, sys.argv = sys.argv, [f"ssmkit {plugin} {name}"]  # arguments go through args= alone
    try:
        _cli(pipeline, trainer_defaults, plugin, name, args, run_config)
    finally:
        sys.argv = argv
    return 0


def _cli(pipeline: Pipeline, trainer_defaults: dict, plugin: str, name: str, args: list[str],
         run_config: bool = False) -> None:
    PipelineCLI(
        pipeline,
        run_config=run_config,
        model_class=pipeline.model_class,
        datamodule_class=pipeline.data_class,
        trainer_defaults=trainer_defaults,
        seed_everything_default=0,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": f"ssmkit {plugin} {name}", "description": pipeline.description},
        auto_configure_optimizers=False,
        args=args,
    )

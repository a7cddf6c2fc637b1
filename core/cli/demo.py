"""`ssmkit demo`: one small pipeline per installed plug-in, trained and tested, one table."""

from __future__ import annotations

import argparse
import inspect
import logging
import time
import warnings

import pytorch_lightning as pl

from .. import registry
from ..data import catalog
from ..errors import SSMKitError
from .report import console, print_table


def _demo_one(name: str, pipeline, root, max_epochs: int | None) -> tuple[str, str, float]:
    demo = pipeline.demo
    pl.seed_everything(demo.get("seed", 0), verbose=False)
    data_kwargs = dict(demo.get("data", {}))
    if "data_dir" in inspect.signature(pipeline.data_class).parameters:
        data_kwargs["data_dir"] = str(root)
    dm, model = pipeline.instantiate(model=demo.get("model"), data=data_kwargs)
    trainer_kwargs = {"max_epochs": 3, "gradient_clip_val": 1.0, **demo.get("trainer", {})}
    if max_epochs is not None:
        trainer_kwargs["max_epochs"] = max_epochs
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_model_summary=False,
                         devices=1, **trainer_kwargs)
    start = time.perf_counter()
    trainer.fit(model, datamodule=dm)
    trainer.test(model, datamodule=dm, verbose=False)
    seconds = time.perf_counter() - start
    wanted = demo.get("metrics") or sorted(k for k in trainer.callback_metrics if k.startswith("test/"))
    metrics = ", ".join(f"{k.split('/', 1)[-1]} {float(trainer.callback_metrics[k]):.4f}"
                        for k in wanted if k in trainer.callback_metrics)
    return getattr(dm, "source", "") or "?", metrics, seconds


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ssmkit demo", description=__doc__)
    parser.add_argument("--data-dir", default=None,
                        help=f"data directory or local mirror (default: ${catalog.ENV_VAR} or {catalog.DEFAULT_DIR})")
    parser.add_argument("--only", nargs="*", default=None, help="plug-ins to run (default: all)")
    parser.add_argument("--max-epochs", type=int, default=None, help="override each demo's epochs")
    args = parser.parse_args(argv)
    root = catalog.data_dir(args.data_dir)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    pipelines = registry.items("pipelines")
    rows, failed = [], False
    console.print(f"ssmkit demo: data directory {root}")
    for name, pipeline in sorted(pipelines.items()):
        plugin = name.split("/", 1)[0]
        if pipeline.demo is None or (args.only and plugin not in args.only):
            continue
        console.rule(f"{name}")
        try:
            source, metrics, seconds = _demo_one(name, pipeline, root, args.max_epochs)
            rows.append((name, source, metrics, f"{seconds:.0f} s"))
        except SSMKitError as exc:
            failed = True
            rows.append((name, "[red]failed[/red]", str(exc), ""))
    for name, error in sorted(registry.REGISTRY.broken().items()):
        rows.append((name, "[red]broken plug-in[/red]", error, ""))
    if not rows:
        console.print("no installed plug-in has a demo pipeline (install one: see README)")
        return 1
    print_table("ssmkit demo", ["pipeline", "data", "test metrics", "time"], rows)
    return 1 if failed else 0

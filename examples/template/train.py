"""Train the template pipeline from Python instead of the CLI.

    python examples/template/train.py [--data my.csv] [--epochs 5]
"""

import argparse

import pytorch_lightning as pl

from ssmkit import registry


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", default=None, help="CSV with a 'label' column (default: generated waves)")
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args()
    pl.seed_everything(0)
    pipeline = registry.get("pipelines", "template/classify")
    dm, model = pipeline.instantiate(model={"d_model": 64, "n_layers": 2, "mixer": "mamba"}, data={"path": args.data})
    trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False)
    trainer.fit(model, datamodule=dm)
    print(trainer.test(model, datamodule=dm))


if __name__ == "__main__":
    main()

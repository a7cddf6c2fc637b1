"""Train the spatial-spectral SSM denoiser on real cubes from Python, then test it against the baselines.

    python examples/hyperspectral/train.py --data-dir ../shared/data --test-scene cloth --epochs 5
    python examples/hyperspectral/train.py --paths a.mat b.tif --test-paths c.npy --noise gaussian50

Trains on every cube but the test scene (patches of all bands' windows, flips/rotations, fresh noise each
epoch), keeps the best validation-PSNR checkpoint, and prints PSNR/SSIM/SAM per noise case beside the noisy
input, the low-rank projection and (with --bm4d, when the bm4d package is installed) BM4D.
"""

import argparse

import pytorch_lightning as pl
import torch

from ssmkit import registry
from ssmkit.cli.report import print_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="data directory or local mirror holding hyperspectral/")
    p.add_argument("--paths", nargs="*", default=None, help="cube files or PNG-band folders (default: the datasets)")
    p.add_argument("--test-paths", nargs="*", default=None)
    p.add_argument("--test-scene", default="chart_and_stuffed_toy", help="cubes whose name contains this are tested")
    p.add_argument("--noise", nargs="*", default=None, help="training noise cases (default: blind + gaussian30-70)")
    p.add_argument("--test-noise", nargs="*", default=["gaussian30", "gaussian50", "gaussian70", "blind"])
    p.add_argument("--crop", type=int, default=None, help="centre-crop every cube (quick runs)")
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--bm4d", action="store_true", help="add the BM4D baseline (slow on a CPU: ~1 min per cube)")
    args = p.parse_args()

    pl.seed_everything(0)
    pipeline = registry.get("pipelines", "hyperspectral/denoise")
    dm, model = pipeline.instantiate(
        model={"d_model": args.d_model, "n_blocks": args.blocks,
               "baselines": ["noisy", "lowrank"] + (["bm4d"] if args.bm4d else [])},
        data={"data_dir": args.data_dir, "paths": args.paths, "test_paths": args.test_paths,
              "test_scene": args.test_scene, "noise": args.noise, "test_noise": args.test_noise, "crop": args.crop},
    )
    best = pl.callbacks.ModelCheckpoint(monitor="val/psnr", mode="max")
    trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False,
                         default_root_dir="runs/example-hyperspectral", callbacks=[best],
                         precision="bf16-mixed" if torch.cuda.is_available() else "32-true")
    trainer.fit(model, datamodule=dm)
    metrics = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
    print(f"data: {dm.source}")
    print_table(*model.test_table(metrics))


if __name__ == "__main__":
    main()

"""Hyperspectral denoising targets of issue 9: quality per noise case against the baselines, speed, tiling.

    python benchmarks/hyperspectral_bench.py --data-dir ../shared/data [--epochs N] [--bm4d] [--json out.json]

For each test scene (default: both CAVE scenes, in turn), train on every other cube of the data directory's
CAVE and Jasper Ridge entries (one configuration for all noise cases), test on the held-out scene at sigma
30/50/70 and blind, and print mean PSNR over bands, SSIM and SAM beside the noisy input, the low-rank
projection and BM4D (--bm4d; the bm4d package, sigma given; minutes per cube on a CPU). Then:
training throughput (patches/s and voxels/s), the time to denoise a 512 x 512 x 31 cube (the CAVE scene tiled
2 x 2; median of 5 after warm-up), and the PSNR between tiled and whole-cube outputs on the test scene.
Records device, commit and command.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pytorch_lightning as pl
import torch
from ssmkit_hyperspectral.metrics import mpsnr
from ssmkit_hyperspectral.noise import add_noise
from ssmkit_hyperspectral.tiling import tiled

from ssmkit import registry


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def _seconds(fn, repeats: int = 5) -> float:
    fn()  # warm-up (kernel compilation, allocator)
    times = []
    for _ in range(repeats):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def run(scene: str, args) -> dict:
    pl.seed_everything(args.seed, verbose=False)
    pipeline = registry.get("pipelines", "hyperspectral/denoise")
    baselines = ["noisy", "lowrank"] + (["bm4d"] if args.bm4d else [])
    dm, model = pipeline.instantiate(
        model={**json.loads(args.model_json), "baselines": baselines},
        data={"data_dir": args.data_dir, "test_scene": scene, "test_noise": args.test_noise.split(","),
              **json.loads(args.data_json)})
    epochs = args.epochs or pipeline.trainer.get("max_epochs", 30)
    precision = "bf16-mixed" if torch.cuda.is_available() else "32-true"
    with tempfile.TemporaryDirectory() as tmp:
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor="val/psnr", mode="max")
        limit = {"max_time": {"minutes": args.max_minutes}} if args.max_minutes else {}
        trainer = pl.Trainer(max_epochs=epochs, gradient_clip_val=1.0, **limit, logger=False, callbacks=[best],
                             precision=precision, enable_progress_bar=False, enable_model_summary=False)
        start = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        fit_s = time.perf_counter() - start
        m = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
        epochs = trainer.current_epoch  # fewer than asked when --max-minutes stopped the run
    n_patches = trainer.global_step * dm.batch_size  # optimizer steps x batch: right when cut mid-epoch too
    row = {"scene": scene, "source": dm.source, "epochs": epochs, "fit_s": round(fit_s, 1),
           "patches_per_s": round(n_patches / fit_s, 1),
           "voxels_per_s": round(n_patches * dm.patch**2 * dm.bands / fit_s),
           "seconds_per_cube": {k: round(float(np.mean(v)), 3) for k, v in model.seconds.items()},
           **{k: round(float(v), 4) for k, v in m.items()}}
    title, columns, rows = model.test_table(m)
    print(f"\n## test scene {scene} ({dm.source}), {epochs} epochs, fit {fit_s:.0f} s, "
          f"{row['patches_per_s']} patches/s ({dm.patch}x{dm.patch}x{dm.bands})")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for r in rows:
        print("| " + " | ".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in r) + " |")

    # tiled against whole on the test scene (sigma 50)
    item = next(i for i in dm.test_set.items if i["case"] == "gaussian50") if any(
        i["case"] == "gaussian50" for i in dm.test_set.items) else dm.test_set.items[0]
    net = model.net.eval().to("cuda" if torch.cuda.is_available() else "cpu")
    x = item["x"][None].to(next(net.parameters()).device)
    with torch.no_grad(), torch.autocast(x.device.type, torch.bfloat16, enabled=x.device.type == "cuda"):
        whole = net(x).float()
        tile = max(32, min(x.shape[-2:]) // 2)
        pieces = tiled(net, x, tile=tile, overlap=tile // 4).float()
    row["tiled_vs_whole_db"] = round(float(mpsnr(pieces[0].clamp(0, 1), whole[0].clamp(0, 1))), 2)
    row["tiled_minus_whole_psnr_db"] = round(float(mpsnr(pieces[0].clamp(0, 1), item["y"].to(x.device))) -
                                             float(mpsnr(whole[0].clamp(0, 1), item["y"].to(x.device))), 3)
    print(f"tiled ({tile} px, overlap {tile // 4}) vs whole: {row['tiled_vs_whole_db']} dB apart; "
          f"PSNR difference to the clean cube {row['tiled_minus_whole_psnr_db']:+.3f} dB")

    # speed on a 512 x 512 x 31 cube: the test scene tiled 2 x 2 (or cropped)
    clean = item["y"].numpy()
    big = np.tile(clean, (1, -(-512 // clean.shape[1]), -(-512 // clean.shape[2])))[:31, :512, :512]
    noisy = torch.from_numpy(add_noise(big, "gaussian50", seed=0)[0])[None].to(x.device)

    def denoise():
        with torch.no_grad(), torch.autocast(x.device.type, torch.bfloat16, enabled=x.device.type == "cuda"):
            return tiled(net, noisy, tile=args.tile, overlap=args.tile // 8)

    row["seconds_512x512x31"] = round(_seconds(denoise), 4)
    print(f"512 x 512 x {noisy.shape[1]} cube denoised in {row['seconds_512x512x31']:.3f} s "
          f"(tile {args.tile}) on {row.get('device', _device())}")
    return row


def _device() -> str:
    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--scenes", default="chart_and_stuffed_toy,cloth", help="test scenes, one run each")
    p.add_argument("--test-noise", default="gaussian30,gaussian50,gaussian70,blind")
    p.add_argument("--epochs", type=int, default=None, help="default: the pipeline's max_epochs")
    p.add_argument("--max-minutes", type=float, default=None, help="stop training after this long (the best "
                   "validation epoch so far is tested)")
    p.add_argument("--model-json", default="{}", help="HSIDenoiser arguments, e.g. '{\"d_model\": 64}'")
    p.add_argument("--data-json", default="{}", help="HSIDenoiseDataModule arguments, e.g. '{\"patch_size\": 64}'")
    p.add_argument("--tile", type=int, default=512, help="tile for the 512 x 512 timing (512: whole cube)")
    p.add_argument("--bm4d", action="store_true", help="add BM4D (the bm4d package) to the baselines")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"device: {_device()}, commit {_commit()}, command: {' '.join(sys.argv)}")
    rows = [run(s, args) for s in args.scenes.split(",")]
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": _device(), "commit": _commit(), "command": sys.argv, "runs": rows}, f, indent=1)


if __name__ == "__main__":
    main()

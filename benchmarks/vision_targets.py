"""Issue-7 image targets: MNIST accuracy (patch model, sequential, permuted) and 224x224 throughput.

    python benchmarks/vision_targets.py throughput [--batch 128] [--steps 20]
    python benchmarks/vision_targets.py mnist --data-dir ../shared/data --model ssmkit_vim_mnist \
        [--options '{"embed_dim": 64}'] [--epochs 30] [--scan hilbert] [--lr 2e-3]

``throughput``: images/s of ssmkit_vim_tiny, ssmkit_vmamba_tiny and timm's vit_tiny_patch16_224 (training:
forward + backward + AdamW step; inference: forward under no_grad), bf16 autocast, random 224x224 images,
measured in the same process. ``mnist``: the classify pipeline on the 8,000 MNIST digits with the 80/20
stratified split (10% of all for validation), the best validation epoch tested.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import warnings

import torch


def _images_per_second(step, batch: int, steps: int, warmup: int) -> float:
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return round(batch * steps / (time.perf_counter() - start), 1)


def _measure(name: str, args) -> dict:
    """Training and inference images/s of one timm model on random (batch, 3, 224, 224) images."""
    import timm

    model = timm.create_model(name).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch, 3, 224, 224, device="cuda")
    y = torch.randint(0, 1000, (args.batch,), device="cuda")

    def train_step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    def infer_step():
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            model(x)

    result = {"model": name, "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2)}
    torch.cuda.reset_peak_memory_stats()
    model.train()
    result["train_img_s"] = _images_per_second(train_step, args.batch, args.steps, args.warmup)
    result["train_peak_GiB"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    model.eval()
    result["infer_img_s"] = _images_per_second(infer_step, args.batch, args.steps, args.warmup)
    return result


def throughput(args) -> None:
    import ssmkit_vision.models  # noqa: F401  (registers the ssmkit_* names in timm)

    for name in args.models.split(","):
        print(json.dumps(_measure(name, args)), flush=True)
        torch.cuda.empty_cache()
    print(f"device: {torch.cuda.get_device_name()}, batch {args.batch}, bf16 autocast")


def mnist(args) -> None:
    import pytorch_lightning as pl
    from pytorch_lightning.callbacks import ModelCheckpoint

    from ssmkit import registry

    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    pl.seed_everything(args.seed, verbose=False)
    pipe = registry.get("pipelines", "vision/classify")
    model = {"model": args.model, "options": json.loads(args.options), "lr": args.lr, "confusion_png": False,
             "label_smoothing": args.label_smoothing}
    if args.scan:
        model["scan"] = args.scan
    data = {"dataset": "vision/mnist", "data_dir": args.data_dir, "batch_size": args.batch,
            "num_workers": args.workers, **json.loads(args.data)}
    dm, net = pipe.instantiate(model=model, data=data)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = ModelCheckpoint(dirpath=tmp, monitor="val/acc", mode="max")
        trainer = pl.Trainer(max_epochs=args.epochs, logger=False, callbacks=[ckpt], enable_progress_bar=False,
                             max_time={"minutes": args.max_minutes} if args.max_minutes else None,
                             enable_model_summary=False, gradient_clip_val=1.0,
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true")
        start = time.perf_counter()
        trainer.fit(net, datamodule=dm)
        seconds = time.perf_counter() - start
        result = trainer.test(net, datamodule=dm, ckpt_path=ckpt.best_model_path or None, verbose=False)[0]
    out = {"model": args.model, "scan": args.scan, "options": args.options, "epochs": args.epochs,
           "epochs_run": trainer.current_epoch,
           "best_val_acc": None if ckpt.best_model_score is None else round(float(ckpt.best_model_score), 4),
           **{k: round(v, 4) for k, v in result.items()}, "train_s": round(seconds, 1), "data": dm.source,
           "test_size": len(dm.test_set)}
    print(json.dumps(out), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--models", default="ssmkit_vim_tiny,ssmkit_vmamba_tiny,vit_tiny_patch16_224")
    t.add_argument("--batch", type=int, default=128)
    t.add_argument("--steps", type=int, default=20)
    t.add_argument("--warmup", type=int, default=5)
    m = sub.add_parser("mnist")
    m.add_argument("--data-dir", required=True)
    m.add_argument("--model", default="ssmkit_vim_mnist")
    m.add_argument("--options", default="{}")
    m.add_argument("--data", default="{}", help="extra data-module arguments as JSON (augment, mixup...)")
    m.add_argument("--scan", default=None)
    m.add_argument("--epochs", type=int, default=30)
    m.add_argument("--lr", type=float, default=2e-3)
    m.add_argument("--label-smoothing", type=float, default=0.0)
    m.add_argument("--batch", type=int, default=128)
    m.add_argument("--workers", type=int, default=4)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--max-minutes", type=float, default=None,
                   help="stop training after this long (the learning-rate schedule still spans --epochs)")
    args = parser.parse_args()
    throughput(args) if args.what == "throughput" else mnist(args)


if __name__ == "__main__":
    main()

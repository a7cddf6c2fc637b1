"""Train a spoken-digit classifier on FSDD (or your own clips) from Python, test it, then stream one clip.

    python examples/speech/train.py --data-dir ../shared/data --model spectrogram --split speaker --test-speaker theo
    python examples/speech/train.py --root my_words/ --model raw --epochs 20
"""

import argparse

import pytorch_lightning as pl
import torch

from ssmkit import registry


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=None, help="clips: class folders, Speech Commands, a CSV manifest, or "
                                                "files named {label}_{speaker}_{index}.wav (default: FSDD)")
    p.add_argument("--data-dir", default=None, help="data directory or local mirror holding speech/fsdd/")
    p.add_argument("--model", default="spectrogram", choices=["spectrogram", "raw"])
    p.add_argument("--split", default="auto", choices=["auto", "lists", "random", "speaker", "fsdd"])
    p.add_argument("--test-speaker", default=None, help="with --split speaker: the held-out speaker")
    p.add_argument("--sample-rate", type=int, default=8000)
    p.add_argument("--epochs", type=int, default=10)
    args = p.parse_args()

    pl.seed_everything(0)
    pipeline = registry.get("pipelines", "speech/classify")
    dm, model = pipeline.instantiate(
        model={"model": args.model},  # the pipeline defaults (d_model 64 spectrogram, 128 raw; 2 layers a stage)
        data={"root": args.root, "data_dir": args.data_dir, "split": args.split, "sample_rate": args.sample_rate,
              "test_speakers": [args.test_speaker] if args.test_speaker else None, "batch_size": 32},
    )
    best = pl.callbacks.ModelCheckpoint(monitor="val/acc", mode="max")
    trainer = pl.Trainer(max_epochs=args.epochs, gradient_clip_val=1.0, logger=False,
                         default_root_dir="runs/example-speech", callbacks=[best])
    trainer.fit(model, datamodule=dm)
    metrics = trainer.test(model, datamodule=dm, ckpt_path="best", verbose=False)[0]
    print(f"data: {dm.source}; speakers {dm.split_speakers}")
    print(f"test accuracy {metrics['test/acc']:.4f}, macro F1 {metrics['test/f1']:.4f}")

    # streaming: the first test clip in 20 ms chunks, the state carried; the logits equal the offline pass
    item = dm.test_set[0]
    model.eval()
    wave = item["x"][item["mask"]]
    streamed, seconds = model.stream(wave, chunk=int(0.02 * args.sample_rate))
    with torch.no_grad():
        offline = model(wave[None])[0]
    print(f"streamed {len(seconds)} chunks, {1000 * sum(seconds) / len(seconds):.2f} ms each, real-time factor "
          f"{sum(seconds) / (len(wave) / args.sample_rate):.4f}; max |streamed - offline| logit "
          f"{float((streamed - offline).abs().max()):.2e}")


if __name__ == "__main__":
    main()

"""FSDD spoken digits: the usual split and leave-one-speaker-out, raw-waveform and spectrogram SSMs, one
configuration for all; an MFCC + RBF-SVM baseline; streaming real-time factor; raw-waveform throughput.

    python benchmarks/speech_fsdd.py --data-dir ../shared/data [--epochs N] [--models spectrogram,raw]
        [--protocols usual,speaker] [--json out.json]

"usual": recordings 0-4 of each speaker and digit are the test set (validation: 10% of the rest).
"speaker": five rotations, each speaker held out in turn for test; ``--speaker-val train`` (default: the
issue's protocol) trains on the four others and validates on a stratified 10% of their clips, ``next`` keeps
the next speaker for validation and trains on three. ``--speakers`` runs some rotations only. The best
validation-accuracy epoch is tested. Also prints the streaming real-time factor of each causal model on one
CPU thread (20 ms chunks) and training clips/s at 16 kHz (L = 16,000) for the raw model.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import tempfile
import time
import warnings

import numpy as np
import pytorch_lightning as pl
import torch

from ssmkit import registry

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo")


def fit_test(model_name: str, data: dict, args) -> tuple[dict, object, object, float]:
    pl.seed_everything(args.seed, verbose=False)
    pipeline = registry.get("pipelines", "speech/classify")
    dm, model = pipeline.instantiate(model={"model": model_name, **json.loads(args.model_json)},
                                     data={"dataset": "speech/fsdd", "data_dir": args.data_dir, "batch_size": 32,
                                           **data, **json.loads(args.data_json)})
    epochs = args.epochs or pipeline.trainer.get("max_epochs", 10)
    with tempfile.TemporaryDirectory() as tmp:
        best = pl.callbacks.ModelCheckpoint(dirpath=tmp, monitor="val/acc", mode="max")
        callbacks = [best] + ([pl.callbacks.EMAWeightAveraging(decay=args.ema)] if args.ema else [])
        trainer = pl.Trainer(max_epochs=epochs, gradient_clip_val=1.0, logger=False, callbacks=callbacks,
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true",
                             enable_progress_bar=False, enable_model_summary=False)
        start = time.perf_counter()
        trainer.fit(model, datamodule=dm)
        seconds = time.perf_counter() - start
        # tested by a trainer without callbacks: one holding the averaging callback (--ema) would restore the raw
        # weights the checkpoint keeps beside the average it stores as its state_dict
        tester = pl.Trainer(logger=False, precision=trainer.precision, enable_progress_bar=False,
                            enable_model_summary=False)
        metrics = tester.test(model, datamodule=dm, ckpt_path=best.best_model_path, verbose=False)[0]
    return {k: round(float(v), 4) for k, v in metrics.items()}, dm, model, len(dm.train_set) * epochs / seconds


def rate_change(model, data: dict, args) -> dict[str, float]:
    """Test accuracy of a trained raw-waveform model on the test clips at ``args.rate_change`` Hz, run natively
    at that rate with and without the SSM step-size rescale (``SpeechClassifier.run_rate``)."""
    pipeline = registry.get("pipelines", "speech/classify")
    out = {}
    for rescale in (True, False):
        moved = copy.deepcopy(model)
        moved.run_rate, moved.rescale_step = args.rate_change, rescale
        dm, _ = pipeline.instantiate(model={"model": "raw"}, data={
            "dataset": "speech/fsdd", "data_dir": args.data_dir, "batch_size": 32, **data,
            **json.loads(args.data_json), "run_rate": args.rate_change})
        trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                             precision="bf16-mixed" if torch.cuda.is_available() else "32-true")
        out["rescaled" if rescale else "unchanged"] = trainer.test(moved, datamodule=dm, verbose=False)[0]["test/acc"]
    return out


def mfcc_svm(dm) -> float | None:
    """20 MFCCs (25/10 ms frames) summarised by mean and std over the clip's real frames, RBF SVM."""
    try:
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC
    except ImportError:
        return None
    from ssmkit_speech.features import Framer, LogMel

    framer, mfcc = Framer(200, 80), LogMel(dm.sample_rate, 200, n_mels=40, n_mfcc=20)

    def feats(ds):
        rows, ys = [], []
        for i in range(len(ds)):
            item = ds[i]
            wave = item["x"][item["mask"]][None]
            f = mfcc(framer.frames(wave))[0]
            rows.append(torch.cat([f.mean(0), f.std(0)]).numpy())
            ys.append(item["y"])
        return np.array(rows), np.array(ys)

    train_set = dm.train_set
    train_set.train = False  # no augmentation, no random crop for the baseline
    (xtr, ytr), (xte, yte) = feats(train_set), feats(dm.test_set)
    train_set.train = True
    scaler = StandardScaler().fit(xtr)
    svm = SVC(kernel="rbf", C=10).fit(scaler.transform(xtr), ytr)
    return float((svm.predict(scaler.transform(xte)) == yte).mean())


def streaming_rtf(model, rate: int, seconds: float = 1.0, chunk_ms: float = 20.0) -> float:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = model.cpu().float().eval()
    wave = torch.randn(int(rate * seconds)) * 0.3
    model.stream(wave, int(rate * chunk_ms / 1000))  # warm-up
    _, times = model.stream(wave, int(rate * chunk_ms / 1000))
    torch.set_num_threads(threads)
    return sum(times) / seconds


def throughput_16k(args) -> float | None:
    """Raw-waveform training clips/s at 16 kHz, 1 s clips (L = 16,000), on the GPU."""
    if not torch.cuda.is_available():
        return None
    from ssmkit_speech.task import SpeechClassifier

    model = SpeechClassifier(num_classes=10, sample_rate=16000, model="raw", **json.loads(args.model_json)).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(64, 16000, device="cuda") * 0.3
    batch = {"y": torch.randint(0, 10, (64,), device="cuda")}
    for step in range(25):
        if step == 5:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model.compute_loss(model(x), batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    return 20 * 64 / (time.perf_counter() - start)


def report_throughput(args) -> float | None:
    """throughput_16k, printed when a GPU timed it."""
    clips_s = throughput_16k(args)
    if clips_s is not None:
        print(f"raw-waveform training at L=16,000 (16 kHz, 1 s clips, batch 64, bf16): {clips_s:.0f} clips/s")
    return clips_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--models", default="spectrogram,raw")
    p.add_argument("--protocols", default="usual,speaker")
    p.add_argument("--epochs", type=int, default=None, help="default: the pipeline's max_epochs")
    p.add_argument("--model-json", default="{}", help="SpeechClassifier arguments, e.g. '{\"d_model\": 128}'")
    p.add_argument("--data-json", default="{}", help="SpeechDataModule arguments, e.g. '{\"augment\": false}'")
    p.add_argument("--speaker-val", choices=("train", "next"), default="train",
                   help="speaker protocol: validate on 10%% of the training speakers' clips (four train), or on the "
                        "next speaker (three train)")
    p.add_argument("--speakers", default=",".join(SPEAKERS), help="speaker protocol: the test speakers to run")
    p.add_argument("--rate-change", type=int, default=0, metavar="HZ",
                   help="raw model: also test each fit on the clips at HZ, run at that rate with and without the "
                        "SSM step-size rescale")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ema", type=float, default=0.0, metavar="DECAY",
                   help="validate, checkpoint and test an exponential moving average of the weights (Lightning's "
                        "EMAWeightAveraging, updated every step)")
    p.add_argument("--json", default=None)
    p.add_argument("--rtf-only", type=int, default=0, metavar="N",
                   help="only time streaming: N runs of 1 s of audio in 20 ms chunks per model (untrained weights: the "
                        "time does not depend on them); prints median, min and max real-time factor on one thread")
    p.add_argument("--throughput-only", action="store_true",
                   help="only time raw-waveform training at L=16,000 on the GPU (clips/s) and exit")
    args = p.parse_args()
    unknown = set(args.speakers.split(",")) - set(SPEAKERS)
    if unknown:
        p.error(f"--speakers: unknown {', '.join(sorted(unknown))}; FSDD's are {', '.join(SPEAKERS)}")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    print(f"device: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu'}")
    if args.throughput_only:
        if report_throughput(args) is None:
            print("no GPU: raw-waveform throughput not timed")
        return
    if args.rtf_only:
        from ssmkit_speech.task import SpeechClassifier

        for name in args.models.split(","):
            torch.manual_seed(args.seed)
            model = SpeechClassifier(model=name, **json.loads(args.model_json))
            rtf = sorted(streaming_rtf(model, model.hparams.sample_rate) for _ in range(args.rtf_only))
            print(f"| {name} | streaming RTF, 1 CPU thread, {args.rtf_only} runs | median {rtf[len(rtf) // 2]:.4f} | "
                  f"min {rtf[0]:.4f} | max {rtf[-1]:.4f} |")
        return
    print("| model | protocol | test speaker | accuracy | macro F1 | MFCC+SVM | train clips/s | stream RTF (1 CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for model_name in args.models.split(","):
        for protocol in args.protocols.split(","):
            if protocol == "usual":
                splits = [(None, {"split": "fsdd"})]
            else:
                def val(i):
                    return [] if args.speaker_val == "train" else [SPEAKERS[(i + 1) % len(SPEAKERS)]]
                splits = [(s, {"split": "speaker", "test_speakers": [s], "val_speakers": val(i)})
                          for i, s in enumerate(SPEAKERS) if s in args.speakers.split(",")]
            accs = []
            for speaker, data in splits:
                m, dm, model, clips_s = fit_test(model_name, data, args)
                baseline = mfcc_svm(dm) if model_name == args.models.split(",")[0] else None
                rtf = streaming_rtf(model, dm.sample_rate)
                accs.append(m["test/acc"])
                row = {"model": model_name, "protocol": protocol, "speaker": speaker, **m, "mfcc_svm": baseline,
                       "clips_per_s": round(clips_s), "stream_rtf": round(rtf, 4)}
                if args.rate_change and model_name == "raw":
                    row["rate_change"] = {"hz": args.rate_change, **rate_change(model, data, args)}
                    print(f"raw model at {args.rate_change} Hz (trained at {dm.sample_rate} Hz): accuracy "
                          f"{row['rate_change']['rescaled']:.4f} with the step-size rescale, "
                          f"{row['rate_change']['unchanged']:.4f} without", flush=True)
                rows.append(row)
                print(f"| {model_name} | {protocol} | {speaker or '-'} | {m['test/acc']:.4f} | {m['test/f1']:.4f} | "
                      f"{'-' if baseline is None else f'{baseline:.4f}'} | {row['clips_per_s']} | {rtf:.4f} |",
                      flush=True)
            if len(accs) > 1:
                print(f"| {model_name} | {protocol} | mean (min) | {np.mean(accs):.4f} ({min(accs):.4f}) | | | | |")
    clips_s = report_throughput(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "raw_clips_per_s_16k": clips_s, "ema": args.ema}, f, indent=1)


if __name__ == "__main__":
    main()

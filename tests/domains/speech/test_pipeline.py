"""The classify pipeline: fit/test/predict (streaming too) through the console script on written files, bad
input as one line, and a short fit on the real FSDD with unseen speakers."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl

from ssmkit import registry

from .conftest import WORDS, tone

BIN = Path(sys.executable).parent
SSMKIT = shutil.which("ssmkit", path=str(BIN)) or shutil.which("ssmkit")


def _cli(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([SSMKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_plugin_registers_datasets_and_pipeline():
    assert {"speech/fsdd", "speech/speech_commands"} <= set(registry.items("datasets"))
    fsdd = registry.get("datasets", "speech/fsdd")
    assert len(fsdd.files) == 2500 and fsdd.licence == "CC BY-SA 4.0"
    assert fsdd.files[0].path == "speech/fsdd/0_george_0.wav" and fsdd.files[0].url.endswith("/0_george_0.wav")
    sc = registry.get("datasets", "speech/speech_commands")
    assert sc.licence == "CC BY 4.0" and len(sc.files[0].sha256) == 64
    pipe = registry.get("pipelines", "speech/classify")
    assert pipe.demo["data"]["dataset"] == "speech/fsdd" and pipe.monitor == "val/acc"


def test_fit_test_predict_through_the_console_script(tmp_path, tone_folders, write_audio):
    assert SSMKIT, "the ssmkit console script is not installed"
    new = [write_audio(tmp_path / "new" / f"{w}.wav", tone(f, 16000, 0.4, seed=9), 16000) for w, f in WORDS.items()]
    common = ["--model.d_model", "8", "--model.n_layers", "1", "--data.root", str(tone_folders), "--data.split",
              "random", "--data.val_fraction", "0.2", "--data.test_fraction", "0.2", "--data.clip_seconds", "0.5",
              "--data.batch_size", "8"]
    fit = _cli(["speech", "classify", "fit", "--trainer.max_epochs", "2", *common], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "val/acc" in fit.stdout and "data: real: words (folders)" in fit.stdout, fit.stdout[-2000:]
    ckpts = sorted((tmp_path / "runs" / "speech-classify").rglob("last.ckpt"))
    assert len(ckpts) == 1, fit.stdout[-2000:]
    assert "d_model: 8" in (ckpts[0].parent.parent / "config.yaml").read_text()

    test = _cli(["speech", "classify", "test", "--ckpt_path", str(ckpts[0])], tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "test/acc" in test.stdout and "test/f1" in test.stdout
    pngs = list((tmp_path / "runs").rglob("confusion_matrix.png"))
    assert len(pngs) == 1 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    out = tmp_path / "out" / "pred.csv"
    pred = _cli(["speech", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path",
                 str(tmp_path / "new"), "--model.streaming", "true", "--model.chunk_ms", "20", "--output", str(out)],
                tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    assert "real-time factor" in pred.stdout, pred.stdout[-2000:]
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["path"] for r in rows] == [str(p) for p in sorted(new)]
    assert {r["label"] for r in rows} <= set(WORDS) and all(0 < float(r["probability"]) <= 1 for r in rows)
    assert [p.name for p in out.parent.iterdir()] == ["pred.csv"]  # no temporary left behind

    # a timeline over a long recording: windows of clip_seconds every window_hop seconds; a window holds the same
    # row as that stretch of audio predicted as a file of its own; the silent stretch is labelled so
    import numpy as np

    rate = 8000
    low, high = tone(WORDS["low"], rate, 0.5, seed=3), tone(WORDS["high"], rate, 0.5, seed=4)
    long = write_audio(tmp_path / "long" / "talk.wav", np.concatenate([low, np.zeros(rate // 2, np.float32), high]),
                       rate)
    pieces = [write_audio(tmp_path / "pieces" / f"{k}.wav", w, rate) for k, w in ((0, low), (4, high))]
    timeline, plain = tmp_path / "timeline.csv", tmp_path / "pieces.csv"
    for where, dest, extra in ((long, timeline, ["--data.window_hop", "0.25"]), (pieces[0].parent, plain, [])):
        run = _cli(["speech", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(where),
                    "--output", str(dest), *extra], tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
    with open(timeline, newline="") as handle:
        windows = list(csv.DictReader(handle))
    with open(plain, newline="") as handle:
        alone = list(csv.DictReader(handle))
    assert [(float(w["start"]), float(w["end"])) for w in windows] == [(k * 0.25, k * 0.25 + 0.5) for k in range(5)]
    assert windows[2]["label"] == "(silence)" and float(windows[2]["probability"]) == 0.0
    assert {w["label"] for k, w in enumerate(windows) if k != 2} <= set(WORDS)
    for k, row in zip((0, 4), alone):
        assert windows[k]["label"] == row["label"]
        assert float(windows[k]["probability"]) == pytest.approx(float(row["probability"]), abs=1e-5)

    # another rate without resampling is for raw-waveform models: this spectrogram model says so in one line
    wrong = _cli(["speech", "classify", "test", "--ckpt_path", str(ckpts[0]), "--data.run_rate", "4000"], tmp_path)
    assert wrong.returncode != 0 and "resample the audio" in wrong.stderr.strip().splitlines()[-1], wrong.stderr[-2000:]
    assert "Traceback" not in wrong.stderr

    # the class names come from the checkpoint: no training data needed to predict
    moved = tone_folders.rename(tmp_path / "gone")
    try:
        again = tmp_path / "again.csv"
        pred = _cli(["speech", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path",
                     str(tmp_path / "new"), "--output", str(again)], tmp_path)
        assert pred.returncode == 0, pred.stderr[-3000:]
        with open(again, newline="") as handle:
            assert [(r["path"], r["label"]) for r in csv.DictReader(handle)] == [(r["path"], r["label"]) for r in rows]
    finally:
        moved.rename(tone_folders)


def test_bad_input_fails_with_one_line(tmp_path, tone_folders):
    (tone_folders / "low" / "quiet.wav").write_bytes((tone_folders / "low" / "spk0_nohash_0.wav").read_bytes()[:44])
    res = _cli(["speech", "classify", "fit", "--data.root", str(tone_folders), "--trainer.max_epochs", "1"], tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("ssmkit: error:")]
    assert len(errors) == 1 and "quiet.wav" in errors[0], res.stderr[-3000:]


@pytest.mark.slow  # 12-19 s on one CPU core
def test_short_fit_on_fsdd_unseen_speaker_beats_chance(shared_data):
    pl.seed_everything(0)
    pipe = registry.get("pipelines", "speech/classify")
    dm, model = pipe.instantiate(
        model={"d_model": 32, "n_layers": 2, "hop_ms": 16, "win_ms": 32, "lr": 1e-2},
        data={"dataset": "speech/fsdd", "data_dir": str(shared_data), "split": "speaker", "test_speakers": ["jackson"],
              "val_speakers": ["theo"], "clip_seconds": 0.8, "batch_size": 32})
    trainer = pl.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, gradient_clip_val=1.0)
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert dm.source == "real: FSDD" and dm.split_speakers["test"] == ["jackson"]
    assert "jackson" not in dm.split_speakers["train"] + dm.split_speakers["val"]
    assert len(dm.test_set) == 500 and len(dm.train_set) == 1500
    assert m["test/acc"] > 0.4, m  # chance is 0.1

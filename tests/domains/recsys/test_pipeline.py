"""The next-item pipeline end to end: a short fit on real Beauty against popularity, and fit/test/predict
(and bad input) through the console script on a written log."""

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytorch_lightning as pl

from ssmkit import registry
from ssmkit.cli.main import main

BIN = Path(sys.executable).parent
SSMKIT = shutil.which("ssmkit", path=str(BIN)) or shutil.which("ssmkit")


def _cli(args, cwd):
    """The console script in a subprocess (what a user runs; ~7 s of imports each)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([SSMKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


class _Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def _main(args, capsys):
    """``ssmkit ARGS`` through the console script's own ``main``, in this process (no start-up cost)."""
    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr()
    return _Result(code, out.out, out.err)


def test_short_fit_on_beauty_beats_popularity(shared_data):
    """The demo's recipe on the same slice of real Beauty, two epochs."""
    pl.seed_everything(0)
    pipe = registry.get("pipelines", "recsys/next-item")
    demo = pipe.demo
    dm, model = pipe.instantiate(model=demo["model"], data={**demo["data"], "data_dir": str(shared_data)})
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, gradient_clip_val=1.0,
                         num_sanity_val_steps=0, limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert dm.source == "real: Beauty (first 6000 users), 5-core"
    assert m["test/hr@10"] > m["test/popularity/hr@10"] and m["test/ndcg@10"] > m["test/popularity/ndcg@10"], m


def _write_pairs(path: Path, n_users: int = 40, seed: int = 0) -> Path:
    """'user item' lines in time order; users walk a cycle of 15 items, so the next item is learnable."""
    rng = np.random.default_rng(seed)
    cursors = {f"user{u}": int(rng.integers(0, 15)) for u in range(n_users)}
    lines = []
    for _ in range(8):
        for user in cursors:
            cursors[user] = (cursors[user] + 1) % 15
            lines.append(f"{user} sku-{cursors[user]}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_fit_test_predict_through_the_console_script(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = _write_pairs(tmp_path / "log.txt")
    new = tmp_path / "new.csv"
    new.write_text("user,item,timestamp\nzoe,sku-3,2\nzoe,sku-2,1\nmax,sku-9,5\n")
    common = ["--model.options", '{"d_model": 16}', "--data.path", str(log), "--data.max_len", "8",
              "--data.batch_size", "16"]
    fit = _main(["recsys", "next-item", "fit", "--trainer.max_epochs", "2", *common], capsys)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "val/ndcg@10" in fit.stdout and "data: real: log.txt" in fit.stdout, fit.stdout[-2000:]
    ckpts = sorted((tmp_path / "runs" / "recsys-next-item").rglob("last.ckpt"))
    assert len(ckpts) == 1, fit.stdout[-2000:]
    run = ckpts[0].parent.parent
    assert (run / "vocab.json").exists() and "d_model: 16" in (run / "config.yaml").read_text()

    test = _main(["recsys", "next-item", "test", "--ckpt_path", str(ckpts[0])], capsys)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "full ranking over all 15 items" in test.stdout and "popularity (baseline)" in test.stdout, test.stdout
    assert "ndcg@10" in test.stdout and "mamba4rec" in test.stdout

    out = tmp_path / "out" / "top.csv"
    pred = _main(["recsys", "next-item", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(new),
                 "--data.top_k", "3", "--output", str(out)], capsys)
    assert pred.returncode == 0, pred.stderr[-3000:]
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["user", "rank", "item", "score"]
    assert [(r[0], r[1]) for r in rows[1:]] == [(u, str(k)) for u in ("zoe", "max") for k in (1, 2, 3)]
    assert all(r[2].startswith("sku-") for r in rows[1:])
    assert "sku-2" not in {r[2] for r in rows[1:4]} and "sku-3" not in {r[2] for r in rows[1:4]}  # history excluded
    assert [p.name for p in out.parent.iterdir()] == ["top.csv"]  # no temporary left behind

    # a top_k beyond the catalogue: only the items left after the history, never padding or -inf rows
    out_all = tmp_path / "all.csv"
    pred = _main(["recsys", "next-item", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(new),
                 "--data.top_k", "500", "--output", str(out_all)], capsys)
    assert pred.returncode == 0, pred.stderr[-3000:]
    with open(out_all, newline="") as handle:
        rows = list(csv.DictReader(handle))
    zoe = [r["item"] for r in rows if r["user"] == "zoe"]
    assert len(zoe) == 13 and len(set(zoe)) == 13 and not {"sku-2", "sku-3", ""} & set(zoe)
    assert all(float(r["score"]) > float("-inf") for r in rows)

    # predict from the saved vocabulary alone (no training log needed)
    out2 = tmp_path / "top2.csv"
    pred = _main(["recsys", "next-item", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(new),
                 "--data.vocab", str(run / "vocab.json"), "--data.path", str(tmp_path / "gone.txt"),
                 "--data.top_k", "3", "--output", str(out2)], capsys)
    assert pred.returncode == 0, pred.stderr[-3000:]
    assert out2.read_text() == out.read_text()

    # an unknown item at predict time: one line naming the file and line
    bad = tmp_path / "bad.txt"
    bad.write_text("ann sku-1 sku-2\nbob sku-4 sku-404\n")
    res = _main(["recsys", "next-item", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path", str(bad),
                "--output", str(tmp_path / "never.csv")], capsys)
    line = _one_error_line(res, "bad.txt")
    assert "line 2" in line and "'sku-404'" in line and not (tmp_path / "never.csv").exists()

    # another catalogue than the checkpoint's: one line, before any weight is loaded
    other = _write_pairs(tmp_path / "other.txt", n_users=10)
    other.write_text(other.read_text().replace("sku-14", "sku-1"))  # 14 items, the checkpoint has 15
    res = _main(["recsys", "next-item", "test", "--ckpt_path", str(ckpts[0]), "--data.path", str(other)], capsys)
    assert res.returncode == 2 and "ssmkit: error:" in res.stderr, res.stderr[-2000:]
    assert "trained on 15 items, the data has 14" in res.stderr


def _one_error_line(res, name: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("ssmkit: error:")]
    assert len(errors) == 1 and name in errors[0], res.stderr[-3000:]
    return errors[0]


def test_bad_inputs_fail_with_one_line(tmp_path, capsys, monkeypatch):
    assert SSMKIT, "the ssmkit console script is not installed"
    empty = tmp_path / "hist.txt"
    empty.write_text("1 5 6 7\n2\n3 5 6 8\n")
    res = _cli(["recsys", "next-item", "fit", "--data.path", str(empty), "--trainer.max_epochs", "1"], tmp_path)
    line = _one_error_line(res, "hist.txt")
    assert "line 2" in line and "empty history" in line
    broken = tmp_path / "log.csv"
    broken.write_text("user,item,timestamp\na,x,1\na,y,2\na,z,soon\n")
    monkeypatch.chdir(tmp_path)
    res = _main(["recsys", "next-item", "fit", "--data.path", str(broken), "--trainer.max_epochs", "1"], capsys)
    line = _one_error_line(res, "log.csv")
    assert "line 4" in line and "'soon'" in line
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.ckpt"))

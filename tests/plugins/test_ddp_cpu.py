"""Two processes on the CPU (DDP over gloo) through the real console script: fit launched by torchrun with the
README's example config reports once into one run folder; predict, launched by Lightning itself, writes one file,
every input once and in input order, equal to a one-process predict of the same checkpoint."""

import csv
import shutil

import pytest

from .test_template import BIN, ROOT, SSMKIT, _run, _write_csv

TORCHRUN = shutil.which("torchrun", path=str(BIN)) or shutil.which("torchrun")
CONFIG = ROOT / "examples" / "multi_gpu" / "ddp.yaml"
ON_CPU = ["--trainer.accelerator", "cpu", "--trainer.precision", "32-true", "--trainer.sync_batchnorm", "false"]

DDP = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"]


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_process_fit_and_predict(tmp_path):
    data = _write_csv(tmp_path / "d.csv", n=90)
    new = _write_csv(tmp_path / "new.csv", n=33, seed=1, label=False)
    fit = _run(["--nproc_per_node", "2", SSMKIT, "template", "classify", "fit", "--config", str(CONFIG), *ON_CPU,
                "--data.path", str(data), "--data.batch_size", "4", "--model.d_model", "8", "--model.n_layers", "1",
                "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false"], tmp_path,
               env={"OMP_NUM_THREADS": "1"}, exe=TORCHRUN)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "All distributed processes registered. Starting with 2 processes" in fit.stdout + fit.stderr
    assert fit.stdout.count("best checkpoint:") == 1 and fit.stdout.count("run folder:") == 1  # rank 0 reports
    versions = list((tmp_path / "runs/template-classify/lightning_logs").iterdir())
    assert [v.name for v in versions] == ["version_0"]  # one run folder, not one per rank
    ckpt = versions[0] / "checkpoints" / "last.ckpt"
    assert ckpt.is_file()

    outputs = {}
    for name, extra in (("two", DDP), ("one", ["--trainer.accelerator", "cpu", "--trainer.devices", "1"])):
        out = tmp_path / f"{name}.csv"
        run = _run(["template", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path", str(new),
                    "--output", str(out), *extra], tmp_path, env={"OMP_NUM_THREADS": "1"})
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.stdout.count(f"wrote {out}") == 1
        outputs[name] = _rows(out)
    two, one = outputs["two"], outputs["one"]
    assert [r["index"] for r in two] == [str(i) for i in range(33)]
    assert [r["label"] for r in two] == [r["label"] for r in one]
    for a, b in zip(two, one):
        assert float(a["probability"]) == pytest.approx(float(b["probability"]), abs=1e-6)

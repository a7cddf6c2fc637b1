"""Two processes on the CPU (DDP over gloo) through the real console script: fit launched by torchrun with the
README's example config reports once into one run folder; predict, launched by Lightning itself, writes one file,
every input once and in input order, equal to a one-process predict of the same checkpoint; a two-process fit
killed (SIGKILL, every process) in mid-epoch resumes to the weights of an uninterrupted one."""

import csv
import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

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


def test_two_process_fit_killed_mid_epoch_resumes_to_the_uninterrupted_weights(tmp_path):
    """Each process trains on its shard of the seeded order; the checkpoint holds the shard's place in the epoch,
    so the resumed run trains the same batches as the uninterrupted one (gloo on the CPU is deterministic)."""
    import torch

    data = _write_csv(tmp_path / "d.csv", n=100)
    args = ["template", "classify", "fit", *DDP, "--trainer.precision", "32-true", "--data.path", str(data),
            "--data.batch_size", "4", "--model.d_model", "8", "--model.n_layers", "1", "--model.dropout", "0.1",
            "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
            "--last_checkpoint.every_n_steps", "5"]
    env = {"OMP_NUM_THREADS": "1"}
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    whole = _run(args, tmp_path / "a", env=env)
    assert whole.returncode == 0, whole.stderr[-3000:]

    def last(folder, version):
        return Path(folder) / f"runs/template-classify/lightning_logs/version_{version}/checkpoints/last.ckpt"

    # killed as a scheduler kills a job: SIGKILL to the process group (the launcher and the process it started)
    proc = subprocess.Popen([SSMKIT, *args], cwd=tmp_path / "b", stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **env}, start_new_session=True)
    deadline = time.monotonic() + 300
    while not last(tmp_path / "b", 0).exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    killed = torch.load(last(tmp_path / "b", 0), weights_only=True)
    a = torch.load(last(tmp_path / "a", 0), weights_only=True)
    per_epoch = a["global_step"] // 2
    from ssmkit import registry

    dm = registry.get("pipelines", "template/classify").data_class(path=str(data), batch_size=4)
    dm.setup("fit")
    assert per_epoch == math.ceil(math.ceil(len(dm.train_set) / 2) / 4)  # each process trained on half the rows
    assert 0 < killed["global_step"] < 2 * per_epoch and killed["global_step"] % per_epoch != 0  # mid-epoch
    resumed = _run([*args, "--ckpt_path", "last"], tmp_path / "b", env=env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    b = torch.load(last(tmp_path / "b", 1), weights_only=True)
    assert a["global_step"] == b["global_step"] == 2 * per_epoch
    for name, value in a["state_dict"].items():
        assert torch.allclose(value, b["state_dict"][name], rtol=0, atol=1e-6), name

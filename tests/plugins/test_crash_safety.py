"""Stopped (SIGTERM) or killed (SIGKILL) runs resume with `fit --ckpt_path last`, through the console script."""

import signal
import subprocess
import time
from pathlib import Path

import torch

from .test_template import SSMKIT, _run, _write_csv


def _common(data, epochs):
    return ["template", "classify", "fit", "--data.path", str(data), "--data.batch_size", "4", "--model.d_model", "8",
            "--model.n_layers", "1", "--model.dropout", "0.1", "--trainer.max_epochs", str(epochs),
            "--trainer.enable_progress_bar", "false"]


def _steps_per_epoch(data):
    from ssmkit import registry

    dm = registry.get("pipelines", "template/classify").data_class(path=str(data), batch_size=4)
    dm.setup("fit")
    return len(dm.train_dataloader())


def _start_and_wait_for_last(args, cwd):
    """Start a fit; return the process once its first last.ckpt is on disk."""
    proc = subprocess.Popen([SSMKIT, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(Path(cwd).glob("runs/*/lightning_logs/version_0/checkpoints/last.ckpt")):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    return proc


def _last(cwd, version):
    return Path(cwd) / f"runs/template-classify/lightning_logs/version_{version}/checkpoints/last.ckpt"


def test_sigterm_saves_last_and_fit_ckpt_path_last_resumes(tmp_path):
    data = _write_csv(tmp_path / "d.csv", n=100)
    none_yet = _run(["template", "classify", "test", "--ckpt_path", "last"], tmp_path)
    assert none_yet.returncode == 2
    assert "--ckpt_path last: no last.ckpt under runs/template-classify (run `fit` first)" in none_yet.stderr
    proc = _start_and_wait_for_last(_common(data, 50), tmp_path)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-2000:]  # 128 + SIGTERM, documented in PipelineCLI
    assert "ssmkit: stopped by SIGTERM at epoch" in err
    assert (err + out).count("SIGTERM") == 1, err[-2000:]  # one message, not the callback's log line as well
    assert "(resume: ssmkit template classify fit --ckpt_path last)" in err
    stopped = torch.load(_last(tmp_path, 0), weights_only=True)
    assert stopped["global_step"] > 0 and f"step {stopped['global_step']}; saved" in err

    epochs = stopped["epoch"] + 2  # the rest of the epoch it was stopped in, and one more
    resumed = _run([*_common(data, epochs), "--ckpt_path", "last"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"--ckpt_path last: {_last(tmp_path, 0).relative_to(tmp_path)}" in resumed.stdout
    assert "Restored all states from the checkpoint" in resumed.stderr + resumed.stdout
    final = torch.load(_last(tmp_path, 1), weights_only=True)
    assert final["global_step"] == epochs * _steps_per_epoch(data)


def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_weights(tmp_path):
    data = _write_csv(tmp_path / "d.csv", n=100)
    args = [*_common(data, 2), "--last_checkpoint.every_n_steps", "2"]
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    whole = _run(args, tmp_path / "a")
    assert whole.returncode == 0, whole.stderr[-2000:]

    proc = _start_and_wait_for_last(args, tmp_path / "b")
    proc.kill()
    proc.communicate()
    killed = torch.load(_last(tmp_path / "b", 0), weights_only=True)
    per_epoch = _steps_per_epoch(data)
    assert killed["global_step"] % per_epoch != 0  # it died mid-epoch
    resumed = _run([*args, "--ckpt_path", "last"], tmp_path / "b")
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    a = torch.load(_last(tmp_path / "a", 0), weights_only=True)
    b = torch.load(_last(tmp_path / "b", 1), weights_only=True)
    assert a["global_step"] == b["global_step"] == 2 * per_epoch
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, value in a["state_dict"].items():
        assert torch.allclose(value, b["state_dict"][name], rtol=0, atol=1e-6), name

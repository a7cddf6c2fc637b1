"""Fuzzing YAML configs through the command line: ``ssmkit timeseries forecast fit --config FILE`` either accepts
the config (shown with --print_config, so nothing trains) or exits with status 2 and one line on stderr that
names the file. In-process through ``ssmkit.cli.main.main``; one run of the real console script."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'ssmkit[dev]')")
pytest.importorskip("ssmkit_timeseries", reason="the ssmkit-timeseries plug-in is not installed")

from hypothesis import given  # noqa: E402

from ssmkit.cli.main import main  # noqa: E402
from ssmkit.errors import SSMKitError  # noqa: E402

from .conftest import attempt, fuzz_settings, mutated, write_input  # noqa: E402

COMMAND = ["timeseries", "forecast", "fit"]
CONFIG = b"""# a small forecasting run
seed_everything: 1
trainer:
  max_epochs: 1
  accelerator: cpu
  limit_train_batches: 2
model:
  model: patch_mamba
  lr: 0.001
  loss: mse
data:
  dataset: timeseries/ETTh1
  seq_len: 48
  pred_len: 24
  ratios: [0.7, 0.1, 0.2]
  batch_size: 8
  repair: none
"""
SSMKIT = shutil.which("ssmkit", path=str(Path(sys.executable).parent))


class CommandFailed(SSMKitError):
    """The command's one stderr line (exit status 2), as the error the fuzz check expects."""


def _run(config: Path) -> str:
    """main([... fit --config FILE --print_config]) -> the printed config; status 2 -> CommandFailed(its line)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([*COMMAND, "--config", str(config), "--print_config"])
        except SystemExit as exc:  # --print_config exits 0 after printing
            status = exc.code
    lines = err.getvalue().strip().splitlines()
    if status in (0, None):
        return out.getvalue()
    assert status == 2, f"exit status {status}, stderr: {err.getvalue()[-2000:]}"
    assert len(lines) == 1 and lines[0].startswith("ssmkit: error: "), f"stderr is not one line: {err.getvalue()!r}"
    raise CommandFailed(lines[0])


def test_seed_config_is_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = _run(write_input(tmp_path, "run.yaml", CONFIG))
    assert "seq_len: 48" in printed and "max_epochs: 1" in printed


@fuzz_settings(25, deadline_ms=30000)
@given(data=mutated(CONFIG))
def test_config(fuzz_dir, data):
    path = write_input(fuzz_dir, "run.yaml", data)
    cwd = os.getcwd()
    os.chdir(fuzz_dir)  # nothing the command might write lands in the repository
    try:
        attempt("cli --config yaml", lambda: _run(path), path, lambda printed: "trainer:" in printed)
    finally:
        os.chdir(cwd)


def test_console_script_with_a_binary_config(tmp_path):
    """The real process: exit status 2, one line naming the file, no traceback (bytes that are not UTF-8 used to
    escape jsonargparse as a UnicodeDecodeError)."""
    if SSMKIT is None:
        pytest.skip("the ssmkit console script is not installed")
    config = write_input(tmp_path, "bad.yaml", b"\x00\xff\xfe model:\n  lr: 1\n")
    res = subprocess.run([SSMKIT, *COMMAND, "--config", str(config)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 2, res.stderr[-2000:]
    assert res.stderr.strip().splitlines() == [f"ssmkit: error: {config}: not a YAML config (not UTF-8 text: "
                                               "invalid start byte at byte 1)"]

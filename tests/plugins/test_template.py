"""The template plug-in through the real console script, and installed like a third party would."""

import csv
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SSMKIT = shutil.which("ssmkit", path=str(BIN)) or shutil.which("ssmkit")


def _run(args, cwd, env=None, exe=SSMKIT, timeout=600):
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([exe, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


def _write_csv(path, n=90, length=24, seed=0, label=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    t = np.arange(length)
    x = np.where(y[:, None] == 0, np.sin(t / 2.0), np.sign(np.sin(t / 2.0))) + rng.normal(0, 0.2, (n, length))
    with open(path, "w", newline="") as handle:
        w = csv.writer(handle)
        w.writerow((["label"] if label else []) + [f"v{i}" for i in range(length)])
        for yi, row in zip(y, x):
            w.writerow(([["low", "high"][yi]] if label else []) + [f"{v:.3f}" for v in row])
    return path


def test_fit_test_predict_through_the_console_script(tmp_path):
    assert SSMKIT, "the ssmkit console script is not installed"
    data = _write_csv(tmp_path / "train.csv")
    new = _write_csv(tmp_path / "new.csv", n=7, seed=1, label=False)
    common = ["--model.d_model", "16", "--model.n_layers", "1", "--data.path", str(data)]
    fit = _run(["template", "classify", "fit", "--trainer.max_epochs", "1", *common], tmp_path)
    assert fit.returncode == 0, fit.stderr[-2000:]
    run_dir = tmp_path / "runs/template-classify/lightning_logs/version_0"
    config = (run_dir / "config.yaml").read_text()
    assert "d_model: 16" in config and str(data) in config
    ckpt = run_dir / "checkpoints/last.ckpt"
    assert ckpt.exists() and list((run_dir / "checkpoints").glob("best-*.ckpt"))
    assert "val/acc" in fit.stdout

    test = _run(["template", "classify", "test", "--ckpt_path", str(ckpt)], tmp_path)
    assert test.returncode == 0, test.stderr[-2000:]
    assert "test/acc" in test.stdout and "untrained" not in test.stdout
    best = _run(["template", "classify", "test", "--ckpt_path", "best"], tmp_path)  # the newest run's best epoch
    assert best.returncode == 0, best.stderr[-2000:]
    assert "--ckpt_path best: runs/template-classify/lightning_logs/version_0/checkpoints/best-" in best.stdout
    untrained = _run(["template", "classify", "test", *common], tmp_path)
    assert untrained.returncode == 0, untrained.stderr[-2000:]
    assert "warning: `test` without --ckpt_path uses an untrained model" in untrained.stdout

    out = tmp_path / "out" / "pred.csv"
    pred = _run(["template", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path", str(new),
                 "--output", str(out)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-2000:]
    rows = list(csv.DictReader(open(out)))
    assert [int(r["index"]) for r in rows] == list(range(7))
    assert {r["label"] for r in rows} <= {"low", "high"}
    assert all(0.5 <= float(r["probability"]) <= 1.0 for r in rows)
    assert not [p for p in out.parent.iterdir() if p.name != "pred.csv"]  # no temporary left behind

    # class names, row length and scaling come from the checkpoint: no training data needed to predict
    hidden = data.rename(tmp_path / "hidden.csv")
    again = tmp_path / "out" / "again.csv"
    pred = _run(["template", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path", str(new),
                 "--output", str(again)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-2000:]
    assert list(csv.DictReader(open(again))) == rows
    hidden.rename(data)

    resumed = _run(["template", "classify", "fit", "--trainer.max_epochs", "2", "--ckpt_path", str(ckpt), *common],
                   tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Restoring states from the checkpoint" in resumed.stderr + resumed.stdout


def test_print_config_and_bad_input_errors(tmp_path):
    shown = _run(["template", "classify", "fit", "--model.d_model", "24", "--print_config"], tmp_path)
    assert shown.returncode == 0 and "d_model: 24" in shown.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("label,a,b\nx,1,2\ny,3,oops\n")
    res = _run(["template", "classify", "fit", "--data.path", str(bad)], tmp_path)
    assert res.returncode == 2
    last = res.stderr.strip().splitlines()[-1]
    assert last == f"ssmkit: error: {bad}, line 3, column 'b': not a number: 'oops'"
    assert "Traceback" not in res.stderr
    missing = _run(["template", "classify", "fit", "--data.path", str(tmp_path / "nope.csv")], tmp_path)
    assert missing.returncode == 2 and "nope.csv: file not found" in missing.stderr
    unknown = _run(["nosuchdomain", "x", "fit"], tmp_path)
    assert unknown.returncode == 2 and "unknown command or plug-in 'nosuchdomain'" in unknown.stderr
    good = _write_csv(tmp_path / "good.csv", n=12)
    import torch

    (tmp_path / "noise.ckpt").write_bytes(bytes(range(256)) * 8)
    torch.save({"state_dict": {}, "ImageDataModule": {"fitted": {"classes": ["a"]}}}, tmp_path / "other.ckpt")
    for ckpt, says in ((tmp_path / "nope.ckpt", "checkpoint not found"),
                       (tmp_path, "is a folder, not a checkpoint file"),
                       (tmp_path / "noise.ckpt", "not a readable checkpoint ("),
                       (good, "not a readable checkpoint ("),
                       (tmp_path / "other.ckpt", "this checkpoint was trained with the data module ImageDataModule, "
                                                 "not `ssmkit template classify`'s CsvSequenceDataModule")):
        refused = _run(["template", "classify", "predict", "--ckpt_path", str(ckpt), "--data.predict_path", str(good)],
                       tmp_path)  # said before any data is read (not as a missing training file)
        last = refused.stderr.strip().splitlines()[-1]
        assert refused.returncode == 2 and last.startswith(f"ssmkit: error: {ckpt}: {says}"), refused.stderr[-2000:]
        assert "Traceback" not in refused.stderr
    for flags, says in ((["--trainer.strategy", "fsdp", "--trainer.accelerator", "cpu"], "requires a GPU accelerator"),
                        (["--trainer.strategy", "nonsense"], "invalid strategy name")):
        refused = _run(["template", "classify", "fit", "--data.path", str(good), *flags], tmp_path)
        last = refused.stderr.strip().splitlines()[-1]  # Lightning refuses the trainer: one line, no traceback
        assert refused.returncode == 2 and last.startswith("ssmkit: error: --trainer options: ") and says in last
        assert "Traceback" not in refused.stderr


def test_linked_num_classes_and_a_mismatch_is_refused(tmp_path):
    import pytorch_lightning as pl

    from ssmkit import registry
    from ssmkit.errors import DataError

    data = _write_csv(tmp_path / "two.csv", n=30)
    pipeline = registry.get("pipelines", "template/classify")
    dm, model = pipeline.instantiate(model={"d_model": 8, "n_layers": 1}, data={"path": str(data)})
    assert dm.num_classes == 2 and model.hparams.num_classes == 2 and dm.classes == ["high", "low"]
    three = tmp_path / "three.csv"
    three.write_text(data.read_text() + "third," + ",".join(["0.1"] * 24) + "\n")
    # through the CLI the link sets num_classes=3 from the data; in Python a wrong value is refused up front
    ok = _run(["template", "classify", "fit", "--trainer.max_epochs", "1", "--model.d_model", "8",
               "--data.path", str(three)], tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "val/acc" in ok.stdout

    dm3 = pipeline.data_class(path=str(three))
    small = pipeline.model_class(num_classes=2, d_model=8, n_layers=1)
    with pytest.raises(DataError, match="the data has 3 classes but the model has num_classes=2"):
        pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False).fit(
            small, datamodule=dm3)


def test_plugins_listing_and_show(tmp_path):
    listed = _run(["plugins"], tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "template" in listed.stdout and "core" in listed.stdout
    shown = _run(["plugins", "show", "template"], tmp_path)
    assert "template/classify" in shown.stdout and "template/waves" in shown.stdout


def test_data_commands_on_generated_entry(tmp_path):
    res = _run(["data", "fetch", "template/waves", "--data-dir", str(tmp_path / "d")], tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "d/template/waves.csv").exists()
    listed = _run(["data", "list", "--data-dir", str(tmp_path / "d")], tmp_path)
    assert "template/waves" in listed.stdout and "yes" in listed.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    # built from a copy of the sources: setuptools builds in place (build/, *.egg-info), and test processes
    # running side by side (pytest-xdist) would otherwise build in the same folders at once
    src = tmp_path_factory.mktemp("src") / "ssmkit"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", ".gpu*", ".gl", ".whl", ".hypothesis", "runs", "build", "*.egg-info", "__pycache__",
        "tests", "benchmarks", "examples", "domains", "plugins"))
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(out), str(src)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return next(out.glob("ssmkit-*.whl"))


def test_built_wheel_imports_the_same_way(wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    assert "ssmkit/__init__.py" in names and "ssmkit/kernels/__init__.py" in names
    assert not any(n.startswith(("core/", "kernels/", "tests/")) for n in names)
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import ssmkit, ssmkit.kernels, ssmkit.layers; "
            "print(ssmkit.__file__); print(ssmkit.kernels.__file__)")
    res = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert all(line.startswith(str(target)) for line in res.stdout.split())


def test_core_folders_cannot_be_imported_by_accident():
    for name in ("core", "kernels"):
        res = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=ROOT)
        assert res.returncode != 0 and "import ssmkit" in res.stderr


def test_template_installs_into_a_fresh_venv_like_a_third_party(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    code = "import torch, os; print(os.path.dirname(os.path.dirname(torch.__file__)))"
    deps = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    # the heavy dependencies (torch, lightning) come from this environment, read-only, after the venv's own
    Path(site, "zz_deps.pth").write_text(deps + "\n")
    for pkg in (str(wheel), str(ROOT / "plugins" / "template")):
        res = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps",
                              "--no-build-isolation", "-q", pkg], capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, res.stderr
    code = "import ssmkit, ssmkit_template; print(ssmkit.__file__, ssmkit_template.__file__)"
    where = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert all(p.startswith(site) for p in where.stdout.split())  # not the repo's editable copies
    exe = str(venv / "bin" / "ssmkit")
    listed = _run(["plugins"], tmp_path, exe=exe)
    assert "template" in listed.stdout, listed.stdout + listed.stderr
    data = _write_csv(tmp_path / "d.csv", n=40)
    fit = _run(["template", "classify", "fit", "--trainer.max_epochs", "1", "--model.d_model", "8",
                "--model.n_layers", "1", "--data.path", str(data)], tmp_path, exe=exe)
    assert fit.returncode == 0, fit.stderr[-2000:]


def test_predict_refuses_to_write_over_its_input(tmp_path):
    data = _write_csv(tmp_path / "train.csv")
    new = _write_csv(tmp_path / "new.csv", n=5, seed=1, label=False)
    before = new.read_text()
    res = _run(["template", "classify", "predict", "--model.d_model", "8", "--model.n_layers", "1",
                "--data.path", str(data), "--data.predict_path", str(new), "--output", str(new)], tmp_path)
    assert res.returncode == 2, res.stderr[-2000:]
    assert (f"ssmkit: error: {new}: this is an input of the run (or a file in an input folder); predict will not "
            "write over it") in res.stderr
    assert new.read_text() == before and not list(tmp_path.glob(".new.csv*"))

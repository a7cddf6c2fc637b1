"""`ssmkit hyperspectral denoise fit|test|predict` on cubes written here, the demo recipe, and bad input."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from scipy.io import savemat
from ssmkit_hyperspectral.readers import read_cube

from ssmkit import registry
from ssmkit.errors import DataError

from .test_model import smooth_cube

BIN = Path(sys.executable).parent
SSMKIT = shutil.which("ssmkit", path=str(BIN)) or shutil.which("ssmkit")


def _cli(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([SSMKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _as_uint16(cube: np.ndarray) -> np.ndarray:
    """(bands, H, W) in [0, 1] -> (H, W, bands) uint16."""
    return np.round(cube.transpose(1, 2, 0) * 4000 + 100).astype(np.uint16)


def test_fit_test_predict_through_the_console_script(tmp_path):
    assert SSMKIT, "the ssmkit console script is not installed"
    np.save(tmp_path / "a.npy", _as_uint16(smooth_cube(12, 32, 0)).transpose(2, 0, 1))  # (bands, H, W)
    tifffile.imwrite(tmp_path / "b.tif", _as_uint16(smooth_cube(12, 32, 1)).transpose(2, 0, 1))
    savemat(tmp_path / "c.mat", {"rad": _as_uint16(smooth_cube(12, 24, 2))})
    common = ["--model.d_model", "8", "--model.n_blocks", "1", "--model.d_state", "4",
              "--model.spatial_orders", "[row]", "--data.paths", f"[{tmp_path / 'a.npy'},{tmp_path / 'b.tif'}]",
              "--data.test_paths", f"[{tmp_path / 'c.mat'}]", "--data.patch_size", "16", "--data.train_bands", "8",
              "--data.patches_per_epoch", "8", "--data.batch_size", "4", "--data.test_noise", "[gaussian50,stripe]"]
    fit = _cli(["hyperspectral", "denoise", "fit", "--trainer.max_epochs", "1", *common], tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "val/psnr" in fit.stdout and "data: real: train a, b; test c" in fit.stdout, fit.stdout[-2000:]
    ckpts = sorted((tmp_path / "runs" / "hyperspectral-denoise").rglob("last.ckpt"))
    assert len(ckpts) == 1

    test = _cli(["hyperspectral", "denoise", "test", "--ckpt_path", str(ckpts[0])], tmp_path)
    assert test.returncode == 0, test.stderr[-3000:]
    for word in ("gaussian50", "stripe", "noisy", "lowrank", "ssm (this model)", "PSNR", "SSIM", "SAM"):
        assert word in test.stdout, test.stdout[-3000:]

    out = tmp_path / "out" / "den.mat"
    pred = _cli(["hyperspectral", "denoise", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path",
                 str(tmp_path / "c.mat"), "--data.predict_noise", "gaussian30", "--output", str(out)], tmp_path)
    assert pred.returncode == 0, pred.stderr[-3000:]
    cube = read_cube(out)
    assert cube.shape == (24, 24, 12) and cube.data.dtype == np.uint16 and cube.meta["variable"] == "rad"
    assert (tmp_path / "out" / "den_before_after.png").stat().st_size > 10_000
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no temporary left



def test_demo_recipe_reads_the_real_scenes(shared_data):
    pipe = registry.get("pipelines", "hyperspectral/denoise")
    data = {**pipe.demo["data"], "data_dir": str(shared_data)}
    dm, model = pipe.instantiate(model=pipe.demo["model"], data=data)
    dm.setup("fit")
    assert dm.source.startswith("real: train cloth_ms_256, jasperRidge2_R198; test chart_and_stuffed_toy")
    assert [tuple(i["x"].shape) for i in dm.test_set.items] == [(31, 48, 48)]
    assert {tuple(i["x"].shape) for i in dm.val_set.items} == {(31, 6, 48), (198, 6, 48)}
    assert tuple(dm.train_set[0]["x"].shape) == (16, 24, 24)


def test_missing_dataset_and_test_scene(tmp_path):
    pipe = registry.get("pipelines", "hyperspectral/denoise")
    dm, _ = pipe.instantiate(data={"data_dir": str(tmp_path)})
    with pytest.raises(DataError, match="dataset 'hyperspectral/cave' is not in the data directory"):
        dm.setup("fit")
    np.save(tmp_path / "a.npy", np.ones((4, 20, 20), np.float32))
    dm, _ = pipe.instantiate(data={"paths": [str(tmp_path / "a.npy")], "test_scene": "nothing"})
    with pytest.raises(DataError, match="no cube named like test_scene='nothing' among a"):
        dm.setup("fit")

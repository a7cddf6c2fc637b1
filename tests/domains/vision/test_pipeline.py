"""The classify pipeline: the data module on written and real files, a short fit that beats chance widely,
and fit/test/predict (and bad input) through the `ssmkit` command line."""

import csv
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from ssmkit import registry
from ssmkit.cli.main import main
from ssmkit.errors import ConfigError

CLASSES = ("across", "down", "ring")


def bars(n: int, size: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n grey images (n, size, size) uint8 of three easy classes: a horizontal bar, a vertical bar, a ring."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
    y = np.arange(n) % 3
    r, c = np.mgrid[:size, :size]
    for i in range(n):
        at = int(rng.integers(2, size - 2))
        if y[i] == 0:
            x[i, at - 1:at + 1] = 230
        elif y[i] == 1:
            x[i, :, at - 1:at + 1] = 230
        else:
            d = np.hypot(r - size / 2, c - size / 2)
            x[i][(d > size / 4) & (d < size / 4 + 1.5)] = 230
    return x, y


def write_folder(root: Path, n: int, seed: int = 0, labelled: bool = True) -> list[Path]:
    x, y = bars(n, seed=seed)
    paths = []
    for i in range(n):
        path = root / CLASSES[y[i]] / f"img{i:03d}.png" if labelled else root / f"new{i:02d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i]).save(path)
        paths.append(path)
    return paths


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def _data(pipe, **data):
    return pipe.data_class(**{"batch_size": 16, **data})


# ------------------------------------------------------------------------------------------ data module


def test_data_module_on_the_real_mnist_mirror(shared_data):
    dm = _data(registry.get("pipelines", "vision/classify"), data_dir=str(shared_data))
    dm.setup("fit")
    assert dm.source == "real: mnist (8000 images)" and dm.classes == [str(i) for i in range(10)]
    assert (dm.num_classes, dm.channels, dm.img_size) == (10, 1, 28)
    sizes = (len(dm.train_set), len(dm.val_set), len(dm.test_set))  # stratified: rounded per class
    assert sum(sizes) == 8000 and all(abs(a - b) <= 5 for a, b in zip(sizes, (5600, 800, 1600))), sizes
    assert not set(dm.train_set.index) & set(dm.test_set.index)
    item = dm.train_set[0]
    assert item["x"].shape == (1, 28, 28) and abs(dm.mean[0] - 0.13) < 0.01
    assert dm._predict_names[0] == "images-idx3-ubyte.gz#0"


def test_array_and_idx_sources_and_augmentation(tmp_path):
    x, y = bars(60)
    np.savez(tmp_path / "bars.npz", x=x, y=y)
    (tmp_path / "img-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(x)))
    (tmp_path / "lab-idx1-ubyte").write_bytes(_idx(y.astype(np.uint8)))
    pipe = registry.get("pipelines", "vision/classify")
    a = _data(pipe, array=str(tmp_path / "bars.npz"))
    b = _data(pipe, idx_images=str(tmp_path / "img-idx3-ubyte.gz"), idx_labels=str(tmp_path / "lab-idx1-ubyte"))
    for dm in (a, b):
        dm.setup("fit")
        assert dm.classes == ["0", "1", "2"] and dm.img_size == 12 and len(dm.test_set) == 12
    assert torch.equal(a.test_set[3]["x"], b.test_set[3]["x"])
    aug = _data(pipe, array=str(tmp_path / "bars.npz"), augment="timm", auto_augment="rand-m9-mstd0.5",
                re_prob=0.25, img_size=16, mixup=0.8, cutmix=1.0)
    aug.setup("fit")
    assert aug.train_set[0]["x"].shape == (1, 16, 16) and aug.test_set[0]["x"].shape == (1, 16, 16)

    class _Fit:  # the only thing on_after_batch_transfer asks of the trainer
        training = True

    aug.trainer = _Fit()
    batch = next(iter(aug.train_dataloader()))
    mixed = aug.on_after_batch_transfer(batch, 0)
    assert mixed["y"].shape == (16, 3) and torch.allclose(mixed["y"].sum(1), torch.ones(16))


def test_affine_augmentation_shifts_whole_pixels_and_is_identity_at_zero(tmp_path):
    x, y = bars(60)
    np.savez(tmp_path / "bars.npz", x=x, y=y)
    pipe = registry.get("pipelines", "vision/classify")
    plain = _data(pipe, array=str(tmp_path / "bars.npz"))
    still = _data(pipe, array=str(tmp_path / "bars.npz"), augment="affine", degrees=0, translate=0, scale=(1, 1))
    moved = _data(pipe, array=str(tmp_path / "bars.npz"), augment="affine", degrees=0, translate=0.25, scale=(1, 1))
    for dm in (plain, still, moved):
        dm.setup("fit")
    for i in range(5):  # no rotation, shift or zoom: the fast path's pixels
        assert torch.allclose(still.train_set[i]["x"], plain.train_set[i]["x"], atol=1e-5)
    assert still.test_set[0]["x"].shape == (1, 12, 12) and still.test_set.transform is None  # eval: not augmented
    background = float((0 - plain.mean[0]) / plain.std[0])
    shifted = 0
    for i in range(20):
        a, b = plain.train_set[i]["x"][0], moved.train_set[i]["x"][0]
        matches = []  # whole-pixel shifts within +-25% of 12 pixels, black coming in at the edges
        for dy in range(-3, 4):
            for dx in range(-3, 4):
                ref = torch.full_like(a, background)
                ref[max(dy, 0):12 + min(dy, 0), max(dx, 0):12 + min(dx, 0)] = \
                    a[max(-dy, 0):12 + min(-dy, 0), max(-dx, 0):12 + min(-dx, 0)]
                if torch.allclose(b, ref, atol=1e-5):
                    matches.append((dy, dx))
        assert matches, f"item {i} is not a shift of the original"
        shifted += (0, 0) not in matches
    assert shifted >= 10
    with pytest.raises(ConfigError, match="translate"):
        _data(pipe, array=str(tmp_path / "bars.npz"), augment="affine", translate=1.5)


def test_folder_with_train_and_test_subfolders(tmp_path):
    write_folder(tmp_path / "train", 30)
    write_folder(tmp_path / "test", 9, seed=1)
    dm = _data(registry.get("pipelines", "vision/classify"), folder=str(tmp_path), val_fraction=0.2)
    dm.setup("fit")
    assert dm.classes == list(CLASSES) and len(dm.test_set) == 9 and len(dm.train_set) + len(dm.val_set) == 30
    assert dm._predict_names[dm.test_set.index[0]].startswith("test/")
    assert dm.test_set[0]["x"].shape == (1, 12, 12)


def test_short_fit_beats_chance_by_a_wide_margin(tmp_path):
    pl.seed_everything(0)
    x, y = bars(240)
    np.savez(tmp_path / "bars.npz", x=x, y=y)
    pipe = registry.get("pipelines", "vision/classify")
    dm, model = pipe.instantiate(
        model={"model": "ssmkit_vim_mnist", "options": {"embed_dim": 16, "depth": 1, "patch_size": 4},
               "lr": 1e-2, "confusion_png": False},
        data={"array": str(tmp_path / "bars.npz"), "batch_size": 32})
    trainer = pl.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(model, datamodule=dm)
    m = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert m["test/acc"] > 0.8, m  # chance: 1/3
    assert m["test/top5"] == 1.0 and model.last_confusion.sum() == 48


# ------------------------------------------------------------------------------------------ command line


def test_fit_test_predict_through_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_folder(tmp_path / "shapes", 45)
    new = write_folder(tmp_path / "new", 5, seed=2, labelled=False)
    common = ["--model.model", "ssmkit_vim_mnist", "--model.options", '{"embed_dim": 8, "depth": 1, "patch_size": 4}',
              "--data.folder", str(tmp_path / "shapes"), "--data.batch_size", "16"]
    assert main(["vision", "classify", "fit", "--trainer.max_epochs", "1", *common]) == 0
    out = capsys.readouterr().out
    assert "val/acc" in out and "data: real: shapes/" in out, out[-2000:]
    ckpts = sorted((tmp_path / "runs" / "vision-classify").rglob("last.ckpt"))
    assert len(ckpts) == 1
    config = (ckpts[0].parent.parent / "config.yaml").read_text()
    assert "model: ssmkit_vim_mnist" in config and str(tmp_path / "shapes") in config

    assert main(["vision", "classify", "test", "--ckpt_path", str(ckpts[0])]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("test/acc", "test/top5", "test/mean_class_acc")), out[-2000:]
    pngs = sorted((tmp_path / "runs").rglob("confusion_matrix.png"))
    assert len(pngs) == 1 and Image.open(pngs[0]).size[0] > 100
    assert [p.name for p in pngs[0].parent.iterdir() if p.name.startswith(".")] == []

    csv_path = tmp_path / "out" / "pred.csv"
    assert main(["vision", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path",
                 str(tmp_path / "new"), "--output", str(csv_path)]) == 0
    with open(csv_path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", "label", "probability"]
    assert [r[0] for r in rows[1:]] == [p.name for p in new]
    assert {r[1] for r in rows[1:]} <= set(CLASSES) and all(1 / 3 <= float(r[2]) <= 1 for r in rows[1:])
    assert [p.name for p in csv_path.parent.iterdir()] == ["pred.csv"]  # no temporary left behind

    # the checkpoint carries the class names and normalisation: predicting needs no training data
    (tmp_path / "shapes").rename(tmp_path / "gone")
    again = tmp_path / "out" / "again.csv"
    assert main(["vision", "classify", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path",
                 str(tmp_path / "new"), "--output", str(again)]) == 0
    with open(again, newline="") as handle:
        assert list(csv.reader(handle)) == rows


def _one_error_line(capsys, code: int, name: str) -> str:
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("ssmkit: error:")]
    assert len(lines) == 1 and name in lines[0], err[-3000:]
    return lines[0]


def test_bad_inputs_fail_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["vision", "classify", "fit", "--data.folder", str(tmp_path / "nowhere")])
    assert "image folder not found" in _one_error_line(capsys, code, "nowhere")
    (tmp_path / "img-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x02\x00\x00\x00\x02abc")
    (tmp_path / "lab-idx1-ubyte").write_bytes(_idx(np.zeros(5, np.uint8)))
    code = main(["vision", "classify", "fit", "--data.idx_images", str(tmp_path / "img-idx3-ubyte"),
                 "--data.idx_labels", str(tmp_path / "lab-idx1-ubyte")])
    assert "truncated" in _one_error_line(capsys, code, "img-idx3-ubyte")
    write_folder(tmp_path / "shapes", 9)
    code = main(["vision", "classify", "fit", "--data.folder", str(tmp_path / "shapes"), "--model.model",
                 "ssmkit_vim_nope"])
    assert "unknown timm model" in _one_error_line(capsys, code, "ssmkit_vim_nope")
    code = main(["vision", "classify", "fit", "--data.data_dir", str(tmp_path / "empty")])
    assert "ssmkit data fetch vision/mnist" in _one_error_line(capsys, code, "vision/mnist")


@pytest.mark.slow
def test_demo_row_on_real_mnist(shared_data):
    """The pipeline's demo settings on the real digits: well above chance in about 20 s on two cores."""
    pipe = registry.get("pipelines", "vision/classify")
    pl.seed_everything(0)
    dm, model = pipe.instantiate(model=pipe.demo["model"], data={**pipe.demo["data"], "data_dir": str(shared_data)})
    trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, **pipe.demo["trainer"])
    trainer.fit(model, datamodule=dm)
    assert trainer.test(model, datamodule=dm, verbose=False)[0]["test/acc"] > 0.8
    assert dm.source.startswith("real: mnist (8000 images), stratified subset of 300")  # rounded per class

"""The point-cloud half of the vision plug-in: PointMamba/Mamba3D-style models, serialisation orders, the
data module (folders, zips, PLY, HDF5, MNIST as points), and fit/test/predict through the command line."""

import csv
import gzip
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import timm
import torch
from PIL import Image
from ssmkit_vision.datasets import MODELNET10_CLASSES
from ssmkit_vision.mixers import ChannelFlip
from ssmkit_vision.models.point_ssm import SERIAL_ALIASES, PointSSM, serial_orders
from ssmkit_vision.pointcloud_data import (
    SYNTHETIC_CLASSES,
    PointCloudDataModule,
    digit_points,
    synthetic_shapes,
)
from ssmkit_vision.points import read_h5, read_ply, read_points

from ssmkit import registry
from ssmkit.cli.main import main
from ssmkit.errors import ConfigError, DataError
from ssmkit.scan_orders import apply_order

TINY = {"n_groups": 8, "group_size": 8, "embed_hidden": (8, 16), "embed_dim": 16, "depth": 1, "head_hidden": 16}


def write_pcd(path: Path, pts: np.ndarray) -> Path:
    header = (f"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\nWIDTH {len(pts)}\n"
              f"HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(pts)}\nDATA binary\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode() + pts.astype("<f4").tobytes())
    return path


def write_xyz(path: Path, pts: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(f"{v:.5f}" for v in p) for p in pts) + "\n")
    return path


def write_shapes(root: Path, n: int, seed: int = 0, split: str | None = None, suffix: str = ".pcd",
                 points: int = 128) -> list[Path]:
    """n synthetic clouds as root/<class>[/split]/shape<i><suffix>."""
    clouds, labels = synthetic_shapes(n, points, seed)
    paths = []
    for i, (pts, y) in enumerate(zip(clouds, labels)):
        folder = root / SYNTHETIC_CLASSES[y] / (split or "")
        paths.append((write_pcd if suffix == ".pcd" else write_xyz)(folder / f"shape{seed}_{i:03d}{suffix}", pts))
    return paths


def tiny(num_classes: int = 5, **options) -> PointSSM:
    torch.manual_seed(0)
    return timm.create_model("ssmkit_pointmamba_tiny", num_classes=num_classes, **{**TINY, **options})


# ------------------------------------------------------------------------------------------ models


@pytest.mark.parametrize("options", [
    {},
    {"lnp": True, "bidirectional": "channel", "global_pool": "mean+max"},
    {"bidirectional": "sequence", "serial": "zorder,zorder_swap,hilbert", "head_hidden": 0},
    {"fps_start": "random", "serial": ["hilbert"], "global_pool": "max", "mixer": "mamba2",
     "expand": 2, "mixer_options": {"headdim": 8}},
])
def test_model_shapes_and_variants(options):
    model = tiny(**options)
    x = torch.randn(3, 64, 3)
    out = model(x)
    assert out.shape == (3, 5) and torch.isfinite(out).all()
    tokens = model.forward_features(x)
    assert tokens.shape == (3, len(model.orders) * 8, 16)
    out.sum().backward()
    assert model.patch_embed.first[0].weight.grad is not None
    model.reset_classifier(7)
    assert model(x).shape == (3, 7)


def test_registered_models_and_bad_options():
    assert {"ssmkit_pointmamba", "ssmkit_pointmamba_tiny", "ssmkit_mamba3d"} <= set(timm.list_models("ssmkit_*"))
    m3d = timm.create_model("ssmkit_mamba3d", num_classes=10, depth=1, embed_dim=32, embed_hidden=(8, 16))
    assert m3d.patch_embed.lnp and isinstance(m3d.backbone.layers[0].mixer, ChannelFlip)
    assert m3d(torch.randn(2, 128, 3)).shape == (2, 10)
    with pytest.raises(ConfigError, match="unknown serialisation 'peano'"):
        tiny(serial="hilbert,peano")
    with pytest.raises(ConfigError, match="does not sort points"):
        tiny(serial="row")
    with pytest.raises(ConfigError, match="bidirectional='both'"):
        tiny(bidirectional="both")
    with pytest.raises(ValueError, match="32 points per cloud: the model groups 8 x 64"):
        tiny(group_size=64)(torch.randn(1, 32, 3))


def test_channel_flip_is_a_second_pass_over_reversed_channels():
    torch.manual_seed(0)
    mixer = ChannelFlip(8, inner="mamba", share=True, d_state=4)
    x = torch.randn(2, 10, 8)
    f = mixer.fwd
    torch.testing.assert_close(mixer(x), f(x) + f(x.flip(-1)).flip(-1))
    assert not torch.allclose(mixer(x), 2 * f(x))
    assert ChannelFlip(8, d_state=4).bwd is not None  # own weights unless shared
    assert registry.get("mixers", "vision/channel_flip") is ChannelFlip


def test_serialisations_are_permutations_and_hilbert_keeps_neighbours_close():
    torch.manual_seed(0)
    pts = torch.rand(2, 2000, 3)
    random_step = pts[0].diff(dim=0).norm(dim=-1).mean()
    perms = {}
    for name, order in zip(SERIAL_ALIASES, serial_orders(list(SERIAL_ALIASES))):
        perm = order.permutation(coords=pts)
        assert perm.shape == (2, 2000)
        assert torch.equal(perm.sort(-1).values, torch.arange(2000).expand(2, -1)), name
        step = apply_order(pts, perm)[0].diff(dim=0).norm(dim=-1).mean()
        limit = 5 if name.startswith("hilbert") else 3  # Z-order jumps between quadrants
        assert step < random_step / limit, (name, float(step), float(random_step))
        perms[name] = perm
    assert not torch.equal(perms["hilbert"], perms["hilbert_swap"])  # a different path through the points
    assert not torch.equal(perms["zorder"], perms["zorder_swap"])
    assert not torch.equal(perms["hilbert"], perms["zorder"])


def test_logits_do_not_depend_on_the_order_of_the_points():
    torch.manual_seed(1)
    x = torch.randn(3, 200, 3) * torch.tensor([1.0, 0.7, 0.4])
    for options in ({}, {"lnp": True, "bidirectional": "channel", "serial": "hilbert,zorder_swap"}):
        model = tiny(**options)
        model.eval()
        with torch.no_grad():
            base = model(x)
            for seed in range(3):
                perm = torch.randperm(200, generator=torch.Generator().manual_seed(seed))
                torch.testing.assert_close(model(x[:, perm]), base, atol=1e-5, rtol=1e-5)
    # starting FPS from stored point 0 ties the groups to the storage order; keeping point 0 first keeps them
    model = tiny(fps_start="first")
    model.eval()
    perm = torch.cat([torch.zeros(1, dtype=torch.long), torch.randperm(199) + 1])
    with torch.no_grad():
        torch.testing.assert_close(model(x[:, perm]), model(x), atol=1e-5, rtol=1e-5)
        assert not torch.allclose(model(x[:, perm.flip(0)]), model(x), atol=1e-3)


# ------------------------------------------------------------------------------------------ readers


def test_ply_readers(tmp_path):
    pts = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3]], dtype=np.float32)
    head = "ply\nformat {}\ncomment made here\nelement vertex 4\nproperty float x\nproperty float y\n" \
           "property float z\nproperty uchar red\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
    rows = "\n".join(f"{x} {y} {z} 9" for x, y, z in pts)
    (tmp_path / "a.ply").write_text(head.format("ascii 1.0") + rows + "\n3 0 1 2\n")
    np.testing.assert_array_equal(read_ply(tmp_path / "a.ply"), pts)
    table = np.zeros(4, dtype=[("x", ">f4"), ("y", ">f4"), ("z", ">f4"), ("red", "u1")])
    table["x"], table["y"], table["z"] = pts.T
    (tmp_path / "b.ply").write_bytes(head.format("binary_big_endian 1.0").encode() + table.tobytes() + b"\x03")
    np.testing.assert_array_equal(read_points(tmp_path / "b.ply"), pts)
    (tmp_path / "c.ply").write_bytes(head.format("binary_little_endian 1.0").encode() + table.tobytes()[:20])
    with pytest.raises(DataError, match=r"c.ply: binary vertex data is 20 bytes.*truncated"):
        read_ply(tmp_path / "c.ply")
    (tmp_path / "d.ply").write_text(head.format("ascii 1.0") + "0 0 0 1\n1 x 0 1\n" + "0 0 0 1\n" * 2)
    with pytest.raises(DataError, match=r"d.ply, line 13: bad vertex"):
        read_ply(tmp_path / "d.ply")
    (tmp_path / "e.ply").write_text("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n0\n")
    with pytest.raises(DataError, match="e.ply: PLY vertices have no property 'y'"):
        read_ply(tmp_path / "e.ply")


def test_pointnet_h5_files(tmp_path):
    h5py = pytest.importorskip("h5py")
    clouds, labels = synthetic_shapes(40, 64, seed=3)
    for name, part in (("ply_data_train0.h5", slice(0, 32)), ("ply_data_test0.h5", slice(32, 40))):
        with h5py.File(tmp_path / name, "w") as f:
            f["data"] = clouds[part]
            f["label"] = labels[part, None].astype(np.uint8)
    (tmp_path / "shape_names.txt").write_text("\n".join(SYNTHETIC_CLASSES) + "\n")
    x, y = read_h5(tmp_path / "ply_data_test0.h5")
    assert x.shape == (8, 64, 3) and y.tolist() == labels[32:].tolist()
    dm = PointCloudDataModule(h5=str(tmp_path), num_points=32, batch_size=8)
    dm.setup("fit")
    assert dm.classes == list(SYNTHETIC_CLASSES) and not dm.test_is_val
    assert len(dm.train_set) + len(dm.val_set) == 32 and len(dm.test_set) == 8
    assert {dm._predict_names[i].split("#")[0] for i in dm.splits["test"]} == {"ply_data_test0.h5"}
    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f["points"] = clouds
    with pytest.raises(DataError, match="bad.h5: no point array 'data'"):
        read_h5(tmp_path / "bad.h5")


# ------------------------------------------------------------------------------------------ data module


def test_split_is_stratified_seeded_and_disjoint(tmp_path):
    write_shapes(tmp_path / "shapes", 80, points=100)
    dm = PointCloudDataModule(folder=str(tmp_path / "shapes"), num_points=64, batch_size=8)
    dm.setup("fit")
    train, val = dm.splits["train"], dm.splits["val"]
    assert not set(train) & set(val) and len(train) + len(val) == 80
    labels = dm._load_index().labels
    assert np.bincount(labels[val]).tolist() == [3, 3, 3, 3]  # round(0.15 * 20) of each class
    assert dm.test_is_val and list(dm.splits["test"]) == list(val)
    assert "no test split: test = the held-out validation 12" in dm.source and dm.source.startswith("real: shapes/")
    again = PointCloudDataModule(folder=str(tmp_path / "shapes"), num_points=64)
    again.setup("fit")
    assert list(again.splits["val"]) == list(val)  # seeded
    other = PointCloudDataModule(folder=str(tmp_path / "shapes"), num_points=64, seed=1)
    other.setup("fit")
    assert list(other.splits["val"]) != list(val)
    item = dm.val_set[0]
    assert item["x"].shape == (64, 3) and item["x"].dtype == torch.float32
    assert abs(float(item["x"].norm(dim=-1).max()) - 1) < 1e-5 and float(item["x"].mean(0).abs().max()) < 1e-5
    assert torch.equal(dm.val_set[0]["x"], item["x"])  # evaluation sampling is fixed
    torch.manual_seed(0)
    a, b = dm.train_set[0]["x"], dm.train_set[0]["x"]
    assert a.shape == (64, 3) and not torch.equal(a, b)  # training: resampled and augmented each time


def test_folder_layouts_and_fixed_test_split(tmp_path):
    write_shapes(tmp_path / "mn", 24, split="train", points=80)
    write_shapes(tmp_path / "mn", 8, seed=1, split="test", suffix=".xyz", points=80)
    dm = PointCloudDataModule(folder=str(tmp_path / "mn"), num_points=50, val_fraction=0.25)
    dm.setup("test")
    assert not dm.test_is_val and len(dm.test_set) == 8
    assert all(dm._predict_names[i].split("/")[1] == "test" for i in dm.splits["test"])
    assert len(dm._clouds) == 8  # only what the stage needs is read
    write_shapes(tmp_path / "split_first" / "train", 40, points=80)
    write_shapes(tmp_path / "split_first" / "test", 4, seed=1, points=80)
    dm = PointCloudDataModule(folder=str(tmp_path / "split_first"), num_points=50)
    dm.setup("fit")
    assert dm.classes == list(SYNTHETIC_CLASSES) and len(dm.splits["test"]) == 4
    assert (len(dm.train_set), len(dm.val_set)) == (32, 8)  # round(0.15 * 10) = 2 per class held out


def test_malformed_file_is_named(tmp_path, monkeypatch, capsys):
    write_shapes(tmp_path / "shapes", 12, points=40)
    bad = tmp_path / "shapes" / "cube" / "broken.pcd"
    bad.write_bytes(b"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nPOINTS 10\nDATA binary\n12")
    dm = PointCloudDataModule(folder=str(tmp_path / "shapes"), num_points=32)
    with pytest.raises(DataError, match=r"broken.pcd: binary data is 2 bytes.*truncated"):
        dm.setup("fit")
    monkeypatch.chdir(tmp_path)
    code = main(["vision", "pointcloud", "fit", "--data.folder", str(tmp_path / "shapes")])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("ssmkit: error:")]
    assert code == 2 and "Traceback" not in err and len(lines) == 1 and "broken.pcd" in lines[0], err[-2000:]


def test_official_zip_is_read_without_extracting(tmp_path):
    cube = "OFF\n8 6 0\n" + "".join(f"{x} {y} {z}\n" for z in (0, 1) for y in (0, 1) for x in (0, 1)) + \
        "4 0 1 3 2\n4 4 5 7 6\n4 0 1 5 4\n4 2 3 7 6\n4 1 3 7 5\n4 0 2 6 4\n"
    tetra = "OFF\n4 4 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n3 0 1 3\n3 0 2 3\n3 1 2 3\n"
    root = tmp_path / "data"
    (root / "vision").mkdir(parents=True)

    def write_zip(broken: bool) -> None:
        with zipfile.ZipFile(root / "vision" / "ModelNet10.zip", "w") as z:
            for split, n in (("train", 6), ("test", 2)):
                for i in range(n):
                    z.writestr(f"ModelNet10/box/{split}/box_{i:04d}.off", cube)
                    z.writestr(f"ModelNet10/pyramid/{split}/pyramid_{i:04d}.off", tetra)
            z.writestr("ModelNet10/pyramid/train/pyramid_0099.off", "OFF\n3 1 0\n0 0 0\n1 0 0\n" if broken else tetra)

    write_zip(broken=True)
    dm = PointCloudDataModule(dataset="vision/modelnet10", data_dir=str(root), num_points=40)  # no mirror: the zip
    with pytest.raises(DataError, match=r"ModelNet10.zip:ModelNet10/pyramid/train/pyramid_0099.off: 3 vertices"):
        dm.setup("fit")
    write_zip(broken=False)
    dm = PointCloudDataModule(dataset="vision/modelnet10_off", data_dir=str(root), num_points=40, val_fraction=0.3)
    dm.setup("fit")
    assert dm.classes == ["box", "pyramid"] and dm.source.startswith("real: ModelNet10.zip (17 meshes")
    assert (len(dm.train_set), len(dm.val_set), len(dm.splits["test"])) == (9, 4, 4)
    item = dm.train_set[0]["x"]
    assert item.shape == (40, 3) and float(item.norm(dim=-1).max()) < 1.34  # unit sphere, scale <= 1.25, jitter


def test_absent_dataset_errors_or_is_generated(tmp_path):
    with pytest.raises(DataError, match="ssmkit data fetch vision/modelnet10_off"):
        PointCloudDataModule(data_dir=str(tmp_path / "empty")).setup("fit")
    with pytest.raises(DataError, match="ssmkit data fetch vision/modelnet40"):
        PointCloudDataModule(dataset="vision/modelnet40", data_dir=str(tmp_path / "empty")).setup("fit")
    dm = PointCloudDataModule(data_dir=str(tmp_path / "empty"), num_points=64, allow_generated=True)
    dm.setup("fit")
    assert dm.source.startswith("generated: vision/modelnet10 is not in") and dm.num_classes == 4
    with pytest.raises(ConfigError, match="not a point-cloud dataset"):
        PointCloudDataModule(dataset="vision/mnist").setup("fit")


def _idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_mnist_digits_as_point_sets(tmp_path):
    img = np.zeros((28, 28), np.uint8)
    img[2, 3], img[27, 27], img[5, 5] = 200, 255, 90
    pts = digit_points(img)
    assert pts.shape == (2, 3) and pts[:, 2].tolist() == [0, 0]
    np.testing.assert_allclose(pts[0, :2], [3 / 27 * 2 - 1, 1 - 2 / 27 * 2], rtol=1e-6)  # x right, y up
    np.testing.assert_allclose(pts[1, :2], [1, -1])
    images = np.zeros((30, 28, 28), np.uint8)
    labels = np.arange(30) % 3
    for i, y in enumerate(labels):  # a bar across, a bar down, a block
        if y == 0:
            images[i, 14:16, 4:24] = 255
        elif y == 1:
            images[i, 4:24, 14:16] = 255
        else:
            images[i, 10:18, 10:18] = 255
    root = tmp_path / "data" / "vision" / "mnist"
    root.mkdir(parents=True)
    (root / "images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx(images)))
    (root / "labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(labels.astype(np.uint8))))
    dm = PointCloudDataModule(dataset="vision/mnist-points", data_dir=str(tmp_path / "data"), num_points=48,
                              augment=False, val_fraction=0.2)
    dm.setup("fit")
    assert dm.classes == [str(c) for c in range(10)] and len(dm.train_set) == 24
    x = dm.train_set[0]["x"]
    assert x.shape == (48, 3) and torch.all(x[:, 2] == 0)
    assert dm.source.startswith("real: MNIST digits as 2-D point sets (30 digits")


# ------------------------------------------------------------------------------------------ command line

CLI_MODEL = ["--model.model", "ssmkit_pointmamba_tiny", "--model.options",
             '{"n_groups": 16, "group_size": 8, "embed_hidden": [16, 32], "embed_dim": 32, "depth": 1}',
             "--model.lr", "5e-3", "--data.num_points", "96", "--data.batch_size", "16"]


def test_fit_test_predict_through_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_shapes(tmp_path / "shapes", 160, split="train", points=128)
    write_shapes(tmp_path / "shapes", 40, seed=1, split="test", suffix=".xyz", points=128)
    new = write_shapes(tmp_path / "new", 6, seed=2, points=128)
    common = [*CLI_MODEL, "--data.folder", str(tmp_path / "shapes")]
    pl.seed_everything(0)
    assert main(["vision", "pointcloud", "fit", "--trainer.max_epochs", "8", *common]) == 0
    out = capsys.readouterr().out
    assert "val/acc" in out and "data: real: shapes/ (200 clouds)" in out, out[-2000:]
    ckpts = sorted((tmp_path / "runs" / "vision-pointcloud").rglob("last.ckpt"))
    assert len(ckpts) == 1
    assert "model: ssmkit_pointmamba_tiny" in (ckpts[0].parent.parent / "config.yaml").read_text()

    assert main(["vision", "pointcloud", "test", "--ckpt_path", str(ckpts[0])]) == 0
    out = capsys.readouterr().out
    assert "overall accuracy" in out and "mean-class accuracy" in out, out[-2000:]
    acc = float(next(ln for ln in out.splitlines() if "overall accuracy" in ln).split("│")[2])
    assert acc > 0.7, out[-2000:]  # chance: 0.25
    pngs = sorted((tmp_path / "runs").rglob("confusion_matrix.png"))
    assert len(pngs) == 1 and Image.open(pngs[0]).size[0] > 100

    csv_path = tmp_path / "out" / "pred.csv"
    assert main(["vision", "pointcloud", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path",
                 str(tmp_path / "new"), "--output", str(csv_path)]) == 0
    with open(csv_path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", "label", "probability"]
    assert sorted(r[0] for r in rows[1:]) == sorted(str(p.relative_to(tmp_path / "new")) for p in new)
    assert {r[1] for r in rows[1:]} <= set(SYNTHETIC_CLASSES) and all(0.25 <= float(r[2]) <= 1 for r in rows[1:])
    assert [p.name for p in csv_path.parent.iterdir()] == ["pred.csv"]  # no temporary left behind

    # the checkpoint carries the class names: predicting needs no training data
    (tmp_path / "shapes").rename(tmp_path / "gone")
    again = tmp_path / "out" / "again.csv"
    assert main(["vision", "pointcloud", "predict", "--ckpt_path", str(ckpts[0]), "--data.predict_path",
                 str(tmp_path / "new"), "--output", str(again)]) == 0
    with open(again, newline="") as handle:
        assert list(csv.reader(handle)) == rows


# ------------------------------------------------------------------------------------------ real data


def test_real_modelnet10_mirror(shared_data):
    if not (shared_data / "vision" / "modelnet10").is_dir():
        pytest.skip(f"ModelNet10 mirror not found at {shared_data / 'vision' / 'modelnet10'}")
    dm = PointCloudDataModule(data_dir=str(shared_data), subset=40, batch_size=8)
    assert dm.classes == list(MODELNET10_CLASSES) and len(dm._load_index().names) == 3991
    dm.setup("fit")
    assert len(dm._clouds) == 40 and all(c.shape == (1024, 3) for c in dm._clouds.values())
    assert dm.source.startswith("real: modelnet10/ (3991 clouds), stratified subset of 40")
    assert dm._predict_names[dm.splits["val"][0]].split("/")[1] == "train"
    model = tiny(num_classes=10)
    batch = next(iter(dm.val_dataloader()))
    assert batch["x"].shape[1:] == (1024, 3) and model(batch["x"]).shape == (len(batch["x"]), 10)


@pytest.mark.parametrize("up_axis", [2, 1])
def test_augment_rotation_turns_about_the_up_axis_only(up_axis):
    from ssmkit_vision.pointcloud_data import Augment

    torch.manual_seed(0)
    pts = torch.randn(64, 3)
    aug = Augment(scale=(1.0, 1.0), translate=0.0, jitter=0.0, rotate=30.0, up_axis=up_axis)
    a, b = [i for i in range(3) if i != up_axis]
    angles = []
    for _ in range(200):
        out = aug(pts).double()
        assert torch.equal(out[:, up_axis], pts[:, up_axis].double())  # the up coordinate never moves
        assert torch.allclose(torch.cdist(out, out), torch.cdist(pts.double(), pts.double()), atol=1e-5)  # rigid
        # the angle of the turn, from the plane coordinates of every point (float64 least squares)
        before = torch.complex(pts[:, a].double(), pts[:, b].double())
        after = torch.complex(out[:, a], out[:, b])
        turn = torch.angle((after * before.conj()).sum())
        assert torch.allclose(after, before * torch.exp(1j * turn), atol=1e-5)
        angles.append(float(turn))
    angles = np.rad2deg(np.array(angles))
    assert np.abs(angles).max() <= 30.0 + 1e-4
    assert angles.min() < -20 and angles.max() > 20  # both ways, spread over the range
    off = Augment(scale=(1.0, 1.0), translate=0.0, jitter=0.0, rotate=0.0, up_axis=up_axis)
    assert torch.equal(off(pts), pts)

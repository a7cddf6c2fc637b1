"""Image readers on files the tests write: IDX (plain and gzipped), NumPy arrays, image folders; and the
malformed cases, each a DataError naming the file."""

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from ssmkit_vision.readers import (
    list_images,
    load_image,
    read_array,
    read_idx,
    read_idx_pair,
    read_image_folder,
)

from ssmkit.errors import DataError


def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    head = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + array.astype(dtype).tobytes()


def _write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_idx_images_and_labels(tmp_path, gz):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    ip = _write(tmp_path / ("img-idx3-ubyte" + (".gz" if gz else "")), _idx(images), gz)
    lp = _write(tmp_path / ("lab-idx1-ubyte" + (".gz" if gz else "")), _idx(labels), gz)
    np.testing.assert_array_equal(read_idx(ip), images)
    x, y = read_idx_pair(ip, lp)
    assert x.shape == (5, 4, 3, 1) and x.dtype == np.uint8
    np.testing.assert_array_equal(x[..., 0], images)
    assert y.dtype == np.int64 and y.tolist() == [3, 1, 4, 1, 5]


def test_idx_other_types_are_big_endian(tmp_path):
    a = np.arange(-6, 6, dtype=np.int16).reshape(3, 4)
    np.testing.assert_array_equal(read_idx(_write(tmp_path / "a.idx", _idx(a, 0x0B))), a)
    f = np.linspace(0, 1, 6, dtype=np.float32)
    np.testing.assert_allclose(read_idx(_write(tmp_path / "f.idx", _idx(f, 0x0D))), f)


@pytest.mark.parametrize("data, message", [
    (b"\x00\x00", "too short"),
    (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "not an IDX file"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "header truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "truncated?"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02abcd", "declares shape (2,)"),
])
def test_malformed_idx(tmp_path, data, message):
    path = _write(tmp_path / "bad-idx1-ubyte", data)
    with pytest.raises(DataError, match="bad-idx1-ubyte") as err:
        read_idx(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_corrupt_gzip_and_mismatched_labels(tmp_path):
    good = gzip.compress(_idx(np.zeros((4, 2, 2), np.uint8)))
    bad = _write(tmp_path / "cut.gz", good[: len(good) // 2])
    with pytest.raises(DataError, match="cut.gz.*corrupt gzip"):
        read_idx(bad)
    ip = _write(tmp_path / "img", _idx(np.zeros((4, 2, 2), np.uint8)))
    lp = _write(tmp_path / "lab", _idx(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match=r"lab: labels have shape \(3,\) but there are 4 images"):
        read_idx_pair(ip, lp)
    with pytest.raises(DataError, match="one dimension"):
        read_idx_pair(ip, ip)


def test_numpy_arrays(tmp_path):
    x = np.random.default_rng(1).random((6, 5, 5)).astype(np.float32)
    np.savez(tmp_path / "d.npz", images=x, labels=np.arange(6))
    images, labels = read_array(tmp_path / "d.npz")
    assert images.shape == (6, 5, 5, 1) and images.dtype == np.uint8 and labels.tolist() == list(range(6))
    np.testing.assert_array_equal(images[..., 0], np.round(x * 255).astype(np.uint8))
    np.save(tmp_path / "rgb.npy", np.zeros((2, 3, 3, 3), np.uint8))
    images, labels = read_array(tmp_path / "rgb.npy")
    assert images.shape == (2, 3, 3, 3) and labels is None


@pytest.mark.parametrize("content, message", [
    ({"x": np.zeros((3, 4))}, "images must be"),
    ({"x": np.full((2, 3, 3), np.nan)}, "NaN"),
    ({"x": np.full((2, 3, 3), 2.0)}, r"in \[0, 1\]"),
    ({"x": np.full((2, 3, 3), 300)}, "0..255"),
    ({"x": np.zeros((2, 3, 3)), "y": np.zeros(3, int)}, "labels have shape"),
    ({"x": np.zeros((2, 3, 3)), "y": np.zeros(2)}, "must be integers"),
    ({"pixels": np.zeros((2, 3, 3))}, "no image array"),
])
def test_malformed_arrays(tmp_path, content, message):
    np.savez(tmp_path / "bad.npz", **content)
    with pytest.raises(DataError, match=f"bad.npz: .*{message}"):
        read_array(tmp_path / "bad.npz")


def test_not_numpy(tmp_path):
    (tmp_path / "x.npy").write_text("not an array")
    with pytest.raises(DataError, match="x.npy: cannot read"):
        read_array(tmp_path / "x.npy")


def _png(path: Path, value: int, mode: str = "L", size=(6, 6)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 0)).save(path)
    return path


def test_image_folder(tmp_path):
    _png(tmp_path / "cat" / "a.png", 10)
    _png(tmp_path / "cat" / "sub" / "b.jpg", 20)
    _png(tmp_path / "dog" / "c.png", 30, "RGB")
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    tree = read_image_folder(tmp_path)
    assert tree.classes == ["cat", "dog"] and tree.labels.tolist() == [0, 0, 1]
    assert [f.name for f in tree.files] == ["a.png", "b.jpg", "c.png"]
    assert load_image(tree.files[2], 1).mode == "L" and load_image(tree.files[0], 3).mode == "RGB"
    assert [f.name for f in list_images(tmp_path / "cat")] == ["a.png", "b.jpg"]
    with pytest.raises(DataError, match="'bird' is not one of"):
        _png(tmp_path / "bird" / "d.png", 5)
        read_image_folder(tmp_path, classes=["cat", "dog"])


def test_bad_image_folders(tmp_path):
    with pytest.raises(DataError, match="missing: image folder not found"):
        read_image_folder(tmp_path / "missing")
    (tmp_path / "flat").mkdir()
    _png(tmp_path / "flat" / "x.png", 1)
    with pytest.raises(DataError, match="flat: no class folders"):
        read_image_folder(tmp_path / "flat")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="empty: no image files"):
        read_image_folder(tmp_path / "empty")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="broken.png: cannot decode"):
        load_image(broken, 1)


def test_real_mnist_files(shared_data):
    folder = shared_data / "vision" / "mnist"
    x, y = read_idx_pair(folder / "images-idx3-ubyte.gz", folder / "labels-idx1-ubyte.gz")
    assert x.shape == (8000, 28, 28, 1) and y.shape == (8000,)
    assert sorted(np.unique(y).tolist()) == list(range(10)) and 0 < x.mean() < 255


def test_decompression_bomb_is_a_clean_error(tmp_path):
    """A BMP header declaring 10^10 pixels: PIL refuses it, the reader names the file in one line."""
    import struct

    from ssmkit_vision.readers import load_image

    from ssmkit.errors import DataError

    info = struct.pack("<IiiHHIIiiII", 40, 100_000, 100_000, 1, 24, 0, 0, 2835, 2835, 0, 0)
    path = tmp_path / "bomb.bmp"
    path.write_bytes(b"BM" + struct.pack("<IHHI", 14 + len(info), 0, 0, 14 + len(info)) + info)
    with pytest.raises(DataError, match="bomb.bmp.*cannot decode as an image"):
        load_image(path, 1)

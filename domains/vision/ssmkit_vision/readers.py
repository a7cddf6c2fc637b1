"""Image readers: IDX files (MNIST's format, gzipped or not), class-per-folder image trees and NumPy arrays.

Every reader returns images as uint8 arrays (N, H, W, C) and labels as int64 (N,), or file paths for
image folders (decoded lazily by ``load_image``). Bad input raises ``DataError`` naming the file.
"""

from __future__ import annotations

import gzip
import tokenize
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssmkit.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# IDX type byte -> numpy big-endian dtype (LeCun's format: magic = 0x00 0x00 type ndim)
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic."""
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise DataError("is a folder, not a file", path=path) from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"corrupt gzip data ({exc})", path=path) from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX array (e.g. MNIST images (N, 28, 28) uint8 or labels (N,) uint8), gzipped or not.

    Checks the magic number (two zero bytes, a known type code, 1..4 dimensions) and that the data size
    equals the product of the declared dimensions.
    """
    path = Path(path)
    raw = _open_bytes(path)
    if len(raw) < 4:
        raise DataError(f"too short for an IDX file ({len(raw)} bytes)", path=path)
    zero, code, ndim = raw[:2], raw[2], raw[3]
    if zero != b"\x00\x00" or code not in IDX_TYPES or not 1 <= ndim <= 4:
        raise DataError(f"not an IDX file (magic {raw[:4].hex()}; expected 0000 then a type code in "
                        f"{', '.join(f'{c:02x}' for c in IDX_TYPES)} and 1-4 dimensions)", path=path)
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX header truncated ({len(raw)} bytes, {header} needed for {ndim} dimensions)",
                        path=path)
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(IDX_TYPES[code])
    want = int(np.prod(shape)) * dtype.itemsize
    have = len(raw) - header
    if have != want:
        raise DataError(f"IDX data is {have} bytes but the header declares shape {shape} of {dtype.name} "
                        f"({want} bytes){' (truncated?)' if have < want else ''}", path=path)
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def _as_images(x: np.ndarray, path: Path) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) with C in {1, 3, 4} -> uint8 (N, H, W, C); floats in [0, 1] are scaled."""
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise DataError(f"images must be (N, H, W) or (N, H, W, C) with C in 1, 3, 4; got shape {x.shape}",
                        path=path)
    if x.shape[0] == 0:
        raise DataError("no images (the array is empty)", path=path)
    if x.dtype == np.uint8:
        return x
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DataError("images contain NaN or infinite values", path=path)
        if x.min() < 0 or x.max() > 1:
            raise DataError(f"float images must lie in [0, 1] (found {x.min():.3g}..{x.max():.3g})", path=path)
        return np.round(x * 255).astype(np.uint8)
    if np.issubdtype(x.dtype, np.integer):
        if x.min() < 0 or x.max() > 255:
            raise DataError(f"integer images must lie in 0..255 (found {x.min()}..{x.max()})", path=path)
        return x.astype(np.uint8)
    raise DataError(f"images have dtype {x.dtype}; expected uint8, integers or floats", path=path)


def _as_labels(y: np.ndarray, n: int, path: Path) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise DataError(f"labels have shape {y.shape} but there are {n} images", path=path)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"labels must be integers (dtype {y.dtype})", path=path)
    if len(y) and y.min() < 0:
        raise DataError(f"labels must be >= 0 (found {y.min()})", path=path)
    return y.astype(np.int64)


def read_idx_pair(images: str | Path, labels: str | Path | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """MNIST-style IDX images (N, H, W) and labels (N,) -> uint8 (N, H, W, 1), int64 (N,) | None."""
    images = Path(images)
    x = _as_images(read_idx(images), images)
    if labels is None:
        return x, None
    labels = Path(labels)
    y = read_idx(labels)
    if y.ndim != 1:
        raise DataError(f"an IDX label file has one dimension; this one has shape {y.shape}", path=labels)
    return x, _as_labels(y, len(x), labels)


def read_array(path: str | Path, images_key: str | None = None,
               labels_key: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Images from .npy (an (N, H, W[, C]) array) or .npz (keys ``x``/``images``, ``y``/``labels`` unless
    named) -> uint8 (N, H, W, C) and int64 labels (N,) or None."""
    path = Path(path)
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read as a NumPy .npy/.npz file ({exc})", path=path) from None
    if isinstance(data, np.ndarray):
        return _as_images(data, path), None
    try:
        return _read_npz(data, path, images_key, labels_key)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"damaged .npz archive ({exc})", path=path) from None


def _read_npz(data, path: Path, images_key: str | None, labels_key: str | None):
    with data:
        keys = list(data.keys())
        xk = images_key or next((k for k in ("x", "images", "data", "x_train") if k in keys), None)
        if xk is None or xk not in keys:
            raise DataError(f"no image array {xk or '(x, images or data)'!r} in the archive (keys: {keys})",
                            path=path)
        yk = labels_key or next((k for k in ("y", "labels", "label", "y_train") if k in keys), None)
        if labels_key and labels_key not in keys:
            raise DataError(f"no label array {labels_key!r} in the archive (keys: {keys})", path=path)
        x = _as_images(data[xk], path)
        return x, (_as_labels(data[yk], len(x), path) if yk else None)


@dataclass
class ImageFolder:
    """A class-per-folder image tree: ``files[i]`` has label ``labels[i]`` (an index into ``classes``)."""

    root: Path
    files: list[Path]
    labels: np.ndarray
    classes: list[str]


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                  and not p.name.startswith("."))


def read_image_folder(root: str | Path, classes: list[str] | None = None) -> ImageFolder:
    """``root/<class>/**/*.png|jpg|...`` -> files and labels; classes sorted by name unless given."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("image folder not found" if not root.exists() else "not a folder", path=root)
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not found:
        raise DataError("no class folders (expected root/<class>/<image files>)", path=root)
    classes = list(classes) if classes is not None else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"class folder {unknown[0]!r} is not one of the model's classes {classes}", path=root)
    files, labels = [], []
    for c in found:
        these = _images_under(root / c)
        files += these
        labels += [classes.index(c)] * len(these)
    if not files:
        raise DataError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) under the class folders", path=root)
    return ImageFolder(root, files, np.asarray(labels, dtype=np.int64), classes)


def list_images(path: str | Path) -> list[Path]:
    """Image files to classify: one file, or every image file under a folder (sorted)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.exists():
        raise DataError("not found", path=path)
    files = _images_under(path)
    if not files:
        raise DataError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) in the folder", path=path)
    return files


def load_image(path: str | Path, channels: int):
    """A PIL image converted to "L" (channels=1) or "RGB" (channels=3); unreadable files raise DataError."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return img.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"cannot decode as an image ({type(exc).__name__}: {exc})", path=path) from None


__all__ = ["IDX_TYPES", "IMAGE_SUFFIXES", "ImageFolder", "list_images", "load_image", "read_array", "read_idx",
           "read_idx_pair", "read_image_folder"]

"""The point-cloud classification data module: ModelNet-style folders, the official ModelNet zips,
PointNet's HDF5 files or MNIST digits as 2-D point sets -> (num_points, 3) clouds, centred and scaled into
the unit sphere, stratified splits, training augmentation, CSV predictions (file,label,probability).

Layouts of a ``folder`` (point files: .pcd .ply .off .xyz .txt .csv .pts .npy; OFF meshes are sampled):

* ``<class>/train/*`` and ``<class>/test/*`` (ModelNet's own layout; a class may lack ``test/``),
* ``<class>/*`` (flat; no fixed split),
* ``train/<class>/*`` and ``test/<class>/*``.

Where the data has no test split (e.g. the project's ModelNet10 mirror: the training split only), a
stratified, seeded ``val_fraction`` is held out for validation and ``test`` runs on that same held-out part
(unless ``test_fraction`` holds out a separate one); ``source`` says which.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ssmkit.data import DataModule, data_dir, dataset_root, split_indices
from ssmkit.errors import ConfigError, DataError

from .points import POINT_SUFFIXES, parse_off, read_h5, read_points, sample_mesh

AXES = {"x": 0, "y": 1, "z": 2}
H5_SUFFIXES = (".h5", ".hdf5")
# registered dataset -> (kind, path under the data directory)
POINT_DATASETS = {
    "modelnet10": ("folder", "vision/modelnet10"),
    "modelnet10_off": ("zip", "vision/ModelNet10.zip"),
    "modelnet40": ("zip", "vision/ModelNet40.zip"),
    "mnist-points": ("mnist", "vision/mnist"),
}


@dataclass
class CloudIndex:
    """What a source holds before any cloud is read: ``read(i)`` gives cloud i, float32 (M_i, 3)."""

    names: list[str]
    labels: np.ndarray
    classes: list[str]
    fixed: dict[str, np.ndarray] | None  # {"train": indices, "test": indices} when the data has a test split
    read: Callable[[int], np.ndarray]
    source: str
    close: Callable[[], None] | None = None  # after a round of reads (e.g. the zip archive)


# sources ---------------------------------------------------------------------------------------------


def _point_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in POINT_SUFFIXES
                  and not p.name.startswith("."))


def _subdirs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_point_folder(root: str | Path) -> tuple[list[Path], np.ndarray, list[str], list[str | None]]:
    """A class-per-folder tree of point files -> (files, labels (N,), classes, split of each file:
    "train", "test" or None). Layouts: see the module docstring."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("point-cloud folder not found" if not root.exists() else "not a folder", path=root)
    top = _subdirs(root)
    split_first = "train" in top and all(d in ("train", "test", "val") for d in top)
    entries: list[tuple[Path, str, str | None]] = []
    if split_first:
        for split in ("train", "test"):
            if (root / split).is_dir():
                for c in _subdirs(root / split):
                    entries += [(f, c, split) for f in _point_files(root / split / c)]
    else:
        for c in top:
            for f in _point_files(root / c):
                rel = f.relative_to(root / c).parts
                entries.append((f, c, rel[0] if len(rel) > 1 and rel[0] in ("train", "test") else None))
    if not top:
        raise DataError("no class folders (expected <class>/train|test/<point files> or <class>/<point files>)",
                        path=root)
    if not entries:
        raise DataError(f"no point files ({', '.join(POINT_SUFFIXES)}) under the class folders", path=root)
    classes = sorted({c for _, c, _ in entries})
    files = [f for f, _, _ in entries]
    labels = np.asarray([classes.index(c) for _, c, _ in entries], dtype=np.int64)
    return files, labels, classes, [s for _, _, s in entries]


def _fixed(splits: list[str | None]) -> dict[str, np.ndarray] | None:
    test = np.asarray([i for i, s in enumerate(splits) if s == "test"], dtype=np.int64)
    if not len(test):
        return None
    return {"train": np.asarray([i for i, s in enumerate(splits) if s != "test"], dtype=np.int64), "test": test}


def folder_index(root: str | Path, mesh_points: int, seed: int = 0) -> CloudIndex:
    root = Path(root)
    files, labels, classes, splits = list_point_folder(root)

    def read(i: int) -> np.ndarray:  # meshes: a fixed surface sample per file
        return read_points(files[i], n=mesh_points, rng=np.random.default_rng([seed, i]))

    return CloudIndex([str(f.relative_to(root)) for f in files], labels, classes, _fixed(splits), read,
                      f"real: {root.name}/ ({len(files)} clouds)")


def zip_index(path: str | Path, mesh_points: int, seed: int = 0) -> CloudIndex:
    """The official ModelNet zips: ``ModelNet*/<class>/{train,test}/<name>.off``, read without extracting."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".off") and "__MACOSX" not in n]
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"cannot read as a zip archive ({exc})", path=path) from None
    entries = []
    for name in sorted(members):
        parts = PurePosixPath(name).parts
        if len(parts) >= 3 and parts[-2] in ("train", "test"):
            entries.append((name, parts[-3], parts[-2]))
    if not entries:
        raise DataError("no <class>/train|test/*.off meshes in the archive", path=path)
    classes = sorted({c for _, c, _ in entries})
    labels = np.asarray([classes.index(c) for _, c, _ in entries], dtype=np.int64)
    names = [n for n, _, _ in entries]
    handle: dict[str, zipfile.ZipFile] = {}

    def read(i: int) -> np.ndarray:
        archive = handle.get("zip") or handle.setdefault("zip", zipfile.ZipFile(path))
        where = f"{path}:{names[i]}"
        verts, tris = parse_off(archive.read(names[i]).decode("ascii", "replace"), where)
        return sample_mesh(verts, tris, mesh_points, np.random.default_rng([seed, i]), where)

    def close() -> None:
        if "zip" in handle:
            handle.pop("zip").close()

    return CloudIndex(names, labels, classes, _fixed([s for _, _, s in entries]), read,
                      f"real: {path.name} ({len(names)} meshes, surface-sampled)", close)


def h5_index(path: str | Path) -> CloudIndex:
    """One PointNet .h5 file (no fixed split), or a folder of them: files with "test" in their name are the
    test split; class names from shape_names.txt (or *shape_names*.txt) when present."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in H5_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise DataError(f"no HDF5 files ({', '.join(H5_SUFFIXES)}) in the folder", path=path)
    clouds, labels, names, splits = [], [], [], []
    for f in files:
        x, y = read_h5(f)
        if y is None:
            raise DataError("no 'label' array: a labelled set is needed for training", path=f)
        clouds.append(x)
        labels.append(y)
        names += [f"{f.name}#{i}" for i in range(len(x))]
        splits += ["test" if "test" in f.name.lower() and path.is_dir() else None] * len(x)
    points, y = np.concatenate(clouds), np.concatenate(labels)
    folder = path if path.is_dir() else path.parent
    shape_names = sorted(folder.glob("*shape_names*.txt"))
    classes = [str(c) for c in range(int(y.max()) + 1)]
    if shape_names:
        listed = [ln.strip() for ln in shape_names[0].read_text().splitlines() if ln.strip()]
        if len(listed) > y.max():
            classes = listed
    return CloudIndex(names, y, classes, _fixed(splits), lambda i: points[i],
                      f"real: {path.name} ({len(points)} clouds)")


def digit_points(image: np.ndarray, threshold: int = 128) -> np.ndarray:
    """A grey digit (H, W) uint8 -> its pixels above ``threshold`` as points (M, 3): x right, y up, z = 0,
    in [-1, 1] (the brightest pixel alone if none passes)."""
    h, w = image.shape[:2]
    img = image.reshape(h, w)
    rows, cols = np.nonzero(img > threshold)
    if not len(rows):
        rows, cols = np.unravel_index([int(img.argmax())], img.shape)
    x = cols / max(w - 1, 1) * 2 - 1
    y = 1 - rows / max(h - 1, 1) * 2
    return np.stack([x, y, np.zeros_like(x)], axis=1).astype(np.float32)


def mnist_index(base: Path, threshold: int) -> CloudIndex:
    from .datasets import MNIST_FILES
    from .readers import read_idx_pair

    images_file, labels_file = MNIST_FILES["mnist"]["all"]
    images, labels = read_idx_pair(base / images_file, base / labels_file)
    return CloudIndex([f"{Path(images_file).name}#{i}" for i in range(len(images))], labels,
                      [str(c) for c in range(10)], None, lambda i: digit_points(images[i, ..., 0], threshold),
                      f"real: MNIST digits as 2-D point sets ({len(images)} digits, pixels > {threshold})")


SYNTHETIC_CLASSES = ("cone", "cube", "cylinder", "sphere")


def synthetic_shapes(n: int, num_points: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n clouds float32 (n, num_points, 3) on the surfaces of cones, cubes, cylinders and spheres (labels
    (n,) index ``SYNTHETIC_CLASSES``, cycling), each stretched, turned about z and shifted at random, with
    a little noise: a stand-in when no real data is at hand (always reported as generated)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(SYNTHETIC_CLASSES)
    clouds = np.empty((n, num_points, 3), dtype=np.float32)
    for i, label in enumerate(labels):
        u = rng.uniform(-1, 1, (num_points, 3))
        kind = SYNTHETIC_CLASSES[label]
        if kind == "sphere":
            pts = rng.normal(size=(num_points, 3))
            pts /= np.linalg.norm(pts, axis=1, keepdims=True)
        elif kind == "cube":  # a random point on a random face
            pts, axis = u, rng.integers(0, 3, num_points)
            pts[np.arange(num_points), axis] = rng.choice([-1.0, 1.0], num_points)
        else:
            angle = rng.uniform(0, 2 * np.pi, num_points)
            if kind == "cylinder":  # tall and thin: radius 0.4, height 2, the side only
                radius, z = np.full(num_points, 0.4), u[:, 2]
            else:  # a squat cone: apex at z = 0.5, radius 1 at z = -0.5; sqrt spreads points evenly
                t = np.sqrt(rng.random(num_points))
                radius, z = t, 0.5 - t
            pts = np.stack([radius * np.cos(angle), radius * np.sin(angle), z], axis=1)
        turn = rng.uniform(0, 2 * np.pi)
        rot = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0], [0, 0, 1]])
        pts = (pts * rng.uniform(0.9, 1.1, 3)) @ rot.T + rng.uniform(-0.5, 0.5, 3)
        clouds[i] = pts + rng.normal(0, 0.01, pts.shape)
    return clouds, labels


def synthetic_index(n: int, num_points: int, seed: int, why: str) -> CloudIndex:
    clouds, labels = synthetic_shapes(n, num_points, seed)
    return CloudIndex([f"generated#{i}" for i in range(n)], labels, list(SYNTHETIC_CLASSES), None,
                      lambda i: clouds[i], f"generated: {why}; {n} synthetic {'/'.join(SYNTHETIC_CLASSES)} clouds")


# the dataset -----------------------------------------------------------------------------------------


def normalize_cloud(points: np.ndarray) -> np.ndarray:
    """(M, 3) -> centred on the centroid, scaled into the unit sphere."""
    centred = points - points.mean(0, keepdims=True)
    return centred / max(float(np.linalg.norm(centred, axis=1).max()), 1e-12)


@dataclass
class Augment:
    """Training augmentation of a normalised cloud (M, 3): rotation about the up axis by up to ``rotate``
    degrees either way, an isotropic random scale in ``scale``, a random shift up to ``translate`` per axis,
    Gaussian jitter of ``jitter`` (clipped at 5 sigma) per point. Randomness from torch's generator."""

    scale: tuple[float, float] = (0.8, 1.25)
    translate: float = 0.0
    jitter: float = 0.01
    rotate: float = 0.0
    up_axis: int = 2

    def __call__(self, pts: torch.Tensor) -> torch.Tensor:
        if self.rotate:
            angle = (torch.rand(()) * 2 - 1) * np.deg2rad(self.rotate)
            c, s = torch.cos(angle), torch.sin(angle)
            a, b = [i for i in range(3) if i != self.up_axis]
            rot = torch.eye(3)
            rot[a, a], rot[a, b], rot[b, a], rot[b, b] = c, -s, s, c
            pts = pts @ rot.T
        lo, hi = self.scale
        if (lo, hi) != (1.0, 1.0):
            pts = pts * (lo + (hi - lo) * torch.rand(()))
        if self.translate:
            pts = pts + (torch.rand(3) * 2 - 1) * self.translate
        if self.jitter:
            pts = pts + (torch.randn_like(pts) * self.jitter).clamp(-5 * self.jitter, 5 * self.jitter)
        return pts


class PointSet(Dataset):
    """Items {"x": (num_points, 3) float32, "y": int (when labelled), "index": int}.

    ``clouds`` maps an index to its cloud (M, 3); ``index`` picks the items. A cloud with more points than
    ``num_points`` is subsampled (at random when ``augment`` is given, else by a fixed seeded draw), one
    with fewer is topped up by repeating points.
    """

    def __init__(self, clouds: dict[int, np.ndarray], labels: np.ndarray | None, index: np.ndarray, num_points: int,
                 normalize: bool = True, augment: Augment | None = None, seed: int = 0):
        self.clouds, self.labels, self.index = clouds, labels, np.asarray(index, dtype=np.int64)
        self.num_points, self.normalize, self.augment, self.seed = num_points, normalize, augment, seed

    def __len__(self) -> int:
        return len(self.index)

    def _sample(self, cloud: np.ndarray, j: int) -> np.ndarray:
        m, n = len(cloud), self.num_points
        if m == n:
            return cloud
        if self.augment is not None:
            pick = torch.randperm(m)[:n].numpy() if m > n else torch.randint(0, m, (n,)).numpy()
        else:
            rng = np.random.default_rng([self.seed, j])
            pick = rng.permutation(m)[:n] if m > n else rng.integers(0, m, n)
        if m < n:
            pick[:m] = np.arange(m)  # every point at least once
        return cloud[pick]

    def __getitem__(self, i: int) -> dict:
        j = int(self.index[i])
        pts = self._sample(self.clouds[j], j).astype(np.float32)
        if self.normalize:
            pts = normalize_cloud(pts)
        x = torch.from_numpy(np.ascontiguousarray(pts, dtype=np.float32))
        if self.augment is not None:
            x = self.augment(x)
        item = {"x": x, "index": j}
        if self.labels is not None:
            item["y"] = int(self.labels[j])
        return item


class PointCloudDataModule(DataModule):
    """Labelled point clouds for classification.

    The clouds come from (first that is given): ``folder`` (see the module docstring for layouts); ``h5``
    (a PointNet .h5 file, or a folder of them, keys ``data``/``label``); else the registered ``dataset`` in
    ``data_dir``: "vision/modelnet10" (the local 1,024-point PCD mirror, or the official zip when only that
    is there), "vision/modelnet10_off" and "vision/modelnet40" (the official zips of OFF meshes),
    "vision/mnist-points" (MNIST digits: pixels above ``mnist_threshold`` as (x, y, 0) points).

    Args:
        num_points: points per cloud given to the model (subsampled, or topped up by repetition).
        mesh_points: points sampled from each OFF mesh's surface (default: num_points).
        normalize: centre each cloud and scale it into the unit sphere.
        augment: training augmentation (see ``Augment``): ``scale`` range, ``translate``, ``jitter`` sigma,
            ``rotate`` (degrees either way about ``up_axis``; 0 = off: ModelNet's shapes are upright and aligned,
            and its test split is not rotated).
        subset: keep a stratified sample of this many clouds before splitting (quick runs); only those are read.
        val_fraction: held out of the training clouds, stratified and seeded. test_fraction: without a fixed
            test split, hold out this much more for ``test`` (0: ``test`` uses the validation part).
        predict_path: a point file or a folder of them (recursively) to classify (default: the test split).
        allow_generated: when ``dataset`` is not in the data directory, use 400 synthetic cones, cubes,
            cylinders and spheres instead of stopping (the demo does; ``source`` then starts "generated").
    Every cloud is read once, at ``setup``, and kept in memory.
    """

    def __init__(self, dataset: str = "vision/modelnet10", data_dir: str | None = None, folder: str | None = None,
                 h5: str | None = None, num_points: int = 1024, mesh_points: int | None = None, normalize: bool = True,
                 augment: bool = True, scale: tuple[float, float] = (0.8, 1.25), translate: float = 0.0,
                 jitter: float = 0.01, rotate: float = 0.0, up_axis: str = "z", mnist_threshold: int = 128,
                 subset: int | None = None, val_fraction: float = 0.15, test_fraction: float = 0.0,
                 predict_path: str | None = None, allow_generated: bool = False, batch_size: int = 32,
                 num_workers: int = 0, seed: int = 0):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if up_axis not in AXES:
            raise ConfigError(f"up_axis={up_axis!r}: use x, y or z")
        if num_points < 1:
            raise ConfigError(f"num_points={num_points}: must be >= 1")
        if not 0 < scale[0] <= scale[1]:
            raise ConfigError(f"scale={tuple(scale)}: use 0 < low <= high")
        self.dataset, self.data_dir, self.folder, self.h5 = dataset, data_dir, folder, h5
        self.num_points, self.mesh_points = num_points, mesh_points or num_points
        self.normalize, self.augment_on, self.mnist_threshold, self.subset = normalize, augment, mnist_threshold, subset
        self.augment = Augment(tuple(scale), translate, jitter, rotate, AXES[up_axis])
        self.val_fraction, self.test_fraction, self.predict_path = val_fraction, test_fraction, predict_path
        self.allow_generated = allow_generated
        self._index: CloudIndex | None = None
        self._clouds: dict[int, np.ndarray] = {}
        self.test_is_val = False

    # reading ---------------------------------------------------------------------------------
    def _registered(self) -> CloudIndex:
        name = self.dataset.split("/", 1)[-1]
        if name not in POINT_DATASETS:
            raise ConfigError(f"dataset {self.dataset!r} is not a point-cloud dataset; use "
                              f"{', '.join('vision/' + n for n in POINT_DATASETS)}, or folder=, h5=")
        kind, rel = POINT_DATASETS[name]
        base = data_dir(self.data_dir)
        if name == "modelnet10" and not (base / rel).is_dir():
            if (base / POINT_DATASETS["modelnet10_off"][1]).is_file():  # only the official zip is there
                return zip_index(base / POINT_DATASETS["modelnet10_off"][1], self.mesh_points, self.seed)
            raise DataError(f"dataset 'vision/modelnet10' is not in the data directory (missing {rel}/); copy the "
                            f"mirror there, or run `ssmkit data fetch vision/modelnet10_off --data-dir {base}` for "
                            "the official meshes", path=base)
        dataset_root(f"vision/{name}", self.data_dir)  # a one-line error naming the fetch command if absent
        if kind == "folder":
            return folder_index(base / rel, self.mesh_points, self.seed)
        if kind == "zip":
            return zip_index(base / rel, self.mesh_points, self.seed)
        return mnist_index(base, self.mnist_threshold)

    def _load_index(self) -> CloudIndex:
        if self._index is None:
            if self.folder:
                self._index = folder_index(self.folder, self.mesh_points, self.seed)
            elif self.h5:
                self._index = h5_index(self.h5)
            else:
                try:
                    self._index = self._registered()
                except DataError as exc:
                    if not self.allow_generated or "is not in the data directory" not in str(exc):
                        raise
                    self._index = synthetic_index(400, self.num_points, self.seed,
                                                  f"{self.dataset} is not in {data_dir(self.data_dir)}")
            self.source = self._index.source
        return self._index

    def _read(self, indices: np.ndarray) -> None:
        """Read (once) every cloud in ``indices`` into the in-memory cache."""
        index = self._load_index()
        try:
            for i in indices:
                i = int(i)
                if i not in self._clouds:
                    self._clouds[i] = index.read(i)
        finally:
            if index.close is not None:
                index.close()

    @property
    def classes(self) -> list[str]:
        if self.fitted is not None:  # predict: the checkpoint's classes
            return list(self.fitted["classes"])
        return self._load_index().classes

    def fitted_state(self) -> dict[str, Any] | None:
        """The class names (clouds are normalised one by one, so nothing else is learned from the data)."""
        return {"classes": list(self.classes)} if self._index is not None else None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    # splits ----------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_path and self.fitted is not None:  # no training data needed
            self.predict_set, self._predict_names = self._predict_data(Path(self.predict_path))
            self.source = f"real: {self.predict_path} (classes from the checkpoint)"
            return
        index = self._load_index()
        labels, fixed = index.labels, index.fixed
        keep, source = np.arange(len(labels)), index.source
        if self.subset and self.subset < len(labels):
            keep, _, _ = split_indices(len(labels), 0.0, 1 - self.subset / len(labels), self.seed, labels=labels)
            source += f", stratified subset of {len(keep)}"
        if fixed is not None:
            train_all = np.intersect1d(fixed["train"], keep)
            tr, va, _ = split_indices(len(train_all), self.val_fraction, 0.0, self.seed, labels=labels[train_all])
            train, val, test = train_all[tr], train_all[va], np.intersect1d(fixed["test"], keep)
            self.test_is_val = False
        else:
            tr, va, te = split_indices(len(keep), self.val_fraction, self.test_fraction, self.seed,
                                       labels=labels[keep])
            train, val, test = keep[tr], keep[va], keep[te]
            self.test_is_val = not len(test)
            if self.test_is_val:
                test = val
        if len(train) == 0:
            raise DataError(f"no training clouds left after the split ({len(keep)} clouds)")
        if self.test_is_val:
            source += f"; no test split: test = the held-out validation {len(val)}"
        self.source = source
        needed = {"fit": [train, val], "validate": [val], "test": [test],
                  "predict": [] if self.predict_path else [test]}.get(stage or "", [train, val, test])
        self._read(np.concatenate([np.zeros(0, np.int64), *needed]))
        self.splits = {"train": train, "val": val, "test": test}

        def make(idx: np.ndarray, aug: Augment | None) -> PointSet | None:
            return PointSet(self._clouds, labels, idx, self.num_points, self.normalize, aug, self.seed) \
                if len(idx) else None

        self.train_set = make(train, self.augment if self.augment_on else None)
        self.val_set, self.test_set = make(val, None), make(test, None)
        self.predict_set, self._predict_names = self.test_set, index.names
        if self.predict_path:
            self.predict_set, self._predict_names = self._predict_data(Path(self.predict_path))

    def _predict_data(self, path: Path) -> tuple[PointSet, list[str]]:
        if path.is_file() and path.suffix.lower() in H5_SUFFIXES:
            points, _ = read_h5(path)
            clouds = {i: points[i] for i in range(len(points))}
            names = [f"{path.name}#{i}" for i in range(len(points))]
        else:
            if path.is_file():
                files = [path]
            elif path.is_dir():
                files = _point_files(path)
                if not files:
                    raise DataError(f"no point files ({', '.join(POINT_SUFFIXES)}) in the folder", path=path)
            else:
                raise DataError("not found", path=path)
            clouds = {i: read_points(f, n=self.mesh_points, rng=np.random.default_rng([self.seed, i]))
                      for i, f in enumerate(files)}
            names = [f.name if path.is_file() else str(f.relative_to(path)) for f in files]
        return PointSet(clouds, None, np.arange(len(names)), self.num_points, self.normalize, None, self.seed), names

    # predictions -----------------------------------------------------------------------------
    prediction_fields = ("file", "label", "probability")

    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"file": self._predict_names[r["index"]], "label": self.classes[r["label"]],
                 "probability": r["probability"]} for r in rows]


__all__ = ["Augment", "CloudIndex", "POINT_DATASETS", "PointCloudDataModule", "PointSet", "SYNTHETIC_CLASSES",
           "digit_points", "list_point_folder", "normalize_cloud", "synthetic_shapes"]

"""The image classification data module: IDX / NumPy arrays or image folders -> normalised tensors,
stratified splits, timm augmentation and mixup/cutmix for training, CSV predictions (file,label,probability)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ssmkit.data import DataModule, data_dir, dataset_root, split_indices
from ssmkit.errors import ConfigError, DataError

from .readers import (
    ImageFolder,
    list_images,
    load_image,
    read_array,
    read_idx_pair,
    read_image_folder,
)

AUGMENTS = ("none", "timm", "affine")
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
ARRAY_SUFFIXES = (".npy", ".npz")


def _is_idx(path: Path) -> bool:
    return "idx" in path.name and "ubyte" in path.name


class ImageSet(Dataset):
    """Items {"x": (channels, size, size) float, "y": int (when labelled), "index": int}.

    ``images`` is a uint8 array (N, H, W, C) or a list of image files; ``index`` picks the items.
    Without a ``transform`` array images of the right size skip PIL: x = (pixels / 255 - mean) / std.
    """

    def __init__(self, images: np.ndarray | list[Path], labels: np.ndarray | None, index: np.ndarray,
                 channels: int, size: int, mean: tuple[float, ...], std: tuple[float, ...], transform=None):
        self.images, self.labels, self.index = images, labels, np.asarray(index, dtype=np.int64)
        self.channels, self.size, self.transform = channels, size, transform
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.index)

    def _pil(self, j: int):
        from PIL import Image

        if isinstance(self.images, np.ndarray):
            a = self.images[j]
            a = a[..., 0] if a.shape[-1] == 1 else a[..., :3]
            img = Image.fromarray(np.ascontiguousarray(a))
            return img.convert("L" if self.channels == 1 else "RGB")
        return load_image(self.images[j], self.channels)

    def __getitem__(self, i: int) -> dict:
        j = int(self.index[i])
        a = self.images[j] if isinstance(self.images, np.ndarray) else None
        if self.transform is None and a is not None and a.shape[0] == a.shape[1] == self.size and \
                a.shape[-1] in (self.channels, 4 if self.channels == 3 else -1):
            x = torch.from_numpy(np.ascontiguousarray(a[..., :self.channels])).permute(2, 0, 1).float() / 255
            x = (x - self.mean) / self.std
        else:
            img = self._pil(j)
            if self.transform is not None:
                x = self.transform(img)
            else:
                img = img.resize((self.size, self.size)) if img.size != (self.size, self.size) else img
                x = torch.from_numpy(np.array(img, dtype=np.uint8).reshape(self.size, self.size, -1))
                x = (x.permute(2, 0, 1).float() / 255 - self.mean) / self.std
        item = {"x": x, "index": j}
        if self.labels is not None:
            item["y"] = int(self.labels[j])
        return item


class ImageDataModule(DataModule):
    """Labelled images for classification.

    The images come from (first that is given): ``folder`` (``folder/<class>/<images>``, or with
    ``train/`` and ``test/`` (or ``val/``) subfolders used as the fixed split); ``array`` (.npy/.npz with
    images and labels, see ``readers.read_array``); ``idx_images`` + ``idx_labels`` (IDX files, gzipped or
    not); else the registered ``dataset`` ("vision/mnist", "vision/mnist_full") in ``data_dir``.

    Args:
        img_size: side of the square model input (default: the images' own side; 224 for folders of
            non-square images). channels: 1 (grey) or 3 (RGB); default from the data.
        mean, std: per-channel normalisation (default: measured on the training images for arrays;
            ImageNet's for RGB folders, 0.5 for grey folders).
        augment: "none", or "timm" (timm's training transform: random resized crop with ``scale``,
            ``hflip``, ``auto_augment`` e.g. "rand-m9-mstd0.5", random erasing ``re_prob``), or "affine"
            (a random rotation within +-``degrees``, shift within +-``translate`` of the side and zoom in
            ``scale``, edges filled with black, ``hflip`` if asked: digits and other centred images).
        mixup, cutmix: alpha of timm's Mixup / CutMix on training batches (0 = off); targets become soft.
        subset: keep a stratified sample of this many images before splitting (quick runs).
        predict_path: an image file, a folder of images, a .npy/.npz or an IDX file to classify
            (default: the test split).
    """

    def __init__(self, dataset: str = "vision/mnist", data_dir: str | None = None, folder: str | None = None,
                 array: str | None = None, idx_images: str | None = None, idx_labels: str | None = None,
                 img_size: int | None = None, channels: int | None = None, mean: list[float] | None = None,
                 std: list[float] | None = None, augment: str = "none", scale: tuple[float, float] = (0.8, 1.0),
                 hflip: float = 0.0, auto_augment: str | None = None, re_prob: float = 0.0, degrees: float = 10.0,
                 translate: float = 0.1, mixup: float = 0.0,
                 cutmix: float = 0.0, subset: int | None = None, val_fraction: float = 0.1,
                 test_fraction: float = 0.2, predict_path: str | None = None, batch_size: int = 128,
                 num_workers: int = 0, seed: int = 0):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if augment not in AUGMENTS:
            raise ConfigError(f"augment={augment!r}: use one of {', '.join(AUGMENTS)}")
        if channels not in (None, 1, 3):
            raise ConfigError(f"channels={channels}: use 1 (grey) or 3 (RGB)")
        if mixup < 0 or cutmix < 0:
            raise ConfigError(f"mixup={mixup}, cutmix={cutmix}: alphas must be >= 0")
        self.dataset, self.data_dir, self.folder, self.array = dataset, data_dir, folder, array
        self.idx_images, self.idx_labels = idx_images, idx_labels
        self.img_size_arg, self.channels_arg, self.mean_arg, self.std_arg = img_size, channels, mean, std
        self.augment, self.scale, self.hflip = augment, scale, hflip
        self.auto_augment, self.re_prob = auto_augment, re_prob
        if degrees < 0 or not 0 <= translate < 1:
            raise ConfigError(f"degrees={degrees}, translate={translate}: need degrees >= 0 and 0 <= translate < 1")
        self.degrees, self.translate = degrees, translate
        self.mixup, self.cutmix, self.subset = mixup, cutmix, subset
        self.val_fraction, self.test_fraction, self.predict_path = val_fraction, test_fraction, predict_path
        self._data: dict | None = None
        self._mixer = None

    # reading ---------------------------------------------------------------------------------
    def _read_arrays(self, x: np.ndarray, y: np.ndarray | None, path: Path, name: str) -> dict:
        if y is None:
            raise DataError("no labels: give an .npz with images and labels (keys x, y)", path=path)
        return {"images": x, "labels": y, "classes": [str(c) for c in range(int(y.max()) + 1)],
                "names": [f"{name}#{i}" for i in range(len(x))], "fixed": None}

    def _read_folder(self, root: Path) -> dict:
        subdirs = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
        held = "test" if "test" in subdirs else "val" if "val" in subdirs else None
        if "train" in subdirs and held:
            train = read_image_folder(root / "train")
            other = read_image_folder(root / held, classes=train.classes)
            files = train.files + other.files
            fixed = {"train": np.arange(len(train.files)), "test": np.arange(len(train.files), len(files))}
            labels = np.concatenate([train.labels, other.labels])
            return {"images": files, "labels": labels, "classes": train.classes, "fixed": fixed,
                    "names": [str(f.relative_to(root)) for f in files]}
        tree: ImageFolder = read_image_folder(root)
        return {"images": tree.files, "labels": tree.labels, "classes": tree.classes, "fixed": None,
                "names": [str(f.relative_to(root)) for f in tree.files]}

    def _read(self) -> dict:
        if self.folder:
            self.source = f"real: {Path(self.folder).name}/"
            return self._read_folder(Path(self.folder))
        if self.array:
            path = Path(self.array)
            self.source = f"real: {path.name}"
            return self._read_arrays(*read_array(path), path, path.name)
        if self.idx_images:
            if not self.idx_labels:
                raise ConfigError("idx_images needs idx_labels (the IDX label file)")
            path = Path(self.idx_images)
            self.source = f"real: {path.name}"
            return self._read_arrays(*read_idx_pair(path, self.idx_labels), path, path.name)
        from .datasets import MNIST_FILES

        name = self.dataset.split("/", 1)[-1]
        if name not in MNIST_FILES:
            raise ConfigError(f"dataset {self.dataset!r} is not an image dataset; use "
                              f"{', '.join('vision/' + n for n in MNIST_FILES)}, or folder=, array=, idx_images=")
        dataset_root(self.dataset, self.data_dir)  # a one-line error naming the fetch command if absent
        base = data_dir(self.data_dir)
        parts = [(split, *read_idx_pair(base / img, base / lab)) for split, (img, lab) in MNIST_FILES[name].items()]
        x = np.concatenate([p[1] for p in parts])
        y = np.concatenate([p[2] for p in parts])
        fixed, start = None, 0
        if len(parts) > 1:
            fixed = {}
            for split, xs, _ in parts:
                fixed[split] = np.arange(start, start + len(xs))
                start += len(xs)
        self.source = f"real: {name} ({len(x)} images)"
        names = [f"{Path(MNIST_FILES[name][split][0]).name}#{i}" for split, xs, _ in parts for i in range(len(xs))]
        return {"images": x, "labels": y, "classes": [str(c) for c in range(10)], "fixed": fixed,
                "names": names}

    def _load(self) -> dict:
        if self._data is None:
            self._data = self._read()
        return self._data

    @property
    def classes(self) -> list[str]:
        if self.fitted is not None:  # predict: the checkpoint's classes
            return list(self.fitted["classes"])
        return self._load()["classes"]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def channels(self) -> int:
        if self.channels_arg:
            return int(self.channels_arg)
        if self.fitted is not None:
            return int(self.fitted["channels"])
        images = self._load()["images"]
        if isinstance(images, np.ndarray):
            return 1 if images.shape[-1] == 1 else 3
        return 1 if _mode(images[0]) in GREY_MODES else 3

    @property
    def img_size(self) -> int:
        if self.img_size_arg:
            return int(self.img_size_arg)
        if self.fitted is not None:
            return int(self.fitted["img_size"])
        images = self._load()["images"]
        if isinstance(images, np.ndarray):
            h, w = images.shape[1:3]
            if h != w:
                raise ConfigError(f"the images are {h}x{w}: set img_size (the square side to resize them to)")
            return int(h)
        w, h = load_image(images[0], 1).size
        return int(h) if h == w else 224

    # normalisation and transforms -------------------------------------------------------------
    def _norm(self, train: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
        c = self.channels
        if self.mean_arg is not None and self.std_arg is not None:
            mean, std = tuple(float(v) for v in self.mean_arg), tuple(float(v) for v in self.std_arg)
            if len(mean) != c or len(std) != c:
                raise ConfigError(f"mean and std need {c} value(s) each (one per channel)")
            return mean, std
        images = self._load()["images"]
        if isinstance(images, np.ndarray):
            pixels = images[train[:10_000], ..., :c].reshape(-1, images[..., :c].shape[-1]).astype(np.float64) / 255
            if c == 3 and pixels.shape[1] == 1:
                pixels = np.repeat(pixels, 3, axis=1)
            return tuple(pixels.mean(0).round(4).tolist()), tuple(np.maximum(pixels.std(0), 1e-3).round(4).tolist())
        from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

        return (IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD) if c == 3 else ((0.5,), (0.5,))

    def _transforms(self, mean, std) -> tuple[Any, Any]:
        """(train, eval) transforms on PIL images; None where the array fast path applies."""
        images = self._load()["images"]
        native = isinstance(images, np.ndarray) and images.shape[1] == images.shape[2] == self.img_size
        if self.augment == "none" and native:
            return None, None
        from timm.data import create_transform

        size = (self.channels, self.img_size, self.img_size)
        evaluate = None if native else create_transform(size, is_training=False, mean=mean, std=std, crop_pct=1.0,
                                                        interpolation="bilinear")
        if self.augment == "none":
            return evaluate, evaluate
        if self.augment == "affine":
            from torchvision import transforms

            flip = [transforms.RandomHorizontalFlip(self.hflip)] if self.hflip > 0 else []
            train = transforms.Compose([  # resized and cropped as for evaluation, then moved
                transforms.Resize(self.img_size), transforms.CenterCrop(self.img_size), *flip,
                transforms.RandomAffine(self.degrees, translate=(self.translate, self.translate),
                                        scale=tuple(self.scale), interpolation=transforms.InterpolationMode.BILINEAR),
                transforms.ToTensor(), transforms.Normalize(mean, std)])
            return train, evaluate
        train = create_transform(size, is_training=True, mean=mean, std=std, scale=tuple(self.scale),
                                 hflip=self.hflip, auto_augment=self.auto_augment, re_prob=self.re_prob,
                                 interpolation="bilinear", color_jitter=None)
        return train, evaluate

    def fitted_state(self) -> dict[str, Any] | None:
        """Class names, normalisation and input size: all that predicting new images needs."""
        if getattr(self, "mean", None) is None:
            return None
        return {"classes": list(self.classes), "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std], "img_size": self.img_size, "channels": self.channels}

    # splits ----------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_path and self.fitted is not None:  # no training data needed
            self.mean, self.std = tuple(self.fitted["mean"]), tuple(self.fitted["std"])
            self.predict_set, self._predict_names = self._predict_data(Path(self.predict_path), self.mean, self.std)
            self.source = f"real: {self.predict_path} (classes and normalisation from the checkpoint)"
            return
        data = self._load()
        labels, fixed = data["labels"], data["fixed"]
        if len(labels) and labels.max() >= self.num_classes:
            raise DataError(f"label {labels.max()} is out of range for {self.num_classes} classes")
        keep = np.arange(len(labels))
        if self.subset and self.subset < len(labels):
            keep, _, _ = split_indices(len(labels), 0.0, 1 - self.subset / len(labels), self.seed, labels=labels)
            if "subset" not in self.source:
                self.source += f", stratified subset of {len(keep)}"
        if fixed is not None:
            train_all = np.intersect1d(fixed["train"], keep)
            tr, va, _ = split_indices(len(train_all), self.val_fraction, 0.0, self.seed, labels=labels[train_all])
            train, val, test = train_all[tr], train_all[va], np.intersect1d(fixed["test"], keep)
        else:
            tr, va, te = split_indices(len(keep), self.val_fraction, self.test_fraction, self.seed,
                                       labels=labels[keep])
            train, val, test = keep[tr], keep[va], keep[te]
        if len(train) == 0:
            raise DataError(f"no training images left after the split ({len(keep)} images)")
        if self.fitted is None:
            mean, std = self._norm(train)
        else:  # predicting the test split: the model's own normalisation
            mean, std = tuple(self.fitted["mean"]), tuple(self.fitted["std"])
        self.mean, self.std = mean, std
        train_tf, eval_tf = self._transforms(mean, std)
        images, c, s = data["images"], self.channels, self.img_size
        self.train_set = ImageSet(images, labels, train, c, s, mean, std, train_tf)
        self.val_set = ImageSet(images, labels, val, c, s, mean, std, eval_tf) if len(val) else None
        self.test_set = ImageSet(images, labels, test, c, s, mean, std, eval_tf) if len(test) else None
        self.predict_set, self._predict_names = self.test_set, data["names"]
        if self.predict_path:
            self.predict_set, self._predict_names = self._predict_data(Path(self.predict_path), mean, std)
        if self.mixup > 0 or self.cutmix > 0:
            from timm.data import Mixup

            self._mixer = Mixup(mixup_alpha=self.mixup, cutmix_alpha=self.cutmix, label_smoothing=0.0,
                                num_classes=self.num_classes)

    def _predict_data(self, path: Path, mean, std) -> tuple[ImageSet, list[str]]:
        c, s = self.channels, self.img_size
        if path.is_file() and (path.suffix.lower() in ARRAY_SUFFIXES or _is_idx(path)):
            x, _ = read_array(path) if path.suffix.lower() in ARRAY_SUFFIXES else read_idx_pair(path)
            names = [f"{path.name}#{i}" for i in range(len(x))]
            tf = None if x.shape[1] == x.shape[2] == s else _eval_tf(c, s, mean, std)
            return ImageSet(x, None, np.arange(len(x)), c, s, mean, std, tf), names
        files = list_images(path)
        names = [f.name if path.is_file() else str(f.relative_to(path)) for f in files]
        return ImageSet(files, None, np.arange(len(files)), c, s, mean, std, _eval_tf(c, s, mean, std)), names

    # mixup / cutmix on whole training batches ---------------------------------------------------
    def on_after_batch_transfer(self, batch: dict, dataloader_idx: int) -> dict:
        trainer = getattr(self, "trainer", None)
        if self._mixer is None or trainer is None or not trainer.training or "y" not in batch:
            return batch
        if len(batch["x"]) % 2:  # timm's Mixup pairs samples: an odd last batch gets one-hot targets
            batch["y"] = torch.nn.functional.one_hot(batch["y"], self.num_classes).float()
            return batch
        batch["x"], batch["y"] = self._mixer(batch["x"], batch["y"])
        return batch

    # predictions -----------------------------------------------------------------------------
    prediction_fields = ("file", "label", "probability")

    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"file": self._predict_names[r["index"]], "label": self.classes[r["label"]],
                 "probability": r["probability"]} for r in rows]


def _mode(path: Path) -> str:
    """The PIL mode of an image file ("L", "RGB", ...) without decoding its pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.mode
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"cannot decode as an image ({type(exc).__name__}: {exc})", path=path) from None


def _eval_tf(channels: int, size: int, mean, std):
    from timm.data import create_transform

    return create_transform((channels, size, size), is_training=False, mean=mean, std=std, crop_pct=1.0,
                            interpolation="bilinear")


__all__ = ["AUGMENTS", "ImageDataModule", "ImageSet"]

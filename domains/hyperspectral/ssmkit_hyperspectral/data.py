"""The denoising data module: clean cubes -> noisy/clean patch pairs for training, whole cubes per noise case
for testing, and any noisy cube for prediction (written back in its own format).

Every cube is min-max scaled to [0, 1] on reading (the protocol). The test cubes are those whose file name
contains ``test_scene`` (or ``test_paths``); the others are for training, less a strip of ``val_fraction`` of
their rows at the bottom, kept for validation. Training patches are ``patch_size`` x ``patch_size`` pixels x
``train_bands`` consecutive bands (a random window, so cubes with different band counts share batches),
flipped and rotated at random, with fresh noise of a case drawn from ``noise`` each time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ssmkit.data import DataModule, data_dir
from ssmkit.data.catalog import dataset_root, entry
from ssmkit.errors import ConfigError, DataError

from .noise import add_noise, minmax, noise_case
from .readers import FORMATS, Cube, read_cube, write_cube

__all__ = ["HSIDenoiseDataModule", "PatchSet", "CubeSet", "cube_files"]

TRAIN_NOISE = ("blind", "gaussian30", "gaussian50", "gaussian70")
TEST_NOISE = ("gaussian30", "gaussian50", "gaussian70", "blind")


def cube_files(folder: Path) -> list[Path]:
    """Cube files in a folder (by suffix; ENVI by header), or the folder itself if it holds PNG bands."""
    if any(f.suffix.lower() == ".png" for f in folder.iterdir()):
        return [folder]
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".mat", ".npy", ".tif", ".tiff", ".hdr"))
    files += sorted(d for d in folder.iterdir() if d.is_dir() and any(f.suffix.lower() == ".png" for f in d.iterdir()))
    return files


def _centre_crop(x: np.ndarray, crop: int | None) -> np.ndarray:
    """(bands, H, W) -> centre crop ``crop`` x ``crop`` (clipped to the cube)."""
    if not crop:
        return x
    H, W = x.shape[1:]
    r, c = max(0, (H - crop) // 2), max(0, (W - crop) // 2)
    return x[:, r:r + crop, c:c + crop]


class PatchSet(Dataset):
    """Random training pairs {"x": noisy (bands, p, p), "y": clean (bands, p, p)} from clean cubes (bands, H, W)."""

    def __init__(self, cubes: list[np.ndarray], patch: int, bands: int, length: int, noise: list[str],
                 band_fraction: float, seed: int = 0):
        self.cubes, self.patch, self.bands, self.length = cubes, patch, bands, length
        self.noise, self.band_fraction = noise, band_fraction
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict:
        rng = self.rng
        cube = self.cubes[int(rng.integers(len(self.cubes)))]
        B, H, W = cube.shape
        b0 = int(rng.integers(B - self.bands + 1))
        r, c = int(rng.integers(H - self.patch + 1)), int(rng.integers(W - self.patch + 1))
        clean = cube[b0:b0 + self.bands, r:r + self.patch, c:c + self.patch]
        clean = np.rot90(clean, int(rng.integers(4)), axes=(1, 2))
        if rng.random() < 0.5:
            clean = clean[:, :, ::-1]
        clean = np.ascontiguousarray(clean)
        noisy, _ = add_noise(clean, self.noise[int(rng.integers(len(self.noise)))], int(rng.integers(2**31)),
                             self.band_fraction)
        return {"x": torch.from_numpy(noisy), "y": torch.from_numpy(clean)}


class CubeSet(Dataset):
    """Fixed items {"x": noisy (bands, H, W), "y": clean or x, "sigma": (bands,), "case": str, "index": int}."""

    def __init__(self, items: list[dict]):
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


def _item(noisy: np.ndarray, clean: np.ndarray | None, sigma, case: str, index: int, name: str) -> dict:
    x = torch.from_numpy(np.ascontiguousarray(noisy, dtype=np.float32))
    y = x if clean is None else torch.from_numpy(np.ascontiguousarray(clean, dtype=np.float32))
    sig = torch.zeros(x.shape[0]) if sigma is None else torch.as_tensor(sigma, dtype=torch.float32)
    return {"x": x, "y": y, "sigma": sig, "case": case, "index": index, "name": name}


class HSIDenoiseDataModule(DataModule):
    """Cubes for denoising.

    The cubes are ``paths`` (files or PNG-band folders) if given, else every cube of the registered
    ``datasets`` in ``data_dir``; test cubes: ``test_paths``, or those whose name contains ``test_scene``
    (None: test on the validation strips).

    Args:
        axes, variable, fmt: passed to the reader (axis order such as "BHW"; MATLAB variable; format).
        crop: centre-crop every cube to crop x crop pixels (quick runs).
        patch_size, train_bands: training patch size (pixels) and spectral window (bands; capped at the
            fewest bands of any training cube).
        patches_per_epoch: training pairs per epoch (fresh noise each).
        noise: training noise cases (one drawn per patch); val_noise: the validation case; test_noise: the
            cases of ``test`` (each cube x each case, noise seeded by ``seed``, the same for every model).
        band_fraction: share of the bands hit by stripes / dead lines / impulse noise.
        predict_path: a cube to denoise (any supported format); predict_noise: add this noise case first
            (to try the model on a clean cube); spectrum_pixel: (row, col) whose spectrum the PNG shows.
    """

    def __init__(self, datasets: list[str] | None = None, data_dir: str | None = None, paths: list[str] | None = None,
                 test_paths: list[str] | None = None, test_scene: str | None = "chart_and_stuffed_toy",
                 axes: str | None = None, variable: str | None = None, fmt: str | None = None,
                 crop: int | None = None, patch_size: int = 64, train_bands: int = 31, patches_per_epoch: int = 1024,
                 noise: list[str] | None = None, val_noise: str = "gaussian50", test_noise: list[str] | None = None,
                 band_fraction: float = 1 / 3, val_fraction: float = 0.125, predict_path: str | None = None,
                 predict_noise: str | None = None, spectrum_pixel: tuple[int, int] | None = None,
                 batch_size: int = 8, num_workers: int = 0, seed: int = 0):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        self.datasets = list(datasets) if datasets is not None else ["hyperspectral/cave", "hyperspectral/jasper_ridge"]
        self.data_dir, self.paths, self.test_paths, self.test_scene = data_dir, paths, test_paths, test_scene
        self.axes, self.variable, self.fmt, self.crop = axes, variable, fmt, crop
        self.patch_size, self.train_bands, self.patches_per_epoch = patch_size, train_bands, patches_per_epoch
        self.noise = [noise_case(n) for n in (noise or TRAIN_NOISE)]
        self.val_noise = noise_case(val_noise)
        self.test_noise = [noise_case(n) for n in (test_noise or TEST_NOISE)]
        if predict_noise is not None:
            noise_case(predict_noise)
        if not 0 < val_fraction < 1:
            raise ConfigError(f"val_fraction={val_fraction}: give a fraction of the rows in (0, 1)")
        self.band_fraction, self.val_fraction = band_fraction, val_fraction
        self.predict_path, self.predict_noise, self.spectrum_pixel = predict_path, predict_noise, spectrum_pixel
        self._cubes: tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]] | None = None
        self._predict: dict[str, Any] | None = None
        self.written: list[Path] = []

    # reading ---------------------------------------------------------------------------------
    def _dataset_files(self) -> list[Path]:
        root = data_dir(self.data_dir)
        files: list[Path] = []
        for name in self.datasets:
            dataset_root(name, self.data_dir)  # DataError naming the missing file and how to fetch it
            for f in entry(name).files:
                p = root / f.path
                files += cube_files(p) if p.is_dir() else [p]
        return files

    def _read(self, path: str | os.PathLike) -> np.ndarray:
        cube = read_cube(path, fmt=self.fmt, axes=self.axes, variable=self.variable)
        return _centre_crop(minmax(cube.data.transpose(2, 0, 1)), self.crop)

    @staticmethod
    def _name(path: str | os.PathLike) -> str:
        p = Path(path)
        return p.name if p.is_dir() else p.stem

    def _load(self) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
        if self._cubes is None:
            files = [Path(p) for p in self.paths] if self.paths else self._dataset_files()
            if self.test_paths:
                test_files = [Path(p) for p in self.test_paths]
            elif self.test_scene:
                test_files = [f for f in files if self.test_scene in self._name(f)]
                if not test_files:
                    raise DataError(f"no cube named like test_scene={self.test_scene!r} among "
                                    f"{', '.join(self._name(f) for f in files)}; pass test_scene= or test_paths=")
            else:
                test_files = []
            train_files = [f for f in files if f not in test_files]
            if not train_files:
                raise DataError("no training cubes left once the test cubes are set aside")
            train = [(self._name(f), self._read(f)) for f in train_files]
            test = [(self._name(f), self._read(f)) for f in test_files]
            self._cubes = (train, test)
            what = ", ".join(n for n, _ in train)
            held = ", ".join(n for n, _ in test) or "validation strips"
            self.source = f"real: train {what}; test {held}" + (f" (centre {self.crop} px)" if self.crop else "")
        return self._cubes

    # splits ----------------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        train, test = self._load()
        fit_parts, val_parts = [], []
        for name, cube in train:
            H = cube.shape[1]
            n_val = max(1, int(round(self.val_fraction * H)))
            fit_parts.append(cube[:, :H - n_val])
            val_parts.append((name, cube[:, H - n_val:]))
        patch = min([self.patch_size] + [min(c.shape[1:]) for c in fit_parts])
        bands = min([self.train_bands] + [c.shape[0] for c in fit_parts])
        if patch < 4:
            raise DataError(f"training cubes too small for patches ({patch} px); lower val_fraction or crop less")
        self.patch, self.bands = patch, bands
        self.train_set = PatchSet(fit_parts, patch, bands, self.patches_per_epoch, self.noise, self.band_fraction,
                                  seed=self.seed)
        val_items = []
        for i, (name, strip) in enumerate(val_parts):
            noisy, info = add_noise(strip, self.val_noise, self.seed + 7919 * (i + 1), self.band_fraction)
            val_items.append(_item(noisy, strip, info["sigma"], self.val_noise, i, name))
        self.val_set = CubeSet(val_items)
        test_items = []
        for i, (name, cube) in enumerate(test or val_parts):
            for j, case in enumerate(self.test_noise):
                noisy, info = add_noise(cube, case, self.seed + 1000 * i + j, self.band_fraction)
                test_items.append(_item(noisy, cube, info["sigma"], case, len(test_items), name))
        self.test_set = CubeSet(test_items)
        self.predict_set = CubeSet(test_items[:1])
        self._predict = None
        if self.predict_path:
            self.predict_set = CubeSet([self._predict_item()])

    def _predict_item(self) -> dict:
        cube = read_cube(self.predict_path, fmt=self.fmt, axes=self.axes, variable=self.variable)
        raw = cube.data.transpose(2, 0, 1).astype(np.float64)
        lo, hi = float(raw.min()), float(raw.max())
        x = minmax(raw)
        sigma = None
        if self.predict_noise:
            x, info = add_noise(x, self.predict_noise, self.seed, self.band_fraction)
            sigma = info["sigma"]
        self._predict = {"cube": cube, "lo": lo, "hi": hi, "noisy": x}
        return _item(x, None, sigma, self.predict_noise or "input", 0, self._name(self.predict_path))

    # loaders: whole cubes, one at a time (sizes and band counts differ) ---------------------------
    def _one_by_one(self, dataset: Dataset | None) -> DataLoader:
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: this split is empty or setup() was not run")
        return DataLoader(dataset, batch_size=1, shuffle=False, num_workers=0)

    def val_dataloader(self) -> DataLoader:
        return self._one_by_one(self.val_set)

    def test_dataloader(self) -> DataLoader:
        return self._one_by_one(self.test_set)

    def predict_dataloader(self) -> DataLoader:
        return self._one_by_one(self.predict_set)

    # predictions -----------------------------------------------------------------------------
    @property
    def prediction_file(self) -> str:
        """denoised.<the input's suffix> (a folder for PNG bands; .npy without predict_path)."""
        if not self.predict_path:
            return "denoised.npy"
        p = Path(self.predict_path)
        if p.is_dir():
            return "denoised"
        return "denoised" + (p.suffix if p.suffix.lower() in FORMATS else ".img")

    def write_predictions(self, rows: list[dict[str, Any]], path: str | Path) -> Path:
        """The denoised cube, in the predict cube's format and dtype and range (or .npy float32), atomically,
        plus <name>_before_after.png beside it (false colour before/after and one pixel's spectrum)."""
        from .plot import plot_before_after

        path = Path(path)
        denoised = np.asarray(rows[0]["denoised"], dtype=np.float64)  # (bands, H, W) in [0, 1]
        item = self.predict_set[0]
        before, clean = item["x"].numpy(), None
        like: Cube | None = None
        wavelengths = None
        if self._predict is not None:
            p = self._predict
            like, wavelengths = p["cube"], p["cube"].wavelengths
            data = denoised * (p["hi"] - p["lo"]) + p["lo"]
            if self.predict_noise:
                clean = minmax(like.data.transpose(2, 0, 1))
        else:
            data, clean = denoised, item["y"].numpy()
        self.written = write_cube(data.transpose(1, 2, 0).astype(np.float32), path, like=like)
        png = path.with_name(f"{path.stem}_before_after.png")
        self.written.append(plot_before_after(before, denoised, png, clean=clean, wavelengths=wavelengths,
                                              pixel=self.spectrum_pixel))
        return self.written[0]

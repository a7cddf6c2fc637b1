"""Hyperspectral cube files -> ``Cube`` (height, width, bands), and back, with errors that name the file.

Formats (chosen by suffix, or by ``fmt``):

* ``mat``: MATLAB v5 (``scipy.io.loadmat``) and v7.3 (HDF5, ``h5py``; MATLAB stores arrays column-major, so
  h5py's dimensions are reversed back to MATLAB's). The cube is the variable named ``variable``, else the
  first 3-D numeric variable with a usual name (``CUBE_NAMES``: rad, NRD, paviaU, ...), else the largest
  3-D numeric variable. The unmixing layout (``Y`` bands x pixels plus ``nRow``/``nCol``, pixels in
  column-major order, as Jasper Ridge, Samson, Urban) is recognised when the file has no 3-D variable.
* ``envi``: a ``.hdr`` header beside a raw file (``.img .raw .dat .bsq .bil .bip`` or no suffix), read with
  the ``spectral`` package after checking the file holds as many bytes as the header says.
* ``tiff``: multi-page TIFF (one page per band) or one page with samples, through ``tifffile``.
* ``npy``: NumPy ``.npy``.
* ``png``: a folder of one grey PNG per band (8 or 16 bit), ordered by the number ending each name, as CAVE
  ships them (``<scene>_ms_01.png ... <scene>_ms_31.png``; CAVE's 31 bands are 400-700 nm in 10 nm steps,
  which become the wavelengths).

Axis order: ``axes`` names the file's axes with the letters H (rows), W (columns) and B (bands), e.g. "HWB"
(MATLAB, ENVI BIP) or "BHW" (multi-page TIFF); left out, the band axis is the one whose length equals the
number of wavelengths, else the unique shortest axis (cubes have fewer bands than rows or columns), else
the format's own order; rows come before columns in the file order. Wavelengths (nm) are kept when the file
holds them (ENVI ``wavelength``, a MATLAB ``wavelength``/``bands`` variable of the right length).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssmkit.atomic import atomic_write, file_mode
from ssmkit.errors import DataError

__all__ = ["Cube", "FORMATS", "CUBE_NAMES", "read_cube", "write_cube", "format_of", "to_hwb"]

PathLike = str | os.PathLike

FORMATS = {".mat": "mat", ".npy": "npy", ".tif": "tiff", ".tiff": "tiff", ".hdr": "envi", ".img": "envi",
           ".raw": "envi", ".dat": "envi", ".bsq": "envi", ".bil": "envi", ".bip": "envi"}
_ENVI_DATA_SUFFIXES = (".img", ".raw", ".dat", ".bsq", ".bil", ".bip", "")
CUBE_NAMES = ("cube", "hsi", "msi", "rad", "radiance", "ref", "reflectance", "nrd", "data", "img", "image", "gt",
              "clean", "dc", "paviau", "pavia", "indian_pines_corrected", "indian_pines", "salinas_corrected", "x")
WAVELENGTH_NAMES = ("wavelength", "wavelengths", "wl", "lambda", "wave", "bands")
_MAT73_MAGIC = b"MATLAB 7.3 MAT-file"
_MATLAB_CLASS = {"float64": "double", "float32": "single", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
                 "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "uint64": "uint64"}


@dataclass
class Cube:
    """``data`` (height, width, bands) in the file's dtype; ``wavelengths`` (bands,) nm or None; ``fmt`` the
    format read; ``meta`` what ``write_cube`` needs to write the same layout back (variable, axes, ...)."""

    data: np.ndarray
    wavelengths: np.ndarray | None = None
    path: str = ""
    fmt: str = "npy"
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def bands(self) -> int:
        return int(self.data.shape[2])


# --------------------------------------------------------------------------------------------- axes


def _check_axes(axes: str, path) -> str:
    axes = axes.upper()
    if sorted(axes) != ["B", "H", "W"]:
        raise DataError(f"axes={axes!r}: give the file's three axes as a permutation of 'H', 'W', 'B' "
                        "(e.g. 'HWB' or 'BHW')", path=path)
    return axes


def detect_axes(shape: tuple[int, ...], path, n_wavelengths: int | None = None, default: str | None = None) -> str:
    """The file's axes as a string over H, W, B (see the module's docstring)."""
    band = None
    if n_wavelengths is not None and sum(s == n_wavelengths for s in shape) == 1:
        band = shape.index(n_wavelengths)
    elif sorted(shape)[0] < sorted(shape)[1]:
        band = int(np.argmin(shape))
    elif default is not None:
        return default
    if band is None:
        raise DataError(f"cannot tell which axis of the {'x'.join(map(str, shape))} array holds the bands "
                        "(two axes are shortest); pass axes='HWB', 'BHW', ...", path=path)
    rest = iter("HW")
    return "".join("B" if i == band else next(rest) for i in range(3))


def to_hwb(array: np.ndarray, axes: str) -> np.ndarray:
    """array in the order ``axes`` -> (H, W, B)."""
    return np.ascontiguousarray(np.transpose(array, [axes.index(a) for a in "HWB"]))


def from_hwb(array: np.ndarray, axes: str) -> np.ndarray:
    """(H, W, B) -> the order ``axes``."""
    return np.ascontiguousarray(np.transpose(array, ["HWB".index(a) for a in axes]))


def _validate(array: np.ndarray, path, what: str = "cube") -> np.ndarray:
    if array.ndim != 3:
        raise DataError(f"{what} has {array.ndim} dimensions ({'x'.join(map(str, array.shape))}), expected 3 "
                        "(height, width, bands)", path=path)
    if min(array.shape) == 0:
        raise DataError(f"{what} is empty ({'x'.join(map(str, array.shape))})", path=path)
    if array.dtype.kind not in "uif":
        raise DataError(f"{what} has dtype {array.dtype}, expected integers or floats", path=path)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError(f"{what} holds {int(bad.sum())} NaN/Inf values (first at index {first})", path=path)
    return array


def _finish(array: np.ndarray, path, fmt: str, axes: str | None, default_axes: str | None,
            wavelengths: np.ndarray | None, meta: dict) -> Cube:
    array = np.asarray(array)
    if array.ndim != 3:
        _validate(array, path)
    n_wl = None if wavelengths is None else len(wavelengths)
    axes = _check_axes(axes, path) if axes else detect_axes(array.shape, path, n_wl, default_axes)
    data = _validate(to_hwb(array, axes), path)
    if wavelengths is not None:
        wavelengths = np.asarray(wavelengths, dtype=np.float64).reshape(-1)
        if len(wavelengths) != data.shape[2]:
            raise DataError(f"mismatched dimensions: {len(wavelengths)} wavelengths but the cube has "
                            f"{data.shape[2]} bands along axis {axes.index('B')} (axes={axes!r})", path=path)
    return Cube(data, wavelengths, str(path), fmt, {**meta, "axes": axes})


# --------------------------------------------------------------------------------------------- formats


def format_of(path: PathLike, fmt: str | None = None) -> str:
    path = Path(path)
    if fmt is not None:
        key = fmt.lower().lstrip(".")
        key = {"tif": "tiff", "hdr": "envi", "mat73": "mat"}.get(key, key)
        if key not in ("mat", "npy", "tiff", "envi", "png"):
            raise DataError(f"unknown cube format {fmt!r}; use mat, envi, tiff, npy or png (a folder)", path=path)
        return key
    if path.is_dir():
        return "png"
    suffix = path.suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    if path.with_name(path.name + ".hdr").exists() or path.with_suffix(".hdr").exists():
        return "envi"
    raise DataError(f"cannot tell the cube format from the name (known: {', '.join(FORMATS)}, a folder of PNG "
                    "bands, or an ENVI file beside its .hdr); pass fmt=", path=path)


def read_cube(path: PathLike, fmt: str | None = None, axes: str | None = None, variable: str | None = None) -> Cube:
    """Read one hyperspectral cube (any supported format) -> ``Cube`` with data (H, W, B)."""
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    fmt = format_of(path, fmt)
    if fmt != "png" and path.is_dir():
        raise DataError("is a directory, expected a file (a folder is read as PNG bands: fmt='png')", path=path)
    reader = {"mat": _read_mat, "npy": _read_npy, "tiff": _read_tiff, "envi": _read_envi, "png": _read_png}[fmt]
    return reader(path, axes, variable)


def _is_mat73(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(128)
    if head.startswith(_MAT73_MAGIC):
        return True
    import h5py

    return bool(h5py.is_hdf5(str(path)))


def _pick_variable(arrays: dict[str, np.ndarray], path, variable: str | None) -> tuple[str | None, str]:
    """(name, layout) with layout "cube" or "unmixing"; name None when there is nothing usable."""
    if variable is not None:
        if variable not in arrays:
            raise DataError(f"no variable {variable!r} (variables: {', '.join(sorted(arrays)) or 'none'})", path=path)
        if arrays[variable].ndim == 2 and _unmixing_dims(arrays):
            return variable, "unmixing"
        return variable, "cube"
    cubes = {k: v for k, v in arrays.items() if v.ndim == 3 and v.dtype.kind in "uif" and min(v.shape) > 1}
    by_name = {k.lower(): k for k in cubes}
    for name in CUBE_NAMES:
        if name in by_name:
            return by_name[name], "cube"
    if cubes:
        return max(cubes, key=lambda k: cubes[k].size), "cube"
    dims = _unmixing_dims(arrays)
    if dims:
        mats = {k: v for k, v in arrays.items() if v.ndim == 2 and v.dtype.kind in "uif" and min(v.shape) > 1}
        if "Y" in mats:
            return "Y", "unmixing"
        if mats:
            return max(mats, key=lambda k: mats[k].size), "unmixing"
    return None, ""


def _scalar(arrays: dict, *names: str) -> int | None:
    lower = {k.lower(): v for k, v in arrays.items()}
    for name in names:
        v = lower.get(name.lower())
        if v is not None and np.size(v) == 1 and np.asarray(v).dtype.kind in "uif":
            return int(np.asarray(v).reshape(-1)[0])
    return None


def _unmixing_dims(arrays: dict) -> tuple[int, int] | None:
    rows, cols = _scalar(arrays, "nRow", "nRows", "rows"), _scalar(arrays, "nCol", "nCols", "cols")
    return (rows, cols) if rows and cols else None


def _wavelengths_of(arrays: dict) -> np.ndarray | None:
    lower = {k.lower(): v for k, v in arrays.items()}
    for name in WAVELENGTH_NAMES:
        v = lower.get(name)
        if v is not None and np.asarray(v).dtype.kind in "uif" and np.asarray(v).ndim <= 2 and np.size(v) > 1 \
                and min(np.shape(v) or (1,)) == 1:
            return np.asarray(v, dtype=np.float64).reshape(-1)
    return None


def _from_unmixing(y: np.ndarray, dims: tuple[int, int], path, name: str) -> tuple[np.ndarray, bool]:
    """Y (bands, pixels) or (pixels, bands), pixels column-major over nRow x nCol -> (H, W, B), pixels_first."""
    rows, cols = dims
    n = rows * cols
    if y.shape[1] == n:
        pixels_first = False
    elif y.shape[0] == n:
        y, pixels_first = y.T, True
    else:
        raise DataError(f"mismatched dimensions: {name} is {y.shape[0]}x{y.shape[1]} but nRow x nCol = "
                        f"{rows} x {cols} = {n} pixels", path=path)
    return y.reshape(y.shape[0], rows, cols, order="F").transpose(1, 2, 0), pixels_first


def _read_mat(path: Path, axes: str | None, variable: str | None) -> Cube:
    try:
        v73 = _is_mat73(path)
        arrays = _load_mat73(path) if v73 else _load_mat5(path)
    except DataError:
        raise
    except Exception as exc:  # scipy / h5py report truncation and corruption with many types
        raise DataError(f"cannot read the MATLAB file, truncated or corrupt? ({type(exc).__name__}: {exc})",
                        path=path) from exc
    name, layout = _pick_variable(arrays, path, variable)
    if name is None:
        shapes = ", ".join(f"{k} {'x'.join(map(str, np.shape(v)))}" for k, v in arrays.items()) or "none"
        raise DataError(f"no cube: no 3-D numeric variable and no unmixing layout (Y + nRow/nCol); variables: "
                        f"{shapes}", path=path)
    array = arrays[name]
    meta = {"variable": name, "layout": layout, "mat73": v73,
            "others": {k: v for k, v in arrays.items() if k != name and np.asarray(v).dtype.kind in "uifb"}}
    wavelengths = _wavelengths_of({k: v for k, v in arrays.items() if k != name})
    if layout == "unmixing":
        dims = _unmixing_dims(arrays)
        if array.ndim != 2:
            raise DataError(f"variable {name!r} is {array.ndim}-D; the unmixing layout needs bands x pixels", path=path)
        cube, meta["pixels_first"] = _from_unmixing(array, dims, path, name)
        if wavelengths is not None and len(wavelengths) != cube.shape[2]:
            wavelengths = None  # e.g. a list of kept band numbers of another length
        return _finish(cube, path, "mat", "HWB", None, wavelengths, meta)
    if wavelengths is not None and array.ndim == 3 and len(wavelengths) not in array.shape:
        wavelengths = None  # a "bands" variable that is not one value per band
    return _finish(array, path, "mat", axes, "HWB", wavelengths, meta)


def _load_mat5(path: Path) -> dict[str, np.ndarray]:
    from scipy.io import loadmat

    raw = loadmat(str(path))
    return {k: v for k, v in raw.items() if not k.startswith("__") and isinstance(v, np.ndarray)}


def _load_mat73(path: Path) -> dict[str, np.ndarray]:
    import h5py

    out = {}
    with h5py.File(str(path), "r") as f:
        for key, obj in f.items():
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind in "uifb" and not key.startswith("#"):
                # MATLAB writes column-major: reversing h5py's axes gives MATLAB's (rows, cols, bands)
                out[key] = np.asarray(obj[()]).T
    return out


def _read_npy(path: Path, axes: str | None, variable: str | None) -> Cube:
    try:
        array = np.load(str(path), allow_pickle=False)
    except Exception as exc:
        raise DataError(f"cannot read the .npy file, truncated or corrupt? ({type(exc).__name__}: {exc})",
                        path=path) from exc
    if not isinstance(array, np.ndarray):
        raise DataError("expected a .npy array (for .npz save the cube alone with numpy.save)", path=path)
    return _finish(array, path, "npy", axes, None, None, {})


_TIFF_AXIS = {"Y": "H", "X": "W"}


def _read_tiff(path: Path, axes: str | None, variable: str | None) -> Cube:
    import tifffile

    try:
        with tifffile.TiffFile(str(path)) as tif:
            len(tif.pages)  # index the IFD chain first: a corrupt chain that tif.series alone walks forever ends here
            series = tif.series[0]
            array = series.asarray()
            file_axes = series.axes
    except Exception as exc:
        raise DataError(f"cannot read the TIFF file, truncated or corrupt? ({type(exc).__name__}: {exc})",
                        path=path) from exc
    default = None
    if array.ndim == 3 and len(file_axes) == 3 and "Y" in file_axes and "X" in file_axes:
        default = "".join(_TIFF_AXIS.get(a, "B") for a in file_axes)
    if axes is None and default is not None:
        axes = default  # the TIFF says which axis is which
    return _finish(array, path, "tiff", axes, "BHW", None, {})


def _envi_files(path: Path) -> tuple[Path, Path]:
    if path.suffix.lower() == ".hdr":
        hdr = path
        for suffix in _ENVI_DATA_SUFFIXES:
            for cand in (path.with_suffix(suffix), path.with_suffix(suffix.upper())):
                if cand.exists() and cand != hdr:
                    return hdr, cand
        raise DataError("ENVI header without its data file (looked for .img .raw .dat .bsq .bil .bip or no "
                        "suffix beside it)", path=path)
    for hdr in (path.with_name(path.name + ".hdr"), path.with_suffix(".hdr")):
        if hdr.exists():
            return hdr, path
    raise DataError("ENVI data file without a .hdr header beside it", path=path)


def _read_envi(path: Path, axes: str | None, variable: str | None) -> Cube:
    import spectral.io.envi as envi

    hdr, data_file = _envi_files(path)
    try:
        header = envi.read_envi_header(str(hdr))
    except Exception as exc:
        raise DataError(f"cannot read the ENVI header ({type(exc).__name__}: {exc})", path=hdr) from exc
    try:
        samples, lines, bands = (int(header[k]) for k in ("samples", "lines", "bands"))
        dtype = np.dtype(envi.envi_to_dtype[str(header["data type"])])
        offset = int(header.get("header offset", 0))
    except (KeyError, ValueError, TypeError) as exc:
        raise DataError(f"ENVI header lacks or garbles {exc} (needs samples, lines, bands, data type; header "
                        "offset must be an integer)", path=hdr) from exc
    if min(samples, lines, bands) <= 0 or offset < 0:
        raise DataError(f"ENVI header gives {lines} lines x {samples} samples x {bands} bands, header offset "
                        f"{offset}: each must be positive (the offset >= 0)", path=hdr)
    need = offset + samples * lines * bands * dtype.itemsize
    have = data_file.stat().st_size
    if have < need:
        raise DataError(f"truncated: {have} bytes, the header ({lines} lines x {samples} samples x {bands} bands of "
                        f"{dtype}) needs {need}", path=data_file)
    try:
        image = envi.open(str(hdr), str(data_file))
        array = np.asarray(image.load())  # (lines, samples, bands) whatever the interleave
    except Exception as exc:
        raise DataError(f"cannot read the ENVI file ({type(exc).__name__}: {exc})", path=data_file) from exc
    wavelengths = None
    if "wavelength" in header:
        try:
            wavelengths = np.array([float(w) for w in header["wavelength"]])
        except ValueError as exc:
            raise DataError(f"ENVI wavelength list is not numeric ({exc})", path=hdr) from exc
    if axes is not None and _check_axes(axes, path) != "HWB":
        raise DataError("ENVI files carry their own axis order (interleave); leave axes unset", path=path)
    meta = {"interleave": str(header.get("interleave", "bsq")).lower(), "header": dict(header)}
    return _finish(array, data_file, "envi", "HWB", None, wavelengths, meta)


_BAND_NUMBER = re.compile(r"(\d+)$")
_CAVE_BAND = re.compile(r"_ms_(\d+)$")


def _read_png(path: Path, axes: str | None, variable: str | None) -> Cube:
    from PIL import Image

    files = [f for f in path.iterdir() if f.suffix.lower() == ".png" and not f.name.startswith(".")]
    if not files:
        raise DataError("no PNG band images in the folder", path=path)
    numbered = []
    for f in files:
        m = _BAND_NUMBER.search(f.stem)
        if m is None:
            raise DataError("PNG band name does not end with its band number (e.g. scene_ms_01.png)", path=f)
        numbered.append((int(m.group(1)), f))
    numbered.sort()
    bands = []
    for _, f in numbered:
        try:
            with Image.open(f) as img:
                band = np.array(img)
        except Exception as exc:
            raise DataError(f"cannot read the PNG band, truncated or corrupt? ({type(exc).__name__}: {exc})",
                            path=f) from exc
        if band.ndim == 3:  # some CAVE bands are stored as RGB(A) with equal channels
            band = band[..., 0]
        if bands and band.shape != bands[0].shape:
            raise DataError(f"mismatched dimensions: band is {band.shape[0]}x{band.shape[1]}, the first band "
                            f"{numbered[0][1].name} is {bands[0].shape[0]}x{bands[0].shape[1]}", path=f)
        bands.append(band)
    cube = np.stack(bands, axis=-1)
    wavelengths = None
    if len(numbered) == 31 and all(_CAVE_BAND.search(f.stem) for _, f in numbered):
        wavelengths = np.arange(400.0, 701.0, 10.0)  # CAVE: 400-700 nm in 10 nm steps
    names = [f.name for _, f in numbered]
    return _finish(cube, path, "png", "HWB", None, wavelengths, {"names": names})


# --------------------------------------------------------------------------------------------- writing


def _cast(data: np.ndarray, dtype: np.dtype) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.rint(data), info.min, info.max).astype(dtype)
    return data.astype(dtype if dtype.kind == "f" else np.float32)


def write_cube(data: np.ndarray, path: PathLike, like: Cube | None = None, fmt: str | None = None,
               wavelengths: np.ndarray | None = None) -> list[Path]:
    """Write ``data`` (H, W, B) atomically, in the layout of ``like`` (the cube it came from: same format,
    variable, axis order and dtype) or, without it, as the suffix of ``path`` says. Returns the files written."""
    path = Path(path)
    data = np.asarray(data)
    if data.ndim != 3:
        raise ValueError(f"write_cube wants (height, width, bands), got shape {data.shape}")
    if fmt is None:
        fmt = "png" if path.suffix == "" and like is not None and like.fmt == "png" else format_of(path)
    fmt = format_of(path, fmt)
    same = like is not None and like.fmt == fmt
    meta = like.meta if same else {}
    if like is not None:
        data = _cast(data, like.data.dtype)
        wavelengths = like.wavelengths if wavelengths is None else wavelengths
    axes = meta.get("axes", {"tiff": "BHW"}.get(fmt, "HWB"))
    if fmt == "npy":
        with atomic_write(path, "wb") as handle:
            np.save(handle, from_hwb(data, axes))
        return [path]
    if fmt == "tiff":
        import io

        import tifffile

        buffer = io.BytesIO()  # tifffile wants a named file or a buffer, not atomic_write's descriptor
        tifffile.imwrite(buffer, from_hwb(data, "BHW"))
        with atomic_write(path, "wb") as handle:
            handle.write(buffer.getvalue())
        return [path]
    if fmt == "mat":
        return _write_mat(data, path, meta, wavelengths)
    if fmt == "envi":
        return _write_envi(data, path, meta, wavelengths)
    return _write_png(data, path, meta)


def _write_mat(data: np.ndarray, path: Path, meta: dict, wavelengths) -> list[Path]:
    name = meta.get("variable", "cube")
    if meta.get("layout") == "unmixing":
        y = data.transpose(2, 0, 1).reshape(data.shape[2], -1, order="F")  # (bands, pixels), column-major
        array = y.T if meta.get("pixels_first") else y
    else:
        array = from_hwb(data, meta.get("axes", "HWB"))
    variables = {**meta.get("others", {}), name: array}
    if wavelengths is not None and not any(k.lower() in WAVELENGTH_NAMES for k in variables):
        variables["wavelength"] = np.asarray(wavelengths, dtype=np.float64).reshape(1, -1)
    if meta.get("mat73"):
        return [_write_mat73(variables, path)]
    from scipy.io import savemat

    with atomic_write(path, "wb") as handle:
        savemat(handle, variables, do_compression=True)
    return [path]


def _write_mat73(variables: dict[str, np.ndarray], path: Path) -> Path:
    """A MATLAB v7.3 file: HDF5 with MATLAB's 512-byte text header and MATLAB_class attributes."""
    import h5py

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with h5py.File(tmp, "w", userblock_size=512) as f:
            for key, value in variables.items():
                value = np.asarray(value)
                if value.dtype.kind == "b":
                    value = value.astype(np.uint8)
                ds = f.create_dataset(key, data=np.ascontiguousarray(value.T))  # column-major, as MATLAB
                ds.attrs["MATLAB_class"] = np.bytes_(_MATLAB_CLASS.get(value.dtype.name, "double"))
        header = (_MAT73_MAGIC + b", Platform: ssmkit, Created by: ssmkit-hyperspectral HDF5 schema 1.00 .")
        with open(tmp, "r+b") as handle:
            handle.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM" + b"\x00" * (512 - 128))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def _write_envi(data: np.ndarray, path: Path, meta: dict, wavelengths) -> list[Path]:
    import spectral.io.envi as envi

    hdr = path if path.suffix.lower() == ".hdr" else path.with_suffix(".hdr")
    raw = path.with_suffix(".img") if path.suffix.lower() == ".hdr" else path
    interleave = meta.get("interleave", "bsq")
    metadata = {k: v for k, v in meta.get("header", {}).items()
                if k in ("description", "wavelength units", "sensor type", "map info", "band names", "fwhm")}
    if wavelengths is not None:
        metadata["wavelength"] = [f"{w:g}" for w in wavelengths]
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent if path.parent.exists() else None) \
            as tmp:
        t_hdr = Path(tmp) / "cube.hdr"
        envi.save_image(str(t_hdr), data, dtype=data.dtype, interleave=interleave, metadata=metadata, force=True,
                        ext=".img")
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(Path(tmp) / "cube.img", raw)  # the data first, the header last: a header means a whole file
        text = t_hdr.read_text()
        with atomic_write(hdr, "w") as handle:
            handle.write(text)
    return [raw, hdr]


def _write_png(data: np.ndarray, path: Path, meta: dict) -> list[Path]:
    from PIL import Image

    if data.dtype not in (np.uint8, np.uint16):
        raise DataError(f"PNG bands hold 8- or 16-bit integers, not {data.dtype}; write .npy or .mat instead",
                        path=path)
    names = meta.get("names") or [f"{path.name}_ms_{k + 1:02d}.png" for k in range(data.shape[2])]
    if len(names) != data.shape[2]:
        names = [f"{path.name}_ms_{k + 1:02d}.png" for k in range(data.shape[2])]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        for k, name in enumerate(names):
            Image.fromarray(np.ascontiguousarray(data[..., k])).save(tmp / name)
        if path.exists():  # swap folders: the old one leaves only once the new one is complete
            old = path.with_name(f".{path.name}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [path / n for n in names]

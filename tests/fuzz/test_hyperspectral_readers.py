"""Fuzzing the cube readers: MATLAB v5 and v7.3 (HDF5), .npy, folders of PNG bands, multi-page TIFF and ENVI;
a cube that loads is written back in its own layout and must read back the same. A failed write leaves the file
that was there before untouched."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'ssmkit[dev]')")
pytest.importorskip("ssmkit_hyperspectral", reason="the ssmkit-hyperspectral plug-in is not installed")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from ssmkit_hyperspectral.readers import Cube, read_cube, write_cube  # noqa: E402

from .conftest import Seeds, attempt, fuzz_settings, mutated, time_limit, write_input  # noqa: E402

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "hyperspectral"
CUBE = np.random.default_rng(0).integers(0, 4000, size=(6, 5, 4)).astype(np.uint16)  # (H, W, bands)
WL = np.linspace(450.0, 650.0, 4)


def _cube_ok(cube) -> None:
    assert cube.data.ndim == 3 and min(cube.data.shape) > 0 and cube.data.dtype.kind in "uif"
    if cube.data.dtype.kind == "f":
        assert np.isfinite(cube.data).all()


def _mat5(compress: bool) -> bytes:
    from scipy.io import savemat

    buffer = io.BytesIO()
    savemat(buffer, {"rad": CUBE, "wavelength": WL[None], "note": np.ones((2, 2))}, do_compression=compress)
    return buffer.getvalue()


def _via_writer(tmp: Path, name: str, like: Cube | None = None) -> bytes:
    return write_cube(CUBE, tmp / name, like=like)[0].read_bytes()


def _png_bands(tmp: Path) -> list[bytes]:
    return [f.read_bytes() for f in write_cube(CUBE.astype(np.uint8), tmp / "scene", fmt="png")]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Seeds:
    tmp = tmp_path_factory.mktemp("seeds")
    mat73 = Cube(CUBE, WL, fmt="mat", meta={"mat73": True, "variable": "rad", "axes": "HWB"})
    envi = write_cube(CUBE, tmp / "cube.img", fmt="envi", wavelengths=WL)
    return Seeds({"mat5": [_mat5(False), _mat5(True)], "mat73": [_via_writer(tmp, "c73.mat", mat73)],
                  "npy": [_via_writer(tmp, "c.npy")], "tiff": [_via_writer(tmp, "c.tif")], "png": _png_bands(tmp),
                  "envi raw": [envi[0].read_bytes()], "envi hdr": [envi[1].read_bytes()],
                  "png other size": [write_cube(CUBE[:3, :2].astype(np.uint8), tmp / "small", fmt="png")[0]
                                     .read_bytes()]})


def _read_and_write_back(path: Path, out: Path, **kwargs) -> Cube:
    cube = read_cube(path, **kwargs)
    _cube_ok(cube)
    written = write_cube(cube.data, out, like=cube)
    again = read_cube(written[0] if cube.fmt != "png" else out, fmt=cube.fmt if cube.fmt == "png" else None)
    np.testing.assert_array_equal(again.data, cube.data)
    return cube


def test_seeds_load(seeds, tmp_path):
    for kind, suffix in (("mat5", ".mat"), ("mat73", ".mat"), ("npy", ".npy"), ("tiff", ".tif")):
        for i, data in enumerate(seeds[kind]):
            cube = _read_and_write_back(write_input(tmp_path, f"{kind}{i}{suffix}", data), tmp_path / f"o{i}{suffix}")
            np.testing.assert_array_equal(cube.data, CUBE)
    for i, band in enumerate(seeds["png"]):
        write_input(tmp_path / "bands", f"scene_ms_{i + 1:02d}.png", band)
    assert read_cube(tmp_path / "bands").shape == CUBE.shape
    write_input(tmp_path / "envi", "cube.img", seeds["envi raw"][0])
    np.testing.assert_array_equal(read_cube(write_input(tmp_path / "envi", "cube.hdr", seeds["envi hdr"][0])).data,
                                  CUBE)


@pytest.mark.parametrize("kind, name", [("mat5", "cube.mat"), ("mat73", "cube.mat"), ("npy", "cube.npy"),
                                        ("tiff", "cube.tif")])
@fuzz_settings(40)
@given(draw=st.data())
def test_cube_file(fuzz_dir, seeds, kind, name, draw):
    path = write_input(fuzz_dir, name, draw.draw(mutated(seeds[kind])))
    attempt(f"hyperspectral {kind}", lambda: _read_and_write_back(path, fuzz_dir / "out" / name), path)


@fuzz_settings(40)
@given(draw=st.data())
def test_png_band_folder(fuzz_dir, seeds, draw):
    folder = fuzz_dir / "scene"
    for old in folder.glob("*.png"):
        old.unlink()
    bands = list(seeds["png"])
    k = draw.draw(st.integers(0, len(bands) - 1))
    how = draw.draw(st.sampled_from(["mutate", "drop", "other size"]))
    if how == "mutate":
        bands[k] = draw.draw(mutated(bands[k]))
    elif how == "drop":
        del bands[k]
    else:
        bands[k] = seeds["png other size"][0]
    for i, band in enumerate(bands):
        write_input(folder, f"scene_ms_{i + 1:02d}.png", band)
    attempt("hyperspectral png bands", lambda: _read_and_write_back(folder, fuzz_dir / "out" / "scene"), folder)


@pytest.mark.parametrize("part", ["envi hdr", "envi raw"])
@fuzz_settings(40)
@given(draw=st.data())
def test_envi(fuzz_dir, seeds, part, draw):
    hdr = write_input(fuzz_dir, "cube.hdr", seeds["envi hdr"][0])
    raw = write_input(fuzz_dir, "cube.img", seeds["envi raw"][0])
    (hdr if part == "envi hdr" else raw).write_bytes(draw.draw(mutated(seeds[part])))
    attempt(f"hyperspectral {part}", lambda: _read_and_write_back(hdr, fuzz_dir / "out" / "cube.hdr"), [hdr, raw],
            named=str(fuzz_dir / "cube."))


@pytest.fixture(scope="module")
def real_mat() -> list[bytes]:
    """The real Jasper Ridge (unmixing layout) and one CAVE scene, MATLAB v5."""
    files = [SHARED / "jasper_ridge" / "jasperRidge2_R198.mat", SHARED / "cave" / "cloth_ms_256.mat"]
    if not all(f.exists() for f in files):
        pytest.skip(f"real data not found under {SHARED}")
    return [f.read_bytes() for f in files]


@fuzz_settings(20, deadline_ms=20000)
@given(draw=st.data())
def test_real_mat(fuzz_dir, real_mat, draw):
    path = write_input(fuzz_dir, "scene.mat", draw.draw(mutated(real_mat)))
    attempt("hyperspectral mat5 (real scenes)", lambda: read_cube(path), path, _cube_ok)


@pytest.mark.parametrize("name", ["cube.mat", "cube.npy", "cube.tif", "scene"])
def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch, name):
    """write_cube over an existing cube that fails half-way (disk full, a bug...) leaves the old one whole."""
    import PIL.Image
    import scipy.io
    import tifffile

    fmt = "png" if name == "scene" else None
    old = write_cube(CUBE.astype(np.uint8), tmp_path / name, fmt=fmt)
    before = {p: p.read_bytes() for p in old}

    def half_then_fail(target, *args, **kwargs):
        if hasattr(target, "write"):
            target.write(b"half a file")
        raise OSError("No space left on device")

    monkeypatch.setattr(scipy.io, "savemat", half_then_fail)
    monkeypatch.setattr(np, "save", half_then_fail)
    monkeypatch.setattr(tifffile, "imwrite", half_then_fail)
    monkeypatch.setattr(PIL.Image.Image, "save", lambda self, target, *a, **k: half_then_fail(open(target, "wb")))
    with pytest.raises(OSError, match="No space left"):
        write_cube(CUBE.astype(np.uint8) + 1, tmp_path / name, fmt=fmt)
    assert {p: p.read_bytes() for p in old} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left behind


def test_found_by_fuzzing(tmp_path, seeds):
    """An ENVI header whose 'header offset' is not an integer leaked ValueError."""
    from ssmkit.errors import DataError

    write_input(tmp_path, "cube.img", seeds["envi raw"][0])
    hdr = write_input(tmp_path, "cube.hdr", seeds["envi hdr"][0].replace(b"header offset = 0", b"header offset ="))
    with pytest.raises(DataError, match=r"cube\.hdr: ENVI header lacks or garbles"):
        read_cube(hdr)


def test_found_by_fuzzing_tiff_chain(tmp_path, seeds):
    """100 bytes of the TIFF's first IFD repeated at byte 27 sent tifffile's page iteration (tif.series) round a
    corrupt IFD chain forever; the chain is indexed first now, and the file is refused at once."""
    from ssmkit.errors import DataError

    tiff = seeds["tiff"][0]
    path = write_input(tmp_path, "cube.tif", tiff[:27] + tiff[27:127] + tiff[27:])
    with time_limit(10, "read_cube"), pytest.raises(DataError, match=r"cube\.tif: "):
        read_cube(path)

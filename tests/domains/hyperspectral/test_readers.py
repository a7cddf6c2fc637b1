"""Cube readers on small files written here (every format, good and malformed), and on the real scenes."""

import numpy as np
import pytest
from ssmkit_hyperspectral.readers import read_cube, write_cube

from ssmkit.errors import DataError

RNG = np.random.default_rng(0)
CUBE = RNG.integers(0, 4000, size=(12, 10, 5)).astype(np.uint16)  # (H, W, bands)
WL = np.linspace(450.0, 650.0, 5)


def _same(cube, expected=CUBE):
    assert cube.data.shape == expected.shape
    np.testing.assert_array_equal(cube.data, expected)


def test_mat_v5_by_name_by_shape_and_wavelengths(tmp_path):
    from scipy.io import savemat

    savemat(tmp_path / "a.mat", {"junk": np.ones((3, 3)), "rad": CUBE, "wavelength": WL[None]})
    cube = read_cube(tmp_path / "a.mat")
    _same(cube)
    np.testing.assert_allclose(cube.wavelengths, WL)
    savemat(tmp_path / "b.mat", {"small": np.ones((2, 2, 2)), "whatever": CUBE})  # largest 3-D variable
    _same(read_cube(tmp_path / "b.mat"))
    _same(read_cube(tmp_path / "b.mat", variable="whatever"))


def test_mat_v73_through_h5py(tmp_path):
    import h5py

    with h5py.File(tmp_path / "c.mat", "w") as f:  # MATLAB stores column-major: h5py sees reversed axes
        f["rad"] = CUBE.T
        f["bands"] = WL[None].T
    cube = read_cube(tmp_path / "c.mat")
    _same(cube)
    np.testing.assert_allclose(cube.wavelengths, WL)
    out = write_cube(cube.data, tmp_path / "c2.mat", like=cube)
    _same(read_cube(out[0]))
    assert open(out[0], "rb").read(19) == b"MATLAB 7.3 MAT-file"


def test_unmixing_layout_and_mismatched_pixels(tmp_path):
    from scipy.io import savemat

    y = CUBE.transpose(2, 0, 1).reshape(5, -1, order="F")  # (bands, pixels), pixels column-major
    savemat(tmp_path / "u.mat", {"Y": y, "nRow": np.array([[12]]), "nCol": np.array([[10]])})
    cube = read_cube(tmp_path / "u.mat")
    _same(cube)
    out = write_cube(cube.data, tmp_path / "u2.mat", like=cube)
    _same(read_cube(out[0]))
    savemat(tmp_path / "bad.mat", {"Y": y, "nRow": np.array([[11]]), "nCol": np.array([[10]])})
    with pytest.raises(DataError, match=r"bad\.mat: mismatched dimensions.*110 pixels"):
        read_cube(tmp_path / "bad.mat")


def test_envi_tiff_npy_png_round_trips(tmp_path):
    import tifffile

    np.save(tmp_path / "a.npy", CUBE.transpose(2, 0, 1))  # (bands, H, W): detected
    _same(read_cube(tmp_path / "a.npy"))
    _same(read_cube(tmp_path / "a.npy", axes="BHW"))
    tifffile.imwrite(tmp_path / "a.tif", CUBE.transpose(2, 0, 1))  # one page per band
    tif = read_cube(tmp_path / "a.tif")
    _same(tif)
    npy = read_cube(tmp_path / "a.npy")
    env = write_cube(CUBE, tmp_path / "e.img", like=None, fmt="envi", wavelengths=WL)
    envi = read_cube(env[1])  # through the header
    _same(envi)
    np.testing.assert_allclose(envi.wavelengths, WL)
    _same(read_cube(env[0]))  # through the data file
    folder = write_cube(CUBE, tmp_path / "scene_ms", fmt="png")
    assert folder[0].name == "scene_ms_ms_01.png"
    png = read_cube(tmp_path / "scene_ms")
    _same(png)
    assert png.data.dtype == np.uint16
    for cube, name in ((tif, "t.tif"), (npy, "n.npy"), (envi, "e2.img"), (png, "p")):
        written = write_cube(cube.data, tmp_path / "out" / name, like=cube)
        _same(read_cube(written[0] if cube.fmt != "png" else written[0].parent))


def test_cave_png_folder_gets_wavelengths(tmp_path):
    from PIL import Image

    folder = tmp_path / "balloons_ms"
    folder.mkdir()
    for k in range(31):
        Image.fromarray(np.full((6, 7), 1000 * k, dtype=np.uint16)).save(folder / f"balloons_ms_{k + 1:02d}.png")
    cube = read_cube(folder)
    assert cube.shape == (6, 7, 31) and cube.data[0, 0, 30] == 30000
    np.testing.assert_allclose(cube.wavelengths, np.arange(400, 701, 10))


def test_malformed_files_get_one_line_errors_naming_the_file(tmp_path):
    from PIL import Image
    from scipy.io import savemat

    bad = CUBE.astype(np.float32)
    bad[3, 4, 2] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match=r"nan\.npy: cube holds 1 NaN/Inf values \(first at index \(3, 4, 2\)\)"):
        read_cube(tmp_path / "nan.npy")
    np.save(tmp_path / "t.npy", CUBE)
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[:-100])
    with pytest.raises(DataError, match=r"t\.npy: cannot read the \.npy file, truncated"):
        read_cube(tmp_path / "t.npy")
    savemat(tmp_path / "m.mat", {"cube": CUBE})
    raw = (tmp_path / "m.mat").read_bytes()
    (tmp_path / "m.mat").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"m\.mat: cannot read the MATLAB file"):
        read_cube(tmp_path / "m.mat")
    savemat(tmp_path / "none.mat", {"labels": np.ones((4, 4))})
    with pytest.raises(DataError, match=r"none\.mat: no cube"):
        read_cube(tmp_path / "none.mat")
    np.save(tmp_path / "flat.npy", np.ones((4, 4)))
    with pytest.raises(DataError, match=r"flat\.npy: cube has 2 dimensions"):
        read_cube(tmp_path / "flat.npy")
    np.save(tmp_path / "square.npy", np.ones((8, 8, 8)))
    with pytest.raises(DataError, match=r"square\.npy: cannot tell which axis.*pass axes="):
        read_cube(tmp_path / "square.npy")
    with pytest.raises(DataError, match="permutation of 'H', 'W', 'B'"):
        read_cube(tmp_path / "square.npy", axes="HWX")
    # wrong axis order: wavelengths say 5 bands, the flag puts 12 on the band axis
    savemat(tmp_path / "w.mat", {"rad": CUBE, "wavelength": WL[None]})
    with pytest.raises(DataError, match=r"w\.mat: mismatched dimensions: 5 wavelengths but the cube has 12 bands"):
        read_cube(tmp_path / "w.mat", axes="BHW")
    env = write_cube(CUBE, tmp_path / "e.img", fmt="envi")
    env[0].write_bytes(env[0].read_bytes()[:500])
    with pytest.raises(DataError, match=r"e\.img: truncated: 500 bytes, the header .* needs 1200"):
        read_cube(env[1])
    folder = tmp_path / "x_ms"
    folder.mkdir()
    Image.fromarray(np.zeros((5, 5), np.uint16)).save(folder / "x_ms_01.png")
    Image.fromarray(np.zeros((5, 6), np.uint16)).save(folder / "x_ms_02.png")
    with pytest.raises(DataError, match=r"x_ms_02\.png: mismatched dimensions"):
        read_cube(folder)
    (tmp_path / "c.xyz").write_text("?")
    with pytest.raises(DataError, match=r"c\.xyz: cannot tell the cube format"):
        read_cube(tmp_path / "c.xyz")
    with pytest.raises(DataError, match="file not found"):
        read_cube(tmp_path / "missing.mat")


def test_real_scenes(shared_data):
    hs = shared_data / "hyperspectral"
    cave = read_cube(hs / "cave" / "cloth_ms_256.mat")
    assert cave.shape == (256, 256, 31) and cave.data.dtype == np.uint16 and cave.meta["variable"] == "NRD"
    jasper = read_cube(hs / "jasper_ridge" / "jasperRidge2_R198.mat")
    assert jasper.shape == (100, 100, 198) and jasper.meta["layout"] == "unmixing"
    from scipy.io import loadmat

    y = loadmat(hs / "jasper_ridge" / "jasperRidge2_R198.mat")["Y"]
    np.testing.assert_array_equal(jasper.data, y.reshape(198, 100, 100, order="F").transpose(1, 2, 0))

"""Point-cloud readers on written files (good and malformed) and the FPS / kNN grouping front end."""

from pathlib import Path

import numpy as np
import pytest
import torch
from ssmkit_vision.grouping import farthest_point_sample, group, knn, normalize
from ssmkit_vision.points import read_off, read_pcd, read_points, read_xyz, sample_mesh

from ssmkit.errors import DataError

PTS = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3]], dtype=np.float32)


def _pcd_header(n: int, data: str, fields="x y z", size="4 4 4", type_="F F F", count="1 1 1") -> str:
    return (f"# .PCD v0.7\nVERSION 0.7\nFIELDS {fields}\nSIZE {size}\nTYPE {type_}\nCOUNT {count}\nWIDTH {n}\n"
            f"HEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA {data}\n")


def write_pcd_binary(path: Path, pts: np.ndarray) -> Path:
    path.write_bytes(_pcd_header(len(pts), "binary").encode() + pts.astype("<f4").tobytes())
    return path


def test_pcd_ascii_and_binary(tmp_path):
    binary = read_pcd(write_pcd_binary(tmp_path / "b.pcd", PTS))
    np.testing.assert_array_equal(binary, PTS)
    rows = "\n".join(f"{x} {y} {z} 7" for x, y, z in PTS)
    (tmp_path / "a.pcd").write_text(_pcd_header(4, "ascii", "x y z rgb", "4 4 4 4", "F F F U", "1 1 1 1") + rows)
    np.testing.assert_array_equal(read_pcd(tmp_path / "a.pcd"), PTS)
    mixed = np.zeros(4, dtype=[("x", "<f4"), ("label", "<u2"), ("y", "<f4"), ("z", "<f4")])
    mixed["x"], mixed["y"], mixed["z"], mixed["label"] = PTS[:, 0], PTS[:, 1], PTS[:, 2], 9
    (tmp_path / "m.pcd").write_bytes(_pcd_header(4, "binary", "x label y z", "4 2 4 4", "F U F F", "1 1 1 1").encode()
                                     + mixed.tobytes())
    np.testing.assert_array_equal(read_pcd(tmp_path / "m.pcd"), PTS)


@pytest.mark.parametrize("text, message", [
    ("", "empty or not a PCD file"),
    ("VERSION 0.7\nFIELDS x y z\n", "no DATA line"),
    (_pcd_header(4, "binary") + "abc", "truncated?"),
    (_pcd_header(2, "ascii") + "0 0 0\n1 1\n", "line 13: expected 2 rows of 3 values"),
    (_pcd_header(1, "ascii") + "0 nan 0\n", "NaN"),
    (_pcd_header(1, "binary_compressed") + "xxxx", "not supported"),
    (_pcd_header(1, "ascii", "x y w") + "0 0 0\n", "no field 'z'"),
    (_pcd_header(0, "ascii"), "no points"),
])
def test_malformed_pcd(tmp_path, text, message):
    (tmp_path / "bad.pcd").write_text(text)
    with pytest.raises(DataError, match="bad.pcd") as err:
        read_pcd(tmp_path / "bad.pcd")
    assert message in str(err.value)


CUBE_OFF = """OFF
8 6 0
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 1 2 3
4 4 5 6 7
4 0 1 5 4
4 2 3 7 6
4 1 2 6 5
4 0 3 7 4
"""


def test_off_mesh_and_surface_sampling(tmp_path):
    (tmp_path / "cube.off").write_text(CUBE_OFF)
    verts, tris = read_off(tmp_path / "cube.off")
    assert verts.shape == (8, 3) and tris.shape == (12, 3)
    (tmp_path / "inline.off").write_text("OFF8 6 0\n" + CUBE_OFF.split("\n", 2)[2])  # ModelNet's variant
    assert read_off(tmp_path / "inline.off")[1].shape == (12, 3)
    pts = sample_mesh(verts, tris, 2000, np.random.default_rng(0))
    assert pts.shape == (2000, 3) and pts.min() >= 0 and pts.max() <= 1
    on_face = np.isclose(pts, 0, atol=1e-6) | np.isclose(pts, 1, atol=1e-6)
    assert on_face.any(1).all()  # every point lies on the surface
    assert read_points(tmp_path / "cube.off", n=64).shape == (64, 3)


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("PLY\n", "not an OFF file"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n", "truncated?"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 5\n", "line 6: face refers to vertex 5 of 3"),
    ("OFF\n3 1 0\n0 0 0\n1 nan 0\n0 1 0\n3 0 1 2\n", "line 4: vertex with NaN"),
    ("OFF\n3 1 0\n0 0 0\n1 0\n0 1 0\n3 0 1 2\n", "line 4: bad vertex"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n", "at least 3"),
    ("OFF\nthree 1 0\n", "bad counts"),
])
def test_malformed_off(tmp_path, text, message):
    (tmp_path / "bad.off").write_text(text)
    with pytest.raises(DataError, match="bad.off") as err:
        read_off(tmp_path / "bad.off")
    assert message in str(err.value)


def test_degenerate_mesh_and_other_formats(tmp_path):
    (tmp_path / "flat.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n2 0 0\n3 0 1 2\n")
    with pytest.raises(DataError, match="flat.off: the mesh's faces all have zero area"):
        read_points(tmp_path / "flat.off")
    (tmp_path / "m40.txt").write_text("0,0,0,0,0,1\n1,0,0,0,0,1\n0,2,0,0,0,1\n0,0,3,0,0,1\n")
    np.testing.assert_array_equal(read_xyz(tmp_path / "m40.txt"), PTS)
    assert read_xyz(tmp_path / "m40.txt", columns=6).shape == (4, 6)
    (tmp_path / "bad.xyz").write_text("0 0 0\n1 0\n")
    with pytest.raises(DataError, match="bad.xyz, line 2: 2 value"):
        read_points(tmp_path / "bad.xyz")
    (tmp_path / "empty.xyz").write_text("# nothing\n")
    with pytest.raises(DataError, match="empty.xyz: no points"):
        read_points(tmp_path / "empty.xyz")
    np.save(tmp_path / "p.npy", PTS)
    np.testing.assert_array_equal(read_points(tmp_path / "p.npy"), PTS)
    with pytest.raises(DataError, match="unknown point-file type '.obj'"):
        (tmp_path / "x.obj").write_text("v 0 0 0\n")
        read_points(tmp_path / "x.obj")


def test_fps_picks_the_farthest_point_at_each_step():
    # on a line: 0, 1, 2, 10 and a point at 4 -> start 0, then 10 (farthest), then 4 (4 from 0, 6 from 10)...
    xyz = torch.tensor([[[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [10, 0, 0], [4, 0, 0], [7, 0, 0]]])
    assert farthest_point_sample(xyz, 6).tolist() == [[0, 3, 4, 5, 2, 1]]
    for start in range(6):  # generic property: each pick maximises the distance to those before
        idx = farthest_point_sample(xyz, 6, start=start)[0].tolist()
        assert idx[0] == start and sorted(idx) == list(range(6))
        for i in range(1, 6):
            d = torch.cdist(xyz[0], xyz[0, idx[:i]]).amin(1)
            assert d[idx[i]] == d.max()


def test_knn_groups_and_normalisation():
    torch.manual_seed(0)
    xyz = torch.randn(2, 64, 3)
    near = knn(xyz[:, :5], xyz, 4)
    assert near.shape == (2, 5, 4) and (near[:, :, 0] == torch.arange(5)).all()  # a point is its own nearest
    brute = torch.cdist(xyz[:, :5], xyz).argsort(-1)[..., :4]
    assert torch.equal(near, brute)
    centres, groups = group(xyz, 8, 6)
    assert centres.shape == (2, 8, 3) and groups.shape == (2, 8, 6, 3)
    assert torch.allclose(groups[:, :, 0], torch.zeros(2, 8, 3))  # each centre is in its own group, first
    unit = normalize(xyz * 50 + 3)
    assert torch.allclose(unit.mean(1), torch.zeros(2, 3), atol=1e-5)
    assert torch.allclose(unit.norm(dim=-1).amax(1), torch.ones(2))


def test_real_modelnet_pcd(shared_data):
    folder = shared_data / "vision" / "modelnet10" / "chair" / "train"
    pts = read_points(sorted(folder.glob("*.pcd"))[0])
    assert pts.shape == (1024, 3) and pts.dtype == np.float32 and np.isfinite(pts).all()


def test_text_clouds_with_a_header_row(tmp_path):
    pts = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -3.0]])
    csv = tmp_path / "scan.csv"
    csv.write_text("intensity,Z,X,Y\n" + "".join(f"7,{z},{x},{y}\n" for x, y, z in pts))  # x, y, z by name
    np.testing.assert_allclose(read_points(csv), pts)
    plain = tmp_path / "scan.xyz"
    plain.write_text("# exported\na b c\n" + "".join(f"{x} {y} {z}\n" for x, y, z in pts))  # first three
    np.testing.assert_allclose(read_points(plain), pts)
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,z\n1,2,3\nx,y,z\n")  # a header only on top
    with pytest.raises(DataError, match="bad.csv.*line 3.*non-numeric"):
        read_points(bad)

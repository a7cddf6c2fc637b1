"""Point-cloud readers: PCD (ascii and binary), PLY (ascii and binary vertices), OFF meshes
(surface-sampled), XYZ/TXT/CSV, NumPy and PointNet's HDF5 files.

Each reader returns float32 points (N, 3) (extra columns such as normals are dropped unless asked for);
``sample_mesh`` turns an OFF mesh into points; ``read_h5`` returns a whole labelled set. Bad input (wrong
header, short data, broken faces, NaN coordinates, empty files) raises ``DataError`` naming the file.
"""

from __future__ import annotations

import tokenize
from pathlib import Path

import numpy as np

from ssmkit.errors import DataError

POINT_SUFFIXES = (".pcd", ".ply", ".off", ".xyz", ".txt", ".csv", ".pts", ".npy")
_PCD_TYPES = {("F", 4): "<f4", ("F", 8): "<f8", ("I", 1): "<i1", ("I", 2): "<i2", ("I", 4): "<i4", ("I", 8): "<i8",
              ("U", 1): "<u1", ("U", 2): "<u2", ("U", 4): "<u4", ("U", 8): "<u8"}


def _finite(points: np.ndarray, path: Path) -> np.ndarray:
    if len(points) == 0:
        raise DataError("no points", path=path)
    bad = ~np.isfinite(points).all(1)
    if bad.any():
        raise DataError(f"{int(bad.sum())} point(s) with NaN or infinite coordinates (first: point "
                        f"{int(np.argmax(bad))})", path=path)
    return points.astype(np.float32, copy=False)


def read_pcd(path: str | Path, fields: tuple[str, ...] = ("x", "y", "z")) -> np.ndarray:
    """A PCD v0.5-0.7 file (DATA ascii or binary) -> float32 (N, len(fields))."""
    path = Path(path)
    raw = path.read_bytes()
    header: dict[str, list[str]] = {}
    pos, line_no = 0, 0
    while "DATA" not in header:
        end = raw.find(b"\n", pos)
        if end < 0:
            raise DataError("PCD header has no DATA line" if header else "empty or not a PCD file", path=path)
        line_no += 1
        text = raw[pos:end].decode("ascii", "replace").strip()
        pos = end + 1
        if not text or text.startswith("#"):
            continue
        key, *values = text.split()
        header[key.upper()] = values
    need = ("FIELDS", "SIZE", "TYPE", "POINTS")
    missing = [k for k in need if k not in header]
    if missing:
        raise DataError(f"PCD header lacks {', '.join(missing)}", path=path)
    try:
        names, sizes, types = header["FIELDS"], [int(s) for s in header["SIZE"]], header["TYPE"]
        counts = [int(c) for c in header.get("COUNT", ["1"] * len(names))]
        n = int(header["POINTS"][0])
    except (ValueError, IndexError) as exc:
        raise DataError(f"PCD header: SIZE, COUNT and POINTS must be integers ({exc})", path=path) from None
    if min(sizes + counts, default=0) < 1:
        raise DataError(f"PCD header: SIZE {sizes} and COUNT {counts} must be positive", path=path)
    if not len(names) == len(sizes) == len(types) == len(counts):
        raise DataError(f"PCD header: FIELDS, SIZE, TYPE and COUNT disagree in length ({len(names)}, {len(sizes)}, "
                        f"{len(types)}, {len(counts)})", path=path)
    absent = [f for f in fields if f not in names]
    if absent:
        raise DataError(f"PCD has no field {absent[0]!r} (fields: {' '.join(names)})", path=path)
    if n <= 0:
        raise DataError("no points (POINTS 0)", path=path)
    mode = header["DATA"][0].lower()
    if mode == "ascii":
        rows = [r.split() for r in raw[pos:].decode("ascii", "replace").splitlines() if r.strip()]
        width = sum(counts)
        if len(rows) != n or any(len(r) != width for r in rows):
            short = next((i for i, r in enumerate(rows) if len(r) != width), None)
            where = f"line {line_no + 1 + short}: " if short is not None else ""
            raise DataError(f"{where}expected {n} rows of {width} values, found {len(rows)} rows", path=path)
        try:
            table = np.array(rows, dtype=np.float64)
        except ValueError as exc:
            raise DataError(f"non-numeric value in the data ({exc})", path=path) from None
        starts = np.cumsum([0] + counts[:-1])
        cols = [table[:, starts[names.index(f)]] for f in fields]
    elif mode == "binary":
        try:
            dtype = np.dtype([(f"f{i}", _PCD_TYPES[(t.upper(), s)], (c,)) for i, (t, s, c)
                              in enumerate(zip(types, sizes, counts))])
        except KeyError:
            raise DataError(f"PCD field types {types} with sizes {sizes} are not supported", path=path) from None
        have = len(raw) - pos
        if have < n * dtype.itemsize:
            raise DataError(f"binary data is {have} bytes, {n} points need {n * dtype.itemsize} (truncated?)",
                            path=path)
        table = np.frombuffer(raw, dtype=dtype, count=n, offset=pos)
        cols = [table[f"f{names.index(f)}"][:, 0].astype(np.float64) for f in fields]
    else:
        raise DataError(f"PCD DATA {mode!r} is not supported (ascii or binary; convert binary_compressed with "
                        "pcl_convert_pcd_ascii_binary)", path=path)
    return _finite(np.stack(cols, axis=1), path)


def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """An OFF mesh -> vertices float64 (V, 3), triangles int64 (T, 3) (polygons fanned into triangles).

    Accepts ModelNet's variant where the counts follow "OFF" on the same line ("OFF490 518 0")."""
    path = Path(path)
    return parse_off(path.read_text(errors="replace"), path)


def parse_off(text: str, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``read_off`` on the text of an OFF file (e.g. a member of a zip); ``path`` names it in errors."""
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    numbered = [(i + 1, ln) for i, ln in enumerate(lines) if ln]
    if not numbered or not numbered[0][1].upper().startswith("OFF"):
        raise DataError("not an OFF file (the first line must start with OFF)" if numbered else "empty file",
                        path=path)
    first = numbered[0][1][3:].split()
    rest = numbered[1:]
    if not first:
        if not rest:
            raise DataError("no vertex/face counts after OFF", path=path)
        first, rest = rest[0][1].split(), rest[1:]
    try:
        n_vert, n_face = int(first[0]), int(first[1])
    except (ValueError, IndexError):
        raise DataError(f"bad counts line {' '.join(first)!r} (expected: vertices faces edges)", path=path) from None
    if n_vert <= 0:
        raise DataError("the mesh has no vertices", path=path)
    if len(rest) < n_vert + n_face:
        raise DataError(f"{n_vert} vertices and {n_face} faces declared, {len(rest)} lines follow (truncated?)",
                        path=path)
    try:
        verts = np.array([ln.split()[:3] for _, ln in rest[:n_vert]], dtype=np.float64)
    except ValueError:
        bad = next(no for no, ln in rest[:n_vert] if len(ln.split()) < 3 or not _numeric(ln.split()[:3]))
        raise DataError("bad vertex (expected three numbers)", path=path, line=bad) from None
    if not np.isfinite(verts).all():
        bad = rest[int(np.argmax(~np.isfinite(verts).all(1)))][0]
        raise DataError("vertex with NaN or infinite coordinates", path=path, line=bad)
    fast = _triangles_at_once(rest[n_vert:n_vert + n_face], n_vert)
    if fast is not None:
        return verts, fast
    tris = []
    for no, ln in rest[n_vert:n_vert + n_face]:
        parts = ln.split()
        try:
            k = int(parts[0])
            idx = [int(v) for v in parts[1:1 + k]]
        except (ValueError, IndexError):
            raise DataError("bad face (expected: count then vertex indices)", path=path, line=no) from None
        if k < 3 or len(idx) != k:
            raise DataError(f"bad face: {k} vertices declared, {len(idx)} given (at least 3)", path=path, line=no)
        if min(idx) < 0 or max(idx) >= n_vert:
            raise DataError(f"face refers to vertex {max(idx) if max(idx) >= n_vert else min(idx)} of {n_vert}",
                            path=path, line=no)
        tris += [(idx[0], idx[j], idx[j + 1]) for j in range(1, k - 1)]
    return verts, np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def _triangles_at_once(faces: list[tuple[int, str]], n_vert: int) -> np.ndarray | None:
    """All faces as one array when every face is a valid triangle (the usual case, many times faster
    than face by face); None sends the caller to the checking loop, which names the bad line."""
    try:
        table = np.array([ln.split() for _, ln in faces], dtype=np.int64)
    except ValueError:  # ragged rows (polygons, colours) or non-integers
        return None
    if table.ndim != 2 or table.shape[1] != 4 or (table[:, 0] != 3).any():
        return None
    tris = table[:, 1:]
    if len(tris) and (tris.min() < 0 or tris.max() >= n_vert):
        return None
    return tris.reshape(-1, 3)


def _numeric(values: list[str]) -> bool:
    try:
        [float(v) for v in values]
        return True
    except ValueError:
        return False


def sample_mesh(verts: np.ndarray, tris: np.ndarray, n: int, rng: np.random.Generator | None = None,
                path: str | Path | None = None) -> np.ndarray:
    """n points float32 (n, 3) uniformly on the mesh surface (triangles picked by area)."""
    rng = rng or np.random.default_rng(0)
    if len(tris) == 0:
        raise DataError("the mesh has no faces to sample points from", path=path)
    a, b, c = verts[tris[:, 0]], verts[tris[:, 1]], verts[tris[:, 2]]
    area = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1)
    if not area.sum() > 0:
        raise DataError("the mesh's faces all have zero area", path=path)
    pick = rng.choice(len(tris), size=n, p=area / area.sum())
    u, v = rng.random((2, n, 1))
    flip = (u + v) > 1  # reflect into the triangle
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    return (a[pick] + u * (b[pick] - a[pick]) + v * (c[pick] - a[pick])).astype(np.float32)


def read_xyz(path: str | Path, columns: int = 3) -> np.ndarray:
    """Whitespace- or comma-separated rows "x y z [...]" (e.g. resampled ModelNet40's x,y,z,nx,ny,nz)
    -> float32 (N, columns). A first row with no number in it is a header: its x, y, z columns (any case) are
    read wherever they stand, else the first ``columns``."""
    path = Path(path)
    rows, use, seen_data = [], list(range(columns)), False
    for no, line in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [v.strip().strip('"') for v in line.replace(",", " ").split()]
        if not seen_data and not rows and not any(_is_number(v) for v in parts):  # a header row
            names = [v.lower() for v in parts]
            if columns == 3 and all(c in names for c in "xyz"):
                use = [names.index(c) for c in "xyz"]
            seen_data = True
            continue
        seen_data = True
        if len(parts) <= max(use):
            raise DataError(f"{len(parts)} value(s), at least {max(use) + 1} needed", path=path, line=no)
        try:
            rows.append([float(parts[i]) for i in use])
        except ValueError:
            raise DataError(f"non-numeric value in {line[:40]!r}", path=path, line=no) from None
    return _finite(np.asarray(rows, dtype=np.float64).reshape(-1, columns), path)


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_points(path: str | Path, n: int = 1024, rng: np.random.Generator | None = None) -> np.ndarray:
    """Any supported point file -> float32 (M, 3); OFF meshes are sampled to n surface points."""
    path = Path(path)
    if not path.is_file():
        raise DataError("not found" if not path.exists() else "not a file", path=path)
    suffix = path.suffix.lower()
    if suffix == ".pcd":
        return read_pcd(path)
    if suffix == ".ply":
        return read_ply(path)
    if suffix == ".off":
        return sample_mesh(*read_off(path), n, rng, path)
    if suffix == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError, SyntaxError, tokenize.TokenError) as exc:
            raise DataError(f"cannot read as .npy ({exc})", path=path) from None
        if a.ndim != 2 or a.shape[1] < 3:
            raise DataError(f"a point array is (N, >=3); this one is {a.shape}", path=path)
        return _finite(a[:, :3].astype(np.float64), path)
    if suffix in (".xyz", ".txt", ".csv", ".pts"):
        return read_xyz(path)
    raise DataError(f"unknown point-file type {suffix!r} (use one of {', '.join(POINT_SUFFIXES)})", path=path)


_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}
_PLY_FORMATS = {"ascii": None, "binary_little_endian": "<", "binary_big_endian": ">"}


def _ply_header(raw: bytes, path: Path) -> tuple[str, list[dict], int, int]:
    """(format, elements [{name, count, props: [(name, type) or (name, (count type, item type))]}],
    offset of the data, number of header lines)."""
    if not raw.startswith(b"ply"):
        raise DataError("not a PLY file (it must start with 'ply')" if raw else "empty file", path=path)
    end = raw.find(b"end_header")
    if end < 0:
        raise DataError("PLY header has no end_header line", path=path)
    stop = raw.find(b"\n", end)
    stop = len(raw) if stop < 0 else stop + 1
    lines = raw[:stop].decode("ascii", "replace").splitlines()
    fmt, elements = None, []
    for no, line in enumerate(lines, 1):
        words = line.split()
        if not words or words[0] in ("ply", "comment", "obj_info", "end_header"):
            continue
        try:
            if words[0] == "format":
                fmt = words[1]
            elif words[0] == "element":
                elements.append({"name": words[1], "count": int(words[2]), "props": []})
            elif words[0] == "property" and words[1] == "list":
                elements[-1]["props"].append((words[4], (_PLY_TYPES[words[2]], _PLY_TYPES[words[3]])))
            elif words[0] == "property":
                elements[-1]["props"].append((words[2], _PLY_TYPES[words[1]]))
            else:
                raise ValueError
        except (IndexError, ValueError, KeyError):
            raise DataError(f"bad PLY header line {line.strip()!r}", path=path, line=no) from None
    if fmt not in _PLY_FORMATS:
        raise DataError(f"PLY format {fmt!r} is not one of {', '.join(_PLY_FORMATS)}", path=path)
    return fmt, elements, stop, len(lines)


def read_ply(path: str | Path) -> np.ndarray:
    """A PLY file's vertices (x, y, z) -> float32 (N, 3); faces and other elements are ignored (the
    vertices are the points). ASCII, or binary where no element with a list property precedes the vertices."""
    path = Path(path)
    raw = path.read_bytes()
    fmt, elements, offset, header_lines = _ply_header(raw, path)
    names = [e["name"] for e in elements]
    if "vertex" not in names:
        raise DataError("PLY has no vertex element", path=path)
    at = names.index("vertex")
    vertex = elements[at]
    props = [name for name, _ in vertex["props"]]
    absent = [a for a in "xyz" if a not in props]
    if absent:
        raise DataError(f"PLY vertices have no property {absent[0]!r} (properties: {' '.join(props)})", path=path)
    n = vertex["count"]
    if n <= 0:
        raise DataError("no points (element vertex 0)", path=path)
    if any(isinstance(t, tuple) for _, t in vertex["props"]):
        raise DataError("PLY vertices with list properties are not supported", path=path)
    if fmt == "ascii":
        rows = raw[offset:].decode("ascii", "replace").splitlines()
        skip = sum(e["count"] for e in elements[:at])
        first = header_lines + skip + 1
        block = rows[skip:skip + n]
        width = len(props)
        if len(block) < n:
            raise DataError(f"{n} vertices declared, {len(block)} lines follow (truncated?)", path=path)
        try:
            table = np.array([r.split()[:width] for r in block], dtype=np.float64)
        except ValueError:
            bad = next(i for i, r in enumerate(block) if len(r.split()) < width or not _numeric(r.split()[:width]))
            raise DataError(f"bad vertex (expected {width} numbers)", path=path, line=first + bad) from None
        cols = [table[:, props.index(a)] for a in "xyz"]
    else:
        order = _PLY_FORMATS[fmt]
        for e in elements[:at]:
            if any(isinstance(t, tuple) for _, t in e["props"]):
                raise DataError(f"binary PLY: element {e['name']!r} with a list property comes before the vertices "
                                "(not supported)", path=path)
            offset += e["count"] * np.dtype([(f"p{i}", order + t) for i, (_, t) in enumerate(e["props"])]).itemsize
        dtype = np.dtype([(name, order + t) for name, t in vertex["props"]])
        have = len(raw) - offset
        if have < n * dtype.itemsize:
            raise DataError(f"binary vertex data is {max(have, 0)} bytes, {n} vertices need {n * dtype.itemsize} "
                            "(truncated?)", path=path)
        table = np.frombuffer(raw, dtype=dtype, count=n, offset=offset)
        cols = [table[a].astype(np.float64) for a in "xyz"]
    return _finite(np.stack(cols, axis=1), path)


def read_h5(path: str | Path, points_key: str = "data",
            labels_key: str = "label") -> tuple[np.ndarray, np.ndarray | None]:
    """PointNet's HDF5 files (e.g. modelnet40_ply_hdf5_2048/ply_data_train0.h5): ``data`` (N, P, >=3) and
    ``label`` (N,) or (N, 1) -> float32 (N, P, 3), int64 (N,) (None if the file has no labels)."""
    path = Path(path)
    try:
        import h5py
    except ImportError:
        raise DataError("reading HDF5 needs the h5py package (pip install h5py)", path=path) from None
    if not path.is_file():
        raise DataError("not found" if not path.exists() else "not a file", path=path)
    try:
        with h5py.File(path, "r") as handle:
            keys = list(handle.keys())
            if points_key not in keys:
                raise DataError(f"no point array {points_key!r} in the HDF5 file (keys: {keys})", path=path)
            points = np.asarray(handle[points_key][()])
            labels = np.asarray(handle[labels_key][()]) if labels_key in keys else None
    except DataError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # h5py reports damage in several ways
        raise DataError(f"cannot read as HDF5 ({exc})", path=path) from None
    if points.ndim != 3 or points.shape[-1] < 3 or len(points) == 0:
        raise DataError(f"{points_key!r} must be (clouds, points, >=3); it is {points.shape}", path=path)
    if not np.isfinite(points[..., :3]).all():
        raise DataError("NaN or infinite coordinates", path=path)
    if labels is not None:
        labels = labels.reshape(len(labels), -1)[:, 0] if labels.ndim == 2 else labels
        if labels.shape != (len(points),) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
            raise DataError(f"{labels_key!r} must hold one class id >= 0 per cloud ({len(points)}); it is "
                            f"{labels.dtype} {labels.shape}", path=path)
        labels = labels.astype(np.int64)
    return points[..., :3].astype(np.float32), labels


__all__ = ["POINT_SUFFIXES", "parse_off", "read_h5", "read_off", "read_pcd", "read_ply", "read_points", "read_xyz",
           "sample_mesh"]

"""Point-cloud readers: PCD (ascii and binary), OFF meshes (surface-sampled), XYZ/TXT/CSV and NumPy.

Each reader returns float32 points (N, 3) (extra columns such as normals are dropped unless asked for);
``sample_mesh`` turns an OFF mesh into points. Bad input (wrong header, short data, broken faces, NaN
coordinates, empty files) raises ``DataError`` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssmkit.errors import DataError

POINT_SUFFIXES = (".pcd", ".off", ".xyz", ".txt", ".csv", ".pts", ".npy")
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
    names, sizes, types = header["FIELDS"], [int(s) for s in header["SIZE"]], header["TYPE"]
    counts = [int(c) for c in header.get("COUNT", ["1"] * len(names))]
    if not len(names) == len(sizes) == len(types) == len(counts):
        raise DataError(f"PCD header: FIELDS, SIZE, TYPE and COUNT disagree in length ({len(names)}, {len(sizes)}, "
                        f"{len(types)}, {len(counts)})", path=path)
    absent = [f for f in fields if f not in names]
    if absent:
        raise DataError(f"PCD has no field {absent[0]!r} (fields: {' '.join(names)})", path=path)
    n = int(header["POINTS"][0])
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
    lines = [ln.split("#", 1)[0].strip() for ln in path.read_text(errors="replace").splitlines()]
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
    -> float32 (N, columns)."""
    path = Path(path)
    rows = []
    for no, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        if len(parts) < columns:
            raise DataError(f"{len(parts)} value(s), at least {columns} needed", path=path, line=no)
        try:
            rows.append([float(v) for v in parts[:columns]])
        except ValueError:
            raise DataError(f"non-numeric value in {line[:40]!r}", path=path, line=no) from None
    return _finite(np.asarray(rows, dtype=np.float64).reshape(-1, columns), path)


def read_points(path: str | Path, n: int = 1024, rng: np.random.Generator | None = None) -> np.ndarray:
    """Any supported point file -> float32 (M, 3); OFF meshes are sampled to n surface points."""
    path = Path(path)
    if not path.is_file():
        raise DataError("not found" if not path.exists() else "not a file", path=path)
    suffix = path.suffix.lower()
    if suffix == ".pcd":
        return read_pcd(path)
    if suffix == ".off":
        return sample_mesh(*read_off(path), n, rng, path)
    if suffix == ".npy":
        try:
            a = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read as .npy ({exc})", path=path) from None
        if a.ndim != 2 or a.shape[1] < 3:
            raise DataError(f"a point array is (N, >=3); this one is {a.shape}", path=path)
        return _finite(a[:, :3].astype(np.float64), path)
    if suffix in (".xyz", ".txt", ".csv", ".pts"):
        return read_xyz(path)
    raise DataError(f"unknown point-file type {suffix!r} (use one of {', '.join(POINT_SUFFIXES)})", path=path)


__all__ = ["POINT_SUFFIXES", "read_off", "read_pcd", "read_points", "read_xyz", "sample_mesh"]

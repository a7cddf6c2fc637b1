"""Interaction logs are read a line at a time: every format (plain, latin-1, zipped, odd line breaks) gives the
histories that decoding the whole text gave, and no file is ever read whole."""

import zipfile
from pathlib import Path

import pytest
import ssmkit_recsys.readers as readers
from ssmkit_recsys.chunked import TextLines

from ssmkit.errors import DataError


def _whole_text(path: Path) -> tuple[str, str]:
    """The former reader: the whole file (or zip member) decoded at once, UTF-8 else latin-1."""
    where = str(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            member = [n for n in archive.namelist() if n.endswith(("ratings.dat", ".inter"))][0]
            raw, where = archive.read(member), f"{path}!{member}"
    else:
        raw = path.read_bytes()
    try:
        return raw.decode("utf-8"), where
    except UnicodeDecodeError:
        return raw.decode("latin-1"), where


def _in_memory(path: Path, fmt: str = "auto"):
    text, where = _whole_text(path)
    fmt = readers.detect_format(path, text) if fmt == "auto" else fmt
    reader = {"lines": readers._read_lines, "pairs": readers._read_pairs, "table": readers._read_table,
              "inter": readers._read_inter, "movielens": readers._read_movielens}[fmt]
    return reader(text, where)


FILES = {
    "Beauty.txt": b"1 10 11 12\n2 11 13\n\n3 12 10 11 14\n",
    "pairs.txt": b"u1 a\r\nu2 b\r\nu1 c\r\nu1 a\r\nu2 d\r\n",
    "log.csv": b'user,item,rating,timestamp\nA,x,5,30\nA,"y,1",4,10\nB,x,3,20\n\nA,z,1,10\n',
    "log.tsv": b"user\titem\ttimestamp\nA\tx\t3\rB\ty\t1\rA\tz\t2\r",  # old Mac line ends
    "ml.inter": b"user_id:token\titem_id:token\ttimestamp:float\n1\t100\t5\n1\t200\t3\n2\t100\t4\n",
    "ratings.dat": "1::Caf\u00e9::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n".encode("latin-1"),
    "odd.txt": "1 a b\x0b2 c d\n3 e\u2028f g\n".encode(),  # breaks str.splitlines() also honours
}


@pytest.mark.parametrize("name", list(FILES))
def test_line_by_line_is_the_whole_text(tmp_path, name, request):
    path = tmp_path / name
    path.write_bytes(FILES[name])
    expected = _in_memory(path)
    request.getfixturevalue("no_whole_file_reads")
    hist = readers.read_histories(path)
    assert (hist.users, hist.items, hist.lines, hist.item_lines, hist.path) == \
           (expected.users, expected.items, expected.lines, expected.item_lines, expected.path)


def test_zip_members_stream_too(tmp_path, request):
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("ml-1m/README", "readme")
        z.writestr("ml-1m/ratings.dat", "".join(f"{u}::{i}::5::{1000 + i}\n" for u in range(50) for i in range(40)))
    expected = _in_memory(archive, "movielens")
    request.getfixturevalue("no_whole_file_reads")
    hist = readers.read_histories(archive, fmt="movielens")
    assert (hist.users, hist.items, hist.path) == (expected.users, expected.items, expected.path)
    assert hist.path.endswith("ml-1m.zip!ml-1m/ratings.dat")


def test_lines_are_what_splitlines_gives_and_errors_keep_their_words(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"a b\r\nc\rd\x0ce\n\nlast")
    assert list(TextLines(path).splitlines()) == path.read_bytes().decode().splitlines()
    assert "".join(TextLines(path)) == path.read_bytes().decode()  # physical lines keep their ends
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(DataError, match="bad.zip"):
        readers.read_histories(bad)

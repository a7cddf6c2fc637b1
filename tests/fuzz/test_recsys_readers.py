"""Fuzzing the interaction-log reader in every format: lines, pairs, table (CSV/TSV), RecBole .inter, MovieLens
(plain and zipped), and with format detection ("auto")."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'ssmkit[dev]')")
pytest.importorskip("ssmkit_recsys", reason="the ssmkit-recsys plug-in is not installed")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from ssmkit_recsys.readers import read_histories  # noqa: E402

from .conftest import attempt, fuzz_settings, mutated, write_input  # noqa: E402

BEAUTY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "recsys" / "Beauty.txt"

LINES = b"1 10 11 12\n2 11 13\n\n3 12 10 11 14\n4 10 12\n"
PAIRS = b"u1 a\nu2 b\nu1 c\nu1 a\nu2 d\nu3 a\nu3 b\n"
TABLE = b"user,item,rating,timestamp\nA,x,5,30\nA,y,4,10\nB,x,3,20\nB,z,5,20\nC,y,1,5\nA,z,2,40\n"
TSV = TABLE.replace(b",", b"\t")
INTER = (b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t10\t5\t100\n1\t11\t4\t90\n2\t10\t3\t80\n"
         b"2\t12\t5\t120\n3\t11\t1\t70\n")
MOVIELENS = b"1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n2::3068::4::978299000\n"


def _zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def _histories_ok(hist) -> None:
    assert len(hist) > 0 and len(hist.users) == len(hist.items) == len(hist.lines)
    assert all(items for items in hist.items)


CASES = {  # reader name -> (file name, format, seeds)
    "recsys lines": ("Beauty.txt", "lines", [LINES]),
    "recsys pairs": ("pairs.txt", "pairs", [PAIRS]),
    "recsys table csv": ("log.csv", "table", [TABLE]),
    "recsys table tsv": ("log.tsv", "table", [TSV]),
    "recsys inter": ("log.inter", "inter", [INTER]),
    "recsys movielens": ("ratings.dat", "movielens", [MOVIELENS]),
    "recsys movielens zip": ("ml-1m.zip", "auto", [_zipped("ml-1m/ratings.dat", MOVIELENS)]),
    "recsys auto": ("log.txt", "auto", [LINES, PAIRS, TABLE, TSV, INTER, MOVIELENS]),
}


def test_seeds_load(tmp_path):
    for name, fmt, seeds in CASES.values():
        for data in seeds:
            _histories_ok(read_histories(write_input(tmp_path, name, data), fmt=fmt))


@pytest.mark.parametrize("reader", sorted(CASES))
@fuzz_settings(40)
@given(draw=st.data())
def test_interaction_log(fuzz_dir, reader, draw):
    name, fmt, seeds = CASES[reader]
    path = write_input(fuzz_dir, name, draw.draw(mutated(seeds)))
    attempt(reader, lambda: read_histories(path, fmt=fmt), path, _histories_ok)


@pytest.fixture(scope="module")
def beauty_head() -> bytes:
    """The first 40 users of the real Amazon Beauty histories."""
    if not BEAUTY.exists():
        pytest.skip(f"real data not found at {BEAUTY}")
    with open(BEAUTY, "rb") as handle:
        return b"".join(handle.readline() for _ in range(40))


@fuzz_settings(40)
@given(draw=st.data())
def test_real_beauty(fuzz_dir, beauty_head, draw):
    path = write_input(fuzz_dir, "Beauty.txt", draw.draw(mutated(beauty_head)))
    attempt("recsys lines (Beauty)", lambda: read_histories(path), path, _histories_ok)


@pytest.mark.parametrize("name, data, words", [
    # a damaged zip (local header, CRC) leaked zipfile.BadZipFile
    ("ml-1m.zip", b"QK" + _zipped("ml-1m/ratings.dat", MOVIELENS)[2:], ["cannot read the zip archive", "BadZipFile"]),
    # a lone carriage return inside a table leaked csv.Error
    ("log.tsv", b"user\titem\trating\rtimestamp\nA\tx\t5\t30\n", ["line 2"]),
])
def test_found_by_fuzzing(tmp_path, name, data, words):
    from ssmkit.errors import DataError

    path = write_input(tmp_path, name, data)
    with pytest.raises(DataError) as err:
        read_histories(path)
    assert str(path) in str(err.value) and all(w in str(err.value) for w in words), str(err.value)

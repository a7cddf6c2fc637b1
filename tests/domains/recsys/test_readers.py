"""Readers of the four interaction formats (and MovieLens), k-core filtering and the vocabulary, on small
files the tests write; malformed input names the file and line."""

import zipfile

import pytest
from ssmkit_recsys.readers import detect_format, k_core, read_histories
from ssmkit_recsys.vocab import Vocabulary

from ssmkit.errors import DataError


def _write(path, text):
    path.write_text(text)
    return path


def _as_dict(hist):
    return dict(zip(hist.users, hist.items))


def test_one_line_per_user(tmp_path):
    path = _write(tmp_path / "Beauty.txt", "1 10 11 12\n2 11 13\n\n3 12 10 11 14\n")
    hist = read_histories(path)
    assert detect_format(path) == "lines"
    assert _as_dict(hist) == {"1": ["10", "11", "12"], "2": ["11", "13"], "3": ["12", "10", "11", "14"]}
    assert hist.lines == [1, 2, 4] and hist.n_interactions == 9


def test_user_item_pairs_in_time_order(tmp_path):
    path = _write(tmp_path / "ml.txt", "u1 a\nu2 b\nu1 c\nu1 a\nu2 d\n")
    hist = read_histories(path)
    assert detect_format(path) == "pairs"
    assert _as_dict(hist) == {"u1": ["a", "c", "a"], "u2": ["b", "d"]}
    assert hist.lines == [1, 2]


@pytest.mark.parametrize("sep, suffix", [(",", "csv"), ("\t", "tsv")])
def test_table_sorted_by_time_with_stable_ties(tmp_path, sep, suffix):
    rows = [["user", "item", "rating", "timestamp"], ["A", "x", "5", "30"], ["A", "y", "4", "10"],
            ["B", "x", "3", "20"], ["A", "z", "1", "10"], ["A", "w", "2", "5"]]
    path = _write(tmp_path / f"log.{suffix}", "\n".join(sep.join(r) for r in rows) + "\n")
    hist = read_histories(path)
    # A: w (5), y (10, line 3), z (10, line 5: the tie keeps file order), x (30)
    assert _as_dict(hist) == {"A": ["w", "y", "z", "x"], "B": ["x"]}
    assert hist.item_lines[0] == [6, 3, 5, 2] and hist.line_of(1, 0) == 4  # errors name each item's own line


def test_amazon_style_columns(tmp_path):
    path = _write(tmp_path / "ratings.csv", "reviewerID,asin,overall,unixReviewTime\nr1,B01,5.0,1400000000\n"
                                            "r1,B00,4.0,1300000000\n")
    assert _as_dict(read_histories(path)) == {"r1": ["B00", "B01"]}


def test_recbole_inter(tmp_path):
    text = ("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
            "1\t100\t5\t978300760\n1\t200\t3\t978300700\n2\t100\t4\t978300000\n")
    path = _write(tmp_path / "ml-100k.inter", text)
    hist = read_histories(path)
    assert detect_format(path) == "inter"
    assert _as_dict(hist) == {"1": ["200", "100"], "2": ["100"]}


def test_movielens_ratings_dat_and_zip(tmp_path):
    text = "1::1193::5::978300760\n1::661::3::978302109\n1::914::3::978301968\n2::1357::5::978298709\n"
    dat = _write(tmp_path / "ratings.dat", text)
    expected = {"1": ["1193", "914", "661"], "2": ["1357"]}
    assert _as_dict(read_histories(dat)) == expected
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ml-1m/README", "readme")
        z.writestr("ml-1m/ratings.dat", text)
    assert _as_dict(read_histories(archive, fmt="movielens")) == expected


@pytest.mark.parametrize("name, text, fmt, line, words", [
    ("lines.txt", "1 10 11\n2\n3 12 13\n", "lines", 2, "empty history"),
    ("lines.txt", "1 10 11\n2 12 13\n1 14 15\n", "lines", 3, "appears again"),
    ("pairs.txt", "u1 a\nu1 b\nu2 c d\n", "pairs", 3, "expected 'user item'"),
    ("log.csv", "user,item,timestamp\nA,x,1\nA,y\n", "auto", 3, "2 fields"),
    ("log.csv", "user,item,timestamp\nA,x,1\nA,y,yesterday\n", "auto", 3, "not a number"),
    ("log.csv", "person,thing,timestamp\nA,x,1\n", "auto", 1, "no user column"),
    ("x.inter", "user_id:token\titem_id\n1\t2\n", "auto", 1, "is not 'name:type'"),
    ("x.inter", "user_id:token\titem_id:token\n1\t2\n3\n", "auto", 3, "1 tab-separated fields"),
    ("ratings.dat", "1::2::5::100\n1::3::5\n", "auto", 2, "user::item::rating::timestamp"),
])
def test_malformed_lines_name_file_and_line(tmp_path, name, text, fmt, line, words):
    path = _write(tmp_path / name, text)
    with pytest.raises(DataError) as err:
        read_histories(path, fmt)
    message = str(err.value)
    assert message.startswith(f"{path}, line {line}: ") and words in message, message
    assert "\n" not in message


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(DataError, match="empty file"):
        read_histories(_write(tmp_path / "empty.txt", "\n\n"))
    with pytest.raises(DataError, match="file not found"):
        read_histories(tmp_path / "absent.txt")
    with pytest.raises(DataError, match="unknown interaction format"):
        read_histories(_write(tmp_path / "a.txt", "1 2\n"), fmt="parquet")


def test_k_core_is_repeated_until_stable(tmp_path):
    # 2-core: q and w (1 each) go, so C and D keep 1 item and go; then v has 1 left (E), so v goes, and E too
    hist = read_histories(_write(tmp_path / "h.txt", "A x y\nB x y\nC v q\nD v w\nE v x\n"))
    assert _as_dict(k_core(hist, 2)) == {"A": ["x", "y"], "B": ["x", "y"]}
    assert k_core(hist, 0) is hist
    with pytest.raises(DataError, match="no user is left after 3-core"):
        k_core(hist, 3)


def test_vocabulary_round_trip_and_unknown_ids(tmp_path):
    hist = read_histories(_write(tmp_path / "h.txt", "1 b a\n2 a c\n"))
    vocab = Vocabulary.build(hist)
    assert vocab.items == ["", "b", "a", "c"] and len(vocab) == 3
    assert vocab.encode(["a", "c"]) == [2, 3] and vocab.decode(3) == "c"
    path = vocab.save(tmp_path / "run" / "vocab.json")
    assert Vocabulary.load(path) == vocab and [p.name for p in path.parent.iterdir()] == ["vocab.json"]
    with pytest.raises(DataError) as err:
        vocab.encode(["a", "zz"], path="new.txt", line=7, user="u9")
    assert str(err.value).startswith("new.txt, line 7: user 'u9': item 'zz' is not in the model's vocabulary")
    assert vocab.encode(["a", "zz"], unknown="skip") == [2]
    with pytest.raises(DataError, match="not a vocabulary file"):
        Vocabulary.load(_write(tmp_path / "bad.json", "[1, 2]"))


def test_bom_gzip_and_tab_separated_pairs(tmp_path):
    import gzip

    table = "user_id,item_id,timestamp\nA,x,2\nA,y,1\nB,z,3\n"
    bom = tmp_path / "excel.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + table.encode())  # Excel's "CSV UTF-8"
    assert _as_dict(read_histories(bom)) == {"A": ["y", "x"], "B": ["z"]}
    packed = tmp_path / "log.csv.gz"
    packed.write_bytes(gzip.compress(table.encode()))
    assert detect_format(packed) == "table" and _as_dict(read_histories(packed)) == {"A": ["y", "x"], "B": ["z"]}
    broken = tmp_path / "cut.csv.gz"
    broken.write_bytes(gzip.compress(table.encode() * 50)[:40])
    with pytest.raises(DataError, match="cut.csv.gz.*cannot read the gzip file"):
        read_histories(broken)
    tabs = _write(tmp_path / "pairs.txt", "1\t10\n2\t11\n1\t12\n")
    assert detect_format(tabs) == "pairs" and _as_dict(read_histories(tabs)) == {"1": ["10", "12"], "2": ["11"]}
    named = _write(tmp_path / "named.txt", "u\titem\n1\t10\n2\t11\n1\t12\n")  # a header naming a column
    with pytest.raises(DataError, match="named.txt.*no user column"):
        read_histories(named)
    wide = _write(tmp_path / "wide.txt", "1\t10\t5\n2\t11\t6\n")  # three tab fields, no header: a table
    assert detect_format(wide) == "table"

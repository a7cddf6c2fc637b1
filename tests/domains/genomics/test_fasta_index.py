"""Indexed FASTA (a samtools-style .fai, positioned reads): against Biopython's records, its errors, its cache, and
the pretraining data module reading through it without ever reading a file whole."""

import os
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import ssmkit_genomics.fasta_index as fai
from ssmkit_genomics.pretrain import FastaLMDataModule, Spans, cut_windows
from ssmkit_genomics.readers import encode_records, read_records

from ssmkit.errors import DataError


def _random_fasta(path: Path, n: int, seed: int, lo: int = 1, hi: int = 400, crlf: bool = False) -> Path:
    """Records with their own line width each (1 to 80), repeated ids, soft-masked and N bases."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        seq = "".join(rng.choice("ACGTNacgt") for _ in range(rng.randint(lo, hi)))
        width = rng.choice([1, 7, 60, 80])
        out.append(f">r{i % 4} record {i}\n" + "".join(seq[j:j + width] + "\n" for j in range(0, len(seq), width)))
    text = "".join(out)
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode())
    return path


@pytest.mark.parametrize("crlf", [False, True])
@pytest.mark.parametrize("block", [5, 64, 1 << 20])
def test_index_reads_what_biopython_reads(tmp_path, monkeypatch, crlf, block):
    monkeypatch.setattr(fai, "BLOCK_BYTES", block)  # lines and headers cross block borders
    path = _random_fasta(tmp_path / "x.fa", 25, seed=block, crlf=crlf)
    index = fai.fasta_index(path)
    recs = read_records(path, duplicates="rename")
    seqs = encode_records(recs)
    assert [index.id(k) for k in range(len(index))] == [r.id for r in recs]  # 'r0', ..., 'r0#2', ...
    assert index.lengths.tolist() == [len(s) for s in seqs]
    rng = np.random.default_rng(0)
    for k, s in enumerate(seqs):
        np.testing.assert_array_equal(index.read(k, 0, len(s)), s)
        for a in rng.integers(0, len(s), 5):
            b = int(rng.integers(a, len(s) + 1))
            np.testing.assert_array_equal(index.read(k, int(a), b), s[a:b])


def test_fai_is_samtools_format(tmp_path):
    path = tmp_path / "s.fa"
    path.write_text(">a desc\nACGTA\nCG\n>b\nTT\n")
    fai.fasta_index(path)
    assert (tmp_path / "s.fa.fai").read_text() == "a\t7\t8\t5\t6\nb\t2\t20\t2\t3\n"  # name len offset bases bytes


@pytest.mark.parametrize("text, line, message", [
    (">a\nACGT\nACG\nACGT\n", 4, "breaks the record's line length of 4 bases"),
    (">a\nACGT\nACGTT\n", 3, "breaks the record's line length"),
    (">a\nACGT\n\nACGT\n", 4, "breaks the record's line length"),
    (">a\nAC-T\n", 2, "invalid character '-' at base 3 .*a gap is not a base"),
    (">a x\nACGT\nAC\n\n>b\nAAZ\n", 6, "record 'b': invalid character 'Z' at base 3"),
    (">a\nACGT\n>b\n>c\nAC\n", 3, "record 'b': empty sequence"),
    ("ACGT\n>a\nAC\n", 1, "sequence before the first '>' header"),
    (">\nACGT\n", 1, "record without an id"),
])
def test_malformed_files_name_the_line(tmp_path, monkeypatch, text, line, message):
    monkeypatch.setattr(fai, "BLOCK_BYTES", 3)
    path = tmp_path / "bad.fa"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"bad\.fa, line {line}: .*{message}"):
        fai.fasta_index(path)
    assert not (tmp_path / "bad.fa.fai").exists()


def test_index_is_reused_while_newer_and_rebuilt_after_a_change(tmp_path, monkeypatch):
    path = _random_fasta(tmp_path / "x.fa", 12, seed=1)
    fai.fasta_index(path)
    built = []
    real = fai.build_fai
    monkeypatch.setattr(fai, "build_fai", lambda p: built.append(p) or real(p))
    fai.fasta_index(path)
    assert built == []
    _random_fasta(path, 3, seed=2)
    os.utime(path, ns=(path.stat().st_atime_ns, (tmp_path / "x.fa.fai").stat().st_mtime_ns + 10**9))
    index = fai.fasta_index(path)
    assert built == [path] and len(index) == 3


def test_read_only_folder_puts_the_index_in_the_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SSMKIT_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "ro"
    folder.mkdir()
    path = _random_fasta(folder / "x.fa", 3, seed=3)
    folder.chmod(0o555)
    try:
        index = fai.fasta_index(path)
        again = fai.fasta_index(path)
    finally:
        folder.chmod(0o755)
    assert not (folder / "x.fa.fai").exists() and len(list((tmp_path / "cache").rglob("x.fa.fai"))) == 1
    assert len(index) == len(again) == 3


def test_gzip_is_refused_with_a_hint(tmp_path):
    import gzip

    path = tmp_path / "x.fa"
    path.write_bytes(gzip.compress(b">a\nACGT\n"))
    with pytest.raises(DataError, match="gunzip"):
        fai.fasta_index(path)


def test_spans_are_cut_windows():
    for lengths, context in (([10, 1, 5], 4), ([1000, 37, 0, 2], 64), ([3] * 7, 2)):
        spans = Spans(lengths, context)
        assert list(spans) == cut_windows(lengths, context) and len(spans) == len(cut_windows(lengths, context))
        assert spans.targets() == sum(b - a - 1 for _, a, b in cut_windows(lengths, context))


@pytest.fixture
def no_whole_file_reads(no_whole_file_reads, monkeypatch):
    """The generic guard (tests/conftest.py), and Biopython's parser and read_records (the in-memory path)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a whole-file read")

    monkeypatch.setattr("Bio.SeqIO.parse", refuse)
    monkeypatch.setattr("ssmkit_genomics.pretrain.read_records", refuse)


def _items(dataset) -> list:
    return [dataset[i]["x"].numpy() for i in range(len(dataset))]


@pytest.mark.parametrize("n_records", [25, 3])  # split by records / by position
def test_pretraining_reads_through_the_index_as_it_reads_in_memory(tmp_path, monkeypatch, n_records, request):
    path = _random_fasta(tmp_path / "g.fa", n_records, seed=n_records, lo=50, hi=900)
    whole = FastaLMDataModule(path=str(path), context=64, index="never")
    whole.setup("fit")
    request.getfixturevalue("no_whole_file_reads")
    monkeypatch.setattr(fai, "BLOCK_BYTES", 100)
    indexed = FastaLMDataModule(path=str(path), context=64, index="always")
    indexed.setup("fit")
    assert isinstance(indexed.train_set.store, fai.FastaIndex)
    assert indexed.tokens == whole.tokens
    for a, b in ((whole.train_set, indexed.train_set), (whole.val_set, indexed.val_set),
                 (whole.test_set, indexed.test_set), (whole.predict_set, indexed.predict_set)):
        assert len(a) == len(b)
        for x, y in zip(_items(a), _items(b)):
            np.testing.assert_array_equal(x, y)
    rows = [{"index": i, "nats": 1.0, "bases": 10} for i in range(len(whole.predict_set))]
    assert indexed.prediction_rows(rows) == whole.prediction_rows(rows)
    # DataLoader workers get a pickled copy: it reopens the file itself
    copy = pickle.loads(pickle.dumps(indexed.train_set))
    np.testing.assert_array_equal(copy[len(copy) - 1]["x"].numpy(), _items(whole.train_set)[-1])


def test_auto_indexes_large_plain_fasta_only(tmp_path, monkeypatch):
    import ssmkit_genomics.pretrain as pretrain

    path = _random_fasta(tmp_path / "g.fa", 12, seed=4)
    dm = FastaLMDataModule(path=str(path), context=32)
    dm.setup("fit")
    assert not isinstance(dm.train_set.store, fai.FastaIndex) and not (tmp_path / "g.fa.fai").exists()
    monkeypatch.setattr(pretrain, "INDEX_MIN_BYTES", 1)
    dm.setup("fit")
    assert isinstance(dm.train_set.store, fai.FastaIndex) and (tmp_path / "g.fa.fai").exists()
    gz = tmp_path / "g.fa.gz"
    import gzip

    gz.write_bytes(gzip.compress(path.read_bytes()))
    dm = FastaLMDataModule(path=str(gz), context=32)
    dm.setup("fit")  # compressed: read whole
    assert not isinstance(dm.train_set.store, fai.FastaIndex)
    with pytest.raises(DataError, match="plain-text FASTA only"):
        FastaLMDataModule(path=str(gz), context=32, index="always").setup("fit")

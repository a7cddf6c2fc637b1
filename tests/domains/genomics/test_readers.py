import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from Bio import SeqIO, bgzf
from Bio.Seq import Seq
from Bio.SeqRecord import SeqRecord
from ssmkit_genomics.readers import (
    Interval,
    Record,
    cut_intervals,
    encode_records,
    label_ids,
    labels_from_csv,
    labels_from_files,
    labels_from_header,
    read_bed,
    read_genomic_benchmarks,
    read_records,
)

from ssmkit.errors import DataError

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
PROMOTERS = SHARED_DATA / "genomics" / "promoters"

FASTA = ">seq1 first one\nACGTAC\nGTAC\n>seq2\nacgtNN\n>seq3 third\nTTTT\n"
FASTQ = "@r1 desc\nACGT\n+\nIIII\n@r2\nGGCC\n+\n@@@@\n@r3\nTTA\n+r3\nI@I\n"


def _write(path: Path, text: str, gz: bool = False) -> Path:
    if gz:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def _genbank(path: Path, gz: bool = False) -> Path:
    recs = []
    for rid, seq in [("gbA", "ACGTACGTTT"), ("gbB", "GGGCCCAAAT")]:
        rec = SeqRecord(Seq(seq), id=rid, name=rid, description=f"test record {rid}")
        rec.annotations["molecule_type"] = "DNA"
        recs.append(rec)
    handle = gzip.open(path, "wt") if gz else open(path, "w")
    with handle:
        SeqIO.write(recs, handle, "genbank")
    return path


# ------------------------------------------------------------------------------------------ formats


@pytest.mark.parametrize("gz", [False, True])
def test_fasta(tmp_path, gz):
    path = _write(tmp_path / ("x.fa.gz" if gz else "x.fa"), FASTA, gz)
    recs = read_records(path)
    assert [r.id for r in recs] == ["seq1", "seq2", "seq3"]
    assert [r.seq for r in recs] == ["ACGTACGTAC", "acgtNN", "TTTT"]
    assert [r.line for r in recs] == [1, 4, 6]
    assert recs[0].description == "seq1 first one" and recs[0].path == str(path)


@pytest.mark.parametrize("gz", [False, True])
def test_fastq(tmp_path, gz):
    path = _write(tmp_path / ("x.fastq.gz" if gz else "x.fq"), FASTQ, gz)
    recs = read_records(path)
    assert [(r.id, r.seq, r.line) for r in recs] == [("r1", "ACGT", 1), ("r2", "GGCC", 5), ("r3", "TTA", 9)]


@pytest.mark.parametrize("gz", [False, True])
def test_genbank(tmp_path, gz):
    path = _genbank(tmp_path / ("x.gbk.gz" if gz else "x.gb"), gz)
    recs = read_records(path)
    assert [(r.id, r.seq) for r in recs] == [("gbA", "ACGTACGTTT"), ("gbB", "GGGCCCAAAT")]
    lines = path.read_bytes()
    if gz:
        lines = gzip.decompress(lines)
    locus = [i + 1 for i, line in enumerate(lines.decode().splitlines()) if line.startswith("LOCUS")]
    assert [r.line for r in recs] == locus and locus[0] == 1


def test_format_argument_and_unknown_suffix(tmp_path):
    path = _write(tmp_path / "reads.txt", FASTA)
    with pytest.raises(DataError, match="cannot tell the format"):
        read_records(path)
    assert len(read_records(path, fmt="fasta")) == 3
    assert len(read_records(path, fmt="fa")) == 3


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found") as info:
        read_records(tmp_path / "nope.fa")
    assert "nope.fa" in str(info.value)


def test_no_records(tmp_path):
    with pytest.raises(DataError, match="no FASTA records") as info:
        read_records(_write(tmp_path / "empty.fa", ""))
    assert "empty.fa" in str(info.value)


def test_empty_record(tmp_path):
    path = _write(tmp_path / "e.fa", ">a\nACGT\n>chr1_7 nothing here\n>c\nGG\n")
    with pytest.raises(DataError) as info:
        read_records(path)
    msg = str(info.value)
    assert "e.fa, line 3" in msg and "record 'chr1_7': empty sequence" in msg


def test_truncated_fastq(tmp_path):
    path = _write(tmp_path / "t.fq", "@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nII\n")
    with pytest.raises(DataError) as info:
        read_records(path)
    msg = str(info.value)
    assert "t.fq" in msg and "after record 'r1'" in msg and "truncated" in msg
    path = _write(tmp_path / "u.fq.gz", "@r1\nACGT\n+\nIIII\n@r2\nAC", gz=True)
    with pytest.raises(DataError, match=r"u\.fq\.gz.*after record 'r1'"):
        read_records(path)


def test_not_a_fasta_file(tmp_path):
    path = _write(tmp_path / "c.fa", "just some text\n>a\nAC\n")
    with pytest.raises(DataError, match=r"c\.fa.*in its first record"):
        read_records(path)


def test_duplicated_ids(tmp_path):
    path = _write(tmp_path / "d.fa", ">a\nAC\n>b\nGG\n>a x\nTT\n>a y\nCC\n")
    with pytest.raises(DataError) as info:
        read_records(path)
    msg = str(info.value)
    assert "d.fa, line 5" in msg and "record 'a'" in msg and "line 1" in msg
    assert [r.id for r in read_records(path, duplicates="rename")] == ["a", "b", "a#2", "a#3"]
    assert [r.id for r in read_records(path, duplicates="keep")] == ["a", "b", "a", "a"]


def test_encode_records_names_record(tmp_path):
    recs = read_records(_write(tmp_path / "g.fa", ">ok\nACGT\n>bad\nAC-GT\n"))
    with pytest.raises(DataError) as info:
        encode_records(recs)
    msg = str(info.value)
    assert "g.fa, line 3" in msg and "record 'bad'" in msg and "'-' at position 3" in msg
    ids = encode_records(recs[:1])
    assert ids[0].tolist() == [1, 2, 3, 4]


# ------------------------------------------------------------------------------------------ labels


def test_labels_from_files(tmp_path):
    pos = _write(tmp_path / "pos.fa", ">p1\nACGT\n>p2\nAAAA\n")
    pos2 = _write(tmp_path / "pos2.fa.gz", ">p3\nCCCC\n", gz=True)
    neg = _write(tmp_path / "neg.fq", "@n1\nGGGG\n+\nIIII\n")
    recs, labels = labels_from_files({"promoter": [pos, pos2], "non_promoter": neg})
    assert [r.id for r in recs] == ["p1", "p2", "p3", "n1"]
    assert labels == ["promoter"] * 3 + ["non_promoter"]
    ids, classes = label_ids(labels)
    assert classes == ["non_promoter", "promoter"] and ids.tolist() == [1, 1, 1, 0]
    ids, classes = label_ids(labels, classes=["promoter", "non_promoter"])
    assert ids.dtype == np.int64 and ids.tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="not among the classes"):
        label_ids(labels, classes=["promoter"])


def test_labels_from_header(tmp_path):
    path = _write(tmp_path / "h.fa", ">seq1|label=1 extra text\nACGT\n>seq2|label=0\nGGGG\n>seq3|label=1|x\nTT\n")
    recs = read_records(path)
    assert labels_from_header(recs, "label") == ["1", "0", "1"]
    assert labels_from_header(recs, 1) == ["label=1", "label=0", "label=1"]
    path = _write(tmp_path / "k.fa", ">a;promoter\nAC\n>b;non_promoter\nGG\n")
    assert labels_from_header(read_records(path), -1, sep=re.compile(r"[;|]")) == ["promoter", "non_promoter"]
    bad = _write(tmp_path / "bad.fa", ">s1|label=1\nAC\n>s2|class=0\nGG\n")
    with pytest.raises(DataError) as info:
        labels_from_header(read_records(bad), "label")
    msg = str(info.value)
    assert "bad.fa, line 3" in msg and "record 's2|class=0'" in msg


def test_labels_from_csv(tmp_path):
    recs = read_records(_write(tmp_path / "s.fa", ">a\nAC\n>b\nGG\n>c\nTT\n"))
    with_header = _write(tmp_path / "l.csv", "id,label\nc,neg\na,pos\n\nb,pos\n")
    assert labels_from_csv(recs, with_header) == ["pos", "pos", "neg"]
    no_header = _write(tmp_path / "l.tsv", "a\tx\nb\ty\nc\tx\n")
    assert labels_from_csv(recs, no_header) == ["x", "y", "x"]


def test_labels_from_csv_unknown_id(tmp_path):
    recs = read_records(_write(tmp_path / "s.fa", ">a\nAC\n>b\nGG\n"))
    csv_path = _write(tmp_path / "l.csv", "id,label\na,1\nzz,0\nb,0\n")
    with pytest.raises(DataError) as info:
        labels_from_csv(recs, csv_path)
    msg = str(info.value)
    assert "l.csv, line 3" in msg and "'zz'" in msg


def test_labels_from_csv_missing_label_and_conflict(tmp_path):
    fasta = _write(tmp_path / "s.fa", ">a\nAC\n>b\nGG\n")
    recs = read_records(fasta)
    with pytest.raises(DataError) as info:
        labels_from_csv(recs, _write(tmp_path / "m.csv", "a,1\n"))
    msg = str(info.value)
    assert "m.csv" in msg and "record 'b'" in msg and "s.fa, line 3" in msg
    with pytest.raises(DataError, match=r"c\.csv, line 2.*contradicts"):
        labels_from_csv(recs, _write(tmp_path / "c.csv", "a,1\na,0\nb,1\n"))


# ------------------------------------------------------------------------------------------ genomic benchmarks


def _benchmark_tree(root: Path) -> None:
    content = {
        "train": {"positive": {"0": "ACGT", "1": "GGGG", "10": "CCCC", "2": "AAAA"}, "negative": {"0": "TTTT"}},
        "test": {"positive": {"5": "ACAC"}, "negative": {"3": "GTGT", "4": "TGTG"}},
    }
    for split, classes in content.items():
        for name, files in classes.items():
            (root / split / name).mkdir(parents=True)
            for stem, seq in files.items():
                (root / split / name / f"{stem}.txt").write_text(seq)  # one sequence, no newline


def test_genomic_benchmarks(tmp_path):
    root = tmp_path / "human_nontata_promoters"
    _benchmark_tree(root)
    data = read_genomic_benchmarks(root)
    assert set(data) == {"train", "test"}
    recs, labels = data["train"]
    assert [r.id for r in recs] == ["negative/0", "positive/0", "positive/1", "positive/2", "positive/10"]
    assert [r.seq for r in recs] == ["TTTT", "ACGT", "GGGG", "AAAA", "CCCC"]
    assert labels == ["negative"] + ["positive"] * 4
    recs, labels = data["test"]
    assert [r.seq for r in recs] == ["GTGT", "TGTG", "ACAC"] and labels == ["negative", "negative", "positive"]


def test_genomic_benchmarks_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_genomic_benchmarks(tmp_path / "missing")
    root = tmp_path / "gb"
    _benchmark_tree(root)
    (root / "test" / "positive" / "5.txt").write_text("\n")
    with pytest.raises(DataError) as info:
        read_genomic_benchmarks(root)
    assert "5.txt" in str(info.value) and "record 'positive/5': empty sequence" in str(info.value)
    (root / "test" / "positive" / "5.txt").write_text("AC")
    (root / "test" / "extra").mkdir()
    (root / "test" / "extra" / "0.txt").write_text("AC")
    with pytest.raises(DataError, match="different classes"):
        read_genomic_benchmarks(root)


# ------------------------------------------------------------------------------------------ BED

CHR1 = "AACCGGTTACGTACGTNNacgtGATC"  # 26 nt
CHR2 = "TTTTGGGGCCCCAAAA"  # 16 nt
BED = (
    "track name=test\n"
    "# a comment\n"
    "browser position chr1:1-10\n"
    "chr1\t0\t4\n"
    "chr1\t2\t10\tfeat_plus\t0\t+\n"
    "chr2\t4\t12\tfeat_minus\t5\t-\n"
    "\n"
    "chr1\t16\t24\tsoft\t0\t-\textra\tcolumns\n"
    "chr2\t0\t16\twhole\t0\t.\n"
)


def _reference(tmp_path: Path, name: str = "ref.fa") -> Path:
    return _write(tmp_path / name, f">chr1 first\n{CHR1[:10]}\n{CHR1[10:]}\n>chr2\n{CHR2}\n")


def _rc(text: str) -> str:
    return text.translate(str.maketrans("ACGTNacgtn", "TGCANtgcan"))[::-1]


def test_read_bed(tmp_path):
    path = _write(tmp_path / "x.bed", BED)
    ivs = read_bed(path)
    assert [(i.chrom, i.start, i.end, i.name, i.strand, i.line) for i in ivs] == [
        ("chr1", 0, 4, "chr1:0-4", ".", 4),
        ("chr1", 2, 10, "feat_plus", "+", 5),
        ("chr2", 4, 12, "feat_minus", "-", 6),
        ("chr1", 16, 24, "soft", "-", 8),
        ("chr2", 0, 16, "whole", ".", 9),
    ]
    assert ivs[0].path == str(path)
    assert read_bed(_write(tmp_path / "x.bed.gz", BED, gz=True)) == [
        Interval(i.chrom, i.start, i.end, i.name, i.strand, i.line, str(tmp_path / "x.bed.gz")) for i in ivs]


@pytest.mark.parametrize("line, match", [
    ("chr1\t5\n", "at least 3 columns"),
    ("chr1\tfive\t9\n", "start 'five' is not an integer"),
    ("chr1\t9\t5\n", "start < end"),
    ("chr1\t1\t5\tn\t0\tx\n", "strand 'x'"),
])
def test_malformed_bed(tmp_path, line, match):
    path = _write(tmp_path / "m.bed", "chr1\t0\t4\n" + line)
    with pytest.raises(DataError, match=match) as info:
        read_bed(path)
    assert "m.bed, line 2" in str(info.value)


def test_cut_intervals_both_strands(tmp_path):
    bed = _write(tmp_path / "x.bed", BED)
    recs = cut_intervals(_reference(tmp_path), bed)
    expected = [CHR1[0:4], CHR1[2:10], _rc(CHR2[4:12]), _rc(CHR1[16:24]), CHR2]
    assert [r.seq for r in recs] == expected
    assert expected[2] == "GGGGCCCC" and expected[3] == "TCacgtNN"  # worked by hand
    assert [r.id for r in recs] == ["chr1:0-4", "feat_plus", "feat_minus", "soft", "whole"]
    assert recs[2].description == "chr2:4-12(-)" and recs[2].line == 6 and recs[2].path == str(bed)


def test_read_records_cuts_bed_files_from_the_reference(tmp_path):
    bed = _write(tmp_path / "dup.bed.gz", "chr1\t0\t4\tx\nchr2\t4\t12\tx\t0\t-\nchr2\t0\t2\tx\n", gz=True)
    ref = _reference(tmp_path)
    recs = read_records(bed, duplicates="rename", reference=ref)
    assert [(r.id, r.seq, r.line) for r in recs] == [("x", CHR1[0:4], 1), ("x#2", _rc(CHR2[4:12]), 2),
                                                    ("x#3", CHR2[0:2], 3)]
    assert [r.id for r in read_records(bed, duplicates="keep", reference=ref)] == ["x", "x", "x"]
    with pytest.raises(DataError, match=r"'x'.*first at line 1, again at line 2") as info:
        read_records(bed, reference=ref)
    assert "dup.bed.gz" in str(info.value)
    with pytest.raises(DataError, match="reference FASTA") as info:
        read_records(bed)
    assert "dup.bed.gz" in str(info.value)


def test_cut_intervals_bgzf_reference(tmp_path):
    ref = tmp_path / "ref.fa.gz"
    with bgzf.BgzfWriter(str(ref), "wb") as handle:
        handle.write(_reference(tmp_path).read_bytes())
    recs = cut_intervals(ref, [Interval("chr2", 0, 4, "a", "-")])
    assert recs[0].seq == "AAAA"


def test_cut_intervals_plain_gzip_reference(tmp_path):
    ref = _write(tmp_path / "ref.fa.gz", _reference(tmp_path).read_text(), gz=True)
    with pytest.raises(DataError, match="bgzip") as info:
        cut_intervals(ref, [Interval("chr1", 0, 4, "a")])
    assert "ref.fa.gz" in str(info.value)


def test_cut_intervals_beyond_chromosome_end(tmp_path):
    bed = _write(tmp_path / "long.bed", "chr2\t0\t4\tok\nchr1\t20\t27\ttoo_long\t0\t+\n")
    with pytest.raises(DataError) as info:
        cut_intervals(_reference(tmp_path), bed)
    msg = str(info.value)
    assert "long.bed, line 2" in msg and "'too_long'" in msg and "length 26" in msg


def test_cut_intervals_unknown_chromosome(tmp_path):
    bed = _write(tmp_path / "u.bed", "chr1\t0\t4\nchrX\t0\t4\tmystery\n")
    with pytest.raises(DataError) as info:
        cut_intervals(_reference(tmp_path), bed)
    msg = str(info.value)
    assert "u.bed, line 2" in msg and "'chrX'" in msg and "chr1, chr2" in msg


# ------------------------------------------------------------------------------------------ real data


@pytest.mark.skipif(not PROMOTERS.exists(), reason=f"real data not found at {PROMOTERS} (needs ../shared beside the "
                                                   "repo)")
def test_real_ecoli_promoters():
    prom = read_records(PROMOTERS / "Ecoli_prom.fa")
    non = read_records(PROMOTERS / "Ecoli_non_prom.fa")
    assert len(prom) == 839 and len(non) == 3000
    assert {len(r.seq) for r in prom} == {81} and {len(r.seq) for r in non} == {81}
    assert prom[0].id.startswith("ECK120010467") and prom[0].line == 1 and prom[1].line == 4
    ids = encode_records(prom + non)
    assert all(x.shape == (81,) for x in ids)


@pytest.mark.skipif(not PROMOTERS.exists(), reason=f"real data not found at {PROMOTERS}")
def test_real_arabidopsis_needs_duplicate_policy():
    with pytest.raises(DataError, match="duplicated id"):
        read_records(PROMOTERS / "Arabidopsis_non_prom.fa")
    recs, labels = labels_from_files({"promoter": PROMOTERS / "Arabidopsis_tata.fa",
                                      "non_promoter": PROMOTERS / "Arabidopsis_non_prom.fa"}, duplicates="rename")
    assert len(recs) == 1497 + 2879 and len({r.id for r in recs}) == len(recs)
    assert {len(r.seq) for r in recs} == {251} and labels.count("promoter") == 1497


def test_record_defaults():
    rec = Record("x", "ACGT")
    assert rec.description == "" and rec.line is None and rec.path is None


def test_genomic_benchmarks_entry_reads_through_the_data_module(tmp_path):
    """--data.dataset genomics/human_nontata_promoters reads DATA_DIR/genomics/genomic_benchmarks/<name> with its
    own train/test split, as --data.benchmarks_root does."""
    from ssmkit_genomics.data import DNAClassDataModule

    _benchmark_tree(tmp_path / "genomics" / "genomic_benchmarks" / "human_nontata_promoters")
    by_name = DNAClassDataModule(dataset="genomics/human_nontata_promoters", data_dir=str(tmp_path), length=4,
                                 val_fraction=0.2)
    by_root = DNAClassDataModule(benchmarks_root=str(tmp_path / "genomics" / "genomic_benchmarks" /
                                                     "human_nontata_promoters"), length=4, val_fraction=0.2)
    for dm in (by_name, by_root):
        dm.setup("fit")
    assert by_name.classes == ["negative", "positive"] and by_name.source == "real: human_nontata_promoters"
    test = lambda dm: sorted(dm.test_set[i]["x"].tolist() for i in range(len(dm.test_set)))  # noqa: E731
    assert len(by_name.test_set) == 3 and test(by_name) == test(by_root)
    with pytest.raises(DataError, match="not in the data directory"):
        DNAClassDataModule(dataset="genomics/demo_human_or_worm", data_dir=str(tmp_path)).setup("fit")

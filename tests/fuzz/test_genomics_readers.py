"""Fuzzing the sequence readers: FASTA, FASTQ, GenBank (plain and gzipped), BED, id,label tables, cut_intervals."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'ssmkit[dev]')")
pytest.importorskip("ssmkit_genomics", reason="the ssmkit-genomics plug-in is not installed")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from ssmkit_genomics.readers import (  # noqa: E402
    Record,
    cut_intervals,
    encode_records,
    labels_from_csv,
    read_bed,
    read_records,
)

from .conftest import attempt, fuzz_settings, mutated, write_input  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # Biopython warns about every oddity it repairs

PROMOTERS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "genomics" / "promoters"

FASTA = (b">seq1 promoter|label=1\nACGTACGTNNACGTACGTTTGACA\nGGCCTTAA\n>seq2 other|label=0\nacgtacgtacgtAAAC\n"
         b">seq3\nTTTTGGGGCCCCAAAA\n")
FASTQ = b"@r1 first\nACGTACGTAC\n+\nIIIIIIIIII\n@r2\nGGGTTTAA\n+\n!!!!@@@@\n@r3 third\nNNACGT\n+r3 third\n#####I\n"
BED = b"track name=test\n#comment\nchr1\t2\t10\tfirst\t0\t+\nchr1\t5\t20\tsecond\t0\t-\nchr2 0 8\n"
LABELS = b"id,label\nseq1,promoter\nseq2,other\n# a comment\nseq3,other\n"
REFERENCE = b">chr1 one\nACGTACGTACGTACGTACGTACGTACGTAC\n>chr2\nGGGGCCCCAAAATTTT\n"


def _genbank() -> bytes:
    from Bio import SeqIO
    from Bio.Seq import Seq
    from Bio.SeqFeature import FeatureLocation, SeqFeature
    from Bio.SeqRecord import SeqRecord

    out = io.StringIO()
    recs = []
    for i, seq in enumerate(("ACGTACGTTTGACAGGCCTTAAGGC", "TTTTGGGGCCCCAAAAACGT")):
        rec = SeqRecord(Seq(seq), id=f"AB00000{i}.1", name=f"AB00000{i}", description=f"test sequence {i}",
                        annotations={"molecule_type": "DNA", "topology": "linear"})
        rec.features.append(SeqFeature(FeatureLocation(2, 10), type="promoter", qualifiers={"note": ["x"]}))
        recs.append(rec)
    SeqIO.write(recs, out, "genbank")
    return out.getvalue().encode()


GENBANK = _genbank()


def _records_ok(records) -> None:
    assert records and all(isinstance(r, Record) and r.id and r.seq for r in records)


def _read_and_encode(path: Path):
    records = read_records(path)
    encode_records(records)  # invalid characters -> DataError naming the record
    return records


def test_seeds_load(tmp_path):
    for name, data in (("a.fa", FASTA), ("a.fq", FASTQ), ("a.gb", GENBANK), ("a.fa.gz", gzip.compress(FASTA))):
        _records_ok(_read_and_encode(write_input(tmp_path, name, data)))
    assert len(read_bed(write_input(tmp_path, "a.bed", BED))) == 3
    assert len(cut_intervals(write_input(tmp_path, "ref.fa", REFERENCE), read_bed(tmp_path / "a.bed"))) == 3


@fuzz_settings(80)
@given(data=mutated(FASTA))
def test_fasta(fuzz_dir, data):
    path = write_input(fuzz_dir, "seqs.fa", data)
    attempt("genomics fasta", lambda: _read_and_encode(path), path, _records_ok)


@fuzz_settings(40)
@given(data=mutated(gzip.compress(FASTA, mtime=0)))
def test_gzipped_fasta(fuzz_dir, data):
    path = write_input(fuzz_dir, "seqs.fa.gz", data)
    attempt("genomics fasta.gz", lambda: _read_and_encode(path), path, _records_ok)


@fuzz_settings(80)
@given(data=mutated(FASTQ))
def test_fastq(fuzz_dir, data):
    path = write_input(fuzz_dir, "reads.fq", data)
    attempt("genomics fastq", lambda: _read_and_encode(path), path, _records_ok)


@fuzz_settings(80)
@given(data=mutated(GENBANK))
def test_genbank(fuzz_dir, data):
    path = write_input(fuzz_dir, "seqs.gb", data)
    attempt("genomics genbank", lambda: _read_and_encode(path), path, _records_ok)


@fuzz_settings(60)
@given(data=mutated(BED))
def test_bed(fuzz_dir, data):
    path = write_input(fuzz_dir, "regions.bed", data)
    attempt("genomics bed", lambda: read_bed(path), path, lambda ivs: all(0 <= i.start < i.end for i in ivs))


@fuzz_settings(40)
@given(data=mutated(LABELS))
def test_labels_csv(fuzz_dir, data):
    records = [Record("seq1", "ACGT"), Record("seq2", "ACGT"), Record("seq3", "ACGT")]
    path = write_input(fuzz_dir, "labels.csv", data)
    attempt("genomics labels csv", lambda: labels_from_csv(records, path), path, lambda labels: len(labels) == 3)


@fuzz_settings(40)
@given(data=mutated(REFERENCE))
def test_cut_intervals_reference(fuzz_dir, data):
    bed = write_input(fuzz_dir, "regions.bed", BED)
    ref = write_input(fuzz_dir, "ref.fa", data)
    intervals = read_bed(bed)
    attempt("genomics cut_intervals (reference)", lambda: cut_intervals(ref, intervals), [ref, bed],
            named=str(fuzz_dir), loaded=lambda recs: len(recs) == 3)


@pytest.fixture(scope="module")
def promoters_head() -> list[bytes]:
    """The first 40 lines of each real promoter FASTA."""
    files = sorted(PROMOTERS.glob("*.fa"))
    if not files:
        pytest.skip(f"real data not found at {PROMOTERS}")
    heads = []
    for file in files:
        with open(file, "rb") as handle:
            heads.append(b"".join(handle.readline() for _ in range(40)))
    return heads


@fuzz_settings(40)
@given(draw=st.data())
def test_real_promoters(fuzz_dir, promoters_head, draw):
    path = write_input(fuzz_dir, "promoters.fa", draw.draw(mutated(promoters_head)))
    attempt("genomics fasta (promoters)", lambda: _read_and_encode(path), path, _records_ok)


def test_found_by_fuzzing(tmp_path):
    """A reference FASTA whose header holds a byte that is not UTF-8 leaked UnicodeDecodeError from cut_intervals
    (``name in index`` and ``index[name]`` parse the record lazily)."""
    from ssmkit.errors import DataError

    ref = write_input(tmp_path, "ref.fa", b">chr1\t\x80 one\nACGTACGTACGTACGTACGTACGTACGTAC\n>chr2\nGGGGCCCCAAAATTTT\n")
    intervals = read_bed(write_input(tmp_path, "regions.bed", BED))
    with pytest.raises(DataError, match=r"ref\.fa: cannot (index|read)"):
        cut_intervals(ref, intervals)

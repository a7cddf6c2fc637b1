"""Sequence files -> records and labels, with errors that name the file, line and record.

Sequence formats go through Biopython (``Bio.SeqIO``): FASTA, FASTQ and GenBank, plain or gzipped,
chosen by suffix (``.fa .fasta .fna .fas``, ``.fq .fastq``, ``.gb .gbk .genbank``, each optionally
followed by ``.gz``) or by ``fmt``. Header line numbers are tracked while Biopython reads, so every
record knows where it starts.

Labels come from one file per class (``labels_from_files``), a header field (``labels_from_header``)
or an ``id,label`` CSV (``labels_from_csv``); labels are class-name strings, ``label_ids`` turns them
into integers. ``read_genomic_benchmarks`` reads the folder layout of the genomic-benchmarks package.
Intervals: ``read_bed`` and ``cut_intervals`` (random access to the reference through ``SeqIO.index``);
``read_records(..., reference=FASTA)`` reads a ``.bed`` / ``.bed.gz`` file as the sequences of its intervals,
so every reader that takes a sequence file also takes a BED file with a reference.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from Bio import SeqIO
from Bio.Seq import reverse_complement as _reverse_complement_text

from ssmkit.errors import DataError

from .alphabet import InvalidBase, encode, soft_mask

__all__ = [
    "Record", "Interval", "BedIntervals", "FORMATS", "read_records", "encode_records", "labels_from_files",
    "labels_from_header", "labels_from_csv", "label_ids", "read_genomic_benchmarks", "read_bed",
    "cut_intervals", "is_bed", "softmasks",
]

PathLike = str | os.PathLike

# suffix -> Biopython format name
FORMATS = {
    ".fa": "fasta", ".fasta": "fasta", ".fna": "fasta", ".fas": "fasta",
    ".fq": "fastq", ".fastq": "fastq",
    ".gb": "genbank", ".gbk": "genbank", ".genbank": "genbank",
}
_FMT_ALIASES = {**{k[1:]: v for k, v in FORMATS.items()}, "fasta": "fasta", "fastq": "fastq", "genbank": "genbank"}
_HEADER_MARK = {"fasta": ">", "fastq": "@", "genbank": "LOCUS"}


@dataclass
class Record:
    """One sequence: ``id`` (first word of the header), ``seq`` (text, case kept), ``description`` (the whole
    header, or GenBank's DEFINITION), ``line`` (1-based line of its header when known), ``path`` (its file)."""

    id: str
    seq: str
    description: str = ""
    line: int | None = None
    path: str | None = None


# --------------------------------------------------------------------------------------------- helpers


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def _is_bgzf(path: Path) -> bool:
    """A gzip member with the 'BC' extra subfield (blocked gzip, what ``bgzip`` writes)."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) >= 16 and head[:4] == b"\x1f\x8b\x08\x04" and head[12:14] == b"BC"


def _open_text(path: Path):
    """Text handle on ``path``, through gzip when the file is gzip-compressed (whatever its suffix)."""
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8", newline=None)
    return open(path, encoding="utf-8", newline=None)


def _existing_file(path: PathLike) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    if path.is_dir():
        raise DataError("is a directory, expected a file", path=path)
    return path


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        key = fmt.lower().lstrip(".")
        if key not in _FMT_ALIASES:
            raise DataError(f"unknown sequence format {fmt!r}; use one of fasta, fastq, genbank", path=path)
        return _FMT_ALIASES[key]
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if not suffixes or suffixes[-1] not in FORMATS:
        raise DataError(f"cannot tell the format from the name (known suffixes: {', '.join(FORMATS)}, "
                        "optionally + .gz); pass fmt='fasta', 'fastq' or 'genbank'", path=path)
    return FORMATS[suffixes[-1]]


class _LineCounter:
    """Read-only text handle proxy for Biopython's parsers: counts lines as they are consumed and queues
    the (number, text) of every line that starts with ``mark`` (a record header candidate)."""

    def __init__(self, handle, mark: str):
        self._handle, self._mark = handle, mark
        self.count = 0
        self.heads: deque[tuple[int, str]] = deque()

    def read(self, size: int = -1) -> str:
        if size == 0:  # Biopython probes the mode with read(0)
            return self._handle.read(0)
        raise OSError("_LineCounter supports line-wise reading only")

    def readline(self, size: int = -1) -> str:
        line = self._handle.readline()
        if line:
            self.count += 1
            if line.startswith(self._mark):
                self.heads.append((self.count, line))
        return line

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def header_line(self, fmt: str, title: str) -> int | None:
        """Line of the next record's header. FASTA and GenBank: the next queued header. FASTQ: the next
        queued '@' line whose text is the title (quality lines may also start with '@')."""
        while self.heads:
            number, text = self.heads.popleft()
            if fmt != "fastq" or text[1:].rstrip() == title:
                return number
        return None


# --------------------------------------------------------------------------------------------- records


def is_bed(path: PathLike) -> bool:
    """True for a ``.bed`` or ``.bed.gz`` name (any case)."""
    name = Path(path).name.lower()
    return name.endswith(".bed") or name.endswith(".bed.gz")


def _bed_records(path: Path, reference: PathLike | None, duplicates: str) -> list[Record]:
    if reference is None:
        raise DataError("a BED file holds intervals, not sequences: give the reference FASTA they are cut from "
                        "(--data.reference genome.fa)", path=path)
    ids = _Ids(duplicates, path, "interval name")
    return [Record(ids.take(rec.id, rec.line), rec.seq, rec.description, rec.line, rec.path)
            for rec in cut_intervals(reference, path)]


class _Ids:
    """The ``duplicates`` policy over one file's ids: ``take(id, line)`` -> the id to keep."""

    def __init__(self, duplicates: str, path: Path, what: str = "record"):
        self.duplicates, self.path, self.what = duplicates, path, what
        self.first_line: dict[str, int | None] = {}
        self.copies: dict[str, int] = {}

    def take(self, rid: str, line: int | None) -> str:
        if rid not in self.first_line:
            self.first_line[rid] = line
            return rid
        if self.duplicates == "error":
            first = self.first_line[rid]
            where = f"line {first}" if first is not None else "earlier"
            raise DataError(f"{self.what} {rid!r}: duplicated id (first at {where}, again at line {line}); "
                            "pass duplicates='rename' or 'keep' to accept it", path=self.path, line=line)
        self.copies[rid] = self.copies.get(rid, 1) + 1
        return f"{rid}#{self.copies[rid]}" if self.duplicates == "rename" else rid


def read_records(path: PathLike, fmt: str | None = None, duplicates: str = "error",
                 reference: PathLike | None = None) -> list[Record]:
    """All records of a FASTA / FASTQ / GenBank file (optionally gzipped), in file order.

    ``duplicates``: what a repeated id does: "error" (DataError naming both lines), "keep", or "rename"
    (the second copy of 'x' becomes 'x#2', the third 'x#3', ...). Empty sequences and empty ids are
    errors; so is a malformed or truncated file (the message names the last good record).
    ``reference``: a FASTA that BED files (``.bed``, ``.bed.gz``, see ``is_bed``) are cut from; a BED file
    gives one record per interval in file order (id = its name, '-' strand reverse-complemented).
    """
    if duplicates not in ("error", "keep", "rename"):
        raise ValueError(f"duplicates must be 'error', 'keep' or 'rename', got {duplicates!r}")
    path = _existing_file(path)
    if fmt is None and is_bed(path):
        return _bed_records(path, reference, duplicates)
    fmt = _format_of(path, fmt)
    records: list[Record] = []
    ids = _Ids(duplicates, path)
    counter = None
    try:
        with _open_text(path) as handle:
            counter = _LineCounter(handle, _HEADER_MARK[fmt])
            for rec in SeqIO.parse(counter, fmt):
                line = counter.header_line(fmt, rec.description)
                seq = str(rec.seq)
                if not rec.id:
                    raise DataError("record without an id (empty header)", path=path, line=line)
                if not seq:
                    raise DataError(f"record {rec.id!r}: empty sequence", path=path, line=line)
                records.append(Record(ids.take(rec.id, line), seq, rec.description, line, str(path)))
    except DataError:
        raise
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the file ({type(exc).__name__}: {exc})", path=path) from exc
    except Exception as exc:  # Biopython reports malformed input as ValueError (sometimes others)
        after = f"after record {records[-1].id!r}" if records else "in its first record"
        line = counter.count if counter is not None and counter.count else None
        raise DataError(f"malformed or truncated {fmt.upper()} {after}: {exc}", path=path, line=line) from exc
    if not records:
        raise DataError(f"no {fmt.upper()} records found", path=path)
    return records


def encode_records(records: Iterable[Record], lowercase: str = "upper") -> list[np.ndarray]:
    """Token ids (L,) uint8 of each record; an invalid character -> DataError naming the file, header
    line, record id and position. ``lowercase="mask"`` reads soft-masked bases as bases (as "upper");
    ``softmasks`` gives where they were."""
    out = []
    for rec in records:
        try:
            out.append(encode(rec.seq, "upper" if lowercase == "mask" else lowercase))
        except InvalidBase as exc:
            raise DataError(f"record {rec.id!r}: {exc}", path=rec.path, line=rec.line) from exc
    return out


def softmasks(records: Iterable[Record]) -> list[np.ndarray]:
    """(L,) bool of each record: True at lowercase (soft-masked, e.g. repeat) positions."""
    return [soft_mask(rec.seq) for rec in records]


# --------------------------------------------------------------------------------------------- labels


def labels_from_files(files: Mapping[str, PathLike | Iterable[PathLike]], fmt: str | None = None,
                      duplicates: str = "error", reference: PathLike | None = None) -> tuple[list[Record], list[str]]:
    """{class name: file or files} -> (records, labels): the records of every file, class by class in the
    mapping's order, and each record's class name. BED files are cut from ``reference`` (``read_records``)."""
    if not files:
        raise ValueError("files must name at least one class")
    records: list[Record] = []
    labels: list[str] = []
    for name, paths in files.items():
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        paths = list(paths)
        if not paths:
            raise ValueError(f"class {name!r} has no files")
        for path in paths:
            recs = read_records(path, fmt, duplicates, reference)
            records += recs
            labels += [name] * len(recs)
    return records, labels


def _header_value(rec: Record, field: int | str, sep: str | re.Pattern) -> str | None:
    text = rec.description or rec.id
    parts = sep.split(text) if isinstance(sep, re.Pattern) else text.split(sep)
    parts = [p.strip() for p in parts]
    if isinstance(field, int):
        return parts[field].split()[0] if -len(parts) <= field < len(parts) and parts[field] else None
    for part in parts:
        key, eq, value = part.partition("=")
        if eq and key.strip() == field and value.strip():
            return value.split()[0]
    return None


def labels_from_header(records: Iterable[Record], field: int | str, sep: str | re.Pattern = "|") -> list[str]:
    """Each record's label from its header, split at ``sep`` (a literal string, or a compiled regex).
    ``field`` an int: that field (0-based; negative counts from the end); a str: the value of the
    ``field=value`` field. Either is cut at the first whitespace. E.g. ``>seq1|label=1 text``: field="label"
    -> "1"; ``>seq1|promoter``: field=1 (or -1) -> "promoter". A record without it -> DataError."""
    labels = []
    for rec in records:
        value = _header_value(rec, field, sep)
        if value is None:
            what = f"field {field}" if isinstance(field, int) else f"'{field}=...'"
            raise DataError(f"record {rec.id!r}: no {what} in the header {rec.description!r} "
                            f"(split at {getattr(sep, 'pattern', sep)!r})", path=rec.path, line=rec.line)
        labels.append(value)
    return labels


def labels_from_csv(records: Iterable[Record], csv_path: PathLike) -> list[str]:
    """Each record's label from a two-column table ``id,label`` (tab-separated for .tsv/.tab; header row
    ``id,label`` optional; blank lines and '#' comments skipped; further columns ignored). An id in the
    table that is not a record, a record without a row, or an id given two labels -> DataError."""
    records = list(records)
    path = _existing_file(csv_path)
    stem_suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    delimiter = "\t" if stem_suffixes and stem_suffixes[-1] in (".tsv", ".tab") else ","
    known = {rec.id for rec in records}
    table: dict[str, tuple[str, int]] = {}
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            first = True
            for row in reader:
                line = reader.line_num
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                cells = [c.strip() for c in row]
                if first and [c.lower() for c in cells[:2]] == ["id", "label"]:
                    first = False
                    continue
                first = False
                if len(cells) < 2 or not cells[0] or not cells[1]:
                    raise DataError(f"expected 'id{delimiter}label', got {delimiter.join(row)!r}", path=path,
                                    line=line)
                rid, label = cells[0], cells[1]
                if rid not in known:
                    raise DataError(f"id {rid!r} is not among the {len(records)} records", path=path, line=line)
                if rid in table and table[rid][0] != label:
                    raise DataError(f"id {rid!r}: label {label!r} contradicts {table[rid][0]!r} given at line "
                                    f"{table[rid][1]}", path=path, line=line)
                table[rid] = (label, line)
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read the table ({type(exc).__name__}: {exc})", path=path) from exc
    labels = []
    for rec in records:
        if rec.id not in table:
            where = f" ({rec.path}, line {rec.line})" if rec.path else ""
            raise DataError(f"record {rec.id!r}{where} has no label in this table", path=path)
        labels.append(table[rec.id][0])
    return labels


def label_ids(labels: Iterable[str], classes: Iterable[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """Class-name labels -> (ids (n,) int64, classes); ``classes`` defaults to the sorted distinct labels
    (so "non_promoter"=0, "promoter"=1; "negative"=0, "positive"=1). A label outside ``classes`` -> ValueError."""
    labels = list(labels)
    classes = sorted(set(labels)) if classes is None else list(classes)
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted(set(labels) - index.keys())
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the classes {classes}")
    return np.array([index[x] for x in labels], dtype=np.int64), classes


# --------------------------------------------------------------------------------------------- benchmarks


def _natural(path: Path):
    return (0, int(path.stem), "") if path.stem.isdigit() else (1, 0, path.stem)


def read_genomic_benchmarks(root: PathLike, splits: Iterable[str] = ("train", "test")) -> dict[
        str, tuple[list[Record], list[str]]]:
    """A dataset of the genomic-benchmarks package -> {split: (records, labels)}.

    Layout (what ``genomic_benchmarks.loc2seq.download_dataset`` writes, e.g. under
    ~/.genomic_benchmarks/human_nontata_promoters): ``root/{train,test}/{class_name}/{id}.txt``, each .txt
    holding one sequence as plain text (no header, no newline). Records get id "class_name/id"; labels are
    the class folder names. Both splits must have the same classes.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError("genomic-benchmarks folder not found (expected root/train/<class>/*.txt)", path=root)
    out: dict[str, tuple[list[Record], list[str]]] = {}
    class_sets: dict[str, list[str]] = {}
    for split in splits:
        folder = root / split
        if not folder.is_dir():
            continue
        classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise DataError("no class folders in this split", path=folder)
        records: list[Record] = []
        labels: list[str] = []
        for name in classes:
            files = sorted((p for p in (folder / name).glob("*.txt") if not p.name.startswith(".")), key=_natural)
            if not files:
                raise DataError(f"class {name!r} has no .txt sequence files", path=folder / name)
            for file in files:
                rid = f"{name}/{file.stem}"
                try:
                    seq = "".join(file.read_text(encoding="utf-8").split())
                except UnicodeDecodeError as exc:
                    raise DataError(f"record {rid!r}: not a text file ({exc})", path=file) from exc
                if not seq:
                    raise DataError(f"record {rid!r}: empty sequence", path=file)
                records.append(Record(rid, seq, f"{split}/{name}/{file.name}", 1, str(file)))
                labels.append(name)
        out[split], class_sets[split] = (records, labels), classes
    if not out:
        raise DataError(f"none of the split folders {list(splits)} exists (expected root/train/<class>/*.txt)",
                        path=root)
    distinct = {tuple(c) for c in class_sets.values()}
    if len(distinct) > 1:
        detail = "; ".join(f"{s}: {c}" for s, c in class_sets.items())
        raise DataError(f"the splits have different classes ({detail}); is the download incomplete?", path=root)
    return out


# --------------------------------------------------------------------------------------------- BED


@dataclass(frozen=True)
class Interval:
    """A BED interval: 0-based half-open [start, end) on ``chrom``; ``strand`` '+', '-' or '.' (read as
    '+'); ``line`` and ``path`` locate it in its BED file."""

    chrom: str
    start: int
    end: int
    name: str
    strand: str = "."
    line: int | None = None
    path: str | None = None


BedIntervals = list[Interval]


def _bed_int(text: str, column: str, path: Path, line: int) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{column} {text!r} is not an integer", path=path, line=line, column=column) from None


def read_bed(path: PathLike) -> BedIntervals:
    """Intervals of a BED3 to BED12 file (plain or gzipped; tab- or space-separated). Blank, '#', 'track'
    and 'browser' lines are skipped; columns after the strand are ignored. Name defaults to chrom:start-end.

    Biopython has no BED reader, so this is the one format read line by line here.
    """
    path = _existing_file(path)
    intervals: list[Interval] = []
    try:
        with _open_text(path) as handle:
            for number, raw in enumerate(handle, start=1):
                text = raw.rstrip("\r\n")
                if not text.strip() or text.startswith("#") or text.split(None, 1)[0] in ("track", "browser"):
                    continue
                fields = text.split("\t") if "\t" in text else text.split()
                if len(fields) < 3:
                    raise DataError(f"expected at least 3 columns (chrom, start, end), got {len(fields)}",
                                    path=path, line=number)
                chrom = fields[0].strip()
                start = _bed_int(fields[1].strip(), "start", path, number)
                end = _bed_int(fields[2].strip(), "end", path, number)
                if not chrom:
                    raise DataError("empty chromosome name", path=path, line=number, column="chrom")
                if start < 0 or end <= start:
                    raise DataError(f"need 0 <= start < end, got start={start}, end={end}", path=path, line=number)
                name = fields[3].strip() if len(fields) > 3 and fields[3].strip() not in ("", ".") else ""
                strand = fields[5].strip() if len(fields) > 5 else "."
                if strand not in ("+", "-", "."):
                    raise DataError(f"strand {strand!r} is not '+', '-' or '.'", path=path, line=number,
                                    column="strand")
                intervals.append(Interval(chrom, start, end, name or f"{chrom}:{start}-{end}", strand, number,
                                          str(path)))
    except (gzip.BadGzipFile, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the file ({type(exc).__name__}: {exc})", path=path) from exc
    if not intervals:
        raise DataError("no intervals found", path=path)
    return intervals


def cut_intervals(reference_fasta: PathLike, intervals: Iterable[Interval] | PathLike) -> list[Record]:
    """The sequence of every interval (a list, or a BED file to read), reverse-complemented on the '-'
    strand, as records (id = interval name, description "chrom:start-end(strand)", line/path = the BED's).

    The reference is opened with ``Bio.SeqIO.index`` (random access by name; no .fai needed), one
    chromosome in memory at a time. It may be plain FASTA or BGZF-compressed (``bgzip``); plain gzip
    cannot be indexed and is refused with a DataError that says so. An unknown chromosome or an interval
    past the chromosome's end -> DataError naming the BED file and line.
    """
    if isinstance(intervals, str | os.PathLike):
        intervals = read_bed(intervals)
    intervals = list(intervals)
    ref = _existing_file(reference_fasta)
    if _is_gzip(ref) and not _is_bgzf(ref):
        raise DataError("gzip-compressed reference without random access; recompress it with `bgzip` "
                        "(htslib; BGZF is read directly) or decompress it (`gunzip -k`)", path=ref)
    try:
        index = SeqIO.index(str(ref), "fasta")
    except Exception as exc:  # duplicated names, comments before the first record, ...
        raise DataError(f"cannot index the reference FASTA: {exc}", path=ref) from exc
    out: list[Record | None] = [None] * len(intervals)
    try:
        order = sorted(range(len(intervals)), key=lambda i: intervals[i].chrom)
        chrom, seq = None, ""
        names = set(index)  # the index's keys (``name in index`` would parse the record)
        for i in order:
            iv = intervals[i]
            if iv.chrom != chrom:
                if iv.chrom not in names:
                    some = ", ".join(list(index)[:3])
                    raise DataError(f"interval {iv.name!r}: chromosome {iv.chrom!r} is not in the reference "
                                    f"{ref} (which has {len(index)}: {some}{', ...' if len(index) > 3 else ''})",
                                    path=iv.path, line=iv.line)
                try:  # the record is parsed only now (undecodable bytes, a malformed record, ...)
                    chrom, seq = iv.chrom, str(index[iv.chrom].seq)
                except Exception as exc:
                    raise DataError(f"cannot read chromosome {iv.chrom!r} of the reference ({type(exc).__name__}: "
                                    f"{exc})", path=ref) from exc
            if iv.end > len(seq):
                raise DataError(f"interval {iv.name!r} ({iv.chrom}:{iv.start}-{iv.end}) goes beyond the end of "
                                f"{iv.chrom!r} (length {len(seq)}) in {ref}", path=iv.path, line=iv.line)
            piece = seq[iv.start:iv.end]
            if iv.strand == "-":
                piece = _reverse_complement_text(piece)
            out[i] = Record(iv.name, piece, f"{iv.chrom}:{iv.start}-{iv.end}({iv.strand})", iv.line, iv.path)
    finally:
        index.close()
    return out  # type: ignore[return-value]

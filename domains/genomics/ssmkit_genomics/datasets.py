"""Public DNA classification datasets the genomics plug-in knows.

``DATASETS`` maps a name to its files (paths under the data directory, as in a local mirror):

* the promoter sets of CNNProm (Umarov & Solovyev): one FASTA file per class, from the authors'
  repository github.com/solovictor/CNNPromoterData (URLs pinned to a commit; sha256 and size are those
  of the copies in the project's shared data, which match that commit's files byte for byte in size);
* three Genomic Benchmarks datasets, stored as the package's folder tree
  ``genomics/genomic_benchmarks/<name>/{train,test}/<class>/<id>.txt`` (read with
  ``readers.read_genomic_benchmarks``). No direct archive URL could be confirmed (the package's cloud
  cache moved from Google Drive to Zenodo), so ``url`` is None and the description says how to get them.

``CLASS_FILES`` gives each promoter dataset's {class name: file name}.
"""

from __future__ import annotations

from ssmkit.data import DatasetEntry, RemoteFile

CNNPROM_HOME = "https://github.com/solovictor/CNNPromoterData"
CNNPROM_RAW = "https://raw.githubusercontent.com/solovictor/CNNPromoterData/b4d2949e9bc5206f3049b35a488b036125ccc653"
CNNPROM = ("Umarov, R. K., Solovyev, V. V. Recognition of prokaryotic and eukaryotic promoters using "
           "convolutional deep learning neural networks. PLOS ONE 12(2): e0171410 (2017; arXiv:1610.00121, "
           "2016). doi:10.1371/journal.pone.0171410")
CNNPROM_LICENCE = ("no licence stated in the authors' repository; sequences derived from RegulonDB (E. coli) and "
                   "EPDnew (Arabidopsis); cite the paper")

GB_HOME = "https://github.com/ML-Bioinfo-CEITEC/genomic_benchmarks"
GB_CITATION = ("Grešová, K., Martinek, V., Čechák, D., Šimeček, P., Alexiou, P. Genomic benchmarks: a collection "
               "of datasets for genomic sequence classification. BMC Genomic Data 24, 25 (2023). "
               "doi:10.1186/s12863-023-01123-8")
_GB_HOWTO = (" Not downloaded by ssmkit: run `pip install genomic-benchmarks` then "
             "`python -c \"from genomic_benchmarks.loc2seq import download_dataset; "
             "download_dataset('{name}', version=0, dest_path='DATA_DIR/genomics/genomic_benchmarks')\"` "
             "(or rebuild it from the interval lists in " + GB_HOME + "/tree/main/datasets/{name}); "
             "a parquet copy is on Hugging Face as katarinagresova/Genomic_Benchmarks_{name}.")

CLASS_FILES: dict[str, dict[str, str]] = {
    "promoters_ecoli": {"promoter": "Ecoli_prom.fa", "non_promoter": "Ecoli_non_prom.fa"},
    "promoters_arabidopsis": {"promoter": "Arabidopsis_tata.fa", "non_promoter": "Arabidopsis_non_prom.fa"},
}

# (sha256, size in bytes) of the files in /work/shared/data/genomics/promoters
_CHECKS = {
    "Ecoli_prom.fa": ("1712f385e357491d309bd14f8fd4e8de3d018bd418402cab3c6014232197ce5e", 102_427),
    "Ecoli_non_prom.fa": ("cf5f078da7e56c5f38c8abd8ffaeaa227863bff4f5c249f2cfda61cb5331c774", 273_716),
    "Arabidopsis_tata.fa": ("2beaa31c2797e7f8d193b6015b7239a89509341f59dde57d904d8664e492901b", 479_040),
    "Arabidopsis_non_prom.fa": ("1ab75553cdbf99d54e56928a56b3f35eb14a5f3bbb31bba7c1102b406a615c90", 993_473),
}


def _cnnprom(name: str, description: str) -> DatasetEntry:
    files = tuple(
        RemoteFile(f"genomics/promoters/{file}", url=f"{CNNPROM_RAW}/{file}", sha256=_CHECKS[file][0],
                   size=_CHECKS[file][1])
        for file in CLASS_FILES[name].values()
    )
    return DatasetEntry(files=files, description=description, licence=CNNPROM_LICENCE, citation=CNNPROM,
                        homepage=CNNPROM_HOME)


def _genomic_benchmark(name: str, description: str) -> DatasetEntry:
    return DatasetEntry(
        files=(RemoteFile(f"genomics/genomic_benchmarks/{name}"),),
        description=description + _GB_HOWTO.format(name=name),
        licence="Apache-2.0 (Genomic Benchmarks); underlying sequences from Ensembl / EPD",
        citation=GB_CITATION,
        homepage=GB_HOME,
    )


DATASETS: dict[str, DatasetEntry] = {
    "promoters_ecoli": _cnnprom(
        "promoters_ecoli",
        "E. coli sigma-70 promoters (839 sequences from RegulonDB around the TSS) against 3,000 "
        "non-promoters (fragments of the opposite strand of protein-coding genes); all 81 nt. Binary "
        "classification, no fixed split."),
    "promoters_arabidopsis": _cnnprom(
        "promoters_arabidopsis",
        "Arabidopsis thaliana TATA promoters (1,497 sequences from EPDnew, -200..+50 around the TSS) against "
        "2,879 non-promoters (gene fragments after the first exon); all 251 nt. Headers of the non-promoter "
        "file repeat their first word (e.g. 'DNA'), so read it with duplicates='rename'. No fixed split."),
    "human_nontata_promoters": _genomic_benchmark(
        "human_nontata_promoters",
        "Genomic Benchmarks: human non-TATA promoters (EPDnew, 251 nt) against non-promoter gene fragments, "
        "taken from the CNNProm study; classes 'positive' / 'negative'; about 27k train / 9k test sequences."),
    "demo_coding_vs_intergenomic_seqs": _genomic_benchmark(
        "demo_coding_vs_intergenomic_seqs",
        "Genomic Benchmarks demo: human coding sequences (Ensembl cDNA) against intergenomic sequences, "
        "200 nt; classes 'coding_seqs' / 'intergenomic_seqs'; 75k train / 25k test sequences."),
    "demo_human_or_worm": _genomic_benchmark(
        "demo_human_or_worm",
        "Genomic Benchmarks demo: random 200-nt fragments of the human (GRCh38) or C. elegans (WBcel235) "
        "genome; classes 'human' / 'worm'; 75k train / 25k test sequences."),
}

# the entries laid out as a Genomic Benchmarks tree (DATA_DIR/genomics/genomic_benchmarks/<name>/{train,test}/<class>/)
GENOMIC_BENCHMARKS = frozenset(name for name, e in DATASETS.items()
                               if e.files and e.files[0].path == f"genomics/genomic_benchmarks/{name}")

__all__ = ["DATASETS", "CLASS_FILES", "GENOMIC_BENCHMARKS"]

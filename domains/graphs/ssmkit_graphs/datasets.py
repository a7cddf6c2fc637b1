"""Public graph datasets the graphs plug-in knows, as the raw files torch_geometric reads.

``DATASETS`` maps a name to its files under the data directory (laid out like a local mirror:
``graphs/<Name>/raw/...``). ``PYG`` says which torch_geometric class reads each one and under which name.
torch_geometric writes a ``processed/`` folder beside ``raw/``, so ``readers.load_public`` links the raw
files into a writable cache first and never writes into the data directory.

* TU datasets (MUTAG, ENZYMES): torch_geometric downloads them as one zip per set from
  www.chrsmrrs.com/graphkerneldatasets (no per-file URLs), so ``url`` is None and the description says how
  to get them; sha256 and sizes are those of the files in the project's shared data.
* Cora (Planetoid): the per-file URLs torch_geometric itself uses (the Planetoid repository).
* ESOL (MoleculeNet): the DeepChem S3 copy torch_geometric uses; reading it needs RDKit (the
  ``ssmkit-graphs[molecules]`` extra).
"""

from __future__ import annotations

from ssmkit.data import DatasetEntry, RemoteFile

TU_HOME = "https://chrsmrrs.github.io/datasets/"
TU_ZIP = "https://www.chrsmrrs.com/graphkerneldatasets/{name}.zip"
TU_CITATION = ("Morris, C., Kriege, N. M., Bause, F., Kersting, K., Mutzel, P., Neumann, M. TUDataset: a collection "
               "of benchmark datasets for learning with graphs. ICML 2020 Workshop GRL+ (arXiv:2007.08663)")
MUTAG_CITATION = ("Debnath, A. K. et al. Structure-activity relationship of mutagenic aromatic and heteroaromatic "
                  "nitro compounds. J. Med. Chem. 34(2):786-797 (1991); " + TU_CITATION)
ENZYMES_CITATION = ("Borgwardt, K. M. et al. Protein function prediction via graph kernels. Bioinformatics "
                    "21(suppl 1):i47-i56 (2005); Schomburg, I. et al. BRENDA. Nucleic Acids Res. 32:D431-433 "
                    "(2004); " + TU_CITATION)
PLANETOID_RAW = "https://github.com/kimiyoung/planetoid/raw/master/data"
CORA_CITATION = ("Yang, Z., Cohen, W. W., Salakhutdinov, R. Revisiting semi-supervised learning with graph "
                 "embeddings. ICML 2016; Sen, P. et al. Collective classification in network data. AI Magazine "
                 "29(3):93 (2008)")
ESOL_URL = "https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/delaney-processed.csv"
ESOL_CITATION = ("Delaney, J. S. ESOL: estimating aqueous solubility directly from molecular structure. J. Chem. "
                 "Inf. Comput. Sci. 44(3):1000-1005 (2004); Wu, Z. et al. MoleculeNet: a benchmark for molecular "
                 "machine learning. Chem. Sci. 9:513-530 (2018)")
RESEARCH_USE = "research use; cite the dataset's paper (no licence file is distributed with it)"

# (sha256, size in bytes) of the files in /work/shared/data/graphs
_CHECKS = {
    "MUTAG/raw/MUTAG_A.txt": ("d9656ca7493f3445d737c711710bb36fd432dddd1c0ea32e1d4713c86ebd28e2", 76_940),
    "MUTAG/raw/MUTAG_edge_labels.txt": ("4669ce755075ff86c3240709345745886400908fa637a49310459b9c267b3e56", 14_884),
    "MUTAG/raw/MUTAG_graph_indicator.txt": ("7d520a4d6c7961c0cdeabe076d8fe27e795b6d373485c9a2b744987e560a2056",
                                            11_532),
    "MUTAG/raw/MUTAG_graph_labels.txt": ("a1518ea39ba3426bd42f57396b9c4baffe68e9adc718caeeab0119c6591a5f2c", 439),
    "MUTAG/raw/MUTAG_node_labels.txt": ("678f429965490e84dd27713017538c995fc05d1621beac910848b600015ee863", 6_742),
    "ENZYMES/raw/ENZYMES_A.txt": ("5553c84f8f562f3e199dfd27192174f485e85c44c1357661098668937a739cbf", 885_124),
    "ENZYMES/raw/ENZYMES_graph_indicator.txt": ("95ba0fa47eba6f02e6b754a215dc66d5b49de3f45f57a128514301a8d7ed5f46",
                                                74_914),
    "ENZYMES/raw/ENZYMES_graph_labels.txt": ("04743e08967e61e65cdacbb90f8df6ee53742b3d2e7b84675b85ebac70506856",
                                             1_200),
    "ENZYMES/raw/ENZYMES_node_attributes.txt": ("305a8fc3b12f79fb844ef3374d6a3c8ceeb4887dd4f86bbfe37932c4c5434e7b",
                                                3_876_850),
    "ENZYMES/raw/ENZYMES_node_labels.txt": ("8263eb9b64efa231a5886343483ccfc0342f2407014763a8f738fd51c32ce770",
                                            39_160),
    "Cora/raw/ind.cora.x": ("23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab", 22_119),
    "Cora/raw/ind.cora.tx": ("b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a", 148_025),
    "Cora/raw/ind.cora.allx": ("9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543", 257_305),
    "Cora/raw/ind.cora.y": ("94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1", 4_054),
    "Cora/raw/ind.cora.ty": ("41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad", 28_135),
    "Cora/raw/ind.cora.ally": ("2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71", 47_959),
    "Cora/raw/ind.cora.graph": ("58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d", 59_847),
    "Cora/raw/ind.cora.test.index": ("297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875", 5_000),
    "esol/raw/delaney-processed.csv": ("8c06a76f0c6487d29ab0f903e6a7a7139f189ab3c1178f159c8be8964602f189", 96_699),
}

# dataset name -> (torch_geometric class, the name it is given, its folder under graphs/)
PYG: dict[str, tuple[str, str, str]] = {
    "MUTAG": ("TUDataset", "MUTAG", "MUTAG"),
    "ENZYMES": ("TUDataset", "ENZYMES", "ENZYMES"),
    "Cora": ("Planetoid", "Cora", "Cora"),
    "ESOL": ("MoleculeNet", "ESOL", "esol"),
}


def _files(folder: str, url=None) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(f"graphs/{path}", url=url(path) if url else None, sha256=sha, size=size)
                 for path, (sha, size) in _CHECKS.items() if path.startswith(folder + "/"))


def _tu(name: str, description: str, citation: str) -> DatasetEntry:
    how = (f" Not downloaded by ssmkit (one zip per set): unzip {TU_ZIP.format(name=name)} and put its files in "
           f"DATA_DIR/graphs/{name}/raw/ (torch_geometric's TUDataset(root, {name!r}) does the same).")
    return DatasetEntry(files=_files(name), description=description + how, licence=RESEARCH_USE,
                        citation=citation, homepage=TU_HOME)


DATASETS: dict[str, DatasetEntry] = {
    "MUTAG": _tu("MUTAG", "188 nitroaromatic compounds (17.9 atoms on average), mutagenic or not (125/63); 7 atom "
                 "types as one-hot node features, 4 bond types as edge features. Graph classification, 10-fold "
                 "stratified cross-validation.", MUTAG_CITATION),
    "ENZYMES": _tu("ENZYMES", "600 protein tertiary structures (32.6 nodes on average), 6 EC top-level classes of "
                   "100; 3 node labels + 18 continuous node attributes. Graph classification, 10-fold "
                   "stratified cross-validation.", ENZYMES_CITATION),
    "Cora": DatasetEntry(
        files=_files("Cora", url=lambda p: f"{PLANETOID_RAW}/{p.rsplit('/', 1)[-1]}"),
        description="Cora citation network: 2,708 papers, 5,278 citations, 1,433 bag-of-words features, 7 "
                    "classes. Node classification, public Planetoid split (140 train / 500 val / 1,000 test).",
        licence=RESEARCH_USE, citation=CORA_CITATION, homepage="https://github.com/kimiyoung/planetoid"),
    "ESOL": DatasetEntry(
        files=_files("esol", url=lambda p: ESOL_URL),
        description="ESOL (Delaney): measured aqueous solubility (log mol/L) of 1,128 molecules from SMILES; "
                    "graph regression, random 80/10/10 split, RMSE. Needs RDKit (pip install "
                    "'ssmkit-graphs[molecules]').",
        licence=RESEARCH_USE, citation=ESOL_CITATION, homepage="https://moleculenet.org/datasets-1"),
}

__all__ = ["DATASETS", "PYG"]

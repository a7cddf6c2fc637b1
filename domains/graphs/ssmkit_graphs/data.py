"""Data modules: graph sets (classification, regression) and the nodes of one graph, with folds and splits.

Sources (first that is given): ``edges`` (+ ``nodes``, ``labels``) CSV tables; ``graph_files`` (GraphML, GML,
edge lists through NetworkX); ``data_list`` (a saved list of ``Data``); ``smiles`` (a CSV of molecules); else
the registered ``dataset`` read from ``data_dir`` by torch_geometric (processed in ``cache_dir``).

Graph sets split either at random (stratified for classes: ``val_fraction``, ``test_fraction``) or by
stratified k-fold cross-validation (``folds`` k >= 2, ``fold`` i: fold i is the test set, the validation set is
carved from the other k-1 folds); ``ssmkit_graphs.crossval`` runs all k folds and reports mean and std.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch_geometric.data import Batch, Data

from ssmkit.data import DataModule, split_indices
from ssmkit.errors import ConfigError, DataError

from .readers import GraphSet, load_public, read_csv_graphs, read_data_list, read_networkx, read_smiles_csv

PE_KINDS = ("none", "rwse", "lap")


def stratified_folds(labels: np.ndarray | None, n: int, k: int, seed: int = 0) -> list[np.ndarray]:
    """k disjoint index arrays covering range(n); with ``labels``, each class is dealt round-robin over the
    folds after a seeded shuffle, so fold sizes per class differ by at most one."""
    if k < 2 or k > n:
        raise ConfigError(f"--data.folds {k}: need 2 <= folds <= {n} (the number of graphs)")
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(k)]
    groups = [np.arange(n)] if labels is None else [np.flatnonzero(labels == c) for c in np.unique(labels)]
    start = 0
    for idx in groups:
        for j, i in enumerate(rng.permutation(idx)):
            folds[(start + j) % k].append(int(i))
        start += len(idx)  # the next class continues where this one stopped: folds stay balanced in size
    return [np.sort(np.array(f, dtype=np.int64)) for f in folds]


def _class_names(labels: list[str]) -> list[str]:
    """Sorted class names; numbers sort numerically ("2" before "10")."""
    names = sorted(set(labels))
    try:
        return sorted(names, key=float)
    except ValueError:
        return names


class GraphItems(Dataset):
    """Graph ``i`` of ``graphs[index[i]]`` with ``y`` and ``idx`` attached (Data)."""

    def __init__(self, graphs: list[Data], y: torch.Tensor | None, index: np.ndarray):
        self.graphs, self.y, self.index = graphs, y, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> Data:
        j = int(self.index[i])
        data = self.graphs[j].clone()
        data.idx = torch.tensor([j])
        if self.y is not None:
            data.y = self.y[j].reshape(1)
        return data


def collate_graphs(items: list[Data]) -> dict:
    """Data list -> {"x": Batch, "y": (graphs,), "index": (graphs,)} ("y" only when labelled)."""
    batch = Batch.from_data_list(items)
    out = {"x": batch, "index": batch.idx}
    if "y" in batch:
        out["y"] = batch.y
    return out


class _GraphSource(DataModule):
    """Reads a GraphSet from the configured source, once; subclasses build splits."""

    level = "graph"

    def __init__(self, dataset: str, data_dir: str | None, cache_dir: str | None, edges: str | None,
                 nodes: str | None, labels: str | None, graph_files: list[str] | None, data_list: str | None,
                 smiles: str | None, smiles_column: str, label_column: str, pe: str, pe_dim: int,
                 batch_size: int, num_workers: int, seed: int):
        super().__init__(batch_size=batch_size, num_workers=num_workers, seed=seed)
        if pe not in PE_KINDS:
            raise ConfigError(f"--data.pe {pe!r}: use one of {', '.join(PE_KINDS)}")
        self.dataset, self.data_dir, self.cache_dir = dataset, data_dir, cache_dir
        self.edges, self.nodes, self.labels, self.graph_files = edges, nodes, labels, graph_files
        self.data_list, self.smiles, self.smiles_column, self.label_column = data_list, smiles, smiles_column, \
            label_column
        self.pe, self.pe_dim_arg = pe, pe_dim
        self._set: GraphSet | None = None
        self._public = None

    def _read(self) -> GraphSet:
        if self.edges:
            return read_csv_graphs(self.edges, self.nodes, self.labels, level=self.level)
        if self.graph_files:
            return read_networkx(self.graph_files, level=self.level, labels=self.labels)
        if self.data_list:
            return read_data_list(self.data_list, level=self.level)
        if self.smiles:
            return read_smiles_csv(self.smiles, self.smiles_column, self.label_column or None)
        options = {"use_node_attr": True} if getattr(self, "node_attributes", False) else {}
        ds = load_public(self.dataset, self.data_dir, self.cache_dir, **options)
        self._public = ds
        name = self.dataset.split("/", 1)[-1]
        graphs, labels = [], []
        for i in range(len(ds)):
            data = ds[i]
            y = data.y
            del data.y
            for key in ("smiles", "train_mask", "val_mask", "test_mask"):
                if key in data:
                    del data[key]
            graphs.append(data)
            labels.append(y)
        if self.level == "node":
            return GraphSet(graphs, ["0"], [str(int(v)) for v in labels[0]],
                            node_ids=[str(i) for i in range(graphs[0].num_nodes)], source=f"real: {name}")
        text = [str(float(v.reshape(-1)[0])) if v.is_floating_point() else str(int(v.reshape(-1)[0]))
                for v in labels]
        return GraphSet(graphs, [str(i) for i in range(len(graphs))], text, source=f"real: {name}")

    def _load(self) -> GraphSet:
        if self._set is None:
            graph_set = self._read()
            if self.pe != "none":
                transform = self._pe_transform()
                graph_set.graphs = [transform(g.clone()) for g in graph_set.graphs]
            self._set = graph_set
            self.source = graph_set.source
        return self._set

    def _pe_transform(self):
        from torch_geometric.transforms import AddLaplacianEigenvectorPE, AddRandomWalkPE

        if self.pe == "rwse":
            return AddRandomWalkPE(self.pe_dim_arg, attr_name="pe")
        lap = AddLaplacianEigenvectorPE(self.pe_dim_arg, attr_name="pe", is_undirected=True)

        def padded(data: Data) -> Data:  # graphs with <= k nodes get zero columns instead of an error
            k = self.pe_dim_arg
            if data.num_nodes > k + 1:
                return lap(data)
            data.pe = torch.zeros(data.num_nodes, k)
            return data

        return padded

    # what the model needs (linked) -----------------------------------------------------------
    @property
    def in_features(self) -> int:
        x = self._load().graphs[0].x
        return 0 if x is None or not x.is_floating_point() else int(x.reshape(x.shape[0], -1).shape[1])

    @property
    def node_categories(self) -> list[int] | None:
        return self._categories("x")

    @property
    def edge_features(self) -> int:
        ea = getattr(self._load().graphs[0], "edge_attr", None)
        return 0 if ea is None or not ea.is_floating_point() else int(ea.reshape(ea.shape[0], -1).shape[1])

    @property
    def edge_categories(self) -> list[int] | None:
        return self._categories("edge_attr")

    def _categories(self, key: str) -> list[int] | None:
        """Cardinalities of int64 columns: torch_geometric's SMILES vocabularies, else max + 1 over the set."""
        graphs = self._load().graphs
        first = getattr(graphs[0], key, None)
        if first is None or first.is_floating_point():
            return None
        try:
            from torch_geometric.utils.smiles import e_map, x_map

            vocab = x_map if key == "x" else e_map
            if first.shape[-1] == len(vocab):
                return [len(v) for v in vocab.values()]
        except ImportError:  # pragma: no cover
            pass
        stacked = torch.cat([getattr(g, key).reshape(-1, first.shape[-1]) for g in graphs])
        return [int(v) + 1 for v in stacked.max(0).values]

    @property
    def pe_dim(self) -> int:
        return 0 if self.pe == "none" else self.pe_dim_arg

    def _loader(self, dataset: Dataset | None, shuffle: bool) -> DataLoader:
        return super()._loader(dataset, shuffle, collate_fn=collate_graphs)


class GraphDataModule(_GraphSource):
    """A set of labelled graphs for graph classification (``target="class"``) or regression (``"value"``).

    Args:
        dataset: a registered dataset (graphs/MUTAG, graphs/ENZYMES, graphs/ESOL).
        cache_dir: where torch_geometric may write processed files (default $SSMKIT_GRAPHS_CACHE or
            ~/.cache/ssmkit/graphs; never the data directory).
        edges, nodes, labels: CSV tables (see ``readers.read_csv_graphs``); ``labels`` also labels
            ``graph_files`` by file stem.
        graph_files: GraphML / GML / edge-list files or folders (one graph per file).
        data_list: a ``torch.save``-d list of Data (``y`` per graph).
        smiles: a CSV with ``smiles_column`` and ``label_column``.
        folds, fold: stratified k-fold cross-validation (fold ``fold`` is the test set); folds=0: random split.
        pe: positional encoding added to each graph: "rwse" (random-walk landing probabilities, ``pe_dim``
            steps), "lap" (``pe_dim`` Laplacian eigenvectors) or "none".
        predict_*: graphs to predict (same kinds of source); default: the test split.
        node_attributes: TU datasets: also the continuous node attributes (ENZYMES: 18 besides its 3 labels).
    """

    def __init__(self, dataset: str = "graphs/MUTAG", target: str = "class", data_dir: str | None = None,
                 cache_dir: str | None = None, edges: str | None = None, nodes: str | None = None,
                 labels: str | None = None, graph_files: list[str] | None = None, data_list: str | None = None,
                 smiles: str | None = None, smiles_column: str = "smiles", label_column: str = "label",
                 folds: int = 0, fold: int = 0, val_fraction: float = 0.1, test_fraction: float = 0.1,
                 pe: str = "rwse", pe_dim: int = 8, predict_edges: str | None = None,
                 predict_nodes: str | None = None, predict_graph_files: list[str] | None = None,
                 predict_data_list: str | None = None, node_attributes: bool = False, batch_size: int = 32,
                 num_workers: int = 0, seed: int = 0):
        super().__init__(dataset, data_dir, cache_dir, edges, nodes, labels, graph_files, data_list, smiles,
                         smiles_column, label_column, pe, pe_dim, batch_size, num_workers, seed)
        self.node_attributes = node_attributes
        if target not in ("class", "value"):
            raise ConfigError(f"--data.target {target!r}: use class or value")
        if folds and (fold is None or not 0 <= fold < folds):
            raise ConfigError(f"--data.fold {fold}: use 0..{folds - 1} with --data.folds {folds}")
        self.target, self.folds, self.fold = target, folds, fold
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.predict_edges, self.predict_nodes = predict_edges, predict_nodes
        self.predict_graph_files, self.predict_data_list = predict_graph_files, predict_data_list

    # labels -----------------------------------------------------------------------------------
    @property
    def classes(self) -> list[str]:
        if self.target != "class":
            return []
        return _class_names([str(v) for v in self._load().labels])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _y(self) -> torch.Tensor:
        labels = self._load().labels
        if labels is None or any(v is None for v in labels):
            raise DataError("some graphs have no label", path=self.labels or self.dataset)
        if self.target == "class":
            where = {c: i for i, c in enumerate(self.classes)}
            return torch.tensor([where[str(v)] for v in labels], dtype=torch.long)
        try:
            return torch.tensor([float(v) for v in labels], dtype=torch.float32)
        except ValueError:
            bad = next(v for v in labels if not _is_float(v))
            raise DataError(f"regression needs numeric labels, got {bad!r}", path=self.labels or self.dataset) \
                from None

    @property
    def target_mean(self) -> float:
        return float(self._y().float().mean()) if self.target == "value" else 0.0

    @property
    def target_std(self) -> float:
        return float(self._y().float().std().clamp_min(1e-6)) if self.target == "value" else 1.0

    # splits -------------------------------------------------------------------------------------
    def split(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(train, val, test) graph indices for the configured fold or random split."""
        y = self._y()
        n = len(y)
        strat = y.numpy() if self.target == "class" else None
        if self.folds:
            folds = stratified_folds(strat, n, self.folds, self.seed)
            test = folds[self.fold]
            rest = np.sort(np.concatenate([f for i, f in enumerate(folds) if i != self.fold]))
            tr, va, _ = split_indices(len(rest), self.val_fraction, 0.0, self.seed,
                                      labels=None if strat is None else strat[rest])
            return rest[tr], rest[va], test
        return split_indices(n, self.val_fraction, self.test_fraction, self.seed, labels=strat)

    def setup(self, stage: str | None = None) -> None:
        graph_set = self._load()
        y = self._y()
        train, val, test = self.split()
        self.train_set = GraphItems(graph_set.graphs, y, train)
        self.val_set = GraphItems(graph_set.graphs, y, val)
        self.test_set = GraphItems(graph_set.graphs, y, test)
        self.predict_set, self._predict_ids = self.test_set, graph_set.ids
        new = None
        if self.predict_edges:
            new = read_csv_graphs(self.predict_edges, self.predict_nodes, None, level="graph")
        elif self.predict_graph_files:
            new = read_networkx(self.predict_graph_files, require_labels=False)
        elif self.predict_data_list:
            new = read_data_list(self.predict_data_list)
        if new is not None:
            if self.pe != "none":
                transform = self._pe_transform()
                new.graphs = [transform(g.clone()) for g in new.graphs]
            self.predict_set = GraphItems(new.graphs, None, np.arange(len(new.graphs)))
            self._predict_ids = new.ids

    # predictions ---------------------------------------------------------------------------------
    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.target == "value":
            return [{"id": self._predict_ids[r["index"]], "value": r["value"]} for r in rows]
        return [{"id": self._predict_ids[r["index"]], "label": self.classes[r["label"]],
                 "probability": r["probability"]} for r in rows]


def _is_float(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


class GraphRegressDataModule(GraphDataModule):
    """``GraphDataModule`` for regression: ``target="value"``, ESOL by default (random 80/10/10 split)."""

    def __init__(self, dataset: str = "graphs/ESOL", target: str = "value", **kwargs):
        super().__init__(dataset=dataset, target=target, **kwargs)


class NodeDataModule(_GraphSource):
    """The nodes of one graph for node classification.

    The registered ``dataset`` (graphs/Cora) uses its public split (140 / 500 / 1,000 nodes); your own graph
    (``edges`` + ``nodes`` + ``labels``, ``graph_files``, ``data_list``) is split over its labelled nodes at
    random, stratified (``val_fraction``, ``test_fraction``). Training is full-graph (one batch per epoch), or
    with ``neighbors`` (e.g. [10, 10]) mini-batches of ``batch_size`` seed nodes through torch_geometric's
    ``NeighborLoader`` (needs pyg-lib or torch-sparse). ``predict`` writes every node's class.
    """

    level = "node"

    def __init__(self, dataset: str = "graphs/Cora", data_dir: str | None = None, cache_dir: str | None = None,
                 edges: str | None = None, nodes: str | None = None, labels: str | None = None,
                 graph_files: list[str] | None = None, data_list: str | None = None, val_fraction: float = 0.2,
                 test_fraction: float = 0.2, neighbors: list[int] | None = None, pe: str = "none", pe_dim: int = 8,
                 normalize_features: bool = True, batch_size: int = 512, num_workers: int = 0, seed: int = 0):
        super().__init__(dataset, data_dir, cache_dir, edges, nodes, labels, graph_files, data_list, None,
                         "smiles", "label", pe, pe_dim, batch_size, num_workers, seed)
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.neighbors, self.normalize_features = neighbors, normalize_features

    @property
    def classes(self) -> list[str]:
        return _class_names([v for v in self._load().labels if v is not None])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _masks(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self._public is not None:  # the public split of the Planetoid release
            d = self._public[0]
            return d.train_mask, d.val_mask, d.test_mask
        labelled = np.flatnonzero((y >= 0).numpy())
        tr, va, te = split_indices(len(labelled), self.val_fraction, self.test_fraction, self.seed,
                                   labels=y.numpy()[labelled])
        masks = []
        for part in (tr, va, te):
            m = torch.zeros(len(y), dtype=torch.bool)
            m[labelled[part]] = True
            masks.append(m)
        return masks[0], masks[1], masks[2]

    def setup(self, stage: str | None = None) -> None:
        graph_set = self._load()
        data = graph_set.graphs[0].clone()
        if self.normalize_features and data.x is not None and data.x.is_floating_point():
            data.x = data.x / data.x.sum(-1, keepdim=True).clamp_min(1e-12)  # row-normalised (GCN, GAT)
        where = {c: i for i, c in enumerate(self.classes)}
        y = torch.tensor([where[v] if v is not None else -1 for v in graph_set.labels], dtype=torch.long)
        if len(y) != data.num_nodes:
            raise DataError(f"{len(y)} node labels for {data.num_nodes} nodes")
        train, val, test = self._masks(y)
        self.graph, self.y = data, y
        self.masks = {"train": train, "val": val, "test": test}
        self.train_set, self.val_set, self.test_set = [_NodeSplit(data, y, m) for m in (train, val, test)]
        self.predict_set = _NodeSplit(data, y, torch.ones(len(y), dtype=torch.bool))
        self._node_ids = graph_set.node_ids

    def _loader(self, dataset, shuffle: bool):
        if dataset is None:
            raise RuntimeError(f"{type(self).__name__}: this split is empty or setup() was not run")
        if self.neighbors and shuffle:
            return _neighbor_loader(dataset, self.neighbors, self.batch_size, self.seed)
        return DataLoader(dataset, batch_size=None, shuffle=False)

    def prediction_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": self._node_ids[r["index"]], "label": self.classes[r["label"]],
                 "probability": r["probability"]} for r in rows]


class _NodeSplit(Dataset):
    """One item: the whole graph with the split's nodes -> {"x", "y", "node_mask", "index"}."""

    def __init__(self, data: Data, y: torch.Tensor, mask: torch.Tensor):
        self.data, self.y, self.mask = data, y, mask

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i: int) -> dict:
        return {"x": self.data, "y": self.y[self.mask], "node_mask": self.mask,
                "index": self.mask.nonzero().flatten()}


def _neighbor_loader(split: _NodeSplit, neighbors: list[int], batch_size: int, seed: int):
    """Mini-batches of sampled neighbourhoods around the split's nodes (torch_geometric's NeighborLoader)."""
    import torch_geometric.typing as pyg_typing

    if not (pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE):
        raise ConfigError("--data.neighbors needs torch_geometric's sampler: pip install pyg-lib (or torch-sparse) "
                          "from https://data.pyg.org/whl/")
    from torch_geometric.loader import NeighborLoader

    data = split.data.clone()
    data.y_all = split.y
    loader = NeighborLoader(data, num_neighbors=list(neighbors), batch_size=batch_size, input_nodes=split.mask,
                            shuffle=True, generator=torch.Generator().manual_seed(seed))

    def to_batch(sub: Data) -> dict:
        mask = torch.zeros(sub.num_nodes, dtype=torch.bool)
        mask[:sub.batch_size] = True  # the seed nodes come first
        return {"x": sub, "y": sub.y_all[:sub.batch_size], "node_mask": mask, "index": sub.n_id[:sub.batch_size]}

    return _Mapped(loader, to_batch)


class _Mapped:
    """An iterable loader with a function applied to each batch."""

    def __init__(self, loader, fn):
        self.loader, self.fn = loader, fn

    def __iter__(self):
        return (self.fn(b) for b in self.loader)

    def __len__(self) -> int:
        return len(self.loader)


__all__ = ["GraphDataModule", "GraphRegressDataModule", "NodeDataModule", "GraphItems", "collate_graphs",
           "stratified_folds"]

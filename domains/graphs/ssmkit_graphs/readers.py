"""Graph files -> torch_geometric ``Data`` objects, with errors that name the file and line.

* ``load_public``: torch_geometric's own dataset classes (TUDataset, Planetoid, MoleculeNet) over the raw
  files of a registered dataset. torch_geometric writes ``processed/`` beside ``raw/``, so the raw files are
  linked into a writable cache (``cache_dir``, else $SSMKIT_GRAPHS_CACHE, else ~/.cache/ssmkit/graphs) and
  the data directory is only ever read.
* ``read_csv_graphs``: an edge list CSV (``src,dst[,weight]``), an optional node CSV (``[id,][graph,]`` then
  numeric feature columns) and an optional label CSV (``id,label``: graph ids for graph tasks, node ids for
  node tasks). Without an ``id`` column, row i of the node CSV is node i and edges use 0-based integers.
* ``read_networkx``: GraphML, GML or edge-list files (one graph each) through NetworkX; node features from
  numeric node attributes, labels from a graph (or node) attribute.
* ``read_data_list``: a ``torch.save``-d list of ``Data`` objects, loaded with ``weights_only=True``.
* ``read_smiles_csv``: molecules from a SMILES column (needs RDKit, the ``[molecules]`` extra).

Every reader returns a ``GraphSet``: graphs (``Data`` with ``x`` (n, f) float, ``edge_index`` (2, E) int64,
optionally ``edge_attr`` (E, k)), their ids, and labels as read (strings, or None where a node has none).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch_geometric.data import Data

from ssmkit.data import dataset_root
from ssmkit.errors import ConfigError, DataError

__all__ = ["GraphSet", "load_public", "cache_root", "read_csv_graphs", "read_networkx", "read_data_list",
           "read_smiles_csv", "check_graph", "NETWORKX_FORMATS"]

PathLike = str | os.PathLike
CACHE_ENV = "SSMKIT_GRAPHS_CACHE"
ISOLATED_LIMIT = 1_000_000  # an edge list alone may imply this many isolated nodes (0..max id) beyond 100 per named one

# suffix -> NetworkX reader name
NETWORKX_FORMATS = {".graphml": "graphml", ".xml": "graphml", ".gml": "gml", ".edgelist": "edgelist",
                    ".edges": "edgelist", ".txt": "edgelist", ".el": "edgelist"}


@dataclass
class GraphSet:
    """Graphs as read: ``graphs`` (list of Data), ``ids`` (one per graph), ``labels`` (one per graph for graph
    tasks, one per node of the single graph for node tasks; None where absent), ``node_ids`` (node tasks)."""

    graphs: list[Data]
    ids: list[str]
    labels: list | None = None
    node_ids: list[str] = field(default_factory=list)
    source: str = ""


# ------------------------------------------------------------------------------------------ public datasets


def cache_root(cache_dir: PathLike | None = None) -> Path:
    """Where torch_geometric may write: ``cache_dir``, else $SSMKIT_GRAPHS_CACHE, else ~/.cache/ssmkit/graphs."""
    chosen = cache_dir or os.environ.get(CACHE_ENV) or "~/.cache/ssmkit/graphs"
    return Path(chosen).expanduser()


def _link_raw(raw: Path, root: Path, folder: str) -> None:
    """Link every file of ``raw`` into ``root/folder/raw`` (a symlink; a copy where links are refused)."""
    target = root / folder / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for src in sorted(raw.iterdir()):
        dst = target / src.name
        if dst.exists() or not src.is_file():
            continue
        try:
            dst.symlink_to(src.resolve())
        except OSError:  # e.g. a file system without symlinks
            import shutil

            shutil.copyfile(src, dst)


def load_public(name: str, data_dir: PathLike | None = None, cache_dir: PathLike | None = None, **kwargs):
    """A registered dataset ("graphs/MUTAG", "graphs/Cora", ...) through its torch_geometric class.

    The raw files are found in the data directory and linked into ``cache_root(cache_dir)/<hash>/``, keyed by
    the raw folder's real path, where torch_geometric processes them; ``kwargs`` go to the dataset class
    (e.g. ``use_node_attr=True`` for ENZYMES). Returns the torch_geometric dataset.
    """
    from .datasets import PYG

    short = name.split("/", 1)[-1]
    if short not in PYG:
        raise ConfigError(f"unknown graph dataset {name!r}: use one of "
                          f"{', '.join('graphs/' + k for k in PYG)}, or your own files")
    cls_name, pyg_name, folder = PYG[short]
    raw = dataset_root(f"graphs/{short}", data_dir)
    key = hashlib.sha256(str(raw.resolve()).encode()).hexdigest()[:16]
    root = cache_root(cache_dir) / key
    root.mkdir(parents=True, exist_ok=True)
    import torch_geometric.datasets as pyg_datasets
    from filelock import FileLock

    cls = getattr(pyg_datasets, cls_name)
    # one process at a time links and processes (torch_geometric writes its processed files in place): processes
    # started side by side (cross-validation folds) wait, then load the finished files instead of half-written ones
    with FileLock(str(root) + ".lock"):
        _link_raw(raw, root, folder)
        try:
            if cls_name == "Planetoid":
                return cls(str(root), pyg_name, split="public", **kwargs)
            return cls(str(root), pyg_name, **kwargs)
        except (ImportError, ModuleNotFoundError) as exc:
            raise ConfigError(f"dataset {name!r} needs RDKit ({exc}); pip install 'ssmkit-graphs[molecules]'") \
                from None


# ------------------------------------------------------------------------------------------ CSV tables


def _open_table(path: PathLike, what: str) -> tuple[Path, list[str], list[tuple[int, dict[str, str]]]]:
    """(path, header, [(line, row)]) of a CSV with a header; line numbers are 1-based file lines."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{what} file not found", path=path)
    if path.is_dir():
        raise DataError(f"is a directory, expected a {what} CSV", path=path)
    try:
        header, rows = _table_rows(path, what)
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except csv.Error as exc:  # e.g. a field over csv's size limit
        raise DataError(f"malformed CSV: {exc}", path=path) from None
    if not rows:
        raise DataError(f"no rows in the {what} table", path=path)
    return path, header, rows


def _table_rows(path: Path, what: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise DataError(f"empty file: no header row for the {what} table", path=path, line=1)
        reader.fieldnames = header
        rows = []
        for row in reader:
            if None in row:
                raise DataError(f"{len(header) + len(row[None])} fields but the header has {len(header)}",
                                path=path, line=reader.line_num)
            rows.append((reader.line_num, {k: (v or "").strip() for k, v in row.items()}))
    return header, rows


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"not a number: {text!r}", path=path, line=line, column=column) from None
    if not math.isfinite(value):
        raise DataError(f"{text or 'empty'} is not a finite number (NaN/inf features are not allowed)",
                        path=path, line=line, column=column)
    return value


def _require(header: list[str], columns: Sequence[str], path: Path, what: str) -> None:
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataError(f"the {what} table needs column(s) {', '.join(missing)} (has {', '.join(header)})",
                        path=path, line=1)


def read_csv_graphs(edges: PathLike, nodes: PathLike | None = None, labels: PathLike | None = None,
                    level: str = "graph", undirected: bool = True) -> GraphSet:
    """Graphs from CSV tables (see the module docstring); ``level`` "graph" (labels per graph id, from the
    node table's ``graph`` column) or "node" (one graph, labels per node id).

    Errors name the file and line: an edge naming a node that is not in the node table (dangling edge), an
    integer id outside 0..n-1, an edge joining two graphs, a NaN or non-numeric feature or weight, a label for
    a graph or node that does not exist, a duplicate id.
    """
    if level not in ("graph", "node"):
        raise ConfigError(f"level {level!r}: use 'graph' or 'node'")
    epath, eheader, erows = _open_table(edges, "edge")
    _require(eheader, ("src", "dst"), epath, "edge")
    # nodes: id -> (index, graph); features per node
    node_index: dict[str, int] = {}
    graph_of: list[str] = []
    feats: list[list[float]] = []
    positional = True
    if nodes is not None:
        npath, nheader, nrows = _open_table(nodes, "node")
        positional = "id" not in nheader
        fcols = [c for c in nheader if c not in ("id", "graph")]
        for line, row in nrows:
            nid = str(len(node_index)) if positional else row["id"]
            if not nid:
                raise DataError("empty node id", path=npath, line=line, column="id")
            if nid in node_index:
                raise DataError(f"node {nid!r} appears twice", path=npath, line=line, column="id")
            node_index[nid] = len(node_index)
            graph_of.append(row.get("graph", "0") or "0")
            feats.append([_number(row[c], npath, line, c) for c in fcols])
    else:
        fcols = []
    src, dst, weights = [], [], []
    has_weight = "weight" in eheader
    for line, row in erows:
        ends = []
        for col in ("src", "dst"):
            text = row[col]
            if nodes is None or positional:
                try:
                    value = int(text)
                except ValueError:
                    raise DataError(f"node id {text!r} is not an integer (give a node table with an 'id' "
                                    "column for named nodes)", path=epath, line=line, column=col) from None
                limit = len(node_index) if nodes is not None else None
                if value < 0 or (limit is not None and value >= limit):
                    bound = f"0..{limit - 1}" if limit is not None else "0 or more"
                    raise DataError(f"node id {value} out of range {bound}", path=epath, line=line, column=col)
                ends.append(value)
            else:
                if text not in node_index:
                    raise DataError(f"dangling edge: node {text!r} is not in {Path(nodes).name}", path=epath,
                                    line=line, column=col)
                ends.append(node_index[text])
        if nodes is not None and graph_of[ends[0]] != graph_of[ends[1]]:
            raise DataError(f"edge joins graph {graph_of[ends[0]]!r} and graph {graph_of[ends[1]]!r}",
                            path=epath, line=line)
        src.append(ends[0])
        dst.append(ends[1])
        if has_weight:
            weights.append(_number(row["weight"], epath, line, "weight"))
    if nodes is None:  # nodes 0..max id, one graph, no features
        n = max(max(src), max(dst)) + 1
        seen = len(set(src) | set(dst))
        if n > ISOLATED_LIMIT + 100 * seen:  # a stray huge id would make (and hang on) millions of empty nodes
            line = erows[next(k for k, e in enumerate(zip(src, dst)) if n - 1 in e)][0]
            raise DataError(f"node id {n - 1}, but the edges name only {seen} distinct nodes: without a node table "
                            f"the nodes are 0..{n - 1}, nearly all of them isolated; renumber the ids or give a "
                            "node table", path=epath, line=line)
        node_index = {str(i): i for i in range(n)}
        graph_of = ["0"] * n
        feats = [[] for _ in range(n)]
    node_names = list(node_index)
    x_all = torch.tensor(feats, dtype=torch.float32).reshape(len(node_names), len(fcols))
    if x_all.shape[1] == 0:
        x_all = torch.ones(len(node_names), 1)  # featureless nodes: a constant feature
    ei_all = torch.tensor([src, dst], dtype=torch.long).reshape(2, -1)
    w_all = torch.tensor(weights, dtype=torch.float32).reshape(-1, 1) if has_weight else None
    graph_names = list(dict.fromkeys(graph_of))
    if level == "node" and len(graph_names) > 1:
        raise DataError(f"node tasks read one graph, the node table names {len(graph_names)} graphs", path=nodes)
    gidx = torch.tensor([graph_names.index(g) for g in graph_of]) if len(graph_names) > 1 else \
        torch.zeros(len(node_names), dtype=torch.long)
    graphs = []
    for g in range(len(graph_names)):
        members = (gidx == g).nonzero().flatten()
        local = torch.full((len(node_names),), -1, dtype=torch.long)
        local[members] = torch.arange(len(members))
        keep = gidx[ei_all[0]] == g
        data = Data(x=x_all[members], edge_index=local[ei_all[:, keep]], num_nodes=len(members))
        if w_all is not None:
            data.edge_attr = w_all[keep]
        if undirected:
            data = _undirected(data)
        graphs.append(data)
    out = GraphSet(graphs, graph_names, node_ids=node_names if level == "node" else [],
                   source=f"real: {epath.name}")
    if labels is not None:
        keys = node_names if level == "node" else graph_names
        out.labels = _read_labels(labels, keys, "node" if level == "node" else "graph")
    return out


def _read_labels(path: PathLike, keys: list[str], what: str) -> list[str | None]:
    """``id,label`` rows -> one label (or None) per key; an id that is not a known graph/node is an error."""
    lpath, header, rows = _open_table(path, "label")
    _require(header, ("id", "label"), lpath, "label")
    where = {k: i for i, k in enumerate(keys)}
    out: list[str | None] = [None] * len(keys)
    seen: dict[str, int] = {}
    for line, row in rows:
        key = row["id"]
        if key not in where:
            raise DataError(f"label for a missing {what}: {key!r} is not in the graph data", path=lpath, line=line,
                            column="id")
        if key in seen:
            raise DataError(f"{what} {key!r} is labelled twice (first at line {seen[key]})", path=lpath, line=line)
        if not row["label"]:
            raise DataError(f"empty label for {what} {key!r}", path=lpath, line=line, column="label")
        seen[key] = line
        out[where[key]] = row["label"]
    if what == "graph":
        missing = [k for k, v in zip(keys, out) if v is None]
        if missing:
            raise DataError(f"graph {missing[0]!r} has no label ({len(missing)} unlabelled)", path=lpath)
    return out


def _undirected(data: Data) -> Data:
    from torch_geometric.utils import to_undirected

    if data.edge_index.numel() == 0:
        return data
    if getattr(data, "edge_attr", None) is not None:
        data.edge_index, data.edge_attr = to_undirected(data.edge_index, data.edge_attr, data.num_nodes,
                                                        reduce="mean")
    else:
        data.edge_index = to_undirected(data.edge_index, num_nodes=data.num_nodes)
    return data


# ------------------------------------------------------------------------------------------ NetworkX files


def _nx_read(path: Path, fmt: str | None):
    import networkx as nx

    fmt = fmt or NETWORKX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"unknown graph file type {path.suffix!r}; use one of {', '.join(NETWORKX_FORMATS)} or "
                        "fmt='graphml'|'gml'|'edgelist'", path=path)
    try:
        if fmt == "graphml":
            return nx.read_graphml(path)
        if fmt == "gml":
            return nx.read_gml(path, label="id")
        if fmt == "edgelist":
            return _read_edgelist(path)
    except DataError:
        raise
    except Exception as exc:  # NetworkX / ElementTree parse errors carry their own position
        raise DataError(f"cannot read as {fmt}: {exc}", path=path) from None
    raise ConfigError(f"unknown NetworkX format {fmt!r}: use graphml, gml or edgelist")


def _read_edgelist(path: Path):
    """A whitespace edge list ``u v [weight]`` (``#`` comments) as a NetworkX graph, checked line by line."""
    import networkx as nx

    graph = nx.Graph()
    with open(path, encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) not in (2, 3):
                raise DataError(f"expected 'src dst [weight]', got {len(fields)} field(s)", path=path, line=n)
            attrs = {}
            if len(fields) == 3:
                attrs["weight"] = _number(fields[2], path, n, "weight")
            graph.add_edge(fields[0], fields[1], **attrs)
    if graph.number_of_nodes() == 0:
        raise DataError("empty file: no edges", path=path)
    return graph


def _weight(u, v, value, path: Path) -> float:
    """An edge's ``weight`` attribute as a finite float (GraphML/GML carry what the file says, '' included)."""
    try:
        weight = float(value)
    except (TypeError, ValueError):
        raise DataError(f"edge {u!r}-{v!r}: weight {value!r} is not a number", path=path) from None
    if not math.isfinite(weight):
        raise DataError(f"edge {u!r}-{v!r}: weight {weight} (NaN/inf weights are not allowed)", path=path)
    return weight


def _graph_files(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for p in item.iterdir() if p.suffix.lower() in NETWORKX_FORMATS)
        elif item.exists():
            files.append(item)
        else:
            raise DataError("file not found", path=item)
    if not files:
        raise DataError("no graph files (.graphml, .gml, .edgelist, ...) found", path=str(items[0]))
    return files


def read_networkx(paths: PathLike | Sequence[PathLike], level: str = "graph", label_key: str = "label",
                  feature_keys: Sequence[str] | None = None, labels: PathLike | None = None,
                  fmt: str | None = None, require_labels: bool = True) -> GraphSet:
    """One graph per file (a folder: all its graph files, sorted). Graph ids are file stems.

    Node features: the numeric node attributes named by ``feature_keys`` (default: every attribute other than
    ``label_key`` that all nodes carry as a number); none gives a constant feature. Edge ``weight`` attributes
    become ``edge_attr`` (E, 1). Labels: graph attribute ``label_key`` (level "graph") or node attribute
    (level "node"), or a label CSV (``id,label``); ``require_labels=False`` reads graphs to predict.
    """
    files = _graph_files(paths)
    graphs, ids, labs, node_ids = [], [], [], []
    for path in files:
        g = _nx_read(path, fmt)
        nodes = list(g.nodes)
        index = {v: i for i, v in enumerate(nodes)}
        keys = list(feature_keys) if feature_keys is not None else sorted(
            k for k in set().union(*(g.nodes[v].keys() for v in nodes)) - {label_key}
            if all(isinstance(g.nodes[v].get(k), (int, float)) and not isinstance(g.nodes[v].get(k), bool)
                   for v in nodes))
        rows = []
        for v in nodes:
            row = []
            for k in keys:
                value = g.nodes[v].get(k)
                if value is None:
                    raise DataError(f"node {v!r} has no attribute {k!r}", path=path)
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise DataError(f"node {v!r}: attribute {k!r} = {value!r} is not a number", path=path) from None
                if not math.isfinite(value):
                    raise DataError(f"node {v!r}: attribute {k!r} is {value} (NaN/inf features are not allowed)",
                                    path=path)
                row.append(value)
            rows.append(row)
        x = torch.tensor(rows, dtype=torch.float32).reshape(len(nodes), len(keys))
        if x.shape[1] == 0:
            x = torch.ones(len(nodes), 1)
        pairs = [(index[u], index[v]) for u, v in g.edges]
        ei = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
        data = Data(x=x, edge_index=ei, num_nodes=len(nodes))
        if any("weight" in d for _, _, d in g.edges(data=True)):
            data.edge_attr = torch.tensor([[_weight(u, v, d.get("weight", 1.0), path)]
                                           for u, v, d in g.edges(data=True)])
        graphs.append(_undirected(data))
        ids.append(path.stem)
        if level == "graph":
            labs.append(None if g.graph.get(label_key) is None else str(g.graph[label_key]))
        else:
            node_ids += [str(v) for v in nodes]
            labs += [None if g.nodes[v].get(label_key) is None else str(g.nodes[v][label_key]) for v in nodes]
    if level == "node" and len(graphs) > 1:
        raise DataError(f"node tasks read one graph, got {len(graphs)} files", path=str(files[0].parent))
    name = files[0].name if len(files) == 1 else files[0].parent.name
    out = GraphSet(graphs, ids, labs, node_ids=node_ids, source=f"real: {name}")
    if labels is not None:
        out.labels = _read_labels(labels, node_ids if level == "node" else ids, level)
    elif level == "graph" and require_labels and any(v is None for v in labs):
        missing = labs.index(None)
        raise DataError(f"no graph attribute {label_key!r} (give labels= an id,label CSV keyed by file stem)",
                        path=files[missing])
    return out


# ------------------------------------------------------------------------------------------ saved Data lists


def _safe_globals() -> list:
    from torch_geometric.data import Batch
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import EdgeStorage, GlobalStorage, NodeStorage

    return [Data, Batch, DataEdgeAttr, DataTensorAttr, GlobalStorage, NodeStorage, EdgeStorage]


def check_graph(data: Data, path: PathLike | None = None, item: int | None = None) -> None:
    """DataError unless ``data`` has a (n, f) finite ``x`` and an in-range (2, E) ``edge_index``."""
    what = f"graph {item}: " if item is not None else ""
    if not isinstance(data, Data):
        raise DataError(f"{what}expected a torch_geometric Data object, got {type(data).__name__}", path=path)
    n = data.num_nodes
    ei = data.edge_index
    if ei is None or ei.dim() != 2 or ei.shape[0] != 2:
        raise DataError(f"{what}edge_index must be (2, E), got "
                        f"{None if ei is None else tuple(ei.shape)}", path=path)
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= n):
        bad = int(ei.max()) if int(ei.max()) >= n else int(ei.min())
        raise DataError(f"{what}edge_index holds node id {bad}, out of range 0..{n - 1}", path=path)
    x = getattr(data, "x", None)
    if x is not None:
        if x.shape[0] != n:
            raise DataError(f"{what}x has {x.shape[0]} rows for {n} nodes", path=path)
        if x.is_floating_point() and not bool(torch.isfinite(x).all()):
            row = int((~torch.isfinite(x)).any(-1).nonzero()[0])
            raise DataError(f"{what}node {row} has a NaN/inf feature", path=path)


def read_data_list(path: PathLike, trusted: bool = False, level: str = "graph") -> GraphSet:
    """A ``torch.save``-d list (or tuple) of ``Data``; ``y`` of each graph (or node) becomes its label.

    Loaded with ``weights_only=True`` (only tensors and torch_geometric's Data classes are unpickled);
    ``trusted=True`` allows arbitrary objects (only for files you made yourself).
    """
    path = Path(path)
    if not path.exists():
        raise DataError("file not found", path=path)
    try:
        if trusted:
            obj = torch.load(path, weights_only=False)
        else:
            with torch.serialization.safe_globals(_safe_globals()):
                obj = torch.load(path, weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()
        detail = next((line.strip() for line in first if "Unsupported global" in line), first[-1] if first else "")
        raise DataError(f"cannot load as a list of Data (weights_only=True): {detail[:200]}", path=path) from None
    if isinstance(obj, Data):
        obj = [obj]
    if not isinstance(obj, (list, tuple)) or not obj:
        raise DataError(f"expected a non-empty list of Data objects, got {type(obj).__name__}", path=path)
    graphs, labels = [], []
    for i, data in enumerate(obj):
        check_graph(data, path, i)
        data = data.clone()
        if getattr(data, "x", None) is None:
            data.x = torch.ones(data.num_nodes, 1)
        y = data.y if "y" in data else None
        if y is not None:
            del data.y
        if level == "graph":
            if y is not None and y.numel() != 1:
                raise DataError(f"graph {i}: y must hold one label or value per graph, has {y.numel()}", path=path)
            labels.append(None if y is None else str(y.reshape(-1)[0].item()))
        graphs.append(data)
    if level == "node":
        if len(graphs) > 1:
            raise DataError(f"node tasks read one graph, the file holds {len(graphs)}", path=path)
        y = obj[0].y if "y" in obj[0] else None
        labels = [None] * graphs[0].num_nodes if y is None else [str(v.item()) for v in y.reshape(-1)]
        return GraphSet(graphs, ["0"], labels, node_ids=[str(i) for i in range(graphs[0].num_nodes)],
                        source=f"real: {path.name}")
    ids = [str(getattr(d, "name", i)) if isinstance(getattr(d, "name", None), str) else str(i)
           for i, d in enumerate(graphs)]
    return GraphSet(graphs, ids, labels, source=f"real: {path.name}")


# ------------------------------------------------------------------------------------------ SMILES


def read_smiles_csv(path: PathLike, smiles_column: str = "smiles", label_column: str | None = "label",
                    id_column: str | None = None) -> GraphSet:
    """Molecules from a CSV with a SMILES column, through torch_geometric's ``from_smiles`` (RDKit): ``x``
    (atoms, 9) int64 categorical atom features, ``edge_attr`` (bonds, 3) int64. An unparsable SMILES names its
    line."""
    try:
        from rdkit import RDLogger
        from torch_geometric.utils import from_smiles
    except ImportError:
        raise ConfigError("SMILES input needs RDKit: pip install 'ssmkit-graphs[molecules]'") from None
    RDLogger.DisableLog("rdApp.*")
    spath, header, rows = _open_table(path, "SMILES")
    _require(header, [smiles_column] + ([label_column] if label_column else []), spath, "SMILES")
    graphs, ids, labels = [], [], []
    for line, row in rows:
        text = row[smiles_column]
        try:
            data = from_smiles(text)
        except Exception:
            data = None
        if data is None or data.num_nodes == 0:
            raise DataError(f"cannot parse SMILES {text[:60]!r}", path=spath, line=line, column=smiles_column)
        del data.smiles
        graphs.append(data)
        ids.append(row[id_column] if id_column else str(len(ids)))
        if label_column:
            labels.append(row[label_column] or None)
    return GraphSet(graphs, ids, labels if label_column else None, source=f"real: {spath.name}")

"""Each reader on small files written here: good files give the right graphs, malformed ones one DataError
naming the file and line."""

import networkx as nx
import pytest
import torch
from ssmkit_graphs.readers import read_csv_graphs, read_data_list, read_networkx
from torch_geometric.data import Data

from ssmkit.errors import DataError


def _write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def graph_set(tmp_path):
    """Two graphs: g1 = triangle a-b-c, g2 = edge d-e; named nodes with two features."""
    nodes = _write(tmp_path / "nodes.csv", "id,graph,f1,f2\na,g1,1,0\nb,g1,0,1\nc,g1,1,1\nd,g2,0.5,2\ne,g2,3,1\n")
    edges = _write(tmp_path / "edges.csv", "src,dst,weight\na,b,1\nb,c,2\nc,a,0.5\nd,e,1\n")
    labels = _write(tmp_path / "labels.csv", "id,label\ng1,ring\ng2,chain\n")
    return edges, nodes, labels


def test_csv_graph_set(graph_set):
    edges, nodes, labels = graph_set
    gs = read_csv_graphs(edges, nodes, labels)
    assert gs.ids == ["g1", "g2"] and gs.labels == ["ring", "chain"]
    g1, g2 = gs.graphs
    assert g1.num_nodes == 3 and g2.num_nodes == 2
    assert g1.edge_index.shape[1] == 6 and g2.edge_index.shape[1] == 2  # made undirected
    assert g1.x.tolist() == [[1, 0], [0, 1], [1, 1]] and g1.edge_attr.shape == (6, 1)
    assert gs.source == "real: edges.csv"


def test_csv_node_level_positional_ids(tmp_path):
    nodes = _write(tmp_path / "n.csv", "f\n1\n2\n3\n4\n")
    edges = _write(tmp_path / "e.csv", "src,dst\n0,1\n1,2\n2,3\n")
    labels = _write(tmp_path / "l.csv", "id,label\n0,x\n3,y\n")
    gs = read_csv_graphs(edges, nodes, labels, level="node")
    assert gs.labels == ["x", None, None, "y"] and gs.node_ids == ["0", "1", "2", "3"]
    assert gs.graphs[0].x.flatten().tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("bad, kind, words", [
    ("edges", "src,dst,weight\na,b,1\nb,zz,2\n", ["edges.csv, line 3", "dangling edge", "'zz'"]),
    ("nodes", "id,graph,f1,f2\na,g1,1,0\nb,g1,nan,1\nc,g1,1,1\nd,g2,0.5,2\ne,g2,3,1\n",
     ["nodes.csv, line 3", "column 'f1'", "NaN"]),
    ("labels", "id,label\ng1,ring\ng2,chain\ng9,ring\n", ["labels.csv, line 4", "missing graph", "'g9'"]),
    ("edges", "src,dst,weight\na,d,1\n", ["edges.csv, line 2", "joins graph 'g1' and graph 'g2'"]),
    ("edges", "src,dst,weight\na,b,oops\n", ["edges.csv, line 2", "column 'weight'", "not a number"]),
])
def test_csv_malformed(graph_set, bad, kind, words):
    edges, nodes, labels = graph_set
    files = {"edges": edges, "nodes": nodes, "labels": labels}
    _write(files[bad], kind)
    with pytest.raises(DataError) as err:
        read_csv_graphs(edges, nodes, labels)
    msg = str(err.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_csv_ids_out_of_range(tmp_path):
    nodes = _write(tmp_path / "n.csv", "f\n1\n2\n3\n")
    edges = _write(tmp_path / "e.csv", "src,dst\n0,1\n1,2\n2,7\n")
    with pytest.raises(DataError, match=r"e.csv, line 4, column 'dst': node id 7 out of range 0..2"):
        read_csv_graphs(edges, nodes, level="node")
    _write(edges, "src,dst\n0,-1\n")
    with pytest.raises(DataError, match=r"line 2, column 'dst': node id -1 out of range"):
        read_csv_graphs(edges, nodes, level="node")


def test_label_for_missing_node(tmp_path):
    nodes = _write(tmp_path / "n.csv", "f\n1\n2\n")
    edges = _write(tmp_path / "e.csv", "src,dst\n0,1\n")
    labels = _write(tmp_path / "l.csv", "id,label\n0,x\n5,y\n")
    with pytest.raises(DataError, match=r"l.csv, line 3, column 'id': label for a missing node: '5'"):
        read_csv_graphs(edges, nodes, labels, level="node")


def test_networkx_formats(tmp_path):
    g = nx.Graph(label="ring")
    for i in range(4):
        g.add_node(f"n{i}", charge=float(i), mass=1.0 + i)
    g.add_edges_from([("n0", "n1"), ("n1", "n2"), ("n2", "n3"), ("n3", "n0")])
    nx.write_graphml(g, tmp_path / "a.graphml")
    h = nx.path_graph(3)
    h.graph["label"] = "chain"
    nx.set_node_attributes(h, {0: 1.0, 1: 2.0, 2: 3.0}, "charge")
    nx.write_gml(h, tmp_path / "b.gml")
    gs = read_networkx(tmp_path)
    assert gs.ids == ["a", "b"] and gs.labels == ["ring", "chain"]
    assert gs.graphs[0].x.shape == (4, 2) and gs.graphs[0].edge_index.shape[1] == 8
    assert gs.graphs[1].x.flatten().tolist() == [1.0, 2.0, 3.0]
    el = _write(tmp_path / "c.edgelist", "# comment\n1 2 0.5\n2 3 1.0\n")
    one = read_networkx(el, require_labels=False)
    assert one.graphs[0].num_nodes == 3 and one.graphs[0].edge_attr.shape == (4, 1)


def test_networkx_malformed(tmp_path):
    el = _write(tmp_path / "bad.edgelist", "1 2\n2 3 x\n")
    with pytest.raises(DataError, match=r"bad.edgelist, line 2, column 'weight': not a number"):
        read_networkx(el, require_labels=False)
    el = _write(tmp_path / "bad2.edgelist", "1 2\n2 3 4 5\n")
    with pytest.raises(DataError, match=r"bad2.edgelist, line 2: expected 'src dst \[weight\]'"):
        read_networkx(el, require_labels=False)
    g = nx.path_graph(3)
    nx.set_node_attributes(g, {0: 1.0, 1: float("nan"), 2: 3.0}, "charge")
    g.graph["label"] = "x"
    nx.write_graphml(g, tmp_path / "nan.graphml")
    with pytest.raises(DataError, match=r"nan.graphml: node '1': attribute 'charge' is nan"):
        read_networkx(tmp_path / "nan.graphml")
    _write(tmp_path / "broken.graphml", "<graphml><graph><node id='a'></graph>")
    with pytest.raises(DataError, match=r"broken.graphml: cannot read as graphml: .*line 1"):
        read_networkx(tmp_path / "broken.graphml")


def test_data_list(tmp_path):
    graphs = [Data(x=torch.randn(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([1])),
              Data(x=torch.randn(2, 2), edge_index=torch.tensor([[0], [1]]), y=torch.tensor([0]))]
    torch.save(graphs, tmp_path / "ok.pt")
    gs = read_data_list(tmp_path / "ok.pt")
    assert gs.labels == ["1", "0"] and [g.num_nodes for g in gs.graphs] == [3, 2]
    graphs[1].edge_index = torch.tensor([[0], [5]])
    torch.save(graphs, tmp_path / "bad.pt")
    with pytest.raises(DataError, match=r"bad.pt: graph 1: edge_index holds node id 5, out of range 0..1"):
        read_data_list(tmp_path / "bad.pt")
    graphs[1].edge_index = torch.tensor([[0], [1]])
    graphs[0].x[1, 0] = float("nan")
    torch.save(graphs, tmp_path / "nan.pt")
    with pytest.raises(DataError, match=r"nan.pt: graph 0: node 1 has a NaN/inf feature"):
        read_data_list(tmp_path / "nan.pt")


class Foreign:
    pass


def test_data_list_refuses_arbitrary_objects(tmp_path):
    torch.save([Foreign()], tmp_path / "evil.pt")
    with pytest.raises(DataError, match=r"evil.pt: cannot load as a list of Data \(weights_only=True\)"):
        read_data_list(tmp_path / "evil.pt")


def test_smiles_csv(tmp_path):
    """Molecules from SMILES through RDKit: heavy atoms as nodes, each bond as two directed edges, categorical atom
    (9) and bond (3) features, labels kept; an unparsable SMILES or a missing column names the file and line."""
    pytest.importorskip("rdkit", reason="RDKit is the [molecules] extra of ssmkit-graphs (make setup installs it)")
    from ssmkit_graphs.readers import read_smiles_csv

    path = _write(tmp_path / "mols.csv", "smiles,label\nCCO,-0.77\nc1ccccc1,-1.64\nO=C=O,-1.0\n")
    gs = read_smiles_csv(path)
    assert [g.num_nodes for g in gs.graphs] == [3, 6, 3]
    assert [g.edge_index.shape[1] for g in gs.graphs] == [4, 12, 4]
    assert all(g.x.dtype == torch.int64 and g.x.shape[1] == 9 and g.edge_attr.shape[1] == 3 for g in gs.graphs)
    assert gs.labels == ["-0.77", "-1.64", "-1.0"]
    assert sorted(gs.graphs[0].x[:, 0].tolist()) == [6, 6, 8]  # atomic numbers: two carbons, one oxygen
    bad = _write(tmp_path / "bad.csv", "smiles,label\nCCO,1\nC1CC,2\n")
    with pytest.raises(DataError, match=r"bad\.csv, line 3.*cannot parse SMILES 'C1CC'"):
        read_smiles_csv(bad)
    with pytest.raises(DataError, match=r"mols\.csv.*solubility"):
        read_smiles_csv(path, label_column="solubility")


def _load_mutag(args) -> int:
    from ssmkit_graphs.readers import load_public

    data_dir, cache_dir = args
    return len(load_public("graphs/MUTAG", data_dir, cache_dir))


def test_processes_side_by_side_share_one_fresh_cache(shared_data, tmp_path):
    """Folds started together process the dataset once: the others wait for the lock and load the finished
    files (without it, one could read torch_geometric's processed file while another was writing it)."""
    import multiprocessing as mp

    cache = tmp_path / "cache"
    with mp.get_context("spawn").Pool(3) as pool:
        sizes = pool.map(_load_mutag, [(str(shared_data), str(cache))] * 3)
    assert sizes == [188, 188, 188]
    assert len(list(cache.rglob("processed/*.pt"))) >= 1 and len(list(cache.glob("*.lock"))) == 1

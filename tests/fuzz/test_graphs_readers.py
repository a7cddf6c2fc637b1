"""Fuzzing the graph readers: edge-list/node/label CSV tables, GraphML, GML, whitespace edge lists, torch.save-d
Data lists and SMILES tables (with RDKit)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

pytest.importorskip("hypothesis", reason="hypothesis is not installed (pip install 'ssmkit[dev]')")
pytest.importorskip("ssmkit_graphs", reason="the ssmkit-graphs plug-in is not installed")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from ssmkit_graphs.readers import (  # noqa: E402
    check_graph,
    read_csv_graphs,
    read_data_list,
    read_networkx,
    read_smiles_csv,
)

from .conftest import Seeds, attempt, fuzz_settings, mutated, write_input  # noqa: E402

ESOL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "graphs" / "esol" / "raw" / \
    "delaney-processed.csv"

NODES = b"id,graph,f1,f2\na,g1,1,0\nb,g1,0,1\nc,g1,1,1\nd,g2,0.5,2\ne,g2,3,1\nf,g2,1,1\n"
EDGES = b"src,dst,weight\na,b,1\nb,c,2\nc,a,0.5\nd,e,1\ne,f,2\n"
LABELS = b"id,label\ng1,ring\ng2,chain\n"
POSITIONAL_EDGES = b"src,dst\n0,1\n1,2\n2,3\n3,0\n"
EDGELIST = b"# a square with a tail\na b 1.0\nb c 2\nc d\nd a\nd e 0.5\n"
SMILES = b"id,smiles,label\nm1,CCO,-0.77\nm2,c1ccccc1,-1.2\nm3,CC(=O)O,0.1\n"


def _graphs_ok(gs) -> None:
    assert gs.graphs and len(gs.ids) == len(gs.graphs)
    for g in gs.graphs:
        check_graph(g)


def _networkx_seeds() -> dict[str, bytes]:
    import networkx as nx

    g = nx.Graph(label="ring")
    for v, (f1, f2) in {"a": (1.0, 0.0), "b": (0.0, 1.0), "c": (1.0, 1.0), "d": (0.5, 2.0)}.items():
        g.add_node(v, f1=f1, f2=f2)
    g.add_edges_from([("a", "b"), ("b", "c"), ("c", "d"), ("d", "a")], weight=1.5)
    graphml, gml = io.BytesIO(), io.BytesIO()
    nx.write_graphml(g, graphml)
    nx.write_gml(g, gml)
    return {"graphml": graphml.getvalue(), "gml": gml.getvalue()}


@pytest.fixture(scope="module")
def seeds() -> Seeds:
    import torch
    from torch_geometric.data import Data

    saved = io.BytesIO()
    torch.save([Data(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]), y=torch.tensor([1])),
                Data(x=torch.zeros(2, 2), edge_index=torch.tensor([[0], [1]]), y=torch.tensor([0]))], saved)
    return Seeds({**_networkx_seeds(), "data list": saved.getvalue()})


def test_seeds_load(tmp_path, seeds):
    edges, nodes, labels = (write_input(tmp_path, n, d) for n, d in
                            (("edges.csv", EDGES), ("nodes.csv", NODES), ("labels.csv", LABELS)))
    assert read_csv_graphs(edges, nodes, labels).labels == ["ring", "chain"]
    _graphs_ok(read_csv_graphs(write_input(tmp_path, "pos.csv", POSITIONAL_EDGES)))
    for fmt in ("graphml", "gml"):
        assert read_networkx(write_input(tmp_path, f"g.{fmt}", seeds[fmt])).labels == ["ring"]
    _graphs_ok(read_networkx(write_input(tmp_path, "g.edgelist", EDGELIST), require_labels=False))
    assert read_data_list(write_input(tmp_path, "d.pt", seeds["data list"])).labels == ["1", "0"]


@pytest.mark.parametrize("part", ["edges", "nodes", "labels"])
@fuzz_settings(40)
@given(draw=st.data())
def test_csv_graph_tables(fuzz_dir, part, draw):
    files = {"edges": EDGES, "nodes": NODES, "labels": LABELS}
    files[part] = draw.draw(mutated(files[part]))
    edges, nodes, labels = (write_input(fuzz_dir, f"{name}.csv", data) for name, data in files.items())
    # a bad node table may show as an edge naming a missing node: the message names one of the three files
    attempt(f"graphs csv ({part})", lambda: read_csv_graphs(edges, nodes, labels), [edges, nodes, labels],
            _graphs_ok, named=str(fuzz_dir))


@fuzz_settings(40)
@given(data=mutated(POSITIONAL_EDGES))
def test_csv_edge_list_alone(fuzz_dir, data):
    path = write_input(fuzz_dir, "edges.csv", data)
    attempt("graphs csv (edges alone)", lambda: read_csv_graphs(path, level="node"), path, _graphs_ok)


@pytest.mark.parametrize("fmt", ["graphml", "gml"])
@fuzz_settings(50)
@given(draw=st.data())
def test_networkx_file(fuzz_dir, seeds, fmt, draw):
    path = write_input(fuzz_dir, f"graph.{fmt}", draw.draw(mutated(seeds[fmt])))
    attempt(f"graphs {fmt}", lambda: read_networkx(path, require_labels=False), path, _graphs_ok)


@fuzz_settings(40)
@given(data=mutated(EDGELIST))
def test_edgelist(fuzz_dir, data):
    path = write_input(fuzz_dir, "graph.edgelist", data)
    attempt("graphs edgelist", lambda: read_networkx(path, require_labels=False), path, _graphs_ok)


@fuzz_settings(40)
@given(draw=st.data())
def test_data_list(fuzz_dir, seeds, draw):
    path = write_input(fuzz_dir, "graphs.pt", draw.draw(mutated(seeds["data list"])))
    attempt("graphs data list (torch.save)", lambda: read_data_list(path), path, _graphs_ok)


@pytest.fixture(scope="module")
def smiles_seeds() -> list[bytes]:
    pytest.importorskip("rdkit", reason="SMILES input needs RDKit (the ssmkit-graphs[molecules] extra)")
    seeds = [SMILES]
    if ESOL.exists():  # the header and first 30 molecules of the real ESOL table
        with open(ESOL, "rb") as handle:
            seeds.append(b"".join(handle.readline() for _ in range(31)))
    return seeds


@fuzz_settings(40)
@given(draw=st.data())
def test_smiles_csv(fuzz_dir, smiles_seeds, draw):
    path = write_input(fuzz_dir, "molecules.csv", draw.draw(mutated(smiles_seeds)))
    attempt("graphs smiles csv", lambda: read_smiles_csv(path, label_column=None), path, _graphs_ok)


@pytest.mark.parametrize("part", ["edges", "nodes", "labels"])
def test_found_by_fuzzing(tmp_path, part):
    """A CSV table that is not UTF-8 leaked UnicodeDecodeError."""
    from ssmkit.errors import DataError

    files = {"edges": EDGES, "nodes": NODES, "labels": LABELS}
    files[part] = b"\x80" + files[part]
    edges, nodes, labels = (write_input(tmp_path, f"{name}.csv", data) for name, data in files.items())
    with pytest.raises(DataError, match=rf"{part}\.csv: not UTF-8 text"):
        read_csv_graphs(edges, nodes, labels)


def test_found_by_fuzzing_ids_and_weights(tmp_path):
    """A stray huge node id in an edge list without a node table built 10^11 nodes (a hang, then out of memory);
    an empty GraphML weight leaked ValueError from float('')."""
    from ssmkit.errors import DataError

    edges = write_input(tmp_path, "edges.csv", b"src,dst\n0,1\n1,99999999999\n")
    with pytest.raises(DataError, match=r"edges\.csv, line 3: node id 99999999999, but the edges name only 3"):
        read_csv_graphs(edges, level="node")
    graphml = write_input(tmp_path, "g.graphml", _networkx_seeds()["graphml"].replace(b">1.5<", b"><", 1))
    with pytest.raises(DataError, match=r"g\.graphml: edge '\w'-'\w': weight '' is not a number"):
        read_networkx(graphml)

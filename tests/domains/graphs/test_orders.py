"""Node orders: permutations, known answers on a small graph, batching, relabelling invariance of averaged
random orders, no leak between the graphs of a batch, and stratified folds."""

import numpy as np
import pytest
import torch
from ssmkit_graphs.data import stratified_folds
from ssmkit_graphs.model import GraphNet
from ssmkit_graphs.orders import SCAN_ORDERS, BFSOrder, DFSOrder, batch_permutation
from ssmkit_graphs.task import GraphClassifier
from torch_geometric.data import Batch, Data
from torch_geometric.utils import to_undirected

from ssmkit import registry
from ssmkit.errors import ConfigError

# 0-1, 0-2, 1-3, 2-3, 3-4, 4-5: degrees 2, 2, 2, 3, 2, 1
SMALL = to_undirected(torch.tensor([[0, 0, 1, 2, 3, 4], [1, 2, 3, 3, 4, 5]]))


def _random_graph(n: int, p: float, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, n, generator=g) < p
    a = torch.triu(a, 1)
    return to_undirected(a.nonzero().t(), num_nodes=n)


def _relabel(edge_index: torch.Tensor, x: torch.Tensor, perm: torch.Tensor):
    """Node i becomes node perm[i]."""
    new_x = torch.empty_like(x)
    new_x[perm] = x
    return perm[edge_index], new_x


@pytest.mark.parametrize("name", sorted(SCAN_ORDERS))
def test_every_order_is_a_permutation_and_registered(name):
    order = registry.get("scan_orders", f"graphs/{name}")
    assert order is SCAN_ORDERS[name] and order.needs == "graph"
    ei = _random_graph(30, 0.08, seed=1)  # sparse: several components and isolated nodes
    perm = order.permutation(length=30, edge_index=ei, generator=torch.Generator().manual_seed(0))
    assert sorted(perm.tolist()) == list(range(30))
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor([30, 6, 4]))
    ei_b = torch.cat([ei, SMALL + 30, torch.tensor([[36, 37], [37, 38]]) ], 1)
    idx = batch_permutation(order, ei_b, batch, 3, torch.Generator().manual_seed(0))
    assert sorted(idx.tolist()) == list(range(40))
    assert bool((batch[idx][1:] >= batch[idx][:-1]).all())  # graphs stay contiguous


def test_known_answers_on_a_small_graph():
    perm = lambda order, **kw: order.permutation(length=6, edge_index=SMALL, **kw).tolist()  # noqa: E731
    assert perm(SCAN_ORDERS["degree_fixed"]) == [5, 0, 1, 2, 4, 3]
    assert perm(SCAN_ORDERS["bfs"]) == [3, 1, 2, 4, 0, 5]  # root: the highest degree
    assert perm(SCAN_ORDERS["dfs"]) == [3, 1, 0, 2, 4, 5]
    assert perm(BFSOrder(root=0)) == [0, 1, 2, 3, 4, 5]
    assert perm(DFSOrder(root=0)) == [0, 1, 3, 2, 4, 5]
    # random ties: degree 1 first, degree 3 last, the four nodes of degree 2 in any order between
    for seed in range(5):
        p = perm(SCAN_ORDERS["degree"], generator=torch.Generator().manual_seed(seed))
        assert p[0] == 5 and p[-1] == 3 and sorted(p[1:5]) == [0, 1, 2, 4]
    draws = {tuple(perm(SCAN_ORDERS["degree"], generator=torch.Generator().manual_seed(s))) for s in range(20)}
    assert len(draws) > 3


def test_traversal_roots_by_name():
    from ssmkit_graphs.orders import node_order

    perm = lambda order: order.permutation(length=6, edge_index=SMALL).tolist()  # noqa: E731
    assert perm(node_order("bfs:0")) == [0, 1, 2, 3, 4, 5] and perm(node_order("graphs/dfs:0")) == [0, 1, 3, 2, 4, 5]
    assert node_order("bfs:first").root == "first" and node_order("dfs:min_degree").root == "min_degree"
    assert node_order("bfs:random").randomised and not node_order("bfs:first").randomised
    assert GraphNet(2, order="dfs:random", in_features=3).order.randomised
    for bad in ("degree:first", "bfs:nowhere", "bfs:-1", "nope:1"):
        with pytest.raises(ConfigError):
            node_order(bad)


def test_spectral_order_follows_a_path():
    labels = torch.tensor([4, 0, 3, 1, 2])  # the path 4-0-3-1-2, stored shuffled
    ei = to_undirected(torch.stack([labels[:-1], labels[1:]]))
    p = SCAN_ORDERS["spectral"].permutation(length=5, edge_index=ei).tolist()
    assert p in (labels.tolist(), labels.flip(0).tolist())


def test_packed_graphs_do_not_leak_into_each_other():
    """A graph's outputs are the same alone and batched between others (per-graph rows, right padding)."""
    torch.manual_seed(0)
    net = GraphNet(3, d_model=16, n_layers=2, in_features=4, order="bfs", bidirectional=True).eval()
    graphs = [Data(x=torch.randn(n, 4), edge_index=_random_graph(n, 0.3, seed=n)) for n in (7, 12, 3)]
    alone = net(Batch.from_data_list([graphs[1]]))
    batched = net(Batch.from_data_list(graphs))
    torch.testing.assert_close(batched[1], alone[0], atol=1e-5, rtol=1e-5)
    states = net.node_states(Batch.from_data_list(graphs))[7:19]
    torch.testing.assert_close(states, net.node_states(Batch.from_data_list([graphs[1]])), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mixer", ["mamba", "mamba2"])
def test_packed_rows_equal_one_padded_row_per_graph(mixer):
    """The global branch on one packed row (seq_idx = graph) gives, node for node and in the gradients, what one
    right-padded row per graph gives (``to_dense_batch``)."""
    from ssmkit_graphs.model import GlobalSSM, ordered_ssm

    torch.manual_seed(0)
    sizes = (7, 1, 12, 3)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    h = torch.randn(len(batch), 16, dtype=torch.float64)
    idx = torch.cat([torch.randperm(n) + sum(sizes[:i]) for i, n in enumerate(sizes)])  # a node order per graph
    ssm = GlobalSSM(16, mixer, d_state=8).double().eval()
    outs, grads = [], []
    for packed in (True, False):
        x = h.clone().requires_grad_()
        y = ordered_ssm(x, idx, batch, ssm.forward_ssm, packed)
        y.square().sum().backward()
        outs.append(y)
        grads.append(x.grad)
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("mixer", ["mamba", "mamba2", "s4d"])
def test_the_default_layout_runs_every_mixer_and_equals_padded_rows(mixer):
    """ordered_ssm without ``packed``: on the CPU mamba packs, mamba2 and s4d (no seq_idx) pad; the same outputs."""
    from ssmkit_graphs.model import CPU_PACKED_MIXERS, GlobalSSM, ordered_ssm

    torch.manual_seed(1)
    sizes = (5, 9, 2)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    h = torch.randn(len(batch), 16, dtype=torch.float64)
    idx = torch.cat([torch.randperm(n) + sum(sizes[:i]) for i, n in enumerate(sizes)])
    ssm = GlobalSSM(16, mixer, d_state=4).double().eval()
    with torch.no_grad():
        torch.testing.assert_close(ordered_ssm(h, idx, batch, ssm.forward_ssm),
                                   ordered_ssm(h, idx, batch, ssm.forward_ssm, packed=False), rtol=1e-9, atol=1e-10)
    assert CPU_PACKED_MIXERS == ("mamba",)


# Documented tolerance: relabelling a graph's nodes changes which node wins each random tie-break, so a single
# random order moves the outputs; the mean over eval_orders = K orders moves them ~1/sqrt(K) as much. With K = 16
# the logits move by less than 0.5x what one order moves them (expected: 0.25x), and the class probabilities
# by less than 0.02.
TOLERANCE, RATIO, EVAL_ORDERS = 0.02, 0.5, 16


def test_averaged_random_orders_are_invariant_to_relabelling():
    torch.manual_seed(0)
    task = GraphClassifier(num_classes=8, d_model=16, n_layers=2, in_features=3, eval_orders=EVAL_ORDERS,
                           order="degree", dropout=0.0).eval()
    n = 16
    ei = _random_graph(n, 0.25, seed=3)
    x = torch.randn(n, 3)
    g = Batch.from_data_list([Data(x=x, edge_index=ei)])
    averaged, single, prob = [], [], []
    with torch.no_grad():
        ref = task(g)
        for seed in range(4):
            perm = torch.randperm(n, generator=torch.Generator().manual_seed(100 + seed))
            ei2, x2 = _relabel(ei, x, perm)
            h = Batch.from_data_list([Data(x=x2, edge_index=ei2)])
            out = task(h)
            averaged.append((ref - out).abs().mean().item())
            prob.append((ref.softmax(-1) - out.softmax(-1)).abs().max().item())
            gen = torch.Generator().manual_seed(seed)
            single.append((task.net(g, gen) - task.net(h, torch.Generator().manual_seed(50 + seed))).abs().mean()
                          .item())
    assert max(prob) < TOLERANCE, prob
    assert np.mean(averaged) < RATIO * np.mean(single), (averaged, single)
    gin = GraphClassifier(num_classes=8, d_model=16, n_layers=2, in_features=3, model="gin").eval()
    ei2, x2 = _relabel(ei, x, torch.randperm(n, generator=torch.Generator().manual_seed(7)))
    with torch.no_grad():  # message passing alone needs no order: exactly invariant
        torch.testing.assert_close(gin(g), gin(Batch.from_data_list([Data(x=x2, edge_index=ei2)])), atol=1e-5,
                                   rtol=1e-5)
    assert not gin.averages_orders and task.averages_orders


def test_stratified_folds_are_disjoint_and_balanced():
    labels = np.array([0] * 63 + [1] * 125)
    folds = stratified_folds(labels, len(labels), 10, seed=0)
    assert sorted(np.concatenate(folds).tolist()) == list(range(188))
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    per_class = np.array([[np.sum(labels[f] == c) for c in (0, 1)] for f in folds])
    assert (per_class.max(0) - per_class.min(0) <= 1).all()
    again = stratified_folds(labels, len(labels), 10, seed=0)
    assert all((a == b).all() for a, b in zip(folds, again))


def test_textbook_node_classifier_is_two_convs_and_graph_mamba_starts_as_it():
    """Node level on raw features: dropout -> GCN -> ReLU -> dropout -> GCN, no encoder or head; graph_mamba adds
    its global SSM through zero-initialised gates, so before training it equals the GCN with the same convs."""
    from torch_geometric.nn import GCNConv

    torch.manual_seed(0)
    n, f = 30, 12
    x = torch.rand(n, f)
    edge_index = torch.randint(0, n, (2, 80))
    data = Batch.from_data_list([Data(x=x, edge_index=edge_index)])
    gcn = GraphNet(5, "gcn", "node", d_model=16, n_layers=2, in_features=f, residual=False).eval()
    assert [type(m) for m in gcn.convs] == [GCNConv, GCNConv]
    assert not any(hasattr(gcn, name) for name in ("head", "node_enc", "edge_enc", "layers"))  # convs only
    c1, c2 = gcn.convs
    expected = c2(torch.relu(c1(x, edge_index)), edge_index)
    torch.testing.assert_close(gcn(data), expected)
    gm = GraphNet(5, "graph_mamba", "node", d_model=16, n_layers=2, in_features=f, residual=False,
                  propagate=0).eval()
    gm.convs.load_state_dict(gcn.convs.state_dict())
    torch.testing.assert_close(gm(data), expected)
    with torch.no_grad():
        gm.gates.fill_(1.0)
    assert not torch.allclose(gm(data), expected)  # an open gate lets the SSM in


def test_graph_mamba_node_default_is_linear_layers_then_pagerank_propagation():
    """The node-level graph_mamba default: linear layers on each node's features, then 10 steps of
    H <- 0.9 Â H + 0.1 Z with Â = D^-1/2 (A + I) D^-1/2, checked against dense float64 matrices."""
    torch.manual_seed(1)
    n, f, k, alpha = 25, 7, 10, 0.1
    edge_index = _random_graph(n, 0.15, seed=3)
    x = torch.rand(n, f)
    gm = GraphNet(3, "graph_mamba", "node", d_model=8, n_layers=2, in_features=f, residual=False).eval()
    assert [type(m) for m in gm.convs] == [torch.nn.Linear, torch.nn.Linear]
    with torch.no_grad():
        c1, c2 = (c.double() for c in gm.convs)
        z = c2(torch.relu(c1(x.double())))
        gm.float()
    a = torch.zeros(n, n, dtype=torch.float64)
    a[edge_index[1], edge_index[0]] = 1.0
    a += torch.eye(n, dtype=torch.float64)
    d = a.sum(1).rsqrt()
    norm = d[:, None] * a * d[None, :]
    h = z
    for _ in range(k):
        h = (1 - alpha) * norm @ h + alpha * z
    out = gm(Data(x=x, edge_index=edge_index)).double()
    torch.testing.assert_close(out, h, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(z, h, atol=1e-3)  # the propagation moved the scores
    with pytest.raises(ConfigError, match="propagate"):  # graph level has no textbook shape to propagate in
        GraphNet(2, "graph_mamba", "graph", d_model=8, in_features=f, propagate=5)
    for bad in ({"propagate": -1}, {"teleport": 1.5}):
        with pytest.raises(ConfigError, match="teleport probability"):
            GraphNet(3, "graph_mamba", "node", d_model=8, n_layers=2, in_features=f, residual=False, **bad)



@pytest.mark.parametrize("model", ["gat", "gin"])
def test_textbook_gat_and_gin_layers_map_features_to_classes(model):
    from torch_geometric.nn import GATConv, GINConv

    torch.manual_seed(0)
    x, edge_index = torch.rand(20, 6), torch.randint(0, 20, (2, 50))
    net = GraphNet(4, model, "node", d_model=8, n_layers=3, in_features=6, residual=False).eval()
    kind = GATConv if model == "gat" else GINConv
    assert [type(m) for m in net.convs] == [kind] * 3
    out = net(Data(x=x, edge_index=edge_index))
    assert out.shape == (20, 4) and torch.isfinite(out).all()
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in net.convs.parameters())
    if model == "gat":  # hidden layers: heads concatenated to d_model; the output layer: one head of 4 classes
        assert net.convs[0].heads == 4 and net.convs[0].out_channels == 2 and net.convs[2].heads == 1


@pytest.mark.parametrize("model", ["gps", "gin", "gcn", "gat"])
def test_message_passing_baselines_are_invariant_to_relabelling(model):
    """The baselines (GPS with attention included) pool permutation-equivariant layers: relabelling the nodes and
    edges of a graph leaves its logits unchanged (float32 round-off only); edge features follow their edges."""
    torch.manual_seed(0)
    net = GraphNet(3, model=model, d_model=16, n_layers=2, in_features=3, edge_features=2, dropout=0.0).eval()
    n = 12
    ei = _random_graph(n, 0.3, seed=5)
    x = torch.randn(n, 3)
    ea = torch.randn(ei.shape[1], 2)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    ei2, x2 = _relabel(ei, x, perm)
    with torch.no_grad():
        out = net(Batch.from_data_list([Data(x=x, edge_index=ei, edge_attr=ea)]))
        moved = net(Batch.from_data_list([Data(x=x2, edge_index=ei2, edge_attr=ea)]))
    assert out.shape == (1, 3) and torch.isfinite(out).all()
    torch.testing.assert_close(out, moved, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out, net(Batch.from_data_list([Data(x=x2, edge_index=ei, edge_attr=ea)])), atol=1e-3)
    loss = net.train()(Batch.from_data_list([Data(x=x, edge_index=ei, edge_attr=ea)] * 2)).square().sum()
    loss.backward()
    unused = ("edge_enc.",) if model == "gcn" else ()  # GCN's convolution takes no edge features
    assert all(p.grad is not None for name, p in net.named_parameters() if not name.startswith(unused))

"""Graph networks: a Graph-Mamba layer in the GPS style and the baselines, in one harness.

``GraphNet`` = feature encoder (+ positional encoding) -> n_layers x layer -> head. Layers (``model``):

* ``graph_mamba``: local message passing (GINE, or GIN without edge features) plus a global SSM over the
  nodes of each graph in a node order: nodes sorted by (graph, order) -> with mixer mamba on the CPU one packed
  row (1, N, d) with ``seq_idx`` = graph (the scan restarts at every graph: no padding), else ``to_dense_batch``
  (graphs, n_max, d) -> ssmkit ``Backbone`` -> back to (N, d) in place (``ordered_ssm``: equal outputs).
  ``bidirectional`` also reads each graph's order backwards (a second SSM), so every node sees the whole graph.
* ``gps``: the same local branch plus multi-head attention (torch_geometric's ``GPSConv``).
* ``gin``, ``gcn``, ``gat``: message passing only.

Heads: graph level (pool "mean", "add" or "max" over each graph's nodes -> MLP -> (graphs, out)) or node level
(MLP per node -> (N, out)).

Node level on raw float features with ``residual=False`` (the node-classify default) takes the textbook shape
instead (Kipf & Welling; Velickovic et al.): dropout -> conv(in_features -> d) -> act -> dropout -> ... ->
conv(d -> out), no encoder and no head, so the first layer reads the sparse bag-of-words directly and the last one
propagates the class scores (on Cora, graphs_bench.py: 0.827 with GCN where encoder + convs + head scored 0.783).
``graph_mamba`` there is predict-then-propagate (APPNP, Klicpera et al. 2019): linear layers on each node's own
features, the global SSM's output added to every hidden layer through a zero-initialised per-channel gate, then
``propagate`` steps of personalised-PageRank propagation (teleport 0.1) of the class scores; ``propagate=0``
gives the earlier GCN layers instead of the linear ones. On Cora, CPU: 0.837 / 0.823 / 0.834 over seeds 0-2
(GCN layers: 0.813, seed 0). The baselines propagate only when ``propagate`` is given.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import (
    APPNP,
    GATConv,
    GCNConv,
    GINConv,
    GINEConv,
    GPSConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)
from torch_geometric.utils import to_dense_batch

from ssmkit import Backbone, BackboneConfig
from ssmkit.errors import ConfigError

from .orders import NodeOrder, batch_permutation, node_order

MODELS = ("graph_mamba", "gps", "gin", "gcn", "gat")
POOLS = {"mean": global_mean_pool, "add": global_add_pool, "max": global_max_pool}


class FeatureEncoder(nn.Module):
    """(n, f) float features -> Linear; (n, c) int64 categorical columns -> sum of one embedding per column
    (values clamped to each column's cardinality). -> (n, d)."""

    def __init__(self, d: int, features: int = 0, categories: list[int] | None = None):
        super().__init__()
        self.categories = list(categories or [])
        self.embeds = nn.ModuleList(nn.Embedding(int(c), d) for c in self.categories)
        self.linear = nn.Linear(features, d) if features and not self.categories else None
        if self.linear is None and not self.categories:
            self.const = nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor | None, n: int) -> torch.Tensor:
        if self.categories:
            x = x.long().reshape(n, -1)
            return sum(emb(x[:, i].clamp(0, c - 1)) for i, (emb, c) in enumerate(zip(self.embeds, self.categories)))
        if self.linear is not None:
            return self.linear(x.float().reshape(n, -1))
        return self.const.expand(n, -1)


def _mlp(d_in: int, d: int, d_out: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d), nn.GELU(), nn.Dropout(dropout), nn.Linear(d, d_out))


CPU_PACKED_MIXERS = ("mamba",)  # packed by default on the CPU: one chunked scan over the packed row (the SSD
# reference runs packed rows one sequence at a time, so mamba2 stays padded)


def ordered_ssm(h: torch.Tensor, idx: torch.Tensor, batch: torch.Tensor, backbone: nn.Module,
                packed: bool | None = None) -> torch.Tensor:
    """Run ``backbone`` over each graph's nodes in order. h (N, d); idx (N,) from ``batch_permutation``;
    batch (N,) graph of each node -> (N, d), row i the SSM output at node i.

    packed True: the graphs' ordered nodes end to end in one row (1, N, d) with ``seq_idx`` = graph id (the
    kernels restart the scan and the convolution window at every graph; mixers mamba and mamba2, not S4D). False: one
    right-padded row per graph (``to_dense_batch``): a causal scan never reads padding before a node and rows
    never mix. Equal outputs (tested). None (default): packed on the CPU for mamba (``CPU_PACKED_MIXERS``), where
    the chunked reference scan does work in proportion to the tokens it is given (ENZYMES batches pad 3x);
    padded on a GPU, where the Mamba-1 Triton kernel runs its (batch row, channel block) programs along the
    sequence: one packed row of a whole batch would walk all its nodes in sequence on a few programs."""
    if packed is None:
        packed = not h.is_cuda and backbone.config.mixer in CPU_PACKED_MIXERS
    if packed:
        seq_idx = batch[idx].to(torch.int32).unsqueeze(0)
        out = backbone(h[idx].unsqueeze(0), seq_idx=seq_idx)[0]
    else:
        dense, mask = to_dense_batch(h[idx], batch[idx])  # (graphs, n_max, d), right-padded
        out = backbone(dense)[mask]  # (N, d) in reading order
    return torch.empty_like(out).index_copy_(0, idx, out)


class GlobalSSM(nn.Module):
    """The global branch: ssmkit Backbone(s) over ordered nodes; (N, d) -> (N, d)."""

    def __init__(self, d: int, mixer: str = "mamba", d_state: int = 16, n_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0):
        super().__init__()
        cfg = BackboneConfig(d_model=d, n_layers=n_layers, mixer=mixer, mixer_options={"d_state": d_state},
                             dropout=dropout)
        self.forward_ssm = Backbone(cfg)
        self.backward_ssm = Backbone(cfg) if bidirectional else None

    def forward(self, h: torch.Tensor, batch: torch.Tensor, orders: tuple[torch.Tensor, torch.Tensor | None]):
        idx, rev = orders
        y = ordered_ssm(h, idx, batch, self.forward_ssm)  # packed on the CPU, padded on a GPU (see ordered_ssm)
        if self.backward_ssm is not None:
            y = 0.5 * (y + ordered_ssm(h, rev, batch, self.backward_ssm))
        return y


class GraphLayer(nn.Module):
    """One layer; h (N, d), edge_index (2, E), edge_emb (E, d) or None, batch (N,) -> (N, d)."""

    def __init__(self, kind: str, d: int, edge_dim: bool, dropout: float = 0.0, heads: int = 4,
                 mixer: str = "mamba", d_state: int = 16, bidirectional: bool = False, residual: bool = True):
        super().__init__()
        self.kind = kind
        self.dropout = dropout
        self.residual = residual or kind == "graph_mamba"  # the GPS-style layer always keeps its residual

        def gin() -> nn.Module:
            net = _mlp(d, d, d)
            return GINEConv(net, edge_dim=d) if edge_dim else GINConv(net)

        if kind == "gps":
            self.conv = GPSConv(d, gin(), heads=heads, dropout=dropout, attn_type="multihead")
            return
        if kind == "gcn":
            self.conv = GCNConv(d, d)
        elif kind == "gat":
            self.conv = GATConv(d, d // heads, heads=heads, edge_dim=d if edge_dim else None, dropout=dropout)
        else:  # gin, graph_mamba
            self.conv = gin()
        self.norm_local = nn.LayerNorm(d)
        self.ssm = GlobalSSM(d, mixer, d_state, bidirectional=bidirectional, dropout=dropout) \
            if kind == "graph_mamba" else None
        if self.ssm is not None:
            self.ffn = _mlp(d, 2 * d, d, dropout)
            self.norm_out = nn.LayerNorm(d)

    def _local(self, h, edge_index, edge_emb):
        if isinstance(self.conv, (GINEConv, GATConv)) and edge_emb is not None:
            return self.conv(h, edge_index, edge_emb)
        return self.conv(h, edge_index)

    def forward(self, h, edge_index, edge_emb, batch, orders=None):
        if self.kind == "gps":
            kwargs = {"edge_attr": edge_emb} if edge_emb is not None else {}
            return self.conv(h, edge_index, batch, **kwargs)
        update = F.dropout(F.gelu(self._local(h, edge_index, edge_emb)), self.dropout, self.training)
        if not self.residual:  # the textbook GCN / GAT / GIN layer
            return update
        local = self.norm_local(h + update)
        if self.ssm is None:
            return local
        out = local + self.ssm(h, batch, orders)  # the SSM's blocks carry their own residual and norm
        return self.norm_out(out + F.dropout(self.ffn(out), self.dropout, self.training))


def _textbook_conv(model: str, d_in: int, d_out: int, d: int, heads: int, last: bool, dropout: float) -> nn.Module:
    """One layer of the textbook node classifiers: (N, d_in) -> (N, d_out)."""
    if model == "gat":  # hidden layers concatenate heads, the output layer has one head (as in the GAT paper)
        return GATConv(d_in, d_out, heads=1, dropout=dropout) if last else \
            GATConv(d_in, d_out // heads, heads=heads, dropout=dropout)
    if model == "gin":
        return GINConv(_mlp(d_in, d, d_out))
    return GCNConv(d_in, d_out)  # gcn, and graph_mamba's local layer


class GraphNet(nn.Module):
    """Encoder -> layers -> head. ``forward(data, generator=None, reverse_generator=...)`` on a torch_geometric
    Data/Batch (x, edge_index, optional edge_attr, pe, batch) -> (graphs, out) or (N, out) for level "node".

    residual: message-passing baselines (gin, gcn, gat) add their input back and LayerNorm (False: the textbook
    layer, better on small node-classification sets); graph_mamba always does, except at node level on raw
    features with residual False, where every model takes the textbook shape (the module docstring).
    order: a registered node order for the SSM layers (drawn once per forward and shared by all layers);
    randomised orders draw from ``generator`` (the global RNG when None).
    """

    def __init__(self, out: int, model: str = "graph_mamba", level: str = "graph", d_model: int = 64,
                 n_layers: int = 3, in_features: int = 0, node_categories: list[int] | None = None,
                 edge_features: int = 0, edge_categories: list[int] | None = None, pe_dim: int = 0,
                 order: str | NodeOrder = "degree", mixer: str = "mamba", d_state: int = 16,
                 bidirectional: bool = False, heads: int = 4, dropout: float = 0.0, pool: str = "mean",
                 residual: bool = True, propagate: int | None = None, teleport: float = 0.1):
        super().__init__()
        if model not in MODELS:
            raise ConfigError(f"--model.model {model!r}: use one of {', '.join(MODELS)}")
        if pool not in POOLS:
            raise ConfigError(f"--model.pool {pool!r}: use one of {', '.join(POOLS)}")
        if level not in ("graph", "node"):
            raise ConfigError(f"level {level!r}: use graph or node")
        if model in ("gps", "gat") and d_model % heads:
            raise ConfigError(f"--model.d_model {d_model} must be a multiple of --model.heads {heads}")
        self.level, self.pool, self.model, self.dropout = level, pool, model, dropout
        self.order = node_order(order)
        self.bidirectional = bidirectional
        # node level, raw float features, no residual: the textbook shape (see the module docstring)
        self.textbook = level == "node" and not residual and bool(in_features) and not node_categories \
            and not pe_dim and model != "gps"
        if self.textbook:
            if n_layers < (2 if model == "graph_mamba" else 1):
                raise ConfigError(f"--model.n_layers {n_layers}: use 1 or more"
                                  + (" (graph_mamba: 2 or more, its SSM reads the hidden layers)"
                                     if model == "graph_mamba" else ""))
            if propagate is None:
                propagate = 10 if model == "graph_mamba" else 0
            if propagate < 0 or not 0.0 <= teleport <= 1.0:
                raise ConfigError(f"--model.propagate {propagate} / --model.teleport {teleport}: use propagate >= 0 "
                                  "steps and a teleport probability in [0, 1]")
            dims = [in_features] + [d_model] * (n_layers - 1) + [out]
            # graph_mamba with propagation predicts from each node's own features (linear layers plus the global
            # SSM) and then propagates (APPNP's predict-then-propagate); the baselines keep their convolutions
            self.convs = nn.ModuleList(nn.Linear(dims[i], dims[i + 1]) if propagate and model == "graph_mamba" else
                                       _textbook_conv(model, dims[i], dims[i + 1], d_model, heads, i == n_layers - 1,
                                                      dropout)
                                       for i in range(n_layers))
            self.ssms = nn.ModuleList(GlobalSSM(d_model, mixer, d_state, bidirectional=bidirectional, dropout=dropout)
                                      for _ in range(n_layers - 1)) if model == "graph_mamba" else None
            # zero-initialised gates: training starts from the local model and opens the global branch where it helps
            self.gates = nn.Parameter(torch.zeros(n_layers - 1, d_model)) if model == "graph_mamba" else None
            self.act = F.elu if model == "gat" else F.relu
            # personalised-PageRank propagation of the class scores (APPNP, Klicpera et al. 2019): no parameters
            self.propagation = APPNP(propagate, teleport) if propagate else None
            return  # no encoders: the first layer reads the features (edge features are not used here)
        if propagate:
            raise ConfigError("--model.propagate applies to node classification on raw features (the textbook "
                              "shape, residual false)")
        self.node_enc = FeatureEncoder(d_model, in_features, node_categories)
        has_edges = bool(edge_features or edge_categories)
        self.edge_enc = FeatureEncoder(d_model, edge_features, edge_categories) if has_edges else None
        self.pe_enc = nn.Linear(pe_dim, d_model) if pe_dim else None
        self.layers = nn.ModuleList(
            GraphLayer(model, d_model, has_edges, dropout, heads, mixer, d_state, bidirectional, residual)
            for _ in range(n_layers))
        # node level: one linear map (few labelled nodes: an MLP head overfits), graph level: an MLP
        self.head = nn.Linear(d_model, out) if level == "node" else _mlp(d_model, d_model, out, dropout)

    def orders(self, data, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(idx, reversed idx or None), each (N,): the reading order of every graph in the batch."""
        batch = self._batch(data)
        num_graphs = int(getattr(data, "num_graphs", 1) or 1)
        rank = self.order.batch_rank(data.edge_index, batch, num_graphs, generator)
        first = torch.argsort(rank, stable=True)
        idx = first[torch.argsort(batch[first], stable=True)]
        rev = None
        if self.bidirectional:
            first = torch.argsort(-rank, stable=True)
            rev = first[torch.argsort(batch[first], stable=True)]
        return idx, rev

    @staticmethod
    def _batch(data) -> torch.Tensor:
        batch = getattr(data, "batch", None)
        if batch is None:
            batch = torch.zeros(data.num_nodes, dtype=torch.long, device=data.edge_index.device)
        return batch

    def node_states(self, data, generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, d) node representations after the layers (textbook node classifiers: before the last one)."""
        if self.textbook:
            return self._textbook(data, generator, hidden=True)
        n = data.num_nodes
        x = getattr(data, "x", None)
        if self.level == "node" and x is not None and x.is_floating_point():  # on raw features, as GCN/GAT do
            x = F.dropout(x, self.dropout, self.training)
        h = self.node_enc(x, n)
        if self.pe_enc is not None:
            h = h + self.pe_enc(data.pe.float())
        edge_attr = getattr(data, "edge_attr", None)
        edge_emb = self.edge_enc(edge_attr, data.edge_index.shape[1]) if self.edge_enc is not None else None
        batch = self._batch(data)
        orders = self.orders(data, generator) if self.model == "graph_mamba" else None
        for layer in self.layers:
            h = layer(h, data.edge_index, edge_emb, batch, orders)
        return h

    def _textbook(self, data, generator: torch.Generator | None = None, hidden: bool = False) -> torch.Tensor:
        """(N, out) class scores of the textbook node classifier; ``hidden``: (N, d) before the last layer."""
        h = F.dropout(data.x.float(), self.dropout, self.training)
        batch = self._batch(data)
        orders = self.orders(data, generator) if self.ssms is not None else None
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            if hidden and i == last:
                return h
            h = conv(h) if isinstance(conv, nn.Linear) else conv(h, data.edge_index)
            if i < last:
                h = self.act(h)
                if self.ssms is not None:
                    h = h + self.gates[i] * self.ssms[i](h, batch, orders)
                h = F.dropout(h, self.dropout, self.training)
        if self.propagation is not None:
            h = self.propagation(h, data.edge_index)
        return h

    def forward(self, data, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.textbook:
            return self._textbook(data, generator)
        h = self.node_states(data, generator)
        if self.level == "graph":
            h = POOLS[self.pool](h, self._batch(data), size=int(getattr(data, "num_graphs", 1) or 1))
        return self.head(h)


__all__ = ["GraphNet", "GraphLayer", "GlobalSSM", "FeatureEncoder", "ordered_ssm", "MODELS", "batch_permutation"]

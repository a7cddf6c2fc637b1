"""Node orders: scan orders over the nodes of a graph, read by an SSM as a sequence.

A graph has no natural node order, so a sequence model over its nodes needs one. Each order here is a
``ScanOrder`` (``needs = "graph"``) registered as ``graphs/<name>``:

* ``degree``: by (in + out) degree, low to high (Graph-Mamba: high-degree nodes come last and see the most
  context); ties broken at random (a fresh draw each training step; the model averages several seeded draws at
  test time) or, with ``random_ties=False`` / no randomness, by node id.
* ``bfs`` / ``dfs``: breadth- / depth-first from a root (``root``: "max_degree", "min_degree", "first",
  "random" or a node index; every further component starts by the same rule), neighbours by ascending id;
  by name ``bfs:first``, ``dfs:3`` (``node_order``), e.g. ``--model.order bfs:random``.
* ``spectral``: by the Fiedler vector (2nd eigenvector of the normalised Laplacian) of each connected
  component, components largest first; the sign is fixed so that the largest |entry| is positive.
* ``random_walk``: first visits of a walk that steps to a random unvisited neighbour when there is one, else
  to a random neighbour, and after 8 steps without a new node (or at a dead end) restarts at a random
  unvisited node.
* ``random``: a uniformly random permutation.

``permutation(length=n, edge_index=...)`` gives one graph's order (n,); ``batch_permutation`` orders every
graph of a torch_geometric batch at once: a permutation ``idx`` (N,) of all nodes such that ``batch[idx]`` is
non-decreasing (graphs stay contiguous, as ``to_dense_batch`` wants) and each graph's nodes follow its order.
"""

from __future__ import annotations

import numpy as np
import torch

from ssmkit.scan_orders import ScanOrder

__all__ = ["NodeOrder", "DegreeOrder", "BFSOrder", "DFSOrder", "SpectralOrder", "RandomWalkOrder",
           "RandomNodeOrder", "SCAN_ORDERS", "batch_permutation", "node_order"]

STALL = 8  # random_walk: steps without a new node before a restart


def _adjacency(edge_index: torch.Tensor, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Undirected CSR (indptr (n+1,), indices) without self-loops or duplicates; neighbours ascending."""
    ei = edge_index.detach().cpu().numpy().astype(np.int64)
    rows, cols = np.concatenate([ei[0], ei[1]]), np.concatenate([ei[1], ei[0]])
    keep = rows != cols
    code = np.unique(rows[keep] * n + cols[keep])
    rows, cols = code // n, code % n
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return indptr, cols


def _uniform(n: int, generator: torch.Generator | None) -> np.ndarray:
    return torch.rand(n, generator=generator).numpy()


class NodeOrder(ScanOrder):
    """Base of node orders. Subclasses implement ``order`` (one graph) and may override ``batch_rank``."""

    needs = "graph"
    randomised = False  # True: each call may draw a different order (averaged at test time)

    def order(self, edge_index: torch.Tensor, num_nodes: int, generator: torch.Generator | None) -> torch.Tensor:
        """(num_nodes,) int64: the nodes of one graph in reading order."""
        raise NotImplementedError

    def permutation(self, *, length=None, grid=None, coords=None, device=None, edge_index=None, generator=None):
        n = self._length(length, grid, coords)
        if edge_index is None:
            raise ValueError(f"node order {self.name!r} needs edge_index (2, E) besides length")
        return self.order(edge_index.cpu(), n, generator).to(device)

    def batch_rank(self, edge_index: torch.Tensor, batch: torch.Tensor, num_graphs: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
        """(N,) sort key: within each graph, sorting its nodes by the key gives the order."""
        N = batch.numel()
        batch_c, ei = batch.cpu(), edge_index.cpu()
        counts = torch.bincount(batch_c, minlength=num_graphs)
        ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        edge_graph = batch_c[ei[0]]
        sorted_edges = ei[:, torch.argsort(edge_graph, stable=True)]
        ecounts = torch.bincount(edge_graph, minlength=num_graphs)
        eptr = torch.cat([ecounts.new_zeros(1), ecounts.cumsum(0)])
        rank = torch.empty(N, dtype=torch.float64)
        for g in range(num_graphs):
            lo, hi = int(ptr[g]), int(ptr[g + 1])
            if hi == lo:
                continue
            sub = sorted_edges[:, int(eptr[g]):int(eptr[g + 1])] - lo
            perm = self.order(sub, hi - lo, generator)
            local = torch.empty(hi - lo, dtype=torch.float64)
            local[perm] = torch.arange(hi - lo, dtype=torch.float64)
            rank[lo:hi] = local
        return rank.to(batch.device)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def batch_permutation(order: NodeOrder, edge_index: torch.Tensor, batch: torch.Tensor, num_graphs: int,
                      generator: torch.Generator | None = None, reverse: bool = False) -> torch.Tensor:
    """(N,) permutation of a batch's nodes: graphs contiguous (``batch[idx]`` sorted), each in ``order``
    (read backwards within each graph when ``reverse``)."""
    rank = order.batch_rank(edge_index, batch, num_graphs, generator)
    if reverse:
        rank = -rank
    first = torch.argsort(rank, stable=True)
    return first[torch.argsort(batch[first], stable=True)]


class DegreeOrder(NodeOrder):
    """Low to high (in + out) degree; ties at random (``random_ties``) or by node id."""

    name = "degree"

    def __init__(self, random_ties: bool = True, descending: bool = False):
        self.random_ties, self.descending = random_ties, descending
        self.randomised = random_ties

    def _key(self, edge_index: torch.Tensor, n: int, generator) -> torch.Tensor:
        ei = edge_index.cpu()
        deg = (torch.bincount(ei[0], minlength=n) + torch.bincount(ei[1], minlength=n)).double()
        if self.descending:
            deg = -deg
        if self.random_ties:  # a uniform draw in [0, 0.5) never crosses into the next degree (steps of 1)
            deg = deg + 0.5 * torch.rand(n, generator=generator, dtype=torch.float64)
        return deg

    def order(self, edge_index, num_nodes, generator):
        return torch.argsort(self._key(edge_index, num_nodes, generator), stable=True)

    def batch_rank(self, edge_index, batch, num_graphs, generator=None):
        return self._key(edge_index, batch.numel(), generator).to(batch.device)

    def __repr__(self) -> str:
        return f"DegreeOrder(random_ties={self.random_ties}, descending={self.descending})"


class _Traversal(NodeOrder):
    """Shared root choice of BFS, DFS and random walks."""

    def __init__(self, root: str | int = "max_degree"):
        if not isinstance(root, int) and root not in ("max_degree", "min_degree", "first", "random"):
            raise ValueError(f"root {root!r}: use max_degree, min_degree, first, random or a node index")
        self.root = root
        self.randomised = root == "random"

    def _next_root(self, unvisited: np.ndarray, deg: np.ndarray, generator, first: bool) -> int:
        cand = np.flatnonzero(unvisited)
        if isinstance(self.root, int):
            if first:
                if not 0 <= self.root < len(deg):
                    from ssmkit.errors import ConfigError

                    raise ConfigError(f"node order root {self.root} is not a node of a graph with {len(deg)} nodes "
                                      "(a numbered root must exist in every graph; use first, max_degree, ...)")
                return self.root
            return int(cand[0])
        if self.root == "max_degree":
            return int(cand[np.argmax(deg[cand])])
        if self.root == "min_degree":
            return int(cand[np.argmin(deg[cand])])
        if self.root == "random":
            return int(cand[int(torch.randint(len(cand), (1,), generator=generator))])
        return int(cand[0])

    def order(self, edge_index, num_nodes, generator):
        indptr, indices = _adjacency(edge_index, num_nodes)
        deg = np.diff(indptr)
        unvisited = np.ones(num_nodes, dtype=bool)
        out: list[int] = []
        while len(out) < num_nodes:
            start = self._next_root(unvisited, deg, generator, first=not out)
            self._walk(start, indptr, indices, unvisited, out, generator)
        return torch.tensor(out, dtype=torch.long)

    def _walk(self, start, indptr, indices, unvisited, out, generator) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root!r})"


class BFSOrder(_Traversal):
    """Breadth-first from the root, neighbours by ascending id."""

    name = "bfs"

    def _walk(self, start, indptr, indices, unvisited, out, generator):
        queue, head = [start], 0
        unvisited[start] = False
        while head < len(queue):
            v = queue[head]
            head += 1
            out.append(v)
            for u in indices[indptr[v]:indptr[v + 1]]:
                if unvisited[u]:
                    unvisited[u] = False
                    queue.append(int(u))


class DFSOrder(_Traversal):
    """Depth-first (pre-order) from the root, the lowest-id unvisited neighbour first."""

    name = "dfs"

    def _walk(self, start, indptr, indices, unvisited, out, generator):
        stack = [start]
        while stack:
            v = stack.pop()
            if not unvisited[v]:
                continue
            unvisited[v] = False
            out.append(v)
            nbrs = indices[indptr[v]:indptr[v + 1]]
            stack.extend(int(u) for u in nbrs[::-1] if unvisited[u])


class RandomWalkOrder(_Traversal):
    """First visits of a walk preferring unvisited neighbours; restarts after ``STALL`` idle steps."""

    name = "random_walk"

    def __init__(self, root: str | int = "random"):
        super().__init__(root)
        self.randomised = True

    def _walk(self, start, indptr, indices, unvisited, out, generator):
        v, idle = start, 0
        unvisited[v] = False
        out.append(v)
        while idle < STALL:
            nbrs = indices[indptr[v]:indptr[v + 1]]
            if len(nbrs) == 0:
                return
            fresh = nbrs[unvisited[nbrs]]
            pool = fresh if len(fresh) else nbrs
            v = int(pool[int(torch.randint(len(pool), (1,), generator=generator))])
            if unvisited[v]:
                unvisited[v] = False
                out.append(v)
                idle = 0
            else:
                idle += 1


class SpectralOrder(NodeOrder):
    """By the Fiedler vector of each connected component (largest component first)."""

    name = "spectral"
    dense_limit = 2000  # components up to this size use a dense eigensolver

    def order(self, edge_index, num_nodes, generator):
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        indptr, indices = _adjacency(edge_index, num_nodes)
        adj = csr_matrix((np.ones(len(indices)), indices, indptr), shape=(num_nodes, num_nodes))
        n_comp, comp = connected_components(adj, directed=False)
        sizes = np.bincount(comp, minlength=n_comp)
        firsts = np.array([np.flatnonzero(comp == c)[0] for c in range(n_comp)])
        out = []
        for c in sorted(range(n_comp), key=lambda c: (-sizes[c], firsts[c])):
            members = np.flatnonzero(comp == c)
            if len(members) <= 2:
                out.extend(members.tolist())
                continue
            vec = self._fiedler(adj[members][:, members])
            out.extend(members[np.argsort(vec, kind="stable")].tolist())
        return torch.tensor(out, dtype=torch.long)

    def _fiedler(self, adj) -> np.ndarray:
        deg = np.asarray(adj.sum(1)).ravel()
        inv = 1.0 / np.sqrt(np.maximum(deg, 1e-12))
        n = adj.shape[0]
        if n <= self.dense_limit:
            lap = np.eye(n) - inv[:, None] * adj.toarray() * inv[None, :]
            vals, vecs = np.linalg.eigh(lap)
        else:
            from scipy.sparse import diags, identity
            from scipy.sparse.linalg import eigsh

            lap = identity(n) - diags(inv) @ adj @ diags(inv)
            vals, vecs = eigsh(lap, k=2, which="SA", tol=1e-6)
            vecs = vecs[:, np.argsort(vals)]
        vec = vecs[:, 1] * inv  # back to the random-walk Laplacian's eigenvector
        vec = np.round(vec, 10)  # equal entries (symmetric nodes) tie exactly; ties go by node id
        return vec if vec[np.argmax(np.abs(vec))] >= 0 else -vec


class RandomNodeOrder(NodeOrder):
    """A uniformly random permutation of the nodes (drawn anew each call)."""

    name = "random"
    randomised = True

    def order(self, edge_index, num_nodes, generator):
        return torch.randperm(num_nodes, generator=generator)

    def batch_rank(self, edge_index, batch, num_graphs, generator=None):
        return torch.rand(batch.numel(), generator=generator, dtype=torch.float64).to(batch.device)


def node_order(name: str | NodeOrder) -> NodeOrder:
    """A node order by name ("degree" or "graphs/degree", ...); traversals take a root after a colon:
    "bfs:first", "dfs:random", "random_walk:max_degree", "bfs:12" (node index 12 of every graph). ConfigError if
    unknown."""
    from ssmkit.errors import ConfigError

    if isinstance(name, NodeOrder):
        return name
    key = str(name).split("/", 1)[-1] if str(name).startswith("graphs/") else str(name)
    key, colon, root = key.partition(":")
    if key not in SCAN_ORDERS:
        raise ConfigError(f"unknown node order {name!r}: use one of {', '.join(SCAN_ORDERS)}")
    if not colon:
        return SCAN_ORDERS[key]
    if not isinstance(SCAN_ORDERS[key], _Traversal):
        raise ConfigError(f"node order {name!r}: only bfs, dfs and random_walk take a root (name:root)")
    try:
        return type(SCAN_ORDERS[key])(int(root) if root.isdigit() else root)
    except ValueError as exc:
        raise ConfigError(f"node order {name!r}: {exc}") from None


SCAN_ORDERS: dict[str, NodeOrder] = {}
SCAN_ORDERS["degree"] = DegreeOrder()
SCAN_ORDERS["degree_fixed"] = DegreeOrder(random_ties=False)
SCAN_ORDERS["bfs"] = BFSOrder()
SCAN_ORDERS["dfs"] = DFSOrder()
SCAN_ORDERS["spectral"] = SpectralOrder()
SCAN_ORDERS["random_walk"] = RandomWalkOrder()
SCAN_ORDERS["random"] = RandomNodeOrder()

import pytest
import torch

from ssmkit import registry
from ssmkit.scan_orders import (
    CROSS_SCAN,
    apply_order,
    hilbert_index_2d,
    hilbert_index_nd,
    inverse_permutation,
    morton_index,
)

ORDERS = registry.items("scan_orders")


def _geometry(order):
    if order.needs == "coords":
        return {"coords": torch.rand(2, 37, 3)}
    if order.needs == "graph":  # a random graph over the 35 positions: a ring plus chords, one isolated node
        g = torch.Generator().manual_seed(0)
        ring = torch.stack([torch.arange(34), (torch.arange(34) + 1) % 34])
        chords = torch.randint(0, 34, (2, 10), generator=g)
        edges = torch.cat([ring, chords], 1)
        return {"length": 35, "edge_index": torch.cat([edges, edges.flip(0)], 1), "generator": g}
    return {"grid": (5, 7), "length": 35}


@pytest.mark.parametrize("name", sorted(ORDERS))
def test_every_order_is_a_permutation_and_inverse_undoes_it(name):
    order = ORDERS[name]
    perm = order.permutation(**_geometry(order))
    L = perm.shape[-1]
    assert torch.equal(perm.sort(-1).values, torch.arange(L).expand_as(perm))
    x = torch.randn(2, L, 4)
    torch.testing.assert_close(apply_order(apply_order(x, perm), order.inverse(perm)), x)


def test_core_registers_the_generic_orders():
    expected = {"identity", "reverse", "row", "column", "snake", "hilbert", "zorder", "hilbert3d", "zorder3d",
                *CROSS_SCAN}
    assert expected <= {n.split("/", 1)[1] for n in ORDERS if n.startswith("core/")}


def _grid_positions(perm, W):
    return torch.stack([perm // W, perm % W], -1)


@pytest.mark.parametrize("side", [2, 4, 8, 16, 32])
def test_hilbert_2d_visits_grid_neighbours_consecutively(side):
    perm = registry.get("scan_orders", "hilbert").permutation(grid=(side, side))
    steps = _grid_positions(perm, side).diff(dim=0).abs().sum(-1)
    assert torch.all(steps == 1)


def test_hilbert_2d_known_answer():
    # the order-1 curve: (0,0) -> (0,1) -> (1,1) -> (1,0) in (x, y)
    x, y = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 0])
    assert hilbert_index_2d(x, y, 1).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_hilbert_3d_is_a_continuous_curve(bits):
    side = 1 << bits
    g = torch.stack(torch.meshgrid(*[torch.arange(side)] * 3, indexing="ij"), -1).reshape(-1, 3)
    d = hilbert_index_nd(g, bits)
    assert torch.equal(d.sort().values, torch.arange(side**3))  # a bijection onto 0..side^3-1
    walk = g[torch.argsort(d)]
    assert torch.all(walk.diff(dim=0).abs().sum(-1) == 1)  # consecutive cells are neighbours


def test_hilbert3d_order_keeps_points_local():
    torch.manual_seed(0)
    pts = torch.rand(1, 2000, 3)
    perm = registry.get("scan_orders", "hilbert3d").permutation(coords=pts)
    along = apply_order(pts, perm)[0].diff(dim=0).norm(dim=-1).mean()
    random = pts[0].diff(dim=0).norm(dim=-1).mean()
    assert along < random / 5


def test_morton_known_answer_and_zorder_grid():
    assert morton_index(torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]]), 1).tolist() == [0, 1, 2, 3]
    perm = registry.get("scan_orders", "zorder").permutation(grid=(4, 4))
    assert perm[:4].tolist() == [0, 1, 4, 5]  # the first 2x2 block


def test_snake_and_column_and_reverse_known_answers():
    assert registry.get("scan_orders", "snake").permutation(grid=(2, 3)).tolist() == [0, 1, 2, 5, 4, 3]
    assert registry.get("scan_orders", "column").permutation(grid=(2, 3)).tolist() == [0, 3, 1, 4, 2, 5]
    assert registry.get("scan_orders", "column_reverse").permutation(grid=(2, 3)).tolist() == [5, 2, 4, 1, 3, 0]
    assert registry.get("scan_orders", "reverse").permutation(length=4).tolist() == [3, 2, 1, 0]


def test_inverse_of_batched_permutations():
    perm = torch.stack([torch.randperm(10) for _ in range(3)])
    inv = inverse_permutation(perm)
    assert torch.equal(torch.gather(perm, 1, inv), torch.arange(10).expand(3, 10))


def test_grid_order_without_grid_is_a_clear_error():
    with pytest.raises(ValueError, match="needs grid"):
        registry.get("scan_orders", "hilbert").permutation(length=16)

import torch

from ssmkit.kernels import pack, seq_idx_from_cu_seqlens, unpack


def test_pack_unpack_round_trip_on_any_axis():
    seqs = [torch.randn(5, 3, 2), torch.randn(1, 3, 2), torch.randn(7, 3, 2)]
    for dim in (0, -3):
        packed, seq_idx = pack(seqs, dim=dim)
        assert packed.shape == (1, 13, 3, 2) and seq_idx.shape == (1, 13)
        for a, b in zip(unpack(packed, seq_idx, dim=dim), seqs):
            assert torch.equal(a, b)


def test_seq_idx_from_cu_seqlens():
    s = seq_idx_from_cu_seqlens(torch.tensor([0, 2, 2, 5]), L=7)
    assert s.tolist() == [[0, 0, 2, 2, 2, 3, 3]]

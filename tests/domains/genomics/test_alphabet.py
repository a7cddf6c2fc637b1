import numpy as np
import pytest
import torch
from ssmkit_genomics.alphabet import (
    MASK,
    PAD,
    VOCAB,
    VOCAB_SIZE,
    InvalidBase,
    N,
    crop_or_pad,
    decode,
    encode,
    encode_with_mask,
    pack,
    pad_batch,
    reverse_complement,
    reverse_complement_padded,
)


def test_vocabulary():
    assert VOCAB == "-ACGTN" and PAD == 0 and N == 5 and MASK == 6 and VOCAB_SIZE == 7
    assert encode("ACGTN").tolist() == [1, 2, 3, 4, 5]


def test_round_trip():
    seq = "ACGTNNACGTTTGCA" * 7
    ids = encode(seq)
    assert ids.dtype == np.uint8 and ids.shape == (len(seq),)
    assert decode(ids) == seq
    assert decode(torch.from_numpy(ids)) == seq
    assert decode([0, 1, 6]) == "-A#"


def test_rna_and_iupac():
    assert decode(encode("ACGU")) == "ACGT"
    assert decode(encode("RYSWKMBDHVN")) == "N" * 11
    assert decode(encode("rysw")) == "NNNN"


def test_lowercase_policies():
    assert decode(encode("acgtACGT")) == "ACGTACGT"
    assert decode(encode("acGT", lowercase="n")) == "NNGT"
    with pytest.raises(InvalidBase, match=r"'a' at position 3: lowercase"):
        encode("GGaC", lowercase="error")
    ids, mask = encode_with_mask("ACgtNn")
    assert decode(ids) == "ACGTNN"
    assert mask.tolist() == [False, False, True, True, False, True]
    with pytest.raises(ValueError, match="lowercase must be"):
        encode("ACGT", lowercase="keep")


@pytest.mark.parametrize("seq, char, pos", [("ACG-T", "-", 4), ("AC.GT", ".", 3), ("ACGTX", "X", 5),
                                            ("A CG", " ", 2), ("ACé", "é", 3), ("*", "*", 1)])
def test_bad_characters(seq, char, pos):
    with pytest.raises(InvalidBase) as info:
        encode(seq)
    assert info.value.char == char and info.value.position == pos - 1
    assert f"{char!r} at position {pos}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_gap_message():
    with pytest.raises(ValueError, match="gap is not a base"):
        encode("AC-")
    with pytest.raises(ValueError, match="and 2 more"):
        encode("AXXX")


def test_decode_rejects_out_of_range():
    with pytest.raises(ValueError, match="token ids must lie"):
        decode([1, 7])


def test_reverse_complement_known_answer_numpy_and_torch():
    ids = encode("ACGTN")
    assert decode(reverse_complement(ids)) == "NACGT"
    out = reverse_complement(torch.from_numpy(ids))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.uint8
    assert decode(out) == "NACGT"
    assert decode(reverse_complement(encode("AACCGT"))) == "ACGGTT"


def test_reverse_complement_involution_batched():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, VOCAB_SIZE, size=(3, 4, 50)).astype(np.int64)
    rc = reverse_complement(ids)
    assert rc.dtype == ids.dtype and rc.shape == ids.shape
    assert np.array_equal(reverse_complement(rc), ids)
    t = torch.from_numpy(ids)
    assert torch.equal(reverse_complement(reverse_complement(t)), t)
    assert np.array_equal(reverse_complement(t).numpy(), rc)


def test_reverse_complement_padded():
    ids, lengths = pad_batch([encode("AACG"), encode("T"), encode(""), encode("ACGTN")])
    assert ids.shape == (4, 5) and lengths.tolist() == [4, 1, 0, 5]
    rc = reverse_complement_padded(ids, lengths)
    assert [decode(r) for r in rc] == ["CGTT-", "A----", "-----", "NACGT"]
    assert np.array_equal(reverse_complement_padded(rc, lengths), ids)
    t = reverse_complement_padded(torch.from_numpy(ids), torch.from_numpy(lengths))
    assert isinstance(t, torch.Tensor) and np.array_equal(t.numpy(), rc)
    assert torch.equal(reverse_complement_padded(t, torch.from_numpy(lengths)), torch.from_numpy(ids))
    with pytest.raises(ValueError, match="lengths"):
        reverse_complement_padded(ids, [6, 1, 0, 5])


def test_crop_or_pad_lengths_and_modes():
    ids = encode("ACGTACGTAC")
    assert decode(crop_or_pad(ids, 14)) == "ACGTACGTAC----"
    assert decode(crop_or_pad(ids, 4, mode="left")) == "ACGT"
    assert decode(crop_or_pad(ids, 4, mode="center")) == "TACG"
    assert decode(crop_or_pad(ids, 10)) == "ACGTACGTAC"
    for n in (0, 1, 7, 10, 30):
        assert crop_or_pad(ids, n, rng=np.random.default_rng(1)).shape == (n,)
    t = crop_or_pad(torch.from_numpy(ids), 12)
    assert isinstance(t, torch.Tensor) and decode(t) == "ACGTACGTAC--"
    with pytest.raises(ValueError, match="mode"):
        crop_or_pad(ids, 4, mode="right")


def test_random_crop_is_deterministic_with_a_seed():
    ids = encode("ACGT" * 50)
    a = [decode(crop_or_pad(ids, 20, rng=rng)) for rng in [np.random.default_rng(7)] for _ in range(5)]
    b = [decode(crop_or_pad(ids, 20, rng=rng)) for rng in [np.random.default_rng(7)] for _ in range(5)]
    assert a == b and len(set(a)) > 1
    assert decode(crop_or_pad(ids, 20, rng=3)) == decode(crop_or_pad(ids, 20, rng=3))
    text = "ACGT" * 50
    assert all(s in text for s in a)


def test_pack():
    seqs = [encode("ACG"), encode("T"), encode("NNNNN")]
    flat, cu = pack(seqs)
    assert decode(flat) == "ACGTNNNNN"
    assert cu.dtype == np.int32 and cu.tolist() == [0, 3, 4, 9]
    from ssmkit.kernels.packing import seq_idx_from_cu_seqlens

    seq_idx = seq_idx_from_cu_seqlens(torch.from_numpy(cu))
    assert seq_idx.tolist() == [[0, 0, 0, 1, 2, 2, 2, 2, 2]]
    flat, cu = pack([])
    assert flat.shape == (0,) and cu.tolist() == [0]

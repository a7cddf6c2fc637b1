"""DNANet / DNAClassifierNet: reverse-complement equivariance and invariance, and causality."""

import pytest
import torch
from ssmkit_genomics.alphabet import PAD, reverse_complement, reverse_complement_padded
from ssmkit_genomics.model import DNAClassifierNet, DNANet

SMALL = {"d_model": 16, "n_layers": 2, "d_state": 8}


def _ids(batch: int, length: int, lengths=None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids in A..N (1..5) of shape (batch, length), PAD after each row's lengths[i] tokens."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 6, (batch, length), generator=gen)
    lengths = torch.full((batch,), length) if lengths is None else torch.as_tensor(lengths)
    ids = torch.where(torch.arange(length) < lengths[:, None], ids, PAD)
    return ids, lengths


def _net(cls=DNANet, seed: int = 0, **options):
    torch.manual_seed(seed)
    return cls(**{**SMALL, **options}).double().eval()


@pytest.mark.parametrize("mixer", ["mamba", "mamba2", "s4d"])
@pytest.mark.parametrize("padded", [False, True])
def test_equivariant_features_follow_the_reverse_complement(mixer, padded):
    net = _net(mixer=mixer)
    x, lengths = _ids(4, 23, [23, 17, 9, 1] if padded else None, seed=1)
    rc_x = reverse_complement_padded(x, lengths) if padded else reverse_complement(x)
    if padded:  # padding stays at the end of each row
        assert (rc_x == PAD).sum() == (x == PAD).sum() and (rc_x[:, -1] == PAD).sum() == 3
    with torch.no_grad():
        f, f_rc = net(x), net(rc_x)
        f_masked = net(x, x != PAD)
    assert f.dtype == torch.float64 and f.shape == (4, 23, 2 * SMALL["d_model"]) and net.out_features == 32
    assert f.abs().mean() > 1e-2  # not trivially zero
    torch.testing.assert_close(f_rc, DNANet.flip_features(f, lengths), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(f_masked, f, rtol=0, atol=0)
    # the two halves really differ (the reverse strand is not a copy of the forward one)
    assert (f[..., :16] - f[..., 16:]).abs().max() > 1e-3


def test_flip_features_is_an_involution_that_keeps_padding_in_place():
    feats = torch.randn(3, 10, 8, dtype=torch.float64)
    lengths = torch.tensor([10, 6, 0])
    flipped = DNANet.flip_features(feats, lengths)
    torch.testing.assert_close(DNANet.flip_features(flipped, lengths), feats)
    torch.testing.assert_close(flipped[1, 6:], torch.cat([feats[1, 6:, 4:], feats[1, 6:, :4]], -1))
    torch.testing.assert_close(flipped[0, 0], torch.cat([feats[0, 9, 4:], feats[0, 9, :4]]))


@pytest.mark.parametrize("pool", ["mean", "max"])
def test_classifier_logits_are_reverse_complement_invariant(pool):
    net = _net(DNAClassifierNet, num_classes=3, pool=pool)
    x, lengths = _ids(5, 31, [31, 30, 20, 7, 2], seed=2)
    with torch.no_grad():
        logits, logits_rc = net(x), net(reverse_complement_padded(x, lengths))
    assert logits.shape == (5, 3) and logits.std(0).max() > 1e-6  # rows differ: not a constant output
    torch.testing.assert_close(logits_rc, logits, rtol=1e-10, atol=1e-10)


def test_rc_none_is_not_invariant():
    """The same check fails without the equivariant construction (so the test above can fail)."""
    net = _net(DNAClassifierNet, num_classes=2, rc="none")
    x, lengths = _ids(8, 31, seed=3)
    with torch.no_grad():
        logits, logits_rc = net(x), net(reverse_complement_padded(x, lengths))
    assert net.net.out_features == SMALL["d_model"]
    assert (logits - logits_rc).abs().max() > 1e-4


def _changed_from(net, x: torch.Tensor, t: int) -> tuple[float, float]:
    """Largest feature change before position t and at/after it when token t is replaced."""
    y = x.clone()
    y[:, t] = y[:, t] % 4 + 1  # a different base
    with torch.no_grad():
        delta = (net(x) - net(y)).abs()
    return delta[:, :t].max().item(), delta[:, t:].max().item()


def test_unidirectional_rc_none_is_causal():
    net = _net(rc="none", bidirectional=False)
    assert net.backbone.causal
    x, _ = _ids(3, 24, seed=4)
    for t in (5, 12, 23):
        before, after = _changed_from(net, x, t)
        assert before == 0.0 and after > 1e-6


@pytest.mark.parametrize("options", [{"rc": "none", "bidirectional": True},
                                     {"rc": "equivariant", "bidirectional": False}])
def test_bidirectional_or_equivariant_nets_see_the_future(options):
    """The causality check detects leakage: both strands / both directions reach earlier positions."""
    net = _net(**options)
    x, _ = _ids(3, 24, seed=4)
    before, _ = _changed_from(net, x, 12)
    assert before > 1e-6


def test_unknown_rc_mode_is_refused():
    with pytest.raises(ValueError, match="unknown rc mode 'both'"):
        DNANet(rc="both")


def test_softmask_keeps_the_equivariance_and_is_read():
    from ssmkit_genomics.model import _reverse_padded

    net = _net(softmask=True, stem=5)
    with torch.no_grad():
        net.softmask_embed.normal_()  # as after training (it starts at zero)
    x, lengths = _ids(4, 19, [19, 14, 6, 1], seed=3)
    gen = torch.Generator().manual_seed(4)
    soft = (torch.rand(x.shape, generator=gen) < 0.4) & (x != PAD)
    rc_x, rc_soft = reverse_complement_padded(x, lengths), _reverse_padded(soft, lengths)
    with torch.no_grad():
        f, f_rc = net(x, None, soft), net(rc_x, None, rc_soft)
        plain, none_masked = net(x), net(x, None, torch.zeros_like(soft))
    torch.testing.assert_close(f_rc, DNANet.flip_features(f, lengths), rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(none_masked, plain, rtol=0, atol=0)  # no soft-masked base: no change
    assert (f - plain).abs().max() > 1e-3  # the mask is read
    # a classifier's logits stay strand-invariant with the mask
    clf = _net(DNAClassifierNet, num_classes=2, pool="flatten", length=19, softmask=True)
    with torch.no_grad():
        clf.net.softmask_embed.normal_()
        torch.testing.assert_close(clf(rc_x, None, rc_soft), clf(x, None, soft), rtol=1e-10, atol=1e-10)
